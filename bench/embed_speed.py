"""Embedding speed: t-SNE (openTSNE) and UMAP of n x 32 latent-like codes, first run and cache hit.

Usage: ``PYTHONPATH=. .venv/bin/python -m bench.embed_speed [--n 10000]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from odcore import embed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--methods", default="tsne,umap")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(c, 1, (args.n // 10, 32)) for c in range(10)]).astype(np.float32)  # 10 blobs
    d = tempfile.mkdtemp()
    for m in args.methods.split(","):
        t = time.perf_counter()
        embed.embed(X, m, cache_dir=d)
        first = time.perf_counter() - t
        t = time.perf_counter()
        embed.embed(X, m, cache_dir=d)
        hit = time.perf_counter() - t
        print(f"{m}: n={len(X)} first {first:.1f} s, cache hit {hit * 1000:.1f} ms, "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
