"""Threshold workbench arithmetic, selection-to-row mapping and analyst helpers, as plain functions.

The Scores and Flagged rows pages call these; the tests check them without Streamlit.
Scores follow the odcore convention: higher = more anomalous, a row is flagged when
``score > threshold``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from odcore import metrics
from odcore.errors import InputError

PRESETS = {
    "contamination": "flag this share of rows (the top scores)",
    "percentile": "threshold at this percentile of the scores",
    "fpr": "let through at most this share of known inliers (needs labels)",
    "value": "a score value typed in",
}
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _scores(scores: Any) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64).ravel()
    if s.size == 0:
        raise InputError("there are no scores; train a model or pick a finished run first")
    if not np.isfinite(s).all():
        raise InputError("scores contain NaN or infinity; check the model's output")
    return s


def threshold_for(scores: Any, preset: str, value: float, y: Any = None) -> float:
    """Score threshold for a preset.

    - ``contamination``: flag the top ``value`` share (``0 < value < 1``);
    - ``percentile``: the ``value``-th percentile (0..100) of the scores;
    - ``fpr``: the smallest threshold whose false-positive rate on known inliers is ``<= value``;
    - ``value``: ``value`` itself.
    """
    s = _scores(scores)
    if preset == "contamination":
        if not 0.0 < value < 1.0:
            raise InputError(f"the flagged share must lie in (0, 1), got {value}")
        k = int(round(value * s.size))
        if k <= 0:
            return float(s.max())
        desc = np.sort(s)[::-1]
        return float(desc[-1] - 1.0) if k >= s.size else float(desc[k])
    if preset == "percentile":
        if not 0.0 <= value <= 100.0:
            raise InputError(f"the percentile must lie in [0, 100], got {value}")
        return float(np.percentile(s, value))
    if preset == "fpr":
        if y is None:
            raise InputError("a target false-positive rate needs labels; this run has none")
        yy = np.asarray(y).ravel()
        if yy.shape != s.shape:
            raise InputError(f"labels ({yy.size}) and scores ({s.size}) differ in length")
        if not 0.0 <= value < 1.0:
            raise InputError(f"the false-positive rate must lie in [0, 1), got {value}")
        neg = np.sort(s[yy == 0])[::-1]
        if neg.size == 0:
            raise InputError("there are no known inliers to measure a false-positive rate on")
        n_fp = int(math.floor(value * neg.size))
        return float(neg[n_fp]) if n_fp < neg.size else float(neg[-1] - 1.0)
    if preset == "value":
        return float(value)
    raise InputError(f"unknown threshold preset {preset!r}; choose one of: {', '.join(PRESETS)}")


def at_threshold(scores: Any, threshold: float, y: Any = None) -> dict[str, Any]:
    """Counts and metrics when rows with ``score > threshold`` are flagged.

    Always: ``n``, ``flagged``, ``share``. With labels (both classes present): ``tp fp tn fn``,
    ``precision``, ``recall``, ``f1``, ``fpr`` at the threshold and the threshold-free
    ``auroc``, ``auprc``, ``precision_at_10``.
    """
    s = _scores(scores)
    flagged = int(np.sum(s > threshold))
    out: dict[str, Any] = {"n": int(s.size), "flagged": flagged, "share": flagged / s.size,
                           "threshold": float(threshold)}
    if y is None:
        return out
    yy = np.asarray(y).ravel()
    c = metrics.confusion_at(yy, s, threshold)
    prf = metrics.prf_at(yy, s, threshold)
    neg = c["fp"] + c["tn"]
    out.update(c)
    out.update(prf)
    out["fpr"] = c["fp"] / neg if neg else math.nan
    out["auroc"] = metrics.auroc(yy, s)
    out["auprc"] = metrics.auprc(yy, s)
    out["precision_at_10"] = metrics.precision_at_k(yy, s, 10)
    return out


def slider_range(scores: Any) -> tuple[float, float, float]:
    """(min, max, step) for a threshold slider over these scores (100 steps, never zero)."""
    s = _scores(scores)
    lo, hi = float(s.min()), float(s.max())
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi, (hi - lo) / 100.0


def selected_rows(points: Iterable[Mapping[str, Any]] | None, trace_rows: Sequence[Sequence[int]] | None = None
                  ) -> list[int]:
    """Row ids of the points in a plotly selection event (``event.selection.points``).

    Each point carries the row id in ``customdata`` (a scalar, or the first element of a list),
    which survives plotly splitting a colour-mapped scatter into several traces. Without
    ``customdata``, ``trace_rows[curve_number][point_index]`` maps it. Order is kept, duplicates
    are dropped.
    """
    out: list[int] = []
    for p in points or ():
        cd = p.get("customdata")
        rid: Any = None
        if cd is not None:
            rid = cd[0] if isinstance(cd, (list, tuple)) and cd else cd
        elif trace_rows is not None:
            curve = int(p.get("curve_number", 0))
            idx = p.get("point_index", p.get("point_number"))
            if idx is not None and curve < len(trace_rows):
                rid = trace_rows[curve][int(idx)]
        if rid is None:
            continue
        try:
            rid = int(rid)
        except (TypeError, ValueError):
            continue
        if rid not in out:
            out.append(rid)
    return out


def sanity_warnings(scores: Any = None, y: Any = None, history: Sequence[Mapping[str, Any]] | None = None,
                    method: str | None = None) -> list[str]:
    """Plain-language warnings about a run: constant scores, AUROC below 0.5, a loss that never
    moved, and Deep SVDD hypersphere collapse (all distances near zero)."""
    out: list[str] = []
    if scores is not None:
        s = np.asarray(scores, dtype=np.float64).ravel()
        if s.size > 1 and np.isfinite(s).all():
            spread = float(s.max() - s.min())
            scale = max(float(np.abs(s).max()), 1e-12)
            if spread <= 1e-9 * scale or spread < 1e-12:
                out.append("The scores are (nearly) constant: the model does not rank the rows. "
                           "Train longer, change the learning rate or check the data.")
            elif method == "deep-svdd" and float(np.median(s)) < 1e-6:
                out.append("Deep SVDD looks collapsed: almost every distance to the centre is zero "
                           "(hypersphere collapse). Use the bias-free network, pretraining or fewer epochs.")
            if y is not None:
                yy = np.asarray(y).ravel()
                if yy.shape == s.shape and 0 < yy.sum() < yy.size:
                    a = metrics.auroc(yy, s)
                    if a < 0.5:
                        out.append(f"AUROC is {a:.3f}, below chance (0.5): the ranking is inverted "
                                   "or the model learned the outliers as normal.")
    if history:
        losses = [h.get("loss") for h in history if isinstance(h.get("loss"), (int, float))]
        if len(losses) >= 3:
            first, last = float(losses[0]), float(losses[-1])
            if abs(first - last) <= 1e-3 * max(abs(first), 1e-12):
                out.append(f"The loss never moved ({first:.4g} -> {last:.4g} over {len(losses)} epochs): "
                           "raise the learning rate or check that the inputs are standardised.")
    return out


def per_feature_errors(values: Any, reconstructions: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Squared error per feature of one row against each decoder's reconstruction."""
    v = np.asarray(values, dtype=np.float64).ravel()
    out = {}
    for name, rec in reconstructions.items():
        r = np.asarray(rec, dtype=np.float64).ravel()
        if r.shape != v.shape:
            raise InputError(f"reconstruction '{name}' has {r.size} values for a row of {v.size}")
        out[name] = (v - r) ** 2
    return out


def explain_row(values: Any, reconstruction: Any, names: Sequence[str] = DAYS, top: int = 2) -> str:
    """One sentence naming the features (days) whose values deviate most from the reconstruction."""
    v = np.asarray(values, dtype=np.float64).ravel()
    r = np.asarray(reconstruction, dtype=np.float64).ravel()
    if v.shape != r.shape:
        raise InputError(f"the reconstruction has {r.size} values for a row of {v.size}")
    names = list(names) if len(names) == v.size else [f"x{i}" for i in range(v.size)]
    err = (v - r) ** 2
    total = float(err.sum())
    if total <= 0:
        return "The reconstruction matches this row exactly: no feature stands out."
    order = np.argsort(-err, kind="stable")[:max(1, min(top, v.size))]
    parts = []
    for i in order:
        direction = "higher" if v[i] > r[i] else "lower"
        parts.append(f"{names[i]} ({direction} than expected, {100 * err[i] / total:.0f}% of the error)")
    return "Deviates most on " + " and ".join(parts) + "."


def filter_rows(frame, *, score_range: tuple[float, float] | None = None, column_values: Mapping[str, Any] | None
                = None, date_column: str | None = None, date_range: tuple[Any, Any] | None = None,
                flagged_only: bool = False):
    """Filter a flagged-rows table (pandas) by score range, column values (e.g. markets) and dates."""
    import pandas as pd

    df = frame
    mask = pd.Series(True, index=df.index)
    if score_range is not None:
        mask &= df["score"].between(float(score_range[0]), float(score_range[1]))
    for col, vals in (column_values or {}).items():
        if vals:
            mask &= df[col].isin(list(vals))
    if date_column and date_range is not None and date_column in df:
        d = pd.to_datetime(df[date_column])
        lo, hi = date_range
        if lo is not None:
            mask &= d >= pd.Timestamp(lo)
        if hi is not None:
            mask &= d <= pd.Timestamp(hi)
    if flagged_only and "flagged" in df:
        mask &= df["flagged"].astype(bool)
    return df[mask]


LAB_METHODS = ("drocc", "drocc-lf", "ocsvm", "deep-svdd")


def boundary_lab(*, noisy: bool = False, radius: float = 0.2, gamma: float = 2.0, mu: float = 1.0,
                 ascent_steps: int = 5, epochs: int = 30, warmup: int = 5, resolution: int = 60,
                 n_negatives: int = 64, seed: int = 0, methods: Sequence[str] = LAB_METHODS,
                 threads: int | None = 1, progress=None, cancel=None) -> dict[str, Any]:
    """Retrain DROCC, DROCC-LF, OC-SVM and Deep SVDD on the DROCC sine wave (Fig. 1) and score a grid.

    The wave is used in its own coordinates (no standardisation) so that ``radius`` reads in the
    units of the figure. DROCC-LF also gets ``n_negatives`` labelled points off the wave (its
    "limited negatives"). For the noisy 10-D variant the grid varies the first two coordinates and
    fixes the noise coordinates at 0 (their mean). Returns ``{"xs", "ys", "points", "panels":
    [{"method", "title", "z", "adversarial", "auroc", "seconds", "error"}], "test_auroc"}`` where
    ``auroc`` is measured on labelled points on and off the wave (off = at least 0.2 away).

    ``threads``: torch threads while training (restored afterwards). These networks are tiny: one
    thread took 4.5 s for all four detectors where two threads took 118 s on a loaded 2-core machine.
    """
    import torch

    prev = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        return _boundary_lab(noisy=noisy, radius=radius, gamma=gamma, mu=mu, ascent_steps=ascent_steps,
                             epochs=epochs, warmup=warmup, resolution=resolution, n_negatives=n_negatives,
                             seed=seed, methods=methods, progress=progress, cancel=cancel)
    finally:
        torch.set_num_threads(prev)


def _boundary_lab(*, noisy, radius, gamma, mu, ascent_steps, epochs, warmup, resolution, n_negatives, seed,
                  methods, progress, cancel) -> dict[str, Any]:
    import time

    from odcore.data import builtins
    from odcore.models import registry

    ds = builtins.sine_noisy(seed=seed) if noisy else builtins.sine()
    X = ds.X
    d = X.shape[1]
    grid2, xs, ys = builtins.sine_grid(resolution)
    grid = np.zeros((grid2.shape[0], d), dtype=np.float32)
    grid[:, :2] = grid2
    Xt, yt = builtins.sine_test_points(600, seed=seed + 1, noisy=noisy)
    Xn, yn = builtins.sine_test_points(2 * n_negatives, seed=seed + 2, noisy=noisy)
    neg = Xn[yn == 1][:n_negatives]
    common = {"epochs": int(epochs), "batch_size": 256, "random_state": int(seed), "device": "cpu"}
    params = {
        "drocc": {**common, "radius": float(radius), "gamma": float(gamma), "mu": float(mu),
                  "ascent_num_steps": int(ascent_steps), "only_ce_epochs": int(warmup), "ascent_step_size": 0.01,
                  "project_every": max(1, min(10, int(ascent_steps))), "hidden": (64, 64)},
        "ocsvm": {"nu": 0.1, "gamma": "scale"},
        "deep-svdd": {**common},
    }
    params["drocc-lf"] = dict(params["drocc"])
    titles = {"drocc": "DROCC", "drocc-lf": "DROCC-LF", "ocsvm": "OC-SVM", "deep-svdd": "Deep SVDD"}
    panels = []
    for i, m in enumerate(methods):
        if cancel is not None and cancel.is_set():
            break
        t0 = time.perf_counter()
        panel: dict[str, Any] = {"method": m, "title": titles.get(m, m), "adversarial": None}
        try:
            valid = registry.defaults(m)
            model = registry.create(m, **{k: v for k, v in params.get(m, {}).items() if k in valid})
            if m == "drocc-lf":
                model.fit(np.vstack([X, neg]), np.r_[np.zeros(len(X), np.int64), np.ones(len(neg), np.int64)],
                          cancel=cancel)
            else:
                model.fit(X, cancel=cancel)
            panel["z"] = model.decision_function(grid).reshape(len(ys), len(xs))
            panel["auroc"] = metrics.auroc(yt, model.decision_function(Xt))
            adv = getattr(model, "adversarial_points_", None)
            if adv is not None and len(adv):
                panel["adversarial"] = np.asarray(adv)[:600, :2]
        except Exception as err:  # noqa: BLE001 - one failing method must not hide the others
            panel["error"] = f"{type(err).__name__}: {err}"
            panel["z"] = np.zeros((len(ys), len(xs)))
            panel["auroc"] = math.nan
        panel["seconds"] = time.perf_counter() - t0
        panels.append(panel)
        if progress is not None:
            progress((i + 1) / len(methods))
    return {"xs": xs, "ys": ys, "points": X[:, :2], "panels": panels, "noisy": noisy}
