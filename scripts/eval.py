#!/usr/bin/env python3
"""Scores Precis key points against human highlights.

Runs `precis eval` on a JSON-lines corpus ({id, article, reference_bullets}) unless --pred names
predictions already written, then reports ROUGE-1/2/Lsum F1 (rouge-score, stemmed; one bullet per
line for Lsum) of the bullets against reference_bullets, the share of bullets grounded (support
at least 0.6, the engine's threshold), generated bullets replaced as unsupported, repeated
bullets, and mean and p95 seconds per article.

  pip install rouge-score
  scripts/eval.py --mode extractive            # ranking only, all articles
  scripts/eval.py --mode full --limit 12       # the whole pipeline with the default model
  scripts/eval.py --mode lead3                 # the Lead-3 baseline
  scripts/eval.py --mode condense --limit 12   # the model also shortens the key sentences
"""
import argparse
import json
import os
import re
import subprocess
import sys

from rouge_score import rouge_scorer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SUPPORT_THRESHOLD = 0.6
MODES = {
    "lead3": ["--lead", "3"],
    "extractive": ["--extractive"],
    "full": [],
    "condense": ["--condense"],
}


def words(text):
    return set(w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2)


STOP = set("a an the of in on at to for and or but is are was were be been has have had it its this that with by from as he she they his her their not".split())


def independently_grounded(bullet, article):
    """A check independent of the engine's: every number and capitalized word of the bullet occurs
    in the article, and at least 80% of its other words (stemmed) do."""
    art_tokens = set(re.findall(r"[a-z0-9]+", article.lower()))
    toks = re.findall(r"[A-Za-z0-9][A-Za-z0-9.,']*", bullet)
    for t in toks[1:]:
        t = t.strip(".,'")
        if (t[:1].isupper() or any(c.isdigit() for c in t)) and t.lower().replace(",", "") not in art_tokens \
                and t.lower() not in art_tokens:
            parts = re.findall(r"[a-z0-9]+", t.lower())
            if not all(p in art_tokens for p in parts):
                return False
    from nltk.stem import porter
    ps = porter.PorterStemmer()
    art_stems = {ps.stem(w) for w in art_tokens}
    words = [w for w in re.findall(r"[a-z0-9]+", bullet.lower()) if w not in STOP]
    if not words:
        return False
    return sum(ps.stem(w) in art_stems for w in words) / len(words) >= 0.8


def repeated(bullets):
    """Pairs of bullets in one article that say the same thing: equal after normalization, or
    sharing at least 60% of their words (Jaccard)."""
    n = 0
    for i in range(len(bullets)):
        for j in range(i):
            a, b = words(bullets[i]), words(bullets[j])
            if a == b or (a and b and len(a & b) / len(a | b) >= 0.6):
                n += 1
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=os.path.join(ROOT, "..", "shared", "corpus", "cnndm-dev.jsonl"))
    ap.add_argument("--mode", choices=MODES, default="extractive")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--model")
    ap.add_argument("--precis", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "debug", "precis"))
    ap.add_argument("--pred", help="score these predictions instead of running precis")
    ap.add_argument("--out", help="where to write the predictions")
    args = ap.parse_args()

    refs = {}
    articles = {}
    with open(args.corpus) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                refs[r["id"]] = r["reference_bullets"]
                articles[r["id"]] = r["article"]

    if args.pred:
        with open(args.pred) as f:
            preds = [json.loads(l) for l in f if l.strip()]
    else:
        cmd = [args.precis, "eval", args.corpus, "--type", "key-points", "--length", "medium"] + MODES[args.mode]
        if args.limit:
            cmd += ["--limit", str(args.limit)]
        if args.model:
            cmd += ["--model", args.model]
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
        preds = [json.loads(l) for l in out.splitlines() if l.strip()]
        if args.out:
            with open(args.out, "w") as f:
                f.write(out)

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeLsum"], use_stemmer=True)
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeLsum": 0.0}
    bullets = grounded = independent = replaced = repeats = 0
    times = []
    for p in preds:
        texts = [b["text"] for b in p["bullets"]]
        s = scorer.score("\n".join(refs[p["id"]]), "\n".join(texts))
        for k in totals:
            totals[k] += s[k].fmeasure
        bullets += len(texts)
        grounded += sum(1 for b in p["bullets"] if b.get("support", 0) >= SUPPORT_THRESHOLD and b.get("sources"))
        independent += sum(1 for t in texts if independently_grounded(t, articles[p["id"]]))
        replaced += p.get("unsupported", 0)
        repeats += repeated(texts)
        times.append(p["ms"] / 1000)
    n = len(preds)
    times.sort()
    p95 = times[min(n - 1, int(round(0.95 * n)) - 1)] if n else 0
    print(f"mode={args.mode} articles={n}")
    print("ROUGE-1/2/Lsum F1: " + "/".join(f"{100 * totals[k] / n:.1f}" for k in totals))
    print(f"bullets={bullets} ({bullets / n:.2f}/article) grounded={100 * grounded / max(bullets, 1):.1f}% "
          f"independent-check={100 * independent / max(bullets, 1):.1f}% "
          f"replaced-unsupported={replaced} repeated={repeats}")
    print(f"seconds/article: mean={sum(times) / n:.2f} p95={p95:.2f}")


if __name__ == "__main__":
    sys.exit(main())
