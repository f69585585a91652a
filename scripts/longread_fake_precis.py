#!/usr/bin/env python3
"""A stand-in for `precis summarize FILE --format json ...`, to test scripts/longread_eval.py
without building Precis. It prints a plausible Summary JSON: the file's text (HTML tags
stripped, PDFs through pdftotext), its title, and five key points taken from sentences spread
through the text with their byte spans; the first key point repeats the title, so that the
restatement check has something to find.

  FAKE_PRECIS_FAIL=a,b   files whose name contains a fail (exit 1); those containing b+junk
                         print something that is not JSON
  FAKE_PRECIS_SLEEP=0.2  seconds to wait before answering

  scripts/longread_eval.py --precis scripts/longread_fake_precis.py --arg=--extractive
"""
import html
import json
import os
import re
import subprocess
import sys
import time


def read_text(path):
    if path.endswith(".pdf"):
        return subprocess.run(["pdftotext", "-q", "-enc", "UTF-8", path, "-"], check=True,
                              stdout=subprocess.PIPE, text=True).stdout
    with open(path, encoding="utf-8", errors="replace") as f:
        raw = f.read()
    if path.endswith(".html"):
        raw = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", raw)
        raw = re.sub(r"(?i)</?(p|div|h[1-6]|li|br|tr|pre|section|article)\b[^>]*>", "\n\n", raw)
        raw = html.unescape(re.sub(r"<[^>]+>", " ", raw))
    paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", raw)]
    return "\n\n".join(p for p in paras if p)


def main():
    argv = sys.argv[1:]
    if not argv or argv[0] != "summarize" or len(argv) < 2:
        print("usage: longread_fake_precis.py summarize FILE --format json [...]", file=sys.stderr)
        return 2
    path = argv[1]
    name = os.path.basename(path)
    fail = [f for f in os.environ.get("FAKE_PRECIS_FAIL", "").split(",") if f]
    time.sleep(float(os.environ.get("FAKE_PRECIS_SLEEP", "0")))
    for f in fail:
        if f.endswith("+junk") and f[:-5] in name:
            print("thread 'main' panicked, not JSON")
            return 0
        if f in name:
            print(f"error: could not read {path} (simulated)", file=sys.stderr)
            return 1

    text = read_text(path)
    title = next((p for p in text.split("\n\n") if 0 < len(p.split()) <= 12), None)
    spans, pos = [], 0
    for m in re.finditer(r"[^.!?\n]{40,}?[.!?](?=\s)", text):
        spans.append((m.start(), m.end()))
    picks = [spans[i * (len(spans) - 1) // 4] for i in range(5)] if len(spans) >= 5 else spans
    encoded_upto = lambda i: len(text[:i].encode("utf-8"))
    bullets = []
    if title:
        start = text.index(title)
        bullets.append({"text": title, "sources": [{"start": encoded_upto(start), "end": encoded_upto(start + len(title))}], "support": 1.0})
    for a, b in picks:
        s = text[a:b].strip()
        a = text.index(s, a)
        bullets.append({"text": s, "sources": [{"start": encoded_upto(a), "end": encoded_upto(a + len(s))}], "support": 1.0})
    extractive = "--extractive" in argv
    summary = {
        "title": title,
        "summary": "" if extractive else " ".join(b["text"] for b in bullets[1:3]),
        "bullets": bullets,
        "model": "" if extractive else "fake",
        "stop_reason": "end_of_turn",
        "timings": {"load_ms": 0, "first_bullet_ms": 1, "prompt_tokens": 0, "prefill_ms": 0,
                    "generated_tokens": 0, "decode_ms": 0, "total_ms": 1},
        "text": text,
        "ranker": "lexical",
        "sections": 0,
        "unsupported": 0,
        "source": path,
        "cached": False,
        "history_id": None,
    }
    json.dump(summary, sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
