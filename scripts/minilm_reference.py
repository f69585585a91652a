#!/usr/bin/env python3
"""Reference embedding for the embedder test: an independent NumPy forward pass of
all-MiniLM-L6-v2 (BERT, mean pooling over tokens, L2-normalized), from the same model.safetensors
and tokenizer.json Precis fetches. Prints the first eight values and the norm-checked vector's
cosine with itself, for tests/integration/embedder.rs.

  pip install numpy safetensors tokenizers
  scripts/minilm_reference.py [MODEL_DIR] ["sentence"]
"""
import json
import math
import os
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

DIR = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.local/share/precis/models/all-minilm-l6-v2")
TEXT = sys.argv[2] if len(sys.argv) > 2 else "The council approved the night bus plan on Tuesday."


def layer_norm(x, w, b, eps):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * w + b


def gelu(x):  # the exact (erf) GELU BERT uses
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def main():
    cfg = json.load(open(os.path.join(DIR, "config.json")))
    W = load_file(os.path.join(DIR, "model.safetensors"))
    p = "" if "embeddings.word_embeddings.weight" in W else "bert."
    tok = Tokenizer.from_file(os.path.join(DIR, "tokenizer.json"))
    tok.no_padding()
    ids = np.array(tok.encode(TEXT).ids)
    n, h, heads = len(ids), cfg["hidden_size"], cfg["num_attention_heads"]
    eps = cfg["layer_norm_eps"]
    x = W[p + "embeddings.word_embeddings.weight"][ids] + W[p + "embeddings.position_embeddings.weight"][:n] \
        + W[p + "embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, W[p + "embeddings.LayerNorm.weight"], W[p + "embeddings.LayerNorm.bias"], eps)
    d = h // heads
    for i in range(cfg["num_hidden_layers"]):
        q = f"{p}encoder.layer.{i}."
        lin = lambda t, name: t @ W[q + name + ".weight"].T + W[q + name + ".bias"]
        Q, K, V = (lin(x, f"attention.self.{k}").reshape(n, heads, d).transpose(1, 0, 2) for k in ("query", "key", "value"))
        s = Q @ K.transpose(0, 2, 1) / math.sqrt(d)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        a = (s @ V).transpose(1, 0, 2).reshape(n, h)
        x = layer_norm(lin(a, "attention.output.dense") + x, W[q + "attention.output.LayerNorm.weight"],
                       W[q + "attention.output.LayerNorm.bias"], eps)
        f = lin(gelu(lin(x, "intermediate.dense")), "output.dense")
        x = layer_norm(f + x, W[q + "output.LayerNorm.weight"], W[q + "output.LayerNorm.bias"], eps)
    e = x.mean(0)
    e /= np.linalg.norm(e)
    print(f"tokens: {n}")
    print("first 8:", ", ".join(f"{v:.6f}" for v in e[:8]))
    print("sum:", f"{e.sum():.6f}")
    np.save("/tmp/minilm_reference.npy", e)


if __name__ == "__main__":
    main()
