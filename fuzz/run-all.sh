#!/bin/sh
# Runs every fuzz target in turn for a set time (default 10 minutes each), outside CI, with the
# stable toolchain (see README.md: cargo-fuzz with RUSTC_BOOTSTRAP=1). Crashes land in
# fuzz/artifacts/<target>/; each one found becomes a regression test.
# Usage: fuzz/run-all.sh [SECONDS_PER_TARGET] [TARGET...]
set -eu
cd "$(dirname "$0")"
seconds=${1:-600}
[ $# -gt 0 ] && shift
targets=${*:-"html markdown text docx pdf sentences gguf template"}
[ -d corpus ] || ./seed.sh >/dev/null 2>&1 || true
for t in $targets; do
    mkdir -p "corpus/$t"
    echo "== $t ($seconds s)"
    start=$(date +%s)
    RUSTC_BOOTSTRAP=1 cargo fuzz run -O -s none "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 -timeout=30 2>&1 | tail -4 || echo "!! $t stopped with a finding; see fuzz/artifacts/$t/"
    echo "== $t ran $(( $(date +%s) - start )) s"
done
