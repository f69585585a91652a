//! Developer tools, not for everyday use: `eval` (predictions on a JSON-lines dev set for
//! `scripts/eval.py`), `bench` (load, prefill, decode and memory figures for
//! `scripts/bench_compare.py`) and `tokenize` (token ids, to compare with llama.cpp's).

pub mod bench;
pub mod eval;
pub mod tokenize;
