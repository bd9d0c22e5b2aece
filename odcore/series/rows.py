"""Series-aware model rows: each measure's standardised deviation from its series' expectation.

:func:`deviation_block` is what the table preparation (:mod:`odcore.data.table`) calls for a table
with a time column and measures. Per measure ``m`` it fills blanks from the row's own series
(:func:`odcore.series.fill.fill_series`), fits (or applies) the expectation of
:mod:`odcore.series.expectation` and returns the model feature ``"m vs expected"`` = ``z`` (0 where
the cell was filled or blank), plus the row columns the explanations read: ``"m expected"``,
``"m low"``, ``"m high"`` (the band), ``"m change"`` (actual / expected - 1) and ``"m filled"``.
Context columns are filled the same way and marked; with ``context_features`` their own
deviations (numbers) or values (0/1 flags) are model features too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from odcore.errors import InputError
from odcore.series import expectation
from odcore.series.fill import fill_series

#: suffixes of the row columns added per measure (and ``filled`` per context column)
EXPECTED, LOW, HIGH, CHANGE, FILLED, VS = " expected", " low", " high", " change", " filled", " vs expected"


def feature_name(measure: str) -> str:
    """The model feature of a measure: its standardised deviation from its expectation."""
    return f"{measure}{VS}"


def measure_of(feature: str) -> str:
    """The measure (or context column) a deviation feature belongs to (the feature itself otherwise)."""
    return feature[: -len(VS)] if str(feature).endswith(VS) else str(feature)


def _binary(v: np.ndarray) -> bool:
    u = np.unique(v[~np.isnan(v)])
    return u.size > 0 and set(u.tolist()) <= {0.0, 1.0}


def deviation_block(values: dict[str, np.ndarray], keys: np.ndarray, dates: Any, *, measures: Sequence[str],
                    contexts: Sequence[str], policies: dict[str, str], fills: dict[str, Any], fitted: dict[str, Any],
                    fit: bool, context_features: bool, name: str) -> tuple[np.ndarray, list[str], list[str], dict,
                                                                         list[str]]:
    """``(V, feature names, sources, row columns, notes)`` for the measures and context columns.

    ``values`` maps each column to float64 values (NaN = blank) in row order; ``keys`` the series of each
    row; ``policies`` the blank policy per column (``series`` by default; ``median`` / ``zero`` use the
    training table's fill value in ``fills``); ``fitted`` the preparation's fitted state (the expectation
    records are kept under ``fitted["expectation"]``)."""
    import pandas as pd

    t = pd.to_datetime(pd.Series(np.asarray(dates))).to_numpy()
    _refuse_repeats(keys, t, name)
    notes: list[str] = []
    cols: dict[str, Any] = {}
    blocks, names, sources = [], [], []
    records = fitted.setdefault("expectation", {})
    for c in list(measures) + list(contexts):
        v = np.asarray(values[c], dtype=np.float64)
        blank = np.isnan(v)
        policy = policies.get(c, "series")
        if blank.any() and policy in ("median", "zero", "mode") and fills.get(c) is not None:
            v, filled = np.where(blank, float(fills[c]), v), blank
        else:
            v, filled = fill_series(v, keys, t)
        left = np.isnan(v)
        if filled.any():
            notes.append(f"{int(filled.sum()):,} blank {c} filled from its own series (marked 'filled')")
        if left.any() and c in contexts:  # a series with no value at all: the column's median, marked
            med = float(np.nanmedian(v)) if (~left).any() else 0.0
            v, filled = np.where(left, med, v), filled | left
            notes.append(f"{int(left.sum()):,} blank {c} in series with no {c} at all: filled with the median of all "
                         "rows (marked 'filled', never a reason)")
        elif left.any():
            notes.append(f"{int(left.sum()):,} blank {c} in series with no {c} at all: left blank (no deviation)")
        cols[f"{c}{FILLED}"] = filled
        if c in measures:
            if fit:
                e = expectation.fit(v, keys, t, filled=filled)
                records[c] = e.record
                notes.extend(f"{c}: {line}" for line in e.notes)
            else:
                if c not in records:
                    raise InputError(f"{name}: the preparation has no expectation for {c!r}; train again")
                e = expectation.apply(v, keys, t, records[c], filled=filled)
            cols[f"{c}{EXPECTED}"] = e.expected
            cols[f"{c}{LOW}"] = e.low
            cols[f"{c}{HIGH}"] = e.high
            cols[f"{c}{CHANGE}"] = e.deviation
            blocks.append(e.z[:, None])
            names.append(feature_name(c))
            sources.append(c)
        elif context_features:
            if _binary(v):
                blocks.append(v[:, None])
                names.append(c)
            else:
                if fit:
                    e = expectation.fit(v, keys, t, filled=filled, transform="identity")
                    records[c] = e.record
                else:
                    e = expectation.apply(v, keys, t, records[c], filled=filled)
                blocks.append(e.z[:, None])
                names.append(feature_name(c))
            sources.append(c)
    V = np.hstack(blocks) if blocks else np.zeros((len(keys), 0))
    return V, names, sources, cols, notes


def _refuse_repeats(keys: np.ndarray, t: np.ndarray, name: str) -> None:
    k = np.asarray(keys).astype(str)
    ti = t.astype("datetime64[s]").astype(np.int64)
    order = np.lexsort((ti, k))
    ks, ts = k[order], ti[order]
    dup = (ks[1:] == ks[:-1]) & (ts[1:] == ts[:-1])
    if dup.any():
        i = int(np.flatnonzero(dup)[0]) + 1
        where = f"series {ks[i]!r}, " if ks[i] else ""
        date = str(t[order][i])[:10]
        raise InputError(f"{name}: {int(dup.sum())} repeated dates ({where}{date}); each series' expected value needs "
                         "one row per series and date: give the column that tells the rows apart (store, product) the "
                         "role 'group' (roles=COLUMN:group), model the values as they are (roles=MEASURE:feature), "
                         "or aggregate the file first")
