#!/usr/bin/env python3
"""Checks that summaries come out in the right language, with every key point grounded.

Runs `precis summarize --format json` on articles in other languages than English and reports,
for each, the language Precis detected, the language it wrote the summary in, whether it says
the summary missed that language (`language_mismatch`), an independent check of the summary's
language by `langdetect` (Google's language-detection, if installed: `pip install langdetect`),
whether every key point cites spans of the text with support of at least 0.6, and the time.

Inputs are files and folders: `.txt`, `.md`, `.html` and `.html.gz` (saved pages, as in the
HTML corpus; English pages are skipped unless --all). By default: the non-English pages of
`../shared/corpus/html` beside the repository and the articles of `tests/data/lang/`.

  scripts/lang_eval.py                               # auto: each summary in its article's language
  scripts/lang_eval.py --language en tests/data/lang # every summary in English
  scripts/lang_eval.py --length medium --model qwen2.5-coder-0.5b-instruct-q4_k_m
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SUPPORT_THRESHOLD = 0.6

try:
    from langdetect import DetectorFactory, detect as langdetect_detect

    DetectorFactory.seed = 0
except ImportError:  # The independent check is skipped.
    langdetect_detect = None


def independent(text):
    """The summary's language by langdetect, as a two-letter code (zh-cn is zh), or None."""
    if not langdetect_detect or not text.strip():
        return None
    try:
        return langdetect_detect(text).split("-")[0]
    except Exception:
        return None


def inputs(paths, tmp):
    """(name, path) of every article among `paths`, saved pages unpacked into `tmp`."""
    out = []
    for p in paths:
        files = sorted(os.path.join(p, f) for f in os.listdir(p)) if os.path.isdir(p) else [p]
        for f in files:
            name = os.path.basename(f)
            if name.endswith(".html.gz"):
                target = os.path.join(tmp, name[: -len(".gz")])
                with gzip.open(f) as src, open(target, "wb") as dst:
                    dst.write(src.read())
                out.append((name, target))
            elif name.endswith((".txt", ".md", ".html")):
                out.append((name, f))
    return out


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip() or f"exit {r.returncode}")
    return json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="*")
    ap.add_argument("--language", default="auto")
    ap.add_argument("--length", default="short")
    ap.add_argument("--type", default="key-points")
    ap.add_argument("--model")
    ap.add_argument("--all", action="store_true", help="English articles too")
    ap.add_argument("--precis", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "debug", "precis"))
    args = ap.parse_args()
    paths = args.paths or [os.path.join(ROOT, "..", "shared", "corpus", "html"), os.path.join(ROOT, "tests", "data", "lang")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in inputs(paths, tmp):
            extracted = run([args.precis, "extract", "--format", "json", path])
            if extracted.get("language") == "en" and not args.all:
                continue
            cmd = [args.precis, "--no-history", "summarize", "--format", "json", "--length", args.length,
                   "--type", args.type, "--language", args.language]
            if args.model:
                cmd += ["--model", args.model]
            start = time.time()
            try:
                v = run(cmd + [path])
            except Exception as e:
                print(f"{name}: failed: {e}", file=sys.stderr)
                rows.append({"name": name, "failed": True})
                continue
            seconds = time.time() - start
            text = v["text"]
            grounded = all(
                b["support"] >= SUPPORT_THRESHOLD and b["sources"] and all(s["end"] <= len(text.encode()) for s in b["sources"])
                for b in v["bullets"]
            )
            check = independent(v["summary"])
            row = {
                "name": name,
                "language": v["language"],
                "confidence": round(v["language_confidence"], 2),
                "asked": v["output_language"],
                "mismatch": v["language_mismatch"],
                "langdetect": check,
                "bullets": len(v["bullets"]),
                "grounded": grounded,
                "seconds": round(seconds, 1),
                "summary": v["summary"],
            }
            rows.append(row)
            ok = not row["mismatch"] and (check is None or check == row["asked"] or row["asked"] == "unknown")
            print(f"{'ok ' if ok and grounded else 'MISS'} {name:28} {row['language']}({row['confidence']}) -> {row['asked']}"
                  f" mismatch={row['mismatch']} langdetect={check} bullets={row['bullets']} grounded={grounded}"
                  f" {row['seconds']} s\n     {row['summary'][:160]}", flush=True)
    done = [r for r in rows if not r.get("failed")]
    if not done:
        print("no articles")
        return
    in_language = sum(1 for r in done if not r["mismatch"])
    agree = [r for r in done if r["langdetect"] is not None]
    agreeing = sum(1 for r in agree if r["langdetect"] == r["asked"])
    grounded = sum(1 for r in done if r["grounded"])
    print(f"articles={len(done)} failed={len(rows) - len(done)} "
          f"in the language asked for (Precis's check)={in_language}/{len(done)} "
          f"(langdetect)={agreeing}/{len(agree)} all key points grounded={grounded}/{len(done)} "
          f"mean seconds={sum(r['seconds'] for r in done) / len(done):.1f}")


if __name__ == "__main__":
    main()
