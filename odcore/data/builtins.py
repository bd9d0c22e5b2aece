"""Built-in datasets: generated or shipped with scikit-learn, so they need no network.

- ``sine``: the DROCC 2-D sine wave (Goyal et al. 2020, Fig. 1a-b), all inliers.
- ``sine-noisy``: the same wave in 10-D, two sine coordinates plus 8 noise coordinates (Fig. 1c-d).
- ``gaussian-ocnn``: OC-NN's synthetic set (Chalapathy et al. 2018, Sec. 4.1).
- ``digits``: scikit-learn's 8x8 digits, as images in [0, 1].
- ``breast-cancer``: scikit-learn's Wisconsin diagnostic set, malignant = outlier.
- ``retail-synthetic``: see :mod:`odcore.data.retail`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from odcore.data.record import Dataset
from odcore.errors import InputError

SINE_N = 1024


def sine_wave_points(t: np.ndarray) -> np.ndarray:
    """Points of the DROCC sine wave at (real-valued) positions ``t`` in [0, 1024).

    ``x1 = (t - 512) / 512`` and ``x2 = sin(2 pi t / 1024)`` (DROCC, Sec. 5 / Fig. 1): one full
    period over ``x1`` in [-1, 1), a positive arc for ``x1 < 0`` and a negative arc for ``x1 > 0``.
    """
    t = np.asarray(t, dtype=np.float64)
    return np.stack([(t - 512.0) / 512.0, np.sin(2.0 * np.pi * t / 1024.0)], axis=1)


def _noise_dims(n: int, dims: int, std: float, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.0, std, size=(n, dims))


def sine(**_: Any) -> Dataset:
    """The DROCC 2-D sine wave: 1,024 points ``t = 0..1023``, all inliers (``y`` zeros)."""
    X = sine_wave_points(np.arange(SINE_N))
    return Dataset(
        name="sine", X=X, y=np.zeros(SINE_N, dtype=np.int64), feature_names=["x1", "x2"],
        source="built-in: DROCC sine wave (Goyal et al. 2020, Fig. 1a)",
        notes="1,024 points on x1=(t-512)/512, x2=sin(2*pi*t/1024); all normal. Evaluate boundaries "
              "with odcore.data.sine_test_points (on-wave points vs points between the arcs). "
              "Use the 'all' protocol to train on every point.")


def sine_noisy(*, noise_dims: int = 8, noise_std: float = 1.0, sine_scale: float = 1.0, seed: int = 0,
               **_: Any) -> Dataset:
    """The noisy 10-D sine wave of DROCC Fig. 1c-d.

    Coordinates 1-2 are the sine wave times ``sine_scale``; coordinates 3-10 are N(0, noise_std^2)
    noise that carries no information. With the defaults the noise holds most of the variance
    (8 vs about 0.83), so plain Euclidean distances are dominated by the noise: DROCC's ball in the
    input metric fails and DROCC-LF's learned metric is needed.
    """
    rng = np.random.default_rng(seed)
    wave = sine_wave_points(np.arange(SINE_N)) * sine_scale
    X = np.hstack([wave, _noise_dims(SINE_N, noise_dims, noise_std, rng)])
    names = ["x1", "x2"] + [f"noise{i + 1}" for i in range(noise_dims)]
    return Dataset(
        name="sine-noisy", X=X, y=np.zeros(SINE_N, dtype=np.int64), feature_names=names,
        source="built-in: DROCC noisy sine wave (Goyal et al. 2020, Fig. 1c)",
        notes=f"Sine wave in x1, x2 (scale {sine_scale:g}) plus {noise_dims} N(0, {noise_std:g}^2) noise "
              f"coordinates (seed {seed}); all normal. Only x1, x2 decide normality.")


def sine_test_points(n: int = 1000, seed: int = 0, *, gap: float = 0.2, noisy: bool = False,
                     noise_dims: int = 8, noise_std: float = 1.0, sine_scale: float = 1.0,
                     box: tuple[float, float, float, float] = (-1.0, 1.0, -1.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """Labelled points for judging a boundary learnt on the sine wave.

    Half the points (label 0) lie ON the wave at random real ``t`` in [0, 1024); the other half
    (label 1) lie OFF it: uniform in ``box`` (by default the wave's bounding box, i.e. between and
    under its arcs) at Euclidean distance at least ``gap`` from every point of the wave. A method that
    encloses the whole wave in a ball (OC-SVM, Deep SVDD) scores those as normal; DROCC should not.
    With ``noisy=True`` the points get the noise coordinates of :func:`sine_noisy` (independent
    draws), so the label depends on the first two coordinates only.

    Returns ``(X, y)`` with ``X`` float32 (n, 2 or 2 + noise_dims) and ``y`` int64 0/1, shuffled.
    """
    if n < 2:
        raise InputError(f"sine_test_points needs n >= 2, got {n}")
    rng = np.random.default_rng(seed)
    n_on = n // 2
    n_off = n - n_on
    on = sine_wave_points(rng.uniform(0.0, SINE_N, size=n_on))
    from scipy.spatial import cKDTree

    tree = cKDTree(sine_wave_points(np.linspace(0.0, SINE_N, 16384)))
    x0, x1, y0, y1 = box
    off_parts: list[np.ndarray] = []
    have = 0
    for _ in range(200):
        cand = np.column_stack([rng.uniform(x0, x1, 4 * n_off), rng.uniform(y0, y1, 4 * n_off)])
        dist, _idx = tree.query(cand)
        cand = cand[dist >= gap]
        off_parts.append(cand)
        have += len(cand)
        if have >= n_off:
            break
    off = np.vstack(off_parts)[:n_off] if have else np.empty((0, 2))
    if len(off) < n_off:
        raise InputError(f"gap {gap} leaves no room off the wave inside box {box}; use a smaller gap")
    X = np.vstack([on, off]) * sine_scale
    y = np.r_[np.zeros(n_on, np.int64), np.ones(n_off, np.int64)]
    if noisy:
        X = np.hstack([X, _noise_dims(n, noise_dims, noise_std, rng)])
    perm = rng.permutation(n)
    return X[perm].astype(np.float32), y[perm]


def sine_grid(resolution: int = 100, *, margin: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A regular 2-D grid around the wave for boundary heat maps: ``(grid (m, 2), xs, ys)``."""
    xs = np.linspace(-1.0 - margin, 1.0 + margin, resolution)
    ys = np.linspace(-1.0 - margin, 1.0 + margin, resolution)
    gx, gy = np.meshgrid(xs, ys)
    return np.column_stack([gx.ravel(), gy.ravel()]).astype(np.float32), xs, ys


def gaussian_ocnn(*, seed: int = 0, n_normal: int = 190, n_anomalies: int = 10, dim: int = 512,
                  **_: Any) -> Dataset:
    """OC-NN's synthetic set: ``n_normal`` rows from N(0, 2^2 I), ``n_anomalies`` from N(0, 10^2 I), 512-d."""
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(0.0, 2.0, (n_normal, dim)), rng.normal(0.0, 10.0, (n_anomalies, dim))])
    y = np.r_[np.zeros(n_normal, np.int64), np.ones(n_anomalies, np.int64)]
    perm = rng.permutation(len(y))
    return Dataset(
        name="gaussian-ocnn", X=X[perm], y=y[perm],
        source="built-in: OC-NN synthetic Gaussian set (Chalapathy et al. 2018)",
        notes=f"{n_normal} normal rows from N(0, 2^2 I) and {n_anomalies} anomalies from N(0, 10^2 I) in "
              f"{dim} dimensions (seed {seed}). Anomalies differ only in scale.")


def _one_vs_rest_labels(classes: np.ndarray, inlier_classes: Iterable[Any] | None) -> np.ndarray | None:
    if inlier_classes is None:
        return None
    if np.isscalar(inlier_classes) or isinstance(inlier_classes, str):
        inlier_classes = [inlier_classes]
    wanted = list(inlier_classes)
    present = set(np.unique(classes).tolist())
    cast = [type(next(iter(present)))(c) if present else c for c in wanted]
    missing = [c for c in cast if c not in present]
    if missing:
        raise InputError(f"inlier classes {missing} do not occur; the classes are {sorted(present)}")
    return (~np.isin(classes, cast)).astype(np.int64)


def digits(*, inlier_classes: Any = None, **_: Any) -> Dataset:
    """scikit-learn's 1,797 8x8 digits, pixel values 0..16 scaled to [0, 1], as images (1, 8, 8).

    ``classes`` holds the digit of each row; ``y`` is None unless ``inlier_classes`` is given, then
    1 for every other digit (one-vs-rest).
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    classes = d.target.astype(np.int64)
    return Dataset(
        name="digits", X=d.data / 16.0, y=_one_vs_rest_labels(classes, inlier_classes), kind="image",
        image_shape=(1, 8, 8), feature_names=[f"px{r}_{c}" for r in range(8) for c in range(8)],
        source="built-in: scikit-learn load_digits (UCI optical digits)", classes=classes,
        notes="1,797 8x8 grey digits, values in [0, 1]; use the one-vs-rest protocol (inlier_classes).")


def breast_cancer(**_: Any) -> Dataset:
    """scikit-learn's Wisconsin diagnostic breast-cancer set; ``y = 1`` for malignant tumours."""
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer()
    malignant = (d.target == 0).astype(np.int64)  # sklearn: 0 = malignant, 1 = benign
    return Dataset(
        name="breast-cancer", X=d.data, y=malignant, feature_names=[str(f) for f in d.feature_names],
        source="built-in: scikit-learn load_breast_cancer (UCI WDBC)",
        classes=np.where(malignant == 1, "malignant", "benign"),
        notes="569 tumours, 30 features. y=1 marks the 212 malignant tumours (37%): too many to be rare "
              "outliers, so prefer the novelty or pu protocols (or subsample malignant rows with pu's nu).")
