#!/usr/bin/env python3
"""Speed and memory of Precis against llama.cpp on the same GGUF file, prompt and threads.

Runs `precis bench` and llama.cpp (through the PyPI package llama-cpp-python) in turns, each in
its own process, ROUNDS times, and prints every run and the median ratios as JSON. Alternating
keeps the comparison fair on a shared, noisy machine.

    python3 -m pip install llama-cpp-python==0.3.36   # builds llama.cpp; needs cmake
    scripts/bench_compare.py --model smollm2-135m-instruct-q4_1 --threads 2 --rounds 3
    scripts/bench_compare.py --model qwen2.5-coder-1.5b-instruct-q4_k_m --precis-arg=--no-repack
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LLAMA_RUN = r"""
import json, resource, sys, time
import numpy as np
from llama_cpp import Llama
path, ids_file, threads, decode = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ids = json.load(open(ids_file))
t0 = time.perf_counter()
llm = Llama(model_path=path, n_ctx=len(ids) + decode + 16, n_batch=512, n_threads=threads,
            n_threads_batch=threads, use_mmap=True, verbose=False)
t1 = time.perf_counter()
# Without logits_all (which would keep a row of logits per context position and inflate the
# memory figure), llama-cpp-python 0.3.x no longer copies logits into `scores`: read the last
# token's logits from the context.
def last_token():
    return int(np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).argmax())
llm.eval(ids)
t2 = time.perf_counter()
token = last_token()
for _ in range(decode - 1):
    llm.eval([token])
    token = last_token()
t3 = time.perf_counter()
print(json.dumps({
    "load_ms": round((t1 - t0) * 1000),
    "prompt_tokens": len(ids),
    "prefill_tok_s": len(ids) / (t2 - t1),
    "decode_tok_s": (decode - 1) / (t3 - t2),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def run_precis(precis, model, threads, decode, ids_file, article, extra):
    cmd = [precis, "bench", "--model", model, "--threads", str(threads),
           "--decode-tokens", str(decode), "--dump-prompt", ids_file] + extra
    if article:
        cmd += ["--article", article]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def run_llama(path, ids_file, threads, decode):
    out = subprocess.run([sys.executable, "-c", LLAMA_RUN, path, ids_file, str(threads), str(decode)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def model_path(precis, model):
    if os.path.isfile(model):
        return model
    listing = subprocess.run([precis, "models", "list"], check=True, capture_output=True, text=True).stdout
    models_dir = listing.splitlines()[0].split(": ", 1)[1]
    catalog = open(os.path.join(ROOT, "models", "catalog.toml")).read()
    # The file path follows the entry's name in the catalog.
    block = catalog.split(f'name = "{model}"', 1)[1]
    rel = block.split('path = "', 1)[1].split('"', 1)[0]
    return os.path.join(models_dir, rel)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--decode-tokens", type=int, default=64)
    ap.add_argument("--article")
    ap.add_argument("--precis", default=os.path.join(ROOT, "target", "release", "precis"))
    ap.add_argument("--precis-arg", action="append", default=[],
                    help="an extra argument for `precis bench` (repeatable)")
    a = ap.parse_args()
    path = model_path(a.precis, a.model)
    runs = {"precis": [], "llama.cpp": []}
    with tempfile.TemporaryDirectory() as tmp:
        ids_file = os.path.join(tmp, "prompt.json")
        for _ in range(a.rounds):
            runs["precis"].append(run_precis(a.precis, a.model, a.threads, a.decode_tokens, ids_file, a.article, a.precis_arg))
            runs["llama.cpp"].append(run_llama(path, ids_file, a.threads, a.decode_tokens))
    med = {k: {m: statistics.median(r[m] for r in v) for m in ("prefill_tok_s", "decode_tok_s", "peak_rss_mb", "load_ms")}
           for k, v in runs.items()}
    ratio = {m: med["precis"][m] / med["llama.cpp"][m] for m in ("prefill_tok_s", "decode_tok_s", "peak_rss_mb")}
    print(json.dumps({"model": a.model, "threads": a.threads, "precis_args": a.precis_arg, "median": med, "ratio_precis_over_llama_cpp": ratio,
                      "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
