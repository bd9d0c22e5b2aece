"""The data of the figure recipes: each builder turns options and a seed into a :class:`Fold`.

A fold holds what the members of a training may be fitted on (``X_pos`` labelled inliers, ``X_mix`` the
unlabelled or contaminated rows, ``X_lab`` / ``y_lab`` labelled rows for detectors that take labels) and
what is scored (``X_test`` / ``y_test``, 1 = outlier); :func:`odcore.recipes.framework.fit_member` gives
each member the part its setting uses. Real files come from ``odcore.data.shared_data_dir()`` (MNIST,
KDD Cup 99); the loaded datasets are kept in memory for the process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from odcore.errors import InputError


@dataclass
class Fold:
    """One seed's data for a training (see the module docstring)."""

    name: str
    X_test: np.ndarray
    y_test: np.ndarray | None
    X_mix: np.ndarray | None = None
    X_pos: np.ndarray | None = None
    X_lab: np.ndarray | None = None
    y_lab: np.ndarray | None = None
    image_shape: tuple[int, ...] | None = None
    extras: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------- datasets
def _shared(rel: str):
    from odcore.data import shared_data_dir

    p = shared_data_dir() / rel
    if not p.exists():
        raise InputError(f"this figure needs the real file {rel} under {shared_data_dir()} (it is not shipped); "
                         "set ODCORE_DATA_DIR to the folder that holds it")
    return p


@functools.lru_cache(maxsize=4)
def mnist(source: str = "t10k"):
    """MNIST from the shared datasets folder: ``"t10k"`` (10,000 test images) or ``"train"`` (60,000)."""
    from odcore.data.sources import load_mnist

    if source not in ("t10k", "train"):
        raise InputError(f"MNIST source must be 't10k' or 'train', got {source!r}")
    return load_mnist(_shared(f"mnist/{source}-images-idx3-ubyte.gz"))


@functools.lru_cache(maxsize=1)
def kdd():
    """The KDD Cup 99 10% file (121 features; ``y = 1`` for ``normal.``, the anomaly of the ALAD/WALDO
    protocols)."""
    from odcore.data.sources import load_kdd99

    return load_kdd99(_shared("kddcup99/kddcup.data_10_percent.gz"))


def _subset(ds, rows: np.ndarray):
    from dataclasses import replace

    return replace(ds, X=ds.X[rows], y=None if ds.y is None else ds.y[rows],
                   classes=None if ds.classes is None else np.asarray(ds.classes)[rows])


# ----------------------------------------------------------------------------------------- builders
def _pu_fold(name: str, ds, seed: int, *, inlier: Any, nu: float, n_pos: int | None) -> Fold:
    from odcore.data import split

    sp = split(ds, "pu", seed=seed, inlier_classes=[inlier], nu=float(nu), n_pos=n_pos)
    return Fold(name, X_test=sp.X_test, y_test=sp.y_test, X_mix=sp.X_train, X_pos=sp.X_pos,
                image_shape=tuple(ds.image_shape) if ds.image_shape else None,
                extras={"classes": None if ds.classes is None else np.asarray(ds.classes)[sp.test_index]})


def mnist_pu(options: Mapping[str, Any], seed: int) -> Fold:
    """WALDO's positive-unlabelled MNIST: ``n_pos`` labelled images of digit ``inlier``, a mixture of the
    other images of that digit and other digits with outlier share ``nu``, scored transductively."""
    return _pu_fold("mnist-pu", mnist(options.get("source", "t10k")), seed, inlier=options.get("inlier", 0),
                    nu=options["nu"], n_pos=options.get("n_pos"))


def digits_pu(options: Mapping[str, Any], seed: int) -> Fold:
    """The same on scikit-learn's 8x8 digits (no file needed)."""
    from odcore.data import load

    return _pu_fold("digits-pu", load("digits"), seed, inlier=options.get("inlier", 0), nu=options["nu"],
                    n_pos=options.get("n_pos"))


def mnist_one_class(options: Mapping[str, Any], seed: int) -> Fold:
    """OC-NN's MNIST set: every image of digit ``normal`` plus ``n_anomalies`` random other digits, fitted and
    scored transductively (the paper's setting: no clean sample)."""
    ds = mnist(options.get("source", "t10k"))
    classes = np.asarray(ds.classes)
    rng = np.random.default_rng(seed)
    normal = np.flatnonzero(classes == int(options.get("normal", 4)))
    others = rng.permutation(np.flatnonzero(classes != int(options.get("normal", 4))))[:int(options["n_anomalies"])]
    rows = np.sort(np.r_[normal, others])
    y = np.isin(rows, others).astype(np.int64)
    X = ds.X[rows]
    return Fold("mnist-one-class", X_test=X, y_test=y, X_mix=X, image_shape=tuple(ds.image_shape))


def gaussian(options: Mapping[str, Any], seed: int) -> Fold:
    """OC-NN's synthetic set (190 N(0, 2^2) normals, 10 N(0, 10^2) anomalies, 512-d), drawn with ``seed``,
    fitted and scored transductively."""
    from odcore.data import builtins

    ds = builtins.gaussian_ocnn(seed=seed, dim=int(options.get("dim", 512)))
    X = ds.X.astype(np.float32)
    return Fold("gaussian", X_test=X, y_test=ds.y, X_mix=X)


def sine(options: Mapping[str, Any], seed: int) -> Fold:
    """The DROCC sine wave (2-D, or the noisy 10-D variant with ``noisy``): the wave to fit on, ``n_negatives``
    labelled off-wave points for DROCC-LF, judge points on the wave and off it (at least ``gap`` away,
    between and under the arcs), and a grid over the first two coordinates (noise coordinates at 0)."""
    from odcore.data import builtins

    noisy = bool(options.get("noisy", False))
    kw = {"noise_std": float(options.get("noise_std", 1.0))} if noisy else {}
    ds = builtins.sine_noisy(seed=seed, **kw) if noisy else builtins.sine()
    X = ds.X.astype(np.float32)
    Xt, yt = builtins.sine_test_points(int(options.get("n_judge", 600)), seed=seed + 1, noisy=noisy, **kw)
    n_neg = int(options.get("n_negatives", 64))
    Xn, yn = builtins.sine_test_points(4 * n_neg + 8, seed=seed + 2, noisy=noisy, **kw)
    neg = Xn[yn == 1][:n_neg]
    grid2, xs, ys = builtins.sine_grid(int(options.get("resolution", 60)))
    grid = np.zeros((grid2.shape[0], X.shape[1]), dtype=np.float32)
    grid[:, :2] = grid2
    return Fold("sine-noisy" if noisy else "sine", X_test=Xt, y_test=yt, X_mix=X,
                X_lab=np.vstack([X, neg]).astype(np.float32),
                y_lab=np.r_[np.zeros(len(X), np.int64), np.ones(len(neg), np.int64)],
                extras={"grid": grid, "xs": xs, "ys": ys, "points": X[:, :2], "negatives": neg[:, :2]})


def kdd_alad(options: Mapping[str, Any], seed: int) -> Fold:
    """ALAD's KDD Cup 99 protocol on a seeded random sample of ``rows`` rows (all rows when 0): a 50/50
    split, fit on the training half's attacks, score the other half (``normal.`` traffic = anomaly)."""
    from odcore.data import split

    ds = kdd()
    rows = int(options.get("rows", 0))
    if rows and rows < ds.n_rows:
        ds = _subset(ds, np.sort(np.random.default_rng(10_000 + seed).choice(ds.n_rows, rows, replace=False)))
    sp = split(ds, "kdd-alad", seed=seed)
    return Fold("kdd-alad", X_test=sp.X_test, y_test=sp.y_test, X_mix=sp.X_train)


def kdd_pu(options: Mapping[str, Any], seed: int) -> Fold:
    """WALDO's KDD Cup 99 setting on a seeded sample: ``n_pos`` labelled attacks (the inliers) and a mixture
    of ``n_mix`` rows with ``normal.`` share ``nu``, min-max scaled on the labelled attacks (the authors'
    scaling), scored transductively."""
    ds = kdd()
    y = ds.y
    rng = np.random.default_rng(seed)
    inl, out = rng.permutation(np.flatnonzero(y == 0)), rng.permutation(np.flatnonzero(y == 1))
    n_pos, n_mix, nu = int(options["n_pos"]), int(options["n_mix"]), float(options["nu"])
    n_out = int(round(nu * n_mix))
    pos = inl[:n_pos]
    mix = np.r_[inl[n_pos:n_pos + n_mix - n_out], out[:n_out]]
    mix = mix[rng.permutation(len(mix))]
    lo, hi = ds.X[pos].min(axis=0), ds.X[pos].max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)

    def scale(a):
        return ((a - lo) / span).astype(np.float32)

    Xm = scale(ds.X[mix])
    return Fold("kdd-pu", X_test=Xm, y_test=y[mix].astype(np.int64), X_mix=Xm, X_pos=scale(ds.X[pos]))


FOLDS: dict[str, Callable[[Mapping[str, Any], int], Fold]] = {
    "mnist-pu": mnist_pu, "digits-pu": digits_pu, "mnist-one-class": mnist_one_class, "gaussian": gaussian,
    "sine": sine, "kdd-alad": kdd_alad, "kdd-pu": kdd_pu,
}


def build(name: str, options: Mapping[str, Any], seed: int) -> Fold:
    """The fold ``name`` for ``options`` and ``seed``."""
    try:
        fn = FOLDS[name]
    except KeyError:
        raise InputError(f"unknown recipe data {name!r}; choose one of {', '.join(FOLDS)}") from None
    return fn(options, int(seed))
