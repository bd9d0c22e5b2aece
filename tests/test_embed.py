"""Embeddings: PCA exact, t-SNE/UMAP shape and cache behaviour, downsampling keeps outliers."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from odcore import embed
from odcore.errors import FitCancelled, InputError


def blobs(n=120, d=8, seed=0):
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(0, 1, (n // 2, d)), rng.normal(6, 1, (n - n // 2, d))]).astype(np.float32)


def test_pca_matches_the_principal_axis():
    rng = np.random.default_rng(0)
    t = rng.normal(size=200)
    X = np.c_[3 * t, 3 * t, 0.01 * rng.normal(size=200)]
    xy = embed.pca(X)
    assert xy.shape == (200, 2)
    # the first axis carries (almost) all the variance, and is deterministic in sign
    assert xy[:, 0].var() > 100 * xy[:, 1].var()
    np.testing.assert_allclose(xy, embed.pca(X))
    assert embed.pca(np.ones((1, 3))).shape == (1, 2)
    assert embed.pca(np.ones((5, 1)))[:, 1].tolist() == [0.0] * 5


def test_tsne_separates_two_blobs_and_is_cached(tmp_path):
    X = blobs()
    seen = []
    a = embed.embed(X, "tsne", cache_dir=tmp_path, n_iter=250, progress=seen.append, n_jobs=1)
    assert a.shape == (120, 2) and np.isfinite(a).all()
    assert seen and seen[-1] == 1.0
    # the two blobs stay apart: every point's nearest neighbour is from its own blob
    d = ((a[:, None] - a[None]) ** 2).sum(-1) + np.eye(len(a)) * 1e9
    assert (d.argmin(1) < 60).tolist() == [True] * 60 + [False] * 60
    assert len(list(tmp_path.glob("tsne-*.npy"))) == 1
    b = embed.cached(X, "tsne", tmp_path, n_iter=250)
    np.testing.assert_array_equal(a, b)
    assert embed.cached(X, "tsne", tmp_path, n_iter=300) is None  # other settings, other key


def test_tsne_cancel():
    ev = threading.Event()
    ev.set()
    with pytest.raises(FitCancelled):
        embed.tsne(blobs(), n_iter=250, cancel=ev, n_jobs=1)


@pytest.mark.slow
def test_umap_shape(tmp_path):
    a = embed.embed(blobs(200), "umap", cache_dir=tmp_path)
    assert a.shape == (200, 2) and np.isfinite(a).all()


def test_cache_key_depends_on_content_and_settings():
    X = blobs()
    k = embed.cache_key(X, "tsne")
    assert k == embed.cache_key(X.copy(), "tsne", perplexity=30.0)  # defaults are part of the key
    assert k != embed.cache_key(X + 1, "tsne")
    assert k != embed.cache_key(X, "tsne", perplexity=10)
    with pytest.raises(InputError, match="unknown setting"):
        embed.cache_key(X, "tsne", bogus=1)
    with pytest.raises(InputError, match="unknown embedding"):
        embed.embed(X, "isomap")


def test_downsample_keeps_every_outlier():
    keep = np.zeros(100_000, bool)
    keep[::997] = True
    idx = embed.downsample(100_000, 50_000, keep=keep)
    assert idx.size == 50_000 and np.all(np.diff(idx) > 0)
    assert set(np.flatnonzero(keep)) <= set(idx.tolist())
    assert embed.downsample(10, 50_000).tolist() == list(range(10))


def test_tsne_neighbour_search_above_the_exact_limit_still_separates_blobs(monkeypatch):
    """Exact neighbours up to EXACT_KNN_UP_TO rows, Annoy above: both keep the two blobs apart."""
    X = blobs()
    monkeypatch.setattr(embed, "EXACT_KNN_UP_TO", 50)  # force the approximate (Annoy) path
    a = embed.tsne(X, n_iter=250, n_jobs=1)
    d = ((a[:, None] - a[None]) ** 2).sum(-1) + np.eye(len(a)) * 1e9
    assert (d.argmin(1) < 60).tolist() == [True] * 60 + [False] * 60


def test_tsne_cache_key_changes_with_the_implementation_version(monkeypatch):
    """Cached maps made by an older computation behind the same settings are not served."""
    X = blobs()
    k = embed.cache_key(X, "tsne")
    monkeypatch.setattr(embed, "TSNE_IMPL", embed.TSNE_IMPL + 1)
    assert embed.cache_key(X, "tsne") != k
    assert embed.cache_key(X, "umap") == embed.cache_key(X.copy(), "umap")
