#!/usr/bin/env python3
"""Times a cold `precis summarize` on each article of the dev set, as a person at a terminal sees it.

For every article of a JSON-lines corpus ({id, article, ...}), writes it to a text file and runs
`precis summarize FILE --no-history --type key-points --length medium` as a new process whose
standard output is a terminal (a pseudo-terminal), so the command streams as it does for a person.
Records the seconds from starting the command to its first key point on the screen and to its
exit, and prints their mean and 95th percentile with the CPU's model name. The model's tiles are
mapped from the tile cache, as on every run after a model's first: a warm-up run (on the last
article) builds them if the cache has none, and is left out of the figures.

  scripts/cold_eval.py --precis target/release/precis --limit 16
  scripts/cold_eval.py --precis target/release/precis --against /tmp/precis-old   # A/B, taking turns

In an A/B run each binary has a tile cache directory of its own (a temporary one beside the usual
cache, built by its warm-up run), so each keeps its own prompt prefix file, as one binary would.
"""
import argparse
import json
import os
import pty
import select
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def run_once(precis, path, model, env=None):
    """Seconds to the first key point (None if none was printed) and to the exit of one cold run."""
    cmd = [precis, "summarize", path, "--no-history", "--type", "key-points", "--length", "medium"]
    if model:
        cmd += ["--model", model]
    master, slave = pty.openpty()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.DEVNULL, env=env)
    os.close(slave)
    out, first_point = b"", None
    while True:
        ready, _, _ = select.select([master], [], [], 1.0)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        if first_point is None and any(l.lstrip().startswith(b"- ") for l in out.splitlines()):
            first_point = time.perf_counter() - start
    proc.wait()
    end = time.perf_counter() - start
    os.close(master)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out.decode(errors='replace')}")
    return first_point, end


def summary_line(name, values):
    values = sorted(values)
    n = len(values)
    p95 = values[min(n - 1, int(round(0.95 * n)) - 1)]
    return f"{name}: mean={sum(values) / n:.2f} s p95={p95:.2f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=os.path.join(ROOT, "..", "shared", "corpus", "cnndm-dev.jsonl"))
    ap.add_argument("--limit", type=int)
    ap.add_argument("--model")
    ap.add_argument("--precis", default=os.path.join(ROOT, "target", "release", "precis"))
    ap.add_argument("--against", help="another precis binary, run on each article beside the first (A/B, taking turns)")
    args = ap.parse_args()
    with open(args.corpus) as f:
        records = [json.loads(l) for l in f if l.strip()][: args.limit]
    binaries = [args.precis] + ([args.against] if args.against else [])
    firsts = {b: [] for b in binaries}
    ends = {b: [] for b in binaries}
    with tempfile.TemporaryDirectory() as tmp:
        # A/B: each binary keeps its tiles and its prompt prefix file in a directory of its
        # own. In a shared one, the second run on an article found the first run's prompt
        # kept and skipped most of its prefill, which no run after another article does.
        # They are made beside the usual cache, on its filesystem (one that can map them in
        # huge pages, which a /tmp on tmpfs may not), and removed afterwards.
        envs = {b: None for b in binaries}
        if args.against:
            parent = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "precis")
            os.makedirs(parent, exist_ok=True)
            caches = tempfile.TemporaryDirectory(prefix="cold-eval-", dir=parent)
            for n, b in enumerate(binaries):
                envs[b] = dict(os.environ, PRECIS_TILE_CACHE=os.path.join(caches.name, f"tiles-{n}"))
        # The warm-up runs the last article, so the first measured one does not find its own
        # prompt kept.
        for i, r in enumerate([records[-1]] + records):
            path = os.path.join(tmp, "article.txt")
            with open(path, "w") as f:
                f.write(r["article"])
            for b in binaries if i % 2 else binaries[::-1]:
                first, end = run_once(b, path, args.model, envs[b])
                if i == 0:
                    continue  # the warm-up: builds the tile cache if it has nothing yet (A/B: always)
                if first is None:
                    raise SystemExit(f"{r['id']}: no key point was printed")
                firsts[b].append(first)
                ends[b].append(end)
                print(f"{i} {r['id']} {b}: first key point {first:.2f} s, finished {end:.2f} s", file=sys.stderr)
    print(f"CPU: {cpu_model()}, {os.cpu_count()} threads; {len(records)} articles, cold `precis summarize` each")
    for b in binaries:
        if len(binaries) > 1:
            print(b)
        print(summary_line("first key point", firsts[b]))
        print(summary_line("finished summary", ends[b]))
    if args.against:
        ratio = sum(ends[args.precis]) / sum(ends[args.against])
        print(f"finished summary, {args.precis} / {args.against}: {ratio:.3f}")


if __name__ == "__main__":
    sys.exit(main())
