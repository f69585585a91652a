#!/usr/bin/env python3
"""Scores `precis extract` on an HTML corpus: mean F1 over word 4-gram shingles (multiset) per page.

Usage: scripts/extract_eval.py [PRECIS_BIN] [CORPUS_DIR]   (CORPUS_DIR holds <id>.html.gz + ground-truth.json)
"""
import gzip, json, os, re, subprocess, sys, tempfile
from collections import Counter

def shingles(text, n=4):
    words = [w.lower() for w in re.findall(r"\w+", text or "")]
    grams = [" ".join(words)] if 0 < len(words) < n else [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]
    return Counter(grams)

def f1(pred, truth):
    p, t = shingles(pred), shingles(truth)
    if not p or not t:
        return float(not p and not t)
    common = sum((p & t).values())
    return 0.0 if not common else 2 * common / (sum(p.values()) + sum(t.values()))

def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/precis"
    corpus = sys.argv[2] if len(sys.argv) > 2 else "/work/shared/corpus/html"
    truth = json.load(open(os.path.join(corpus, "ground-truth.json")))
    scores = []
    with tempfile.TemporaryDirectory() as tmp:
        for page_id, entry in sorted(truth.items()):
            page = os.path.join(tmp, page_id + ".html")
            open(page, "wb").write(gzip.open(os.path.join(corpus, page_id + ".html.gz")).read())
            run = subprocess.run([binary, "extract", "--format", "json", page], capture_output=True, text=True, timeout=60)
            text = json.loads(run.stdout)["text"] if run.returncode == 0 else ""
            scores.append(f1(text, entry["articleBody"]))
            print(f"{page_id} {scores[-1]:.3f} {run.stderr.strip()[:100]}")
    print(f"mean F1 over {len(scores)} pages: {sum(scores) / len(scores):.3f}")

if __name__ == "__main__":
    main()
