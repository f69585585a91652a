#!/usr/bin/env python3
"""Scores Precis key points on the long-read set (tests/data/longreads/).

Runs `precis summarize FILE --format json --no-history [--arg ...]` on each article of the set's
index.jsonl ({id, file, language, title, sections, key_points, ...}) and reports, per article
and on average:
  - ROUGE-1/2/Lsum F1 (rouge-score; one bullet per line for Lsum) of the key points, the JSON's
    bullets[].text, against the human key points; English is scored as scripts/eval.py does
    (the package's tokenizer and Porter stemmer), German and French with a Unicode tokenizer and
    NLTK's Snowball stemmer, since the package's tokenizer splits words at every accent;
  - the same for a Lead-k baseline: the first k sentences (k = number of human key points) of
    the extracted text, the JSON's `text`, split simply (blank lines, then . ! ? followed by a
    space; fragments under 4 words such as headings are skipped);
  - key points that equal or merely restate the title or a section heading (at least 80% of the
    key point's words are in it);
  - section coverage: the share of the article's sections that the key points come from. Each
    bullet's sources[].start (a byte offset into `text`) is mapped to the section it falls in;
    the sections are found by locating the index's headings in `text` (or thirds of the text
    when the article has no headings or fewer than two are found), plus the opening before the
    first heading when it has 100 words or more. `early` is the share of bullets taken from the
    first third of the text, a measure of lead bias;
  - wall time per article.
An article whose run fails, times out or prints JSON without bullets and text is reported and
skipped; the averages are over the articles that ran.

  pip install rouge-score nltk
  scripts/longread_eval.py                                  # target/debug/precis, full pipeline
  scripts/longread_eval.py --arg=--extractive               # ranking only
  scripts/longread_eval.py --precis target/release/precis --arg=--extractive
  scripts/longread_eval.py --only git-bisect-lk2009 --json-out /tmp/longreads.jsonl
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
import unicodedata

from rouge_score import rouge_scorer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ROUGE_TYPES = ["rouge1", "rouge2", "rougeLsum"]
RESTATE_THRESHOLD = 0.8
OPENING_MIN_WORDS = 100
SENTENCE = re.compile(r"[^\W\d_]{2,}[.!?]\s+[^\W\d_]")
SNOWBALL = {"de": "german", "fr": "french", "es": "spanish", "it": "italian", "nl": "dutch", "pt": "portuguese"}


class UnicodeTokenizer:
    """Lowercased runs of letters and digits (accents kept), stemmed with NLTK's Snowball stemmer
    for the language when it has one."""

    def __init__(self, language):
        self.stem = None
        if language in SNOWBALL:
            from nltk.stem.snowball import SnowballStemmer
            self.stem = SnowballStemmer(SNOWBALL[language]).stem

    def tokenize(self, text):
        tokens = re.findall(r"\w+", unicodedata.normalize("NFC", text).lower())
        return [self.stem(t) for t in tokens] if self.stem else tokens


_scorers = {}


def scorer_for(language):
    if language not in _scorers:
        if language == "en":
            _scorers[language] = rouge_scorer.RougeScorer(ROUGE_TYPES, use_stemmer=True)
        else:
            _scorers[language] = rouge_scorer.RougeScorer(ROUGE_TYPES, tokenizer=UnicodeTokenizer(language))
    return _scorers[language]


def rouge(language, refs, preds):
    s = scorer_for(language).score("\n".join(refs), "\n".join(preds))
    return {k: s[k].fmeasure for k in ROUGE_TYPES}


def words(text):
    return re.findall(r"\w+", text.lower())


def restates(bullet, heading):
    """Whether a key point equals or merely restates a heading: equal after normalization, or at
    least 80% of its words are words of the heading."""
    b, h = words(bullet), set(words(heading))
    if not b or not h:
        return False
    return b == words(heading) or sum(w in h for w in b) / len(b) >= RESTATE_THRESHOLD


def sentences(text):
    """(start, end) character offsets of the text's sentences, split simply; fragments of fewer
    than 4 words (headings, captions, list labels) are left out."""
    out = []
    for para in re.finditer(r"\S(?:.*?)(?=\n\s*\n|\Z)", text, re.S):
        start = para.start()
        for piece in re.split(r"(?<=[.!?])\s+", para.group()):
            i = text.find(piece, start)
            if i < 0:
                continue
            start = i + len(piece)
            if len(piece.split()) >= 4:
                out.append((i, i + len(piece)))
    return out


def lead(text, k):
    spans = sentences(text)[:k]
    return [" ".join(text[a:b].split()) for a, b in spans], [a for a, _ in spans]


def normalize_with_map(text):
    """The text lowercased with every run of non-alphanumeric characters made one space, and for
    each character of the result its index in the original."""
    out, where, space = [], [], True
    for i, c in enumerate(text):
        if c.isalnum():
            out.append(c.lower())
            where.append(i)
            space = False
        elif not space:
            out.append(" ")
            where.append(i)
            space = True
    return "".join(out), where


def at_line_start(text, i):
    """Whether only numbering, bullets or markup stand between the start of the line and i."""
    line_start = text.rfind("\n", 0, i) + 1
    return re.fullmatch(r"[\s\d.#*=>«»()IVX-]*", text[line_start:i]) is not None


def table_of_contents(text, cands):
    """(start, end) of a table of contents, or None: a run of at least three headings, in order,
    whose first occurrences follow each other closely (at most 5% of the text apart, with no
    sentence between them) and begin in the first 40% of the text, and which occur again after
    the list spread at least three times as widely (their next occurrences in order, or their
    last ones: the body, or a PDF's running heads, after the list)."""
    length = len(text)

    def accept(run):
        if len(run) < 3 or cands[run[0]][0] >= 0.4 * length:
            return False
        first = [cands[i][0] for i in run]
        span = first[-1] - first[0]
        if any(SENTENCE.search(text, a, b) for a, b in zip(first, first[1:])):
            return False
        # The headings' next occurrences in order after the list, and their last occurrences.
        following, prev = [], first[-1]
        for i in run:
            prev = next((p for p in cands[i] if p > prev), None)
            if prev is None:
                following = []
                break
            following.append(prev)
        last = [cands[i][-1] for i in run]
        spread = lambda seq: bool(seq) and seq[0] > first[-1] and seq == sorted(seq) and seq[-1] - seq[0] >= 3 * span
        return spread(following) or spread(last)

    def best(run):
        for a in range(len(run) - 2):
            for b in range(len(run), a + 2, -1):
                if accept(run[a:b]):
                    return extend(run[a], cands[run[a]][0], cands[run[b - 1]][0])
        return None

    def extend(i, start, end):
        # Entries before the run whose first occurrence was elsewhere (a title that repeats the
        # first heading) join the list when they sit just before it.
        while i > 0:
            i -= 1
            before = [p for p in cands[i] if start - 0.05 * length <= p < start and not SENTENCE.search(text, p, start)]
            if not before or not any(p > end for p in cands[i]):
                break
            start = before[0]
        return start, end

    run = []
    for i, found in enumerate(cands):
        if not found:
            continue
        if len(found) >= 2 and run and cands[run[-1]][0] < found[0] <= cands[run[-1]][0] + 0.05 * length:
            run.append(i)
            continue
        toc = best(run)
        if toc:
            return toc
        run = [i] if len(found) >= 2 else []
    return best(run)


def locate_headings(text, headings):
    """[(offset, heading)] of the headings found in text, in order. A heading is looked for after
    the previous one found, at the start of a line when it occurs there; a table of contents (see
    table_of_contents) is skipped."""
    norm, where = normalize_with_map(text)
    cands = []
    for h in headings:
        hn = normalize_with_map(unicodedata.normalize("NFKC", h))[0].strip()
        found = []
        if len(hn) >= 3:
            i = norm.find(hn)
            while i >= 0:
                # Whole words only: "Intro" is not found in "Introduction".
                j = i + len(hn)
                if (i == 0 or norm[i - 1] == " ") and (j == len(norm) or norm[j] == " "):
                    found.append(where[i])
                i = norm.find(hn, i + 1)
        cands.append(found)
    # A page can have more than one table of contents (a site's navigation, then the page's own).
    for _ in range(3):
        toc = table_of_contents(text, cands)
        if not toc:
            break
        cands = [[p for p in found if not toc[0] <= p <= toc[1]] or found for found in cands]
    located, prev = [], -1
    for h, found in zip(headings, cands):
        found = [p for p in found if p > prev]
        if not found:
            continue
        starts = [p for p in found if at_line_start(text, p)]
        p = (starts or found)[0]
        located.append((p, h))
        prev = p
    return located


def segments(text, headings):
    """[(start, label)] of the article's sections in text: its headings as located, with the
    opening before the first when it is long enough, or thirds of the text."""
    located = locate_headings(text, headings) if headings else []
    if len(located) >= 2:
        segs = [(p, h) for p, h in located]
        if len(text[: segs[0][0]].split()) >= OPENING_MIN_WORDS:
            segs.insert(0, (0, "(opening)"))
        else:
            segs[0] = (0, segs[0][1])
        return segs, "headings"
    n = len(text)
    return [(0, "first third"), (n // 3, "second third"), (2 * n // 3, "last third")], "thirds"


def section_of(segs, offset):
    label = segs[0][1]
    for start, name in segs:
        if offset >= start:
            label = name
    return label


def byte_to_char(text):
    """A function from a UTF-8 byte offset into text to the character offset."""
    encoded = text.encode("utf-8")
    return lambda b: len(encoded[: max(0, min(b, len(encoded)))].decode("utf-8", errors="ignore"))


def run_precis(args, path):
    cmd = [args.precis, "summarize", path, "--format", "json", "--no-history"] + args.arg
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return None, time.monotonic() - t0, f"timed out after {args.timeout} s"
    except OSError as e:
        return None, time.monotonic() - t0, f"could not run {args.precis}: {e}"
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [""])[-1]
        return None, wall, f"exit {proc.returncode}: {last[:200]}"
    try:
        out = json.loads(proc.stdout)
    except json.JSONDecodeError:
        # One object per line is accepted too (the batch form); the last one is this article.
        lines = [line for line in proc.stdout.splitlines() if line.strip().startswith("{")]
        try:
            out = json.loads(lines[-1])
        except (IndexError, json.JSONDecodeError):
            return None, wall, "stdout is not JSON"
    if not isinstance(out, dict):
        return None, wall, "stdout is not a JSON object"
    if "error" in out:
        return None, wall, f"error: {out['error']}"
    if not isinstance(out.get("bullets"), list) or not isinstance(out.get("text"), str):
        return None, wall, "JSON lacks bullets or text"
    return out, wall, None


def evaluate(article, out, wall):
    text = out["text"]
    refs = article["key_points"]
    bullets = [b for b in out["bullets"] if isinstance(b, dict) and isinstance(b.get("text"), str)]
    preds = [b["text"] for b in bullets]
    lang = article.get("language", "en")
    headings = article.get("sections", [])
    titles = [t for t in (article.get("title"), out.get("title")) if t]
    segs, how = segments(text, headings)
    to_char = byte_to_char(text)

    bullet_sections, early, unsourced = [], 0, 0
    for b in bullets:
        starts = [s.get("start") for s in b.get("sources") or [] if isinstance(s, dict) and isinstance(s.get("start"), int)]
        if not starts:
            unsourced += 1
            continue
        offset = to_char(min(starts))
        bullet_sections.append(section_of(segs, offset))
        early += offset < len(text) / 3
    covered = sorted(set(bullet_sections), key=[name for _, name in segs].index)

    lead_texts, lead_starts = lead(text, len(refs))
    lead_covered = {section_of(segs, o) for o in lead_starts}
    restated = [p for p in preds if any(restates(p, h) for h in titles + headings)]
    return {
        "id": article["id"],
        "language": lang,
        "words": article.get("words"),
        "bullets": len(preds),
        "rouge": rouge(lang, refs, preds) if preds else {k: 0.0 for k in ROUGE_TYPES},
        "lead": rouge(lang, refs, lead_texts) if lead_texts else {k: 0.0 for k in ROUGE_TYPES},
        "restated": restated,
        "sections_found": how,
        "sections": len(segs),
        "covered": covered,
        "coverage": len(covered) / len(segs),
        "lead_coverage": len(lead_covered) / len(segs),
        "early": early / len(bullet_sections) if bullet_sections else 0.0,
        "unsourced": unsourced,
        "wall_s": wall,
    }


def fmt(r):
    return "/".join(f"{100 * r[k]:.1f}" for k in ROUGE_TYPES)


def article_path(file, base, shared):
    """The article's file: in the set's folder, or a saved page of the shared dev corpus
    (`shared:ID.html.gz`), unpacked into a temporary .html file."""
    if not file.startswith("shared:"):
        return os.path.join(base, file)
    import gzip
    import tempfile
    name = file[len("shared:"):]
    out = os.path.join(tempfile.gettempdir(), "precis-longread-" + name[: -len(".gz")])
    with gzip.open(os.path.join(shared, name)) as src, open(out, "wb") as dst:
        dst.write(src.read())
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", default=os.path.join(ROOT, "tests", "data", "longreads", "index.jsonl"))
    ap.add_argument("--precis", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "debug", "precis"))
    ap.add_argument("--arg", action="append", default=[], help="an extra argument for precis summarize (repeat; e.g. --arg=--extractive)")
    ap.add_argument("--only", action="append", default=[], help="run only this article id (repeat)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds an article may take (default 1800)")
    ap.add_argument("--json-out", help="write one JSON result per article here")
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "corpus", "html"),
                    help="the dev corpus's saved pages, for the articles whose file is 'shared:ID.html.gz' "
                         "(publishers' pages, measured here but not part of the repository)")
    args = ap.parse_args()

    base = os.path.dirname(os.path.abspath(args.index))
    with open(args.index, encoding="utf-8") as f:
        articles = [json.loads(line) for line in f if line.strip()]
    if args.only:
        articles = [a for a in articles if a["id"] in args.only]
        if not articles:
            sys.exit(f"no article with id {', '.join(args.only)} in {args.index}")

    print(f"precis={args.precis} args={' '.join(args.arg) or '(none)'} articles={len(articles)}")
    print(f"{'id':40} {'words':>6} {'R1/R2/RLsum':>15} {'lead-k':>15} {'cover':>6} {'lead':>5} {'early':>5} {'restate':>7} {'secs':>7}")
    results, failed = [], []
    for a in articles:
        out, wall, error = run_precis(args, article_path(a["file"], base, args.shared))
        if error:
            failed.append((a["id"], error))
            print(f"{a['id']:40} FAILED ({wall:.1f} s): {error}", flush=True)
            continue
        r = evaluate(a, out, wall)
        results.append(r)
        cover = f"{len(r['covered'])}/{r['sections']}" + ("t" if r["sections_found"] == "thirds" else "")
        print(f"{r['id']:40} {r['words'] or 0:>6} {fmt(r['rouge']):>15} {fmt(r['lead']):>15} {cover:>6} "
              f"{100 * r['lead_coverage']:>4.0f}% {100 * r['early']:>4.0f}% {len(r['restated']):>7} {r['wall_s']:>7.1f}", flush=True)
        for p in r["restated"]:
            print(f"{'':42}restates a heading: {p[:100]}")
        if args.json_out:
            with open(args.json_out, "a", encoding="utf-8") as f:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")

    print()
    if failed:
        print(f"failed and skipped: {len(failed)} of {len(articles)}: " + ", ".join(i for i, _ in failed))
    n = len(results)
    if not n:
        print("no article ran")
        return 1
    mean = lambda key: {k: statistics.mean(r[key][k] for r in results) for k in ROUGE_TYPES}
    times = sorted(r["wall_s"] for r in results)
    p95 = times[min(n - 1, max(0, round(0.95 * n) - 1))]
    print(f"articles={n} bullets={sum(r['bullets'] for r in results)} ({statistics.mean(r['bullets'] for r in results):.2f}/article)")
    print(f"ROUGE-1/2/Lsum F1: key points {fmt(mean('rouge'))}  Lead-k {fmt(mean('lead'))}")
    print(f"section coverage: key points {100 * statistics.mean(r['coverage'] for r in results):.1f}%  "
          f"Lead-k {100 * statistics.mean(r['lead_coverage'] for r in results):.1f}%  "
          f"(headings located in {sum(r['sections_found'] == 'headings' for r in results)} articles, thirds in the rest)")
    print(f"bullets from the first third: {100 * statistics.mean(r['early'] for r in results):.1f}%  "
          f"unsourced bullets: {sum(r['unsourced'] for r in results)}")
    print(f"key points restating the title or a heading: {sum(len(r['restated']) for r in results)} "
          f"in {sum(bool(r['restated']) for r in results)} articles")
    print(f"seconds/article: mean={statistics.mean(times):.2f} p95={p95:.2f} max={times[-1]:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
