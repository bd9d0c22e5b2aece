"""Speed of the 2-D maps of latent codes through odcore.embed's public functions.

    PYTHONPATH=. python -m bench.embed_speed [--rows|--n 10000] [--methods tsne,umap] [--json PATH]

Codes: the 32-d latent codes of an autoencoder (KDD-sized, 121-64-32) fitted for 3 epochs on a
synthetic mixture of 10 Gaussian clusters (121 features) plus 5% scattered outliers.
For each method: the first call (cold cache; for UMAP this includes numba's compilation, paid
once per process), a second call with another seed (warm process, cold cache: the steady-state
cost; t-SNE with another seed, UMAP with another min_dist), and a third call repeating the
second's settings (cache hit: the "second view").
CPU seconds (all threads of the process) are reported next to wall seconds: on the shared machine
the wall time mostly measures the other processes' load.
Goal (issue 7): <= 15 s each for 10k points on 2 cores; the cached view instant.

    PYTHONPATH=. python -m bench.embed_speed --compare-tsne old,new [--seeds 0,1]

compares t-SNE settings on the same codes, interleaved in one process: CPU and wall seconds per
phase (affinities + PCA initialisation, early exaggeration, main phase) and two quality measures
of the map: the KL divergence KL(P || Q) with P from *exact* 10k-row affinities (perplexity 30,
the same P for every variant) and Q the exact Student-t similarities of the map (t-SNE's
objective, van der Maaten & Hinton 2008, Eq. 2-4), and the share of each point's 10 nearest
neighbours in the codes that stay among its 10 nearest in the map. Variants: ``old`` (round-1
settings: Annoy neighbours, 250 + 500 iterations), ``new`` (odcore.embed's current settings), and
single changes (``VARIANTS``).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np

from bench.common import load, machine, save_json


def codes(n: int, seed: int = 0) -> np.ndarray:
    import torch

    from odcore.models.autoencoder import AutoEncoder

    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(10, 121))
    X = centres[rng.integers(0, 10, n)] + rng.normal(size=(n, 121))
    k = n // 20
    X[:k] = rng.uniform(-8, 8, size=(k, 121))
    X = X.astype(np.float32)
    torch.manual_seed(seed)
    m = AutoEncoder(latent=32, hidden=(64,), epochs=3, batch_size=256, device="cpu").fit(X)
    return m.embed(X)


CPU: list[float] = []


def timed(fn, *a, **kw) -> tuple[float, np.ndarray]:
    """Wall seconds (and, in CPU, the process's CPU seconds over all threads) of one call."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn(*a, **kw)
    CPU.append(time.process_time() - c0)
    return time.perf_counter() - t0, out


def run(Z: np.ndarray, method: str, cache_dir: str, n_jobs: int | None) -> dict:
    from odcore import embed

    extra = {"n_jobs": n_jobs} if method == "tsne" and n_jobs else {}
    # the second call changes one setting so that it misses the cache: t-SNE another seed; UMAP
    # another min_dist (its default is unseeded: a seed would force one thread)
    other = {"seed": 1} if method == "tsne" else {"min_dist": 0.11}
    ticks: list[float] = []
    first, e1 = timed(embed.embed, Z, method, cache_dir=cache_dir, progress=ticks.append, **extra)
    first_cpu = CPU[-1]
    warm, _ = timed(embed.embed, Z, method, cache_dir=cache_dir, **other, **extra)
    warm_cpu = CPU[-1]
    hit, e3 = timed(embed.embed, Z, method, cache_dir=cache_dir, **other, **extra)
    key_t, _ = timed(embed.cache_key, Z, method, **other)
    return {"method": method, "rows": Z.shape[0], "dims": Z.shape[1], "first_call_s": round(first, 2),
            "warm_call_s": round(warm, 2),
            "first_call_cpu_s": round(first_cpu, 2), "warm_call_cpu_s": round(warm_cpu, 2),
            "cached_call_s": round(hit, 4), "cache_key_s": round(key_t, 4),
            "progress_updates": len(ticks), "finite": bool(np.isfinite(e1).all() and np.isfinite(e3).all()),
            "load": load()}


#: t-SNE settings compared by --compare-tsne (openTSNE.TSNE keyword arguments over ``_tsne_base()``)
VARIANTS: dict[str, dict] = {
    "old": {"neighbors": "annoy", "early_exaggeration_iter": 250, "n_iter": 500},
    "new": {},
    "exact_knn": {"neighbors": "exact", "early_exaggeration_iter": 250, "n_iter": 500},
    "ints3": {"neighbors": "annoy", "early_exaggeration_iter": 250, "n_iter": 500, "ints_in_interval": 3},
    "interp2": {"neighbors": "annoy", "early_exaggeration_iter": 250, "n_iter": 500, "n_interpolation_points": 2},
    "annoy_ee125_it375": {"neighbors": "annoy", "early_exaggeration_iter": 125, "n_iter": 375},
    "annoy_ee150_it400": {"neighbors": "annoy", "early_exaggeration_iter": 150, "n_iter": 400},
    "annoy_ee250_it350": {"neighbors": "annoy", "early_exaggeration_iter": 250, "n_iter": 350},
    "exact_ee200_it450": {"neighbors": "exact", "early_exaggeration_iter": 200, "n_iter": 450},
    "exact_ee125_it375": {"neighbors": "exact", "early_exaggeration_iter": 125, "n_iter": 375},
}


def _tsne_base(n: int) -> dict:
    """The keyword arguments odcore.embed.tsne passes to openTSNE for ``n`` rows (default settings)."""
    from odcore import embed

    return dict(n_components=2, perplexity=30.0, n_iter=embed.DEFAULTS["tsne"]["n_iter"],
                early_exaggeration_iter=embed.EARLY_ITER, initialization="pca",
                negative_gradient_method="fft" if n >= embed.FFT_FROM else "bh",
                neighbors="exact" if n <= embed.EXACT_KNN_UP_TO else "annoy",
                n_jobs=os.cpu_count() or 1, min_num_intervals=10, ints_in_interval=2)


def kl_exact(P, Y: np.ndarray) -> float:
    """KL(P || Q) with Q the exact Student-t similarities of the map ``Y`` (all pairs, in chunks)."""
    P = P.tocoo()
    Y = np.asarray(Y, dtype=np.float64)
    sq = (Y ** 2).sum(1)
    Z = 0.0
    for i in range(0, Y.shape[0], 1000):
        d = sq[i:i + 1000, None] + sq[None, :] - 2 * Y[i:i + 1000] @ Y.T
        Z += (1.0 / (1.0 + np.maximum(d, 0))).sum() - d.shape[0]  # the diagonal (q_ii = 1) is not a pair
    q = 1.0 / (1.0 + ((Y[P.row] - Y[P.col]) ** 2).sum(1)) / Z
    p = P.data / P.data.sum()
    return float((p * np.log(p / q)).sum())


def knn_kept(X: np.ndarray, Y: np.ndarray, k: int = 10) -> float:
    """Mean share of each row's k nearest neighbours in ``X`` that are among its k nearest in ``Y``."""
    from sklearn.neighbors import NearestNeighbors

    a = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X, return_distance=False)[:, 1:]
    b = NearestNeighbors(n_neighbors=k + 1).fit(Y).kneighbors(Y, return_distance=False)[:, 1:]
    return float(np.mean([len(set(r) & set(s)) / k for r, s in zip(a, b)]))


def compare_tsne(Z: np.ndarray, names: list[str], seeds: list[int]) -> list[dict]:
    """Each variant x seed: seconds per phase, KL against exact P, 10-NN preservation (interleaved)."""
    from openTSNE import TSNE, affinity

    P = affinity.PerplexityBasedNN(Z, 30, method="exact", n_jobs=os.cpu_count() or 1, random_state=0).P
    out = []
    for seed in seeds:
        for name in names:
            t = TSNE(**{**_tsne_base(Z.shape[0]), "random_state": seed, **VARIANTS[name]})
            c0, w0 = time.process_time(), time.perf_counter()
            e = t.prepare_initial(Z)
            c1 = time.process_time()
            e.optimize(n_iter=t.early_exaggeration_iter, exaggeration=t.early_exaggeration,
                       momentum=t.initial_momentum, inplace=True)
            c2 = time.process_time()
            e.optimize(n_iter=t.n_iter, exaggeration=t.exaggeration, momentum=t.final_momentum, inplace=True)
            c3, w3 = time.process_time(), time.perf_counter()
            Y = np.asarray(e)
            r = {"variant": name, "seed": seed, "settings": {k: v for k, v in VARIANTS[name].items()} or "odcore.embed",
                 "wall_s": round(w3 - w0, 2), "cpu_s": round(c3 - c0, 2), "cpu_affinity_init_s": round(c1 - c0, 2),
                 "cpu_early_s": round(c2 - c1, 2), "cpu_main_s": round(c3 - c2, 2),
                 "kl_exact_p": round(kl_exact(P, Y), 4), "knn10_kept": round(knn_kept(Z, Y), 4),
                 "load": load()}
            out.append(r)
            print(json.dumps(r), flush=True)
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", "--n", type=int, default=10000)
    ap.add_argument("--methods", default="tsne,umap")
    ap.add_argument("--n-jobs", type=int, default=None, help="t-SNE threads (default: all cores)")
    ap.add_argument("--compare-tsne", default=None,
                    help=f"comma-separated t-SNE variants to compare instead ({', '.join(VARIANTS)})")
    ap.add_argument("--seeds", default="0", help="seeds for --compare-tsne")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    Z = codes(a.rows)
    if a.compare_tsne:
        res = machine(rows=a.rows)
        res["tsne_variants"] = compare_tsne(Z, a.compare_tsne.split(","), [int(s) for s in a.seeds.split(",")])
        save_json(res, a.json)
        return res
    res: dict = machine(codes_s=round(time.perf_counter() - t0, 2), results=[])
    with tempfile.TemporaryDirectory() as d:
        for method in a.methods.split(","):
            res["results"].append(run(Z, method, d, a.n_jobs))
            print(json.dumps(res["results"][-1]), flush=True)
    print(json.dumps(res, indent=1))
    save_json(res, a.json)
    return res


if __name__ == "__main__":
    main()
