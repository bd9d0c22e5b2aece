"""Two-dimensional maps of latent codes: PCA (instant), t-SNE (openTSNE) and UMAP (umap-learn).

t-SNE and UMAP are slow (tens of seconds for 10k points; UMAP also compiles with numba on its
first fit in a process), so the app runs them as background tasks and this module caches every
result on disk, keyed by the content hash of the input and the settings: a second view of the
same run with the same settings is a file read. openTSNE and umap are imported only when used.

Progress is reported through ``progress(fraction)`` and a ``cancel`` object with ``is_set()`` is
honoured between optimisation chunks (t-SNE) or before/after the fit (UMAP, which has no hook).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from odcore.errors import FitCancelled, InputError

METHODS = ("pca", "tsne", "umap")
TITLES = {"pca": "PCA", "tsne": "t-SNE (openTSNE)", "umap": "UMAP"}
#: default settings per method (the values that enter the cache key)
DEFAULTS: dict[str, dict[str, Any]] = {
    "pca": {},
    # n_iter 450 after 200 early-exaggeration iterations (openTSNE: 500 after 250): bench/results/speed.md, section 3
    "tsne": {"perplexity": 30.0, "n_iter": 450, "seed": 0},
    # no seed by default: a seed forces umap-learn onto one thread; the on-disk cache keeps views stable
    "umap": {"n_neighbors": 15, "min_dist": 0.1, "seed": None},
}

Progress = Callable[[float], None]
#: FFT-interpolated gradients have a fixed per-iteration grid cost that dominates below a few
#: thousand points (120 points took 25 s); Barnes-Hut is used there instead
FFT_FROM = 5000
#: exact nearest neighbours (scikit-learn) up to this many rows, Annoy above: for 10k x 32 codes the
#: exact search costs 2.1 CPU-s against Annoy's 7.4 with the same KL divergence and kNN preservation
#: (bench/results/speed.md, section 3)
EXACT_KNN_UP_TO = 20_000
#: early-exaggeration iterations (openTSNE default 250; 200 + 450 main iterations cost 14% fewer
#: CPU-seconds than 250 + 500 with the same 10-NN preservation, KL +0.8%: bench/results/speed.md, section 3)
EARLY_ITER = 200
#: enters t-SNE cache keys: bump when the computation behind the same settings changes
TSNE_IMPL = 2


def _matrix(X: Any) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[0] == 0:
        raise InputError(f"embedding needs a non-empty 2-D array (rows, features), got shape {X.shape}")
    if not np.isfinite(X).all():
        raise InputError("the codes to embed contain NaN or infinity; check the model's output")
    return X


def pca(X: Any, k: int = 2) -> np.ndarray:
    """Project the centred rows on their first ``k`` principal axes (SVD), shape (n, k).

    With fewer than ``k`` features (or rows) the missing columns are zero. Signs are fixed so
    that the largest-magnitude loading of each axis is positive (deterministic output).
    """
    X = _matrix(X).astype(np.float64)
    Xc = X - X.mean(axis=0)
    out = np.zeros((X.shape[0], k))
    if X.shape[0] < 2:
        return out
    _, _, vt = np.linalg.svd(Xc, full_matrices=False)
    m = min(k, vt.shape[0])
    vt = vt[:m]
    signs = np.sign(vt[np.arange(m), np.abs(vt).argmax(axis=1)])
    signs[signs == 0] = 1.0
    out[:, :m] = Xc @ (vt * signs[:, None]).T
    return out


def tsne(X: Any, *, perplexity: float = 30.0, n_iter: int = 450, seed: int = 0, n_jobs: int | None = None,
         progress: Progress | None = None, cancel=None) -> np.ndarray:
    """t-SNE with openTSNE: PCA initialisation, FFT-accelerated gradients (Barnes-Hut below
    ``FFT_FROM`` points), exact nearest neighbours up to ``EXACT_KNN_UP_TO`` rows (Annoy above),
    ``n_jobs`` threads (default: all cores).

    The perplexity is lowered to ``(n - 1) / 3`` for tiny inputs (openTSNE's requirement).
    """
    from openTSNE import TSNE

    X = _matrix(X)
    n = X.shape[0]
    if n < 4:
        return pca(X, 2)
    perplexity = float(min(perplexity, max(1.0, (n - 1) / 3.0)))
    early = EARLY_ITER
    total = early + int(n_iter)
    done = [0]
    every = 25

    def callback(iteration, error, embedding):  # openTSNE calls it every `every` iterations
        done[0] += every
        if progress is not None:
            progress(min(done[0] / total, 0.99))
        return bool(cancel is not None and cancel.is_set())  # True stops the optimisation

    model = TSNE(n_components=2, perplexity=perplexity, n_iter=int(n_iter), early_exaggeration_iter=early,
                 initialization="pca", negative_gradient_method="fft" if n >= FFT_FROM else "bh",
                 neighbors="exact" if n <= EXACT_KNN_UP_TO else "annoy",
                 n_jobs=int(n_jobs or os.cpu_count() or 1), random_state=int(seed),
                 callbacks=callback, callbacks_every_iters=every, verbose=False,
                 # coarser FFT grid (bench/results/speed.md): 10k codes 2.3x faster, KL 2.13 vs 2.02
                 min_num_intervals=10, ints_in_interval=2)
    emb = np.asarray(model.fit(X), dtype=np.float64)
    if cancel is not None and cancel.is_set():
        raise FitCancelled("t-SNE cancelled")
    if progress is not None:
        progress(1.0)
    return emb


def umap(X: Any, *, n_neighbors: int = 15, min_dist: float = 0.1, seed: int | None = None,
         progress: Progress | None = None, cancel=None) -> np.ndarray:
    """UMAP with umap-learn; below 4,096 rows the approximate nearest-neighbour path is forced
    (the exact path is several times slower there). A seed makes it deterministic but single-threaded;
    without one it uses every core.
    """
    X = _matrix(X)
    n = X.shape[0]
    if n < 5:
        return pca(X, 2)
    if cancel is not None and cancel.is_set():
        raise FitCancelled("UMAP cancelled")
    if progress is not None:
        progress(0.05)
    import umap as umap_lib

    model = umap_lib.UMAP(n_neighbors=int(min(n_neighbors, n - 1)), min_dist=float(min_dist), n_components=2,
                          random_state=None if seed is None else int(seed),
                          force_approximation_algorithm=n < 4096, low_memory=True)
    emb = np.asarray(model.fit_transform(X), dtype=np.float64)
    if cancel is not None and cancel.is_set():
        raise FitCancelled("UMAP cancelled")
    if progress is not None:
        progress(1.0)
    return emb


def settings_for(method: str, **settings: Any) -> dict[str, Any]:
    """The method's defaults updated with ``settings``; unknown names raise :class:`InputError`."""
    if method not in METHODS:
        raise InputError(f"unknown embedding {method!r}; choose one of: {', '.join(METHODS)}")
    base = dict(DEFAULTS[method])
    unknown = sorted(set(settings) - set(base) - {"n_jobs"})
    if unknown:
        raise InputError(f"unknown setting(s) {', '.join(unknown)} for {method}; valid: {', '.join(base) or 'none'}")
    base.update({k: v for k, v in settings.items() if k != "n_jobs"})
    return base


def cache_key(X: Any, method: str, **settings: Any) -> str:
    """Content hash of ``X`` plus the method and its full settings (defaults included)."""
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float32))
    h = hashlib.sha256()
    h.update(str(X.shape).encode())
    h.update(X.tobytes())
    impl = {"impl": TSNE_IMPL} if method == "tsne" else {}
    h.update(json.dumps({"method": method, **settings_for(method, **settings), **impl}, sort_keys=True).encode())
    return f"{method}-{h.hexdigest()[:24]}"


def cached(X: Any, method: str, cache_dir: str | os.PathLike | None, **settings: Any) -> np.ndarray | None:
    """The cached embedding for these inputs and settings, or ``None`` when not computed yet."""
    if method == "pca":
        return pca(X, 2)
    if cache_dir is None:
        return None
    p = Path(cache_dir) / f"{cache_key(X, method, **settings)}.npy"
    if not p.exists():
        return None
    try:
        return np.load(p, allow_pickle=False)
    except (OSError, ValueError):  # a torn file: recompute
        return None


def embed(X: Any, method: str = "pca", *, cache_dir: str | os.PathLike | None = None,
          progress: Progress | None = None, cancel=None, **settings: Any) -> np.ndarray:
    """2-D map of ``X`` by ``method`` ("pca", "tsne", "umap"), read from / written to ``cache_dir``.

    The cache file name is :func:`cache_key`; writes are atomic (temporary file, then rename).
    """
    full = settings_for(method, **settings)
    if method == "pca":
        return pca(X, 2)
    hit = cached(X, method, cache_dir, **settings)
    if hit is not None:
        if progress is not None:
            progress(1.0)
        return hit
    fn = tsne if method == "tsne" else umap
    extra = {"n_jobs": settings["n_jobs"]} if method == "tsne" and "n_jobs" in settings else {}
    emb = fn(X, progress=progress, cancel=cancel, **full, **extra)
    if cache_dir is not None:
        d = Path(cache_dir)
        d.mkdir(parents=True, exist_ok=True)
        final = d / f"{cache_key(X, method, **settings)}.npy"
        tmp = final.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, emb)
        os.replace(tmp, final)
    return emb


def downsample(n: int, max_points: int = 50_000, *, keep: Any = None, seed: int = 0) -> np.ndarray:
    """Sorted row indices to draw: all rows when ``n <= max_points``, else every row flagged in
    ``keep`` (e.g. outliers) plus a seeded uniform sample of the others up to ``max_points``.
    """
    if n <= max_points:
        return np.arange(n)
    keep_mask = np.zeros(n, dtype=bool) if keep is None else np.asarray(keep, dtype=bool).ravel()
    if keep_mask.shape[0] != n:
        raise InputError(f"keep has {keep_mask.shape[0]} entries for {n} rows")
    kept = np.flatnonzero(keep_mask)
    rest = np.flatnonzero(~keep_mask)
    room = max(max_points - kept.size, 0)
    rng = np.random.default_rng(seed)
    sample = rng.choice(rest, size=min(room, rest.size), replace=False) if room else np.empty(0, dtype=np.int64)
    return np.sort(np.concatenate([kept, sample]).astype(np.int64))
