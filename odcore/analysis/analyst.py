"""Analyst helpers for flagged rows: the ranked table, per-feature explanations as text, table filters, exports."""

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


def explain_row(values: Any, reconstruction: Any, names: Sequence[str] = DAYS, top: int = 2, *,
                share: Any = None, against: str = "") -> str:
    """One sentence naming the features (days) that deviate most from the reference (a reconstruction,
    or the mean of the nearest normal rows), in the data's units and as a share of the row's deviation.

    ``share`` is each feature's share of the deviation (from :mod:`odcore.analysis.explain`, computed on
    the standardised rows the model sees); without it the shares are the squared differences in the
    given units. ``against`` names the reference ("its reconstruction", "its 5 nearest normal rows").
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    r = np.asarray(reconstruction, dtype=np.float64).ravel()
    if v.shape != r.shape:
        raise InputError(f"the reconstruction has {r.size} values for a row of {v.size}")
    names = list(names) if len(names) == v.size else [f"x{i}" for i in range(v.size)]
    if share is None:
        err = (v - r) ** 2
        total = float(err.sum())
        share = err / total if total > 0 else np.zeros_like(err)
    share = np.asarray(share, dtype=np.float64).ravel()
    if share.sum() <= 0:
        return "The reference matches this row exactly: no feature stands out."
    order = [i for i in np.argsort(-share, kind="stable")[:max(1, min(top, v.size))] if share[i] > 0]
    parts = []
    for i in order:
        direction = "higher" if v[i] > r[i] else "lower"
        parts.append(f"{names[i]} ({direction} than expected: {fmt_value(v[i])} vs {fmt_value(r[i])}, "
                     f"{100 * share[i]:.0f}% of the deviation)")
    lead = f"Deviates most from {against} on " if against else "Deviates most on "
    return lead + " and ".join(parts) + "."


def fmt_value(v: float, digits: int = 4) -> str:
    """A value for a sentence: ``digits`` significant digits with thousands separators; a value within
    1e-9 of zero (a float32 round-off) as 0."""
    v = float(v)
    return "0" if abs(v) < 1e-9 else f"{v:,.{digits}g}"


def why(top: Sequence[tuple[str, float, float]]) -> str:
    """A short "why" cell: ``Sat -12 (64%) · Sun +5.1 (20%)`` (feature, deviation in the data's units, share)."""
    return " · ".join(f"{name} {'+' if dev >= 0 else '-'}{fmt_value(abs(dev))} ({100 * sh:.0f}%)"
                      for name, sh, dev in top)


def explanation_columns(top: Sequence[Sequence[tuple[str, float, float]]], *, k: int = 3) -> dict[str, list[Any]]:
    """The explanation columns of the analyst table from :func:`odcore.analysis.explain.top_features`:
    ``why`` and, for ``i = 1..k``, ``top{i}`` (feature), ``top{i} deviation`` (value minus reference, in
    the data's units) and ``top{i} share`` (of the row's deviation, 0-1)."""
    cols: dict[str, list[Any]] = {"why": [why(t) for t in top]}
    for i in range(k):
        cols[f"top{i + 1}"] = [t[i][0] if len(t) > i else None for t in top]
        cols[f"top{i + 1} deviation"] = [t[i][2] if len(t) > i else np.nan for t in top]
        cols[f"top{i + 1} share"] = [t[i][1] if len(t) > i else np.nan for t in top]
    return cols


def ranked_table(scores: Any, threshold: float, *, keys: Any = None, columns: Mapping[str, Any] | None = None,
                 values: Any = None) -> Any:
    """The analyst table in rank order: ``rank`` (1 = highest score), ``flagged`` (score > threshold),
    ``score``, then the key columns (ids, group, dates), ``columns`` (label, decoder, explanations) and
    the row's ``values`` (original columns at full precision); ``row`` is the position in the inputs."""
    import pandas as pd

    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s, kind="stable")
    rank = np.empty(len(s), dtype=np.int64)
    rank[order] = np.arange(1, len(s) + 1)
    frame = pd.DataFrame({"rank": rank, "flagged": s > float(threshold), "score": s, "row": np.arange(len(s))})
    parts = [frame]
    if keys is not None:
        parts.append(pd.DataFrame(keys).reset_index(drop=True))
    if columns:
        parts.append(pd.DataFrame(dict(columns)))
    if values is not None:
        v = pd.DataFrame(values).reset_index(drop=True)
        taken = set().union(*(set(p.columns) for p in parts))
        parts.append(v[[c for c in v.columns if c not in taken]])
    out = pd.concat(parts, axis=1)
    return out.iloc[order].reset_index(drop=True)


#: what a spreadsheet reads as the start of a formula (or of a cell it runs: DDE, tab and carriage return
#: before one); a text cell starting with one of them is exported with a leading apostrophe
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(frame: Any) -> Any:
    """A copy of ``frame`` that a spreadsheet cannot run: every *text* cell (and column name) starting with
    ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading apostrophe (``'=HYPERLINK(...)``
    shows as that text, OWASP's advice for CSV injection). Number, boolean and date columns are left as
    they are, so ``-2.5`` stays a number."""
    import pandas as pd

    def safe(v: Any) -> Any:
        return "'" + v if isinstance(v, str) and v.startswith(FORMULA_START) else v

    out = frame.copy()
    for c in out.columns:
        s = out[c]
        if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)
                or pd.api.types.is_datetime64_any_dtype(s)):
            codes, uniques = pd.factorize(s)  # once per distinct value
            fixed = np.asarray([safe(u) for u in np.asarray(uniques, dtype=object)] + [None], dtype=object)
            out[c] = pd.Series(fixed[codes], index=s.index, dtype=object).where(codes >= 0, s)
    out.columns = [safe(str(c)) for c in out.columns]
    return out


def export_bytes(frame: Any, fmt: str) -> bytes:
    """The table as CSV for people (float64 at full precision, ISO dates, text cells that a spreadsheet
    would run as formulas neutralised: :func:`spreadsheet_safe`) or Parquet bytes (every value exact), in
    its row order."""
    import io

    if fmt == "csv":
        # CRLF line ends (RFC 4180): a text cell holding a lone carriage return is then quoted, not a row break
        return spreadsheet_safe(frame).to_csv(index=False, date_format="%Y-%m-%d", lineterminator="\r\n").encode()
    if fmt == "parquet":
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        return buf.getvalue()
    raise InputError(f"export format {fmt!r}: choose csv or parquet")


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
