"""Validation of loaded data, and ``describe``: what a dataset holds and what looks wrong.

Every check raises :class:`odcore.errors.InputError` (alias ``DataError``) with a message that
names the problem, where it is, and how to fix it. Loaders call these before they build a
:class:`~odcore.data.record.Dataset`; protocols call :func:`check_labels_for` before splitting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from odcore.data.record import Dataset
from odcore.errors import InputError

#: a dataset needs at least this many rows to be fitted (one row has no "normal" to learn)
MIN_ROWS = 2


def check_rows(n_rows: int, source: str, *, min_rows: int = MIN_ROWS) -> None:
    """Refuse empty data and data with fewer than ``min_rows`` rows."""
    if n_rows == 0:
        raise InputError(f"{source}: no data rows were found (the file is empty or holds only a header); "
                         "check that you picked the right file and that it has one row per sample")
    if n_rows < min_rows:
        raise InputError(f"{source}: only {n_rows} data row(s); an outlier detector needs many rows to learn "
                         f"what is normal (at least {min_rows}); add rows or pick another file")


def check_finite(X: np.ndarray, names: Sequence[str], source: str) -> None:
    """Refuse NaN or infinite values, naming the columns and counting the rows affected."""
    bad = ~np.isfinite(X)
    if bad.any():
        cols = [str(names[j]) for j in np.flatnonzero(bad.any(axis=0))]
        rows = int(bad.any(axis=1).sum())
        shown = ", ".join(cols[:8]) + (" ..." if len(cols) > 8 else "")
        kinds = []
        if np.isnan(X).any():
            kinds.append("missing/NaN")
        if np.isinf(X).any():
            kinds.append("infinite")
        raise InputError(f"{source}: {' and '.join(kinds)} values in {rows} row(s), column(s) {shown}; "
                         "impute or drop those rows (or drop the columns) before loading")


def check_labels(y: Any, source: str, *, n_rows: int | None = None) -> np.ndarray:
    """Return labels as int64 0/1, or refuse other values with the fix (``positive=``)."""
    arr = np.asarray(y).ravel()
    if n_rows is not None and arr.shape[0] != n_rows:
        raise InputError(f"{source}: {arr.shape[0]} labels for {n_rows} rows; give one label per row")
    if arr.dtype == bool:
        return arr.astype(np.int64)
    try:
        num = arr.astype(np.float64)
    except (TypeError, ValueError):
        vals = ", ".join(map(repr, np.unique(arr.astype(str))[:6]))
        raise InputError(f"{source}: labels must be 0 (inlier) or 1 (outlier), found values {vals}; "
                         "pass positive=<value that marks an outlier> to turn them into 0/1") from None
    if not np.isfinite(num).all():
        raise InputError(f"{source}: the label column has missing values; label every row or drop the "
                         "unlabelled rows")
    if not np.isin(num, (0.0, 1.0)).all():
        vals = ", ".join(f"{v:g}" for v in np.unique(num)[:6])
        raise InputError(f"{source}: labels must be 0 (inlier) or 1 (outlier), found values {vals}; "
                         "pass positive=<value that marks an outlier> to turn them into 0/1")
    return num.astype(np.int64)


def column_kinds(X: np.ndarray) -> list[str]:
    """Kind of each column: "constant", "binary" (only 0/1), "integer" or "continuous"."""
    if X.shape[0] == 0:
        return []
    constant = X.min(axis=0) == X.max(axis=0)
    binary = ((X == 0) | (X == 1)).all(axis=0)
    integer = (X == np.round(X)).all(axis=0)
    return ["constant" if c else "binary" if b else "integer" if i else "continuous"
            for c, b, i in zip(constant, binary, integer)]


def describe(ds: Dataset, *, max_rows: int = 100_000, seed: int = 0) -> dict[str, Any]:
    """Summary of a dataset: shape, kinds of columns, label share and problems found.

    ``problems`` lists things a user should know before training: constant columns (kept;
    protocols standardise them with scale 1), duplicate rows, outliers as the majority class,
    very few rows. NaN and infinity never appear: loaders reject them. Duplicates of large sets
    are counted on a seeded sample of ``max_rows`` rows (said in ``sampled``).
    """
    X = ds.X
    sampled = False
    if X.shape[0] > max_rows:
        idx = np.sort(np.random.default_rng(seed).choice(X.shape[0], max_rows, replace=False))
        X = X[idx]
        sampled = True
    kinds = column_kinds(ds.X)  # every row: a column constant in a sample may not be constant
    kind_counts: dict[str, int] = {}
    for k in kinds:
        kind_counts[k] = kind_counts.get(k, 0) + 1
    constant = [ds.feature_names[j] for j, k in enumerate(kinds) if k == "constant"]
    import pandas as pd

    dup_share = float(pd.DataFrame(X).duplicated().mean()) if X.shape[0] else 0.0

    problems: list[str] = []
    if constant:
        shown = ", ".join(constant[:10]) + (" ..." if len(constant) > 10 else "")
        what = "pixels" if ds.kind == "image" else "columns"
        problems.append(f"{len(constant)} constant {what} ({shown}): they carry no information; they are "
                        "kept, and standardisation leaves them unscaled")
    if dup_share > 0.0:
        problems.append(f"{dup_share:.1%} of rows are exact duplicates of another row"
                        + (" (in a sample)" if sampled else ""))
    if ds.n_rows < 50:
        problems.append(f"only {ds.n_rows} rows: results will be noisy")
    labels: dict[str, Any] | None = None
    if ds.y is not None:
        n_out = int(ds.y.sum())
        labels = {"outliers": n_out, "inliers": int(ds.n_rows - n_out), "outlier_share": float(ds.y.mean())}
        if n_out == 0:
            problems.append("no row is labelled an outlier, so metrics cannot be computed on this set alone; "
                            "train with the 'all' protocol (or 'one-vs-rest' when the data have classes)")
        elif ds.y.mean() > 0.5:
            problems.append(f"outliers are the majority ({ds.y.mean():.1%}); check the label direction "
                            "(1 must mark the outlier)")
    classes = None
    if ds.classes is not None:
        vals, counts = np.unique(np.asarray(ds.classes).astype(str), return_counts=True)
        classes = {str(v): int(c) for v, c in zip(vals, counts)}
    return {
        "name": ds.name,
        "rows": ds.n_rows,
        "features": ds.n_features,
        "kind": ds.kind,
        "image_shape": list(ds.image_shape) if ds.image_shape else None,
        "column_kinds": kind_counts,
        "constant_columns": constant,
        "duplicate_share": float(dup_share),
        "labels": labels,
        "classes": classes,
        "meta_columns": list(ds.meta.columns) if ds.meta is not None else [],
        "problems": problems,
        "sampled": sampled,
        "source": ds.source,
        "notes": ds.notes,
    }
