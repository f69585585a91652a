#!/bin/sh
# Writes seed inputs for the fuzz targets into fuzz/corpus/<target>/: the fixtures the test suite
# builds (Word documents with headings and properties, PDFs with columns, hyphens and properties,
# an encrypted PDF, a saved web page, Markdown and text), written by the test that checks them.
# Usage: fuzz/seed.sh   (then: cd fuzz && cargo +nightly fuzz run pdf)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
PRECIS_FUZZ_SEEDS="$root/fuzz/corpus" cargo test -p precis --test integration -- --exact intake::fuzz_seeds_read_as_expected
ls -l "$root"/fuzz/corpus/*/seed-*
