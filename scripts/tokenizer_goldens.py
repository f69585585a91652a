#!/usr/bin/env python3
"""Writes the tokenizer goldens: the token ids llama.cpp gives for every corpus text.

For each generator in models/catalog.toml (or the names given), this loads only the vocabulary
of its GGUF file with llama.cpp's own tokenizer (the `llama-cpp-python` package, `vocab_only`)
and writes tests/data/tokenizer/golden/<model>.json: for every file in
tests/data/tokenizer/corpus, its sha256 and the ids of `tokenize(text, add_bos=False,
special=False)` ("plain"), plus the ids with special=True ("special") where they differ.
The integration test tests/integration/tokenizer.rs compares Precis's tokenizer against these
files, without needing llama.cpp.

Set-up (builds llama.cpp from source; needs cmake and a C++ compiler):

    CMAKE_BUILD_PARALLEL_LEVEL=2 python3 -m pip install llama-cpp-python==0.3.36

Usage:

    scripts/tokenizer_goldens.py [--models-dir DIR] [MODEL ...]

The models must be downloaded (`precis models fetch MODEL`); the models directory is
$PRECIS_MODELS_DIR, else ~/.local/share/precis/models, as for `precis`.
"""

import argparse
import hashlib
import json
import os
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "models" / "catalog.toml"
CORPUS = ROOT / "tests" / "data" / "tokenizer" / "corpus"
GOLDEN = ROOT / "tests" / "data" / "tokenizer" / "golden"


def default_models_dir() -> Path:
    env = os.environ.get("PRECIS_MODELS_DIR")
    if env:
        return Path(env)
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "precis" / "models"


def generators(catalog: dict) -> dict:
    return {m["name"]: m for m in catalog["model"] if m["role"] == "generator"}


def corpus_texts() -> dict:
    texts = {}
    for path in sorted(CORPUS.glob("*.txt")):
        texts[path.name] = path.read_bytes()
    if not texts:
        sys.exit(f"no corpus files in {CORPUS}")
    return texts


def tokenize_all(model_path: Path, texts: dict) -> dict:
    from llama_cpp import Llama

    llm = Llama(model_path=str(model_path), vocab_only=True, verbose=False)
    entries = {}
    for name, data in texts.items():
        plain = llm.tokenize(data, add_bos=False, special=False)
        special = llm.tokenize(data, add_bos=False, special=True)
        entry = {"sha256": hashlib.sha256(data).hexdigest(), "plain": plain}
        if special != plain:
            entry["special"] = special
        entries[name] = entry
    return entries


def render(header: dict, entries: dict) -> str:
    """JSON with one line per id array, so a change shows as a readable diff."""
    lines = ["{"]
    for key, value in header.items():
        lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},")
    lines.append('  "corpus": {')
    for i, (name, entry) in enumerate(entries.items()):
        fields = [f"      {json.dumps(k)}: {json.dumps(v)}" for k, v in entry.items()]
        comma = "," if i + 1 < len(entries) else ""
        lines.append(f"    {json.dumps(name)}: {{\n" + ",\n".join(fields) + f"\n    }}{comma}")
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", help="catalog names (default: every generator)")
    parser.add_argument("--models-dir", type=Path, default=default_models_dir())
    args = parser.parse_args()

    catalog = tomllib.loads(CATALOG.read_text())
    known = generators(catalog)
    names = args.models or list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        sys.exit(f"not catalog generators: {', '.join(unknown)} (known: {', '.join(known)})")

    version = metadata.version("llama-cpp-python")
    texts = corpus_texts()
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name in names:
        entry = known[name]
        gguf = entry["files"][0]
        path = args.models_dir / gguf["path"]
        if not path.is_file():
            sys.exit(f"{path} is missing; run `precis models fetch {name}` first")
        header = {
            "about": "Token ids from llama.cpp for each corpus file: tokenize(text, add_bos=False, "
            "special=False) as `plain`, and with special=True as `special` when that differs. "
            "Written by scripts/tokenizer_goldens.py; do not edit by hand.",
            "llama_cpp_python": version,
            "model": name,
            "gguf_sha256": gguf["sha256"],
        }
        out = GOLDEN / f"{name}.json"
        out.write_text(render(header, tokenize_all(path, texts)))
        print(f"wrote {out.relative_to(ROOT)} ({len(texts)} texts, llama-cpp-python {version})")


if __name__ == "__main__":
    main()
