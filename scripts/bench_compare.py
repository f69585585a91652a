#!/usr/bin/env python3
"""Speed and memory of Precis against llama.cpp, per kernel path, on the same GGUF file, prompt and threads.

For every kernel path this CPU runs (or those given with --paths), runs `precis bench` with
PRECIS_KERNELS set to it and llama.cpp (the PyPI package llama-cpp-python) built for the same
instruction set, each in its own process, taking turns, ROUNDS times. Alternating keeps the
comparison fair on a shared, noisy machine. Others' work only ever slows a run down, so each side's
best round (the highest speed, the lowest memory and load time) is nearest what its code can do, and
the ratio of the bests is what the table shows (`--estimate median` for medians). Prints a Markdown
table (with the CPU's model name and features above it, and every round's range), each round's
decode on both sides with the read-bandwidth test Precis's run made in it, and, with --json, every
run; `--from-json FILE` prints the tables again from that JSON.

llama.cpp builds are Python interpreters that have llama-cpp-python installed, named after the
instruction set they were built for:

    python3 -m venv ~/.cache/precis-bench/native && ~/.cache/precis-bench/native/bin/pip install \\
        --no-cache-dir llama-cpp-python==0.3.36    # -march=native: everything this CPU has
    python3 -m venv ~/.cache/precis-bench/avx2 && CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON \\
        -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF" \\
        ~/.cache/precis-bench/avx2/bin/pip install --no-cache-dir --no-binary llama-cpp-python \\
        llama-cpp-python==0.3.36

(`--no-cache-dir`: pip's wheel cache does not tell builds with different `CMAKE_ARGS` apart, and
would hand the second build the first one's wheel; `llama_cpp.llama_print_system_info()` shows
what a build has.)

    scripts/bench_compare.py --model smollm2-135m-instruct-q4_1 --threads 2 --rounds 3 \\
        --llama native=~/.cache/precis-bench/native/bin/python \\
        --llama avx2=~/.cache/precis-bench/avx2/bin/python

A path is compared with the build of its own name, else (for avx512vnni and avxvnni) with
`native` or `avx512`; the table says which build each row ran. Where `native` crashes (on a
virtual machine whose CPU reports AMX but does not let a process use it, llama.cpp's AMX kernels
die of a general protection fault), build `avx512` as `avx2` above with `-DGGML_AVX_VNNI=ON
-DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_BF16=ON
-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF` in place of `-DGGML_AVX512=OFF`. On a busy machine,
`--threads 1` keeps a descheduled thread from stalling the other at every barrier, which swamps
what the kernels do (both sides' two-thread decode fell from 65-100 to 1-15 tok/s under a load of
10 on 2 cores). `portable` has no llama.cpp counterpart and
is compared with the AVX2 build, to show what a CPU without AVX2 would lose.
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

METRICS = ("prefill_tok_s", "decode_tok_s", "peak_rss_mb", "load_ms")


def run_precis(a, model, path, ids_file, bandwidth):
    cmd = [a.precis, "bench", "--model", model, "--threads", str(a.threads),
           "--decode-tokens", str(a.decode_tokens), "--dump-prompt", ids_file, "--no-prefix-reuse"] + a.precis_arg
    if a.article:
        cmd += ["--article", a.article]
    if not bandwidth:
        cmd.append("--no-bandwidth")
    env = dict(os.environ)
    if path:
        env["PRECIS_KERNELS"] = path
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out)


def run_llama(python, path, ids_file, threads, decode):
    out = subprocess.run([python, "-c", LLAMA_RUN, path, ids_file, str(threads), str(decode)],
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


def llama_build(path, builds):
    """The llama.cpp build a Precis kernel path is compared with."""
    order = {"avx512vnni": ["avx512vnni", "avx512", "native"], "avxvnni": ["avxvnni", "native", "avx512"],
             "avx2": ["avx2"], "portable": ["avx2", "native"]}.get(path, [path])
    return next((b for b in order if b in builds), None)


def spread(values):
    return f"{min(values):.4g}–{max(values):.4g}" if len(values) > 1 else f"{values[0]:.4g}"


def compare(a, model, builds):
    gguf = model_path(a.precis, model)
    with tempfile.TemporaryDirectory() as tmp:
        ids_file = os.path.join(tmp, "prompt.json")
        # A short run to learn the paths this CPU has and to bring the file into the page cache.
        probe = run_precis(argparse.Namespace(**{**vars(a), "decode_tokens": 2}), model, None, ids_file, False)
        paths = a.paths or probe["kernels_available"]
        missing = [p for p in paths if p not in probe["kernels_available"]]
        if missing:
            sys.exit(f"this CPU does not run {', '.join(missing)}; it runs {', '.join(probe['kernels_available'])}")
        for b in sorted({llama_build(p, builds) for p in paths} - {None}):
            run_llama(builds[b], gguf, ids_file, a.threads, 2)
        runs = {p: {"precis": [], "llama.cpp": [], "build": llama_build(p, builds)} for p in paths}
        for r in range(a.rounds):
            for p in paths:
                # The bandwidth test in every round: a shared host's bandwidth changes from one
                # minute to the next, and a round's decode is read against its own.
                runs[p]["precis"].append(run_precis(a, model, p, ids_file, not a.no_bandwidth))
                if runs[p]["build"]:
                    runs[p]["llama.cpp"].append(run_llama(builds[runs[p]["build"]], gguf, ids_file, a.threads, a.decode_tokens))
                print(f"{model} round {r + 1}/{a.rounds} {p} done", file=sys.stderr)
    results = {p: {"llama_build": v["build"], "decode_memory": v["precis"][0].get("decode_memory"), "runs": v}
               for p, v in runs.items()}
    return probe, results


def estimate(values, metric, how):
    if how == "median":
        return statistics.median(values)
    # Speeds: the fastest round; memory and load time: the smallest.
    return max(values) if metric.endswith("tok_s") else min(values)


def summarize(results, how):
    """Each side's estimate of every metric, and Precis's over llama.cpp's."""
    for r in results.values():
        est = {side: {m: estimate([x[m] for x in r["runs"][side]], m, how) for m in METRICS}
               for side in ("precis", "llama.cpp") if r["runs"][side]}
        r["estimate"] = {"how": how, **est}
        r["ratio_precis_over_llama_cpp"] = (
            {m: est["precis"][m] / est["llama.cpp"][m] for m in METRICS} if "llama.cpp" in est else None)


def table(model, probe, results, a):
    lines = [f"{model}: {probe['prompt_tokens']}-token prompt, {a.decode_tokens} decoded tokens, {a.threads} threads, "
             f"{'medians' if a.estimate == 'median' else 'best'} of {a.rounds} alternating rounds (all rounds' range in brackets)", "",
             "| path | llama.cpp build | prefill tok/s | decode tok/s | peak RSS MB | load ms | weights read in decode, of the read bandwidth |",
             "|---|---|---|---|---|---|---|"]
    for p, r in results.items():
        pr, ll = r["runs"]["precis"], r["runs"]["llama.cpp"]
        cells = []
        for m in METRICS:
            ours = f"{r['estimate']['precis'][m]:.4g} [{spread([x[m] for x in pr])}]"
            if ll:
                cells.append(f"{ours} vs {r['estimate']['llama.cpp'][m]:.4g} [{spread([x[m] for x in ll])}] "
                             f"= **{r['ratio_precis_over_llama_cpp'][m]:.2f}×**")
            else:
                cells.append(ours)
        # The decode's figure read its weights at this rate; the machine's read bandwidth is the
        # most any of this model's bandwidth tests measured (each is as noisy as a decode).
        dm = r["decode_memory"] or {}
        bandwidth = max((x.get("decode_memory") or {}).get("read_bandwidth_gb_s", 0)
                        for y in results.values() for x in y["runs"]["precis"])
        weight_gb_s = dm.get("weight_mb_per_token", 0) / 1000 * r["estimate"]["precis"]["decode_tok_s"]
        share = f"{weight_gb_s:.1f} of {bandwidth:.1f} GB/s = {weight_gb_s / bandwidth * 100:.0f}%" if bandwidth and weight_gb_s else "–"
        lines.append(f"| {p} | {r['llama_build'] or '–'} | " + " | ".join(cells) + f" | {share} |")
    lines += ["", "Decode round by round (Precis vs llama.cpp, tok/s), with the bandwidth test Precis's run made:"]
    for p, r in results.items():
        pr, ll = r["runs"]["precis"], r["runs"]["llama.cpp"]
        rounds = []
        for i, ours in enumerate(pr):
            bw = (ours.get("decode_memory") or {}).get("read_bandwidth_gb_s")
            line = f"{ours['decode_tok_s']:.4g}"
            if i < len(ll):
                line += f" vs {ll[i]['decode_tok_s']:.4g} = {ours['decode_tok_s'] / ll[i]['decode_tok_s']:.2f}×"
            paired = (ours.get("decode_memory") or {}).get("paired")
            if bw:
                line += f" at {bw:.1f} GB/s"
            if paired:
                line += f" (steps beside passes: {paired['share_median'] * 100:.0f}%)"
            rounds.append(line)
        lines.append(f"- {p}: " + "; ".join(rounds))
    paired = {p: [x["decode_memory"]["paired"]["share_median"] for x in r["runs"]["precis"]
                  if (x.get("decode_memory") or {}).get("paired")] for p, r in results.items()}
    if any(paired.values()):
        lines += ["", "Single decode steps, each beside a pass of the bandwidth test (`decode_memory.paired`): the median "
                  "round's median share, and every round's range:"]
    for p, shares in paired.items():
        if shares:
            lines.append(f"- {p}: {statistics.median(shares) * 100:.0f}% [{min(shares) * 100:.0f}–{max(shares) * 100:.0f}%]")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", help="a catalog name or GGUF path (repeatable; required unless --from-json)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--decode-tokens", type=int, default=64)
    ap.add_argument("--article")
    ap.add_argument("--paths", type=lambda s: s.split(","), help="kernel paths, comma-separated [default: all this CPU runs]")
    ap.add_argument("--llama", action="append", default=[], metavar="BUILD=PYTHON",
                    help="a Python with llama-cpp-python built for BUILD (native, avx512vnni, avxvnni, avx2); repeatable "
                         "[default: native=this Python]")
    ap.add_argument("--no-bandwidth", action="store_true", help="skip Precis's read-bandwidth test")
    ap.add_argument("--estimate", choices=("best", "median"), default="best",
                    help="each side's figure: its best round [default] or the median")
    ap.add_argument("--json", action="store_true", help="also print every run as JSON")
    ap.add_argument("--from-json", metavar="FILE", help="print the tables of an earlier --json run's output")
    ap.add_argument("--precis", default=os.path.join(ROOT, "target", "release", "precis"))
    ap.add_argument("--precis-arg", action="append", default=[],
                    help="an extra argument for `precis bench` (repeatable)")
    a = ap.parse_args()
    if not a.model and not a.from_json:
        ap.error("--model is required (or --from-json FILE)")
    if a.from_json:
        text = open(a.from_json).read()
        saved = json.JSONDecoder().raw_decode(text[text.index("\n{") + 1:])[0]
        print(f"CPU: {saved['cpu']['model']}; features: {saved['cpu']['features']}\n")
        for model, results in saved["models"].items():
            summarize(results, a.estimate)
            r0 = next(iter(results.values()))["runs"]["precis"][0]
            a.rounds, a.threads, a.decode_tokens = len(next(iter(results.values()))["runs"]["precis"]), saved["threads"], r0["decode_tokens"]
            print(table(model, r0, results, a) + "\n")
        return
    builds = dict(b.split("=", 1) for b in a.llama) or {"native": sys.executable}
    builds = {k: os.path.expanduser(v) for k, v in builds.items()}
    everything = {}
    for model in a.model:
        probe, results = compare(a, model, builds)
        summarize(results, a.estimate)
        if not everything:
            print(f"CPU: {probe['cpu']['model']}; features: {probe['cpu']['features']}; "
                  f"kernel paths: {', '.join(probe['kernels_available'])}\n")
        print(table(model, probe, results, a) + "\n", flush=True)
        everything[model] = results
    if a.json:
        print(json.dumps({"cpu": probe["cpu"], "threads": a.threads, "precis_args": a.precis_arg, "models": everything}, indent=2))


if __name__ == "__main__":
    main()
