"""Threshold workbench arithmetic: a threshold from a preset, and what flagging at it gives.

A row is flagged when ``score > threshold`` (higher = more anomalous).
"""

from __future__ import annotations

import math
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


class Workbench:
    """One run's scores (and labels) held for a threshold workbench: :meth:`at` gives what :func:`at_threshold`
    gives, with the threshold-free metrics (AUROC, AUPRC, P@10) computed once, so that moving a threshold costs a
    few comparisons over the scores (a redraw of the Scores page, issue 23).

    ``default_threshold`` flags the labelled anomalous share when the labels hold both classes, else 10%.
    """

    def __init__(self, scores: Any, y: Any = None):
        self.scores = _scores(scores)
        self.scores.setflags(write=False)
        yy = None if y is None else np.asarray(y).ravel()
        if yy is not None and yy.shape != self.scores.shape:
            raise InputError(f"labels ({yy.size}) and scores ({self.scores.size}) differ in length")
        self.labels = yy
        self.n = int(self.scores.size)
        self.has_both_classes = yy is not None and 0 < int(yy.sum()) < yy.size
        share = float(yy.mean()) if self.has_both_classes else 0.1
        self.default_threshold = threshold_for(self.scores, "contamination", share)
        self._free: dict[str, Any] | None = None

    def at(self, threshold: float) -> dict[str, Any]:
        """:func:`at_threshold` of these scores at ``threshold``."""
        s, yy = self.scores, self.labels
        flagged = int(np.sum(s > threshold))
        out: dict[str, Any] = {"n": self.n, "flagged": flagged, "share": flagged / self.n,
                               "threshold": float(threshold)}
        if yy is None:
            return out
        if self._free is None:
            self._free = {"auroc": metrics.auroc(yy, s), "auprc": metrics.auprc(yy, s),
                          "precision_at_10": metrics.precision_at_k(yy, s, 10)}
        c = metrics.confusion_at(yy, s, threshold)
        neg = c["fp"] + c["tn"]
        out.update(c, **metrics.prf_at(yy, s, threshold), fpr=c["fp"] / neg if neg else math.nan, **self._free)
        return out
