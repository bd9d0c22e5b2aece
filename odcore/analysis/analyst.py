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


# ---------------------------------------------------------------------------------- series rows in business terms
def fmt_amount(v: Any, unit: str = "") -> str:
    """A value in its unit, for a sentence: money as ``$3.77M`` / ``$241.5K`` / ``$950`` (``unit`` is the currency
    symbol), ``"%"`` as ``8.1%`` (values in percent), ``"share"`` as ``12%`` (values 0-1), ``"units"`` as
    ``1,234 units``, ``"°"`` as ``54.2°``; blanks as ``blank``; other units after the number."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "blank"
    if np.isnan(v):
        return "blank"
    unit = str(unit or "")
    if unit in ("%", "share"):
        return f"{v * (100 if unit == 'share' else 1):,.1f}%"
    if unit in ("units", ""):
        text = fmt_value(v, 4) if abs(v) < 1e4 else f"{v:,.0f}"
        return text + (" units" if unit else "")
    if unit == "°":
        return f"{v:,.1f}°"
    if len(unit) <= 3 and not unit.isalpha() or unit in ("$", "€", "£", "¥", "CHF", "USD", "EUR", "GBP"):  # money
        sign = "-" if v < 0 else ""
        a = abs(v)
        for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
            if a >= div:
                return f"{sign}{unit}{a / div:,.{2 if a / div < 10 else 1}f}{suffix}"
        return f"{sign}{unit}{a:,.0f}" if a >= 100 else f"{sign}{unit}{a:,.2f}"
    return f"{fmt_value(v)} {unit}"


def fmt_change(x: Any) -> str:
    """``actual / expected - 1`` as ``+56%`` / ``-12%`` (``n/a`` when unknown)."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "n/a"
    if np.isnan(x) or not np.isfinite(x):
        return "n/a"
    return f"{100 * x:+.0f}%" if abs(x) >= 0.095 else f"{100 * x:+.1f}%"


def _row_get(row: Any, key: str, default: Any = None) -> Any:
    try:
        return row[key] if key in row else default
    except TypeError:
        return default


def measure_reason(row: Any, measure: str, unit: str = "", *, name: str | None = None) -> str:
    """``sales $3.77M against an expected $2.42M ($2.1M-$2.7M), +56%`` for one measure of one series row
    (``row`` holds the measure and its ``expected`` / ``low`` / ``high`` / ``change`` / ``filled`` columns of
    :mod:`odcore.series.rows`); a filled cell says so and is never the reason."""
    from odcore.series.rows import CHANGE, EXPECTED, FILLED, HIGH, LOW

    label = name or measure
    value = _row_get(row, measure)
    if bool(_row_get(row, f"{measure}{FILLED}", False)):
        return f"{label} blank in the file (filled from its own series: not a reason)"
    exp = _row_get(row, f"{measure}{EXPECTED}")
    if exp is None:
        return f"{label} {fmt_amount(value, unit)}"
    lo, hi = fmt_amount(_row_get(row, f"{measure}{LOW}"), unit), fmt_amount(_row_get(row, f"{measure}{HIGH}"), unit)
    band = f" ({lo}-{hi})"
    return (f"{label} {fmt_amount(value, unit)} against an expected {fmt_amount(exp, unit)}{band}, "
            f"{fmt_change(_row_get(row, f'{measure}{CHANGE}'))}")


def row_title(row: Any, groups: Sequence[str], time_column: str | None, *, period: str = "week",
              flags: Sequence[str] = ()) -> str:
    """``Store 20, week of 2010-12-24 (holiday week)``: the row's series, its date as a date, and the 0/1 context
    flags that are on (a column named like a holiday gives "holiday week")."""
    import pandas as pd

    parts = [f"{g} {_row_get(row, g)}" for g in groups if _row_get(row, g) is not None]
    when = ""
    if time_column and _row_get(row, time_column) is not None:
        t = pd.Timestamp(_row_get(row, time_column))
        day = t.strftime("%Y-%m-%d")
        when = {"week": f"week of {day}", "day": f"{day} ({t.strftime('%a')})",
                "month": t.strftime("%B %Y")}.get(period, day)
    on = []
    for f in flags:
        try:
            if float(_row_get(row, f, 0) or 0) == 1.0:
                on.append(f"holiday {period}" if "holiday" in f.lower() else f)
        except (TypeError, ValueError):
            continue
    text = ", ".join(p for p in (" / ".join(parts), when) if p)
    return text + (f" ({', '.join(on)})" if on else "")


def series_sentence(row: Any, measures: Sequence[str], units: dict[str, str], *, groups: Sequence[str] = (),
                    time_column: str | None = None, period: str = "week", flags: Sequence[str] = (),
                    filled_context: Sequence[str] = ()) -> str:
    """One sentence for a flagged series row: its title (:func:`row_title`), each measure's actual against its
    expectation and band (:func:`measure_reason`, the most deviating first), and the context cells that were blank
    and filled."""
    from odcore.series.rows import FILLED

    title = row_title(row, groups, time_column, period=period, flags=flags)
    reasons = "; ".join(measure_reason(row, m, units.get(m, "")) for m in measures)
    filled = [c for c in filled_context if bool(_row_get(row, f"{c}{FILLED}", False))]
    tail = f" ({', '.join(filled)} blank in the file: filled, not a reason)" if filled else ""
    return f"{title}: {reasons}.{tail}" if title else f"{reasons}.{tail}"


def series_columns(meta: Any, prep: Any, order: Any = None) -> dict[str, list[Any]]:
    """The explanation columns of the analyst table for series rows: ``why`` (the row's most deviating measures
    against their expected values and bands, in their units) and ``filled`` (the row's cells that were blank in the
    file). ``order`` (n, m) lists each row's measures from the most deviating (default: by |actual / expected - 1|)."""
    from odcore.series.rows import CHANGE, FILLED

    measures = prep.columns("measure")
    contexts = prep.columns("context")
    n = len(meta)
    if order is None:
        ch = np.column_stack([np.abs(np.nan_to_num(meta[f"{m}{CHANGE}"].to_numpy(np.float64))) if f"{m}{CHANGE}" in meta
                              else np.zeros(n) for m in measures]) if measures else np.zeros((n, 0))
        order = np.argsort(-ch, axis=1, kind="stable")
    why, filled = [], []
    records = meta.to_dict("records")
    for i, row in enumerate(records):
        top = [measures[j] for j in order[i][:2]]
        why.append(" · ".join(measure_reason(row, m, prep.units.get(m, "")) for m in top))
        filled.append(", ".join(c for c in measures + contexts if bool(row.get(f"{c}{FILLED}", False))))
    return {"why": why, "filled": filled}


def series_around(meta: Any, prep: Any, row: int, measure: str, *, near: int = 4) -> dict[str, Any]:
    """What the selected series row is compared with: every row of its series (``dates``, ``actual``,
    ``expected``, ``low``, ``high``, ``filled``, in time order), the position of the row (``at``), its
    neighbouring periods (``near`` either side) and the same slot of other cycles (the same week of other years,
    the same weekday): positions into the series. ``table`` lists those rows for a table beside the figure."""
    import pandas as pd

    from odcore.series.cadence import Cadence
    from odcore.series.rows import CHANGE, EXPECTED, FILLED, HIGH, LOW

    groups, tcol = prep.columns("group"), prep.time_column
    key = meta.iloc[row]
    same = np.ones(len(meta), dtype=bool)
    for g in groups:
        same &= (meta[g] == key[g]).to_numpy()
    s = meta[same].assign(_pos=np.flatnonzero(same)).sort_values(tcol).reset_index(drop=True)
    at = int(np.flatnonzero(s["_pos"].to_numpy() == row)[0])
    rec = ((prep.fitted or {}).get("expectation") or {}).get(measure)
    cad = Cadence.from_dict(rec["cadence"]) if rec else None
    dates = pd.to_datetime(s[tcol])
    slots = cad.slots(dates) if cad is not None else np.zeros(len(s), dtype=np.int64)
    if cad is not None and cad.name == "daily":  # the same weekday of the same week of other years
        slots = slots + 7 * (np.minimum(dates.dt.isocalendar().week.to_numpy().astype(int), 52) - 1)
    other = np.flatnonzero((slots == slots[at]) & (dates.dt.year.to_numpy() != dates.iloc[at].year))
    nearby = np.arange(max(0, at - near), min(len(s), at + near + 1))

    def col(c: str) -> np.ndarray:
        return s[c].to_numpy(np.float64) if c in s else np.full(len(s), np.nan)

    table = pd.DataFrame({"date": dates.dt.date, "actual": col(measure), "expected": col(f"{measure}{EXPECTED}"),
                          "change": col(f"{measure}{CHANGE}"),
                          "filled": s[f"{measure}{FILLED}"].to_numpy(bool) if f"{measure}{FILLED}" in s else False})
    table["which"] = ""
    table.loc[nearby, "which"] = "neighbouring"
    table.loc[other, "which"] = "same period, other year"
    table.loc[at, "which"] = "this row"
    shown = np.unique(np.r_[nearby, other])
    return {"dates": dates.to_numpy(), "actual": col(measure), "expected": col(f"{measure}{EXPECTED}"),
            "low": col(f"{measure}{LOW}"), "high": col(f"{measure}{HIGH}"),
            "filled": table["filled"].to_numpy(bool), "at": at, "near": nearby, "same_slot": other,
            "table": table.iloc[shown].reset_index(drop=True)}
