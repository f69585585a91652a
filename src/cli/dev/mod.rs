//! Developer tools, not for everyday use: `eval` (predictions on a JSON-lines dev set for
//! `scripts/eval.py`), `bench` (load, prefill, decode and memory figures for
//! `scripts/bench_compare.py`, with the machine's read bandwidth from `bandwidth`) and
//! `tokenize` (token ids, to compare with llama.cpp's).

pub mod bandwidth;
pub mod bench;
pub mod eval;
pub mod tokenize;
