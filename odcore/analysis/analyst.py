"""Analyst helpers for flagged rows: per-feature errors, a one-sentence explanation, table filters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from odcore.errors import InputError

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


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


def filter_rows(frame: Any, *, score_range: tuple[float, float] | None = None, column_values: Mapping[str, Any] | None
                = None, date_column: str | None = None, date_range: tuple[Any, Any] | None = None,
                flagged_only: bool = False) -> Any:
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
