"""Blanks filled from their own series, and marked.

A blank CPI cell of a store whose CPI is 130 must not become the chain's median of 183: that
invented jump would be the most anomalous thing in the row. :func:`fill_series` fills a blank from
its own series only: linear interpolation over time between the series' neighbouring values (the
nearest value at either end), else -- a series with no value at all in that column -- nothing
(the cell stays blank and the caller decides). The mask of filled cells travels with the rows, so
that explanations say "filled" and a filled cell is never the reason a row is flagged.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def fill_series(values: Any, keys: Any, dates: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(filled, mask)`` for one column: ``values`` (float, NaN = blank) of rows belonging to series
    ``keys`` at ``dates`` (any row order). Within each series, a blank is interpolated linearly in time
    between the series' nearest values before and after it (at the ends: the nearest value); a series
    with no value keeps its blanks. ``mask`` is True where a value was filled."""
    import pandas as pd

    v = np.asarray(values, dtype=np.float64).copy()
    miss = np.isnan(v)
    if not miss.any():
        return v, np.zeros(len(v), dtype=bool)
    t = pd.to_datetime(pd.Series(np.asarray(dates))).to_numpy().astype("datetime64[s]").astype(np.float64)
    k = np.asarray(keys).astype(str)
    order = np.lexsort((t, k))
    ks = k[order]
    bounds = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:]):
        rows = order[a:b]
        m = miss[rows]
        if not m.any() or m.all():
            continue
        tt = t[rows]
        v[rows[m]] = np.interp(tt[m], tt[~m], v[rows[~m]])
    filled = miss & ~np.isnan(v)
    return v, filled


def series_median(values: Any, keys: Any) -> np.ndarray:
    """Each row's series median of ``values`` (NaN where the series has no value)."""
    import pandas as pd

    s = pd.Series(np.asarray(values, dtype=np.float64))
    return s.groupby(np.asarray(keys).astype(str)).transform("median").to_numpy()
