#!/usr/bin/env python3
"""Scores `precis extract` on a folder of saved web pages against their known article text.

Each page is `<id>.html.gz` beside a `ground-truth.json` that maps ids to `{"articleBody": ...}`.
Prints, per page and as means, the F1, precision and recall of word 4-gram shingles (as
multisets) of the extracted text against the article body.

Usage: scripts/extract_eval.py [--precis BIN] [--corpus DIR]
"""
import argparse
import gzip
import json
import os
import re
import subprocess
import tempfile
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def shingles(text, n=4):
    words = [w.lower() for w in re.findall(r"\w+", text or "")]
    grams = [" ".join(words)] if 0 < len(words) < n else [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]
    return Counter(grams)


def scores(pred, truth):
    """(F1, precision, recall) of the extracted text's shingles against the truth's."""
    p, t = shingles(pred), shingles(truth)
    if not p or not t:
        same = float(not p and not t)
        return same, same, same
    common = sum((p & t).values())
    precision, recall = common / sum(p.values()), common / sum(t.values())
    f1 = 0.0 if not common else 2 * precision * recall / (precision + recall)
    return f1, precision, recall


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--precis", default=os.path.join(target, "debug", "precis"))
    ap.add_argument("--corpus", default=os.path.join(ROOT, "..", "shared", "corpus", "html"),
                    help="folder with <id>.html.gz and ground-truth.json (default: the dev corpus beside the repository)")
    args = ap.parse_args()
    truth = json.load(open(os.path.join(args.corpus, "ground-truth.json")))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for page_id, entry in sorted(truth.items()):
            page = os.path.join(tmp, page_id + ".html")
            with open(page, "wb") as out:
                out.write(gzip.open(os.path.join(args.corpus, page_id + ".html.gz")).read())
            run = subprocess.run([args.precis, "extract", "--format", "json", page],
                                 capture_output=True, text=True, timeout=60)
            text = json.loads(run.stdout)["text"] if run.returncode == 0 else ""
            rows.append(scores(text, entry["articleBody"]))
            f1, precision, recall = rows[-1]
            print(f"{page_id} F1 {f1:.3f} P {precision:.3f} R {recall:.3f} {run.stderr.strip()[:100]}")
    mean = [sum(r[i] for r in rows) / len(rows) for i in range(3)]
    print(f"mean over {len(rows)} pages: F1 {mean[0]:.3f}, precision {mean[1]:.3f}, recall {mean[2]:.3f}")


if __name__ == "__main__":
    main()
