"""The analyst's own table, understood before it is modelled.

A table (a pandas DataFrame read from a CSV or Parquet file) becomes model rows in four steps,
all recorded in one plain, saveable :class:`TablePrep`:

1. **Roles.** Every column gets a role (:data:`ROLES`): ``id``, ``group`` (store, market,
   category: the series a row belongs to), ``time``, ``feature`` (encoded ``numeric``, ``onehot``
   or ``drop``), ``label`` (0/1, 1 = outlier) or ``ignore``. :func:`propose` suggests them from
   types, cardinality and names; the Data page's editor and the CLI/API options
   (``roles="Store:group,Date:time"``, ``group_columns=``, ...) change them.
2. **Values.** Dates of the common formats are parsed (:func:`parse_dates`, the format is kept);
   every column with blanks has an explicit policy (:data:`MISSING`); text in a numeric column,
   blanks under ``refuse``, unseen dates are refused with a message, never coerced. Values are
   float64 throughout (the model's float32 copy is made by :class:`~odcore.data.record.Dataset`).
3. **Windows** (:data:`WINDOWS`): rows as they are; daily values -> one row per series and
   Monday-to-Sunday week with seven day columns (the WALDO retail layout); weekly values -> one
   row per series and ``window_weeks`` consecutive weeks. Each window keeps its group and dates.
4. **Scaling** (:data:`SCALINGS`): ``global`` leaves the values to the run's standardiser;
   ``series`` expresses each series in its own level first, ``(x - mean_gs) / std_gs`` per series
   ``g`` and source column ``s``, so that a big store does not win every flag by volume.

:func:`prepare` fits the record (fill values, categories, series levels) and applies it;
:func:`apply` is the one function that applies a fitted record to new data (the run's training
table, the app and ``odcore score`` all go through it). :func:`to_units` maps prepared values
back to the data's units.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from odcore.errors import InputError
from odcore.params import Declaration, Param

ROLES: dict[str, str] = {
    "id": "identifies a row; kept beside it, never a feature",
    "group": "the series a row belongs to (store, market, category); kept, never a feature",
    "time": "the row's date, parsed; kept, never a feature; windows are built on it",
    "measure": "what the analyst watches (sales, units, revenue): with a time column, each series' expected value "
               "of every period is learnt and the model sees the deviation from it; without one, a numeric feature",
    "context": "explains a measure (temperature, prices, CPI, holiday flags): shown beside it, never itself the "
               "anomaly (unless made a measure)",
    "feature": "modelled as it is: numeric, one-hot encoded categories, or dropped",
    "label": "0/1 outlier label (1 = outlier), for evaluation and labelled settings",
    "ignore": "not modelled (kept in the export of rows as they are)",
}
ENCODINGS: dict[str, str] = {"numeric": "the value itself", "onehot": "one 0/1 feature per category",
                             "drop": "not modelled"}
MISSING: dict[str, str] = {
    "refuse": "stop with a message when the column has a blank",
    "drop": "drop the rows with a blank in this column",
    "median": "fill blanks with the column's median",
    "mode": "fill blanks with the most frequent value",
    "zero": "fill blanks with 0",
    "indicator": "fill blanks (median, or a '(blank)' category) and add a 0/1 feature marking them",
    "series": "fill blanks from the row's own series (interpolation over time, else nothing); marked 'filled', "
              "never a reason",
}
WINDOWS: dict[str, str] = {
    "rows": "rows as they are",
    "week": "daily values -> one row per series and Monday-Sunday week, seven day columns",
    "weeks": "weekly values -> one row per series and window_weeks consecutive weeks",
}
SCALINGS: dict[str, str] = {
    "global": "one standardisation for all rows (the run's standardiser)",
    "series": "each series in its own level first: (x - series mean) / series std, per source column (feature "
              "columns; a measure's deviation from its series' expectation is already on its series' own scale)",
}
#: the options of :func:`from_options` (also the CSV / Parquet readers' table options), declared once: the
#: CLI's ``--data-option``, the roles editor and the library parse them here. A new option is one Param line
#: (and the keyword of :func:`from_options` that takes it; ``tests/test_options.py`` keeps the two equal).
OPTIONS = Declaration.of(
    Param("roles", None, "column roles: 'auto' (proposed from types, cardinality and names) or COLUMN:ROLE pairs "
          "(Store:group,Date:time); roles: " + ", ".join(ROLES), kind="mapping", values=tuple(ROLES),
          choices=("auto",), optional=True, group="table"),
    Param("encoding", None, "how features are encoded, COLUMN:ENCODING pairs; encodings: " + ", ".join(ENCODINGS),
          kind="mapping", values=tuple(ENCODINGS), optional=True, group="table"),
    Param("missing", None, "what blank cells do: one policy for every feature, or COLUMN:POLICY pairs; policies: "
          + ", ".join(MISSING), kind="mapping", values=tuple(MISSING), choices=tuple(MISSING), optional=True,
          group="table"),
    Param("time_format", None, "strftime format of the time column (default: detected)", kind="str", optional=True,
          group="table"),
    Param("window", "rows", "what a model row is: " + "; ".join(f"{k}: {v}" for k, v in WINDOWS.items()),
          kind="str", choices=tuple(WINDOWS), group="table"),
    Param("window_weeks", 4, "weeks per window for window=weeks", kind="int", low=1, high=520, group="table"),
    Param("scaling", "global", "; ".join(f"{k}: {v}" for k, v in SCALINGS.items()), kind="str",
          choices=tuple(SCALINGS), group="table"),
    Param("columns_are_series", False, "a wide table: each numeric feature column is its own series", kind="bool",
          group="table"),
    Param("id_columns", None, "columns that identify a row (role id)", kind="names", optional=True, group="table"),
    Param("group_columns", None, "columns naming the series a row belongs to (role group)", kind="names",
          optional=True, group="table"),
    Param("time_column", None, "the date column (role time)", kind="str", optional=True, group="table"),
    Param("ignore_columns", None, "columns not modelled (role ignore)", kind="names", optional=True, group="table"),
    Param("units", None, "the unit of measure / context columns, COLUMN:UNIT pairs (Weekly_Sales:$, Units:units, "
          "Rate:%); proposed from the names", kind="mapping", optional=True, group="table"),
    Param("context_features", False, "series rows: the model also sees each context column's deviation from its "
          "own series (and 0/1 flags as they are)", kind="bool", group="table"),
)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: columns the preparation adds to the row metadata
SOURCE_ROW, WINDOW_START, WINDOW_END, SERIES = "source_row", "window_start", "window_end", "series"

_LABEL_NAMES = {"label", "labels", "outlier", "is_outlier", "anomaly", "is_anomaly", "y", "target", "class"}
_GROUP_WORDS = {"store", "shop", "market", "category", "region", "branch", "product", "sku", "item", "department",
                "dept", "segment", "country", "city", "state", "channel", "brand", "series", "outlet", "location",
                "site", "family", "customer", "client", "account", "user", "device", "sensor", "machine", "station",
                "group", "cluster", "warehouse", "supplier", "vendor", "zone", "area", "territory", "pharmacy"}
#: words that make a column a measurement even when it also names a key ("store_size", "customer_count")
_MEASURE_WORDS = {"size", "count", "counts", "sales", "amount", "qty", "quantity", "number", "num", "total", "price",
                  "value", "rate", "sum", "avg", "mean", "volume", "revenue", "visits", "area", "sqft", "distance",
                  "age", "score", "flag", "share", "pct", "percent", "cost", "units", "weight"}
_TIME_WORDS = {"date", "datum", "day", "time", "timestamp", "datetime", "week", "period", "month", "fecha", "ds",
               "week_start", "weekstart", "start"}
_DERIVED = {"year", "month", "day", "hour", "week", "weekday", "weekday name", "day of week", "dayofweek", "dow",
            "quarter", "weekofyear", "week of year", "day_of_week", "week_of_year", "weekday_name", "day name"}
_DATE_FORMATS = (
    "%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%d-%m-%Y", "%m-%d-%Y", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y",
    "%m.%d.%Y", "%d-%m-%y", "%m-%d-%y", "%d/%m/%y", "%m/%d/%y", "%d.%m.%y", "%d %b %Y", "%d %B %Y", "%b %d %Y",
    "%B %d %Y", "%b %d, %Y", "%B %d, %Y", "%d-%b-%Y", "%d-%b-%y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M", "%d.%m.%Y %H:%M", "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S", "%Y-%m",
)


# ---------------------------------------------------------------------------------- the record
@dataclass
class TablePrep:
    """How a table becomes model rows: roles, encodings, missing-value policies, date format,
    window, scaling, and (once :func:`prepare` has run) the fitted state in ``fitted``.

    Plain data only: :meth:`to_dict` / :meth:`from_dict` round-trip through JSON, so the record
    is saved with a run and applied again by :func:`apply` when new data are scored.
    """

    roles: dict[str, str] = field(default_factory=dict)  # column -> one of ROLES, in table order
    encoding: dict[str, str] = field(default_factory=dict)  # feature column -> one of ENCODINGS
    missing: dict[str, str] = field(default_factory=dict)  # column -> one of MISSING (absent: refuse)
    time_format: str | None = None  # strftime format of the time column (None: detected)
    window: str = "rows"  # one of WINDOWS
    window_weeks: int = 4  # weeks per window for window="weeks"
    scaling: str = "global"  # one of SCALINGS
    columns_are_series: bool = False  # wide tables: each numeric feature column is its own series
    positive: Any = None  # label value that marks an outlier (labels are 0/1 when None)
    max_categories: int = 50  # one-hot columns may have at most this many categories
    reasons: dict[str, str] = field(default_factory=dict)  # why each role was proposed (shown to the analyst)
    units: dict[str, str] = field(default_factory=dict)  # measure / context column -> unit ("$", "units", "%")
    context_features: bool = False  # series rows: also give the model each context column's deviation
    fitted: dict[str, Any] | None = None  # fill values, categories, series levels, feature names, profile

    def columns(self, role: str) -> list[str]:
        """The columns with ``role``, in table order."""
        return [c for c, r in self.roles.items() if r == role]

    @property
    def time_column(self) -> str | None:
        cols = self.columns("time")
        return cols[0] if cols else None

    @property
    def label_column(self) -> str | None:
        cols = self.columns("label")
        return cols[0] if cols else None

    def features(self, encoding: str | None = None) -> list[str]:
        """Feature columns (optionally only those with ``encoding``), in table order."""
        out = self.columns("feature")
        return out if encoding is None else [c for c in out if self.encoding.get(c, "numeric") == encoding]

    @property
    def series_mode(self) -> bool:
        """True when the model rows are each series' deviations from its expectation (a time column and at
        least one measure)."""
        return bool(self.time_column and self.columns("measure"))

    def used(self) -> list[str]:
        """Columns the preparation reads (every role but ignore; dropped features excluded)."""
        return [c for c, r in self.roles.items()
                if r not in ("ignore",) and not (r == "feature" and self.encoding.get(c) == "drop")]

    def to_dict(self) -> dict[str, Any]:
        from odcore.jsonio import jsonable

        return jsonable(asdict(self))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TablePrep:
        from odcore.jsonio import dataclass_from_dict

        return dataclass_from_dict(cls, d, "table preparation")

    def summary(self) -> str:
        """One line: roles by kind, window and scaling."""
        parts = []
        for role in ("id", "group", "time", "measure", "context", "label"):
            cols = self.columns(role)
            if cols:
                parts.append(f"{role}: {', '.join(cols)}")
        feats = self.features()
        enc = {e: [c for c in feats if self.encoding.get(c, "numeric") == e] for e in ENCODINGS}
        if enc["numeric"]:
            parts.append(f"numeric: {', '.join(enc['numeric'])}")
        if enc["onehot"]:
            parts.append(f"one-hot: {', '.join(enc['onehot'])}")
        dropped = enc["drop"] + self.columns("ignore")
        if dropped:
            parts.append(f"not modelled: {', '.join(dropped)}")
        parts.append(f"window: {self.window}" + (f" ({self.window_weeks} weeks)" if self.window == "weeks" else ""))
        parts.append(f"scaling: {self.scaling}")
        return "; ".join(parts)


@dataclass
class PreparedTable:
    """The result of :func:`prepare` / :func:`apply`.

    ``X`` (float64, n x d) are the model rows, named ``feature_names``; ``meta`` the row-aligned
    keys (id, group and time columns, ``source_row`` = the row's position among the input's data
    rows, or for windows ``window_start`` / ``window_end``) and the original values at full
    precision; ``y`` the labels (a window's label is the largest of its rows'); ``prep`` the
    fitted record; ``notes`` what was done (rows dropped, blanks filled ...), for the analyst.
    """

    X: np.ndarray
    feature_names: list[str]
    meta: Any
    y: np.ndarray | None
    prep: TablePrep
    notes: list[str]


# ---------------------------------------------------------------------------------- helpers
def _as_list(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [c.strip() for c in v.split(",") if c.strip()]
    return [str(c) for c in v]


def _words(name: str) -> set[str]:
    s = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(name))
    return {w for w in re.split(r"[^A-Za-z0-9]+", s.lower()) if w}


def _distinct(s: Any) -> tuple[np.ndarray, Any]:
    """``(codes, text)``: each row's position among the column's distinct values (-1 for NaN) and those
    values as stripped text. Text work is done once per distinct value: a long value repeated on a
    million rows is copied once, not a million times."""
    import pandas as pd

    codes, uniques = pd.factorize(s)
    return codes, pd.Series(np.asarray(uniques, dtype=object), dtype=object).astype(str).str.strip()


def _blank(s: Any) -> np.ndarray:
    """True where a value is missing: NaN / None / NaT, or text that is empty after stripping."""
    import pandas as pd

    miss = s.isna().to_numpy()
    if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s)
            or pd.api.types.is_bool_dtype(s)):
        codes, text = _distinct(s)
        if len(text):
            miss = miss | ((codes >= 0) & (text == "").to_numpy()[np.maximum(codes, 0)])
    return miss


def _codes(values: Any, categories: Sequence[Any]) -> np.ndarray:
    """Position of each value in ``categories`` (-1 for a value not among them)."""
    import pandas as pd

    return pd.Index(list(categories)).get_indexer(pd.Index(np.asarray(values)))


def _rows_text(mask: np.ndarray, limit: int = 3) -> str:
    rows = (np.flatnonzero(mask)[:limit] + 1).tolist()
    return ", ".join(map(str, rows)) + (" ..." if mask.sum() > limit else "")


def _shown(cols: Sequence[str], limit: int = 12) -> str:
    return ", ".join(map(str, cols[:limit])) + (" ..." if len(cols) > limit else "")


# ---------------------------------------------------------------------------------- dates
def _parse_with(values: Any, fmt: str) -> Any:
    import pandas as pd

    if fmt == "ISO8601":
        return pd.to_datetime(values, format="ISO8601", errors="coerce", utc=False)
    return pd.to_datetime(values, format=fmt, errors="coerce")


def detect_date_format(s: Any, *, sample: int = 2000) -> tuple[str | None, str]:
    """The format that parses every non-blank value of ``s`` (None if none does), and a note.

    Formats are tried on the distinct values (a sample of ``sample`` of them first). When several
    fit (day/month order with every day <= 12), the one giving the most regular spacing of the
    sorted dates wins (ties: the earlier of :data:`_DATE_FORMATS`), and the note says so.
    """
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime", ""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_integer_dtype(s):
        return None, ""
    text = _distinct(s)[1]
    vals = pd.Series(text[text != ""].unique())
    if vals.empty:
        return None, ""
    head = vals.iloc[:sample]
    if pd.api.types.is_integer_dtype(s) and not head.str.fullmatch(r"\d{8}").all():
        return None, ""
    fits = [f for f in _DATE_FORMATS if _parse_with(head, f).notna().all()]
    fits = [f for f in fits if _parse_with(vals, f).notna().all()] if len(vals) > len(head) else fits
    if not fits:
        iso = _parse_with(vals, "ISO8601")
        return ("ISO8601", "") if iso.notna().all() else (None, "")
    if len(fits) == 1:
        return fits[0], ""

    def irregularity(f: str) -> int:
        d = np.sort(_parse_with(vals, f).dropna().unique())
        return int(len(np.unique(np.diff(d)))) if len(d) > 2 else 0

    best = min(fits, key=lambda f: (irregularity(f), fits.index(f)))
    others = [f for f in fits if f != best]
    return best, (f"ambiguous dates: read as {best} (also readable as {', '.join(others[:2])}); "
                  "set time_format to change")


def parse_dates(s: Any, fmt: str | None = None, *, column: str = "time") -> tuple[Any, str]:
    """Parse a column of dates; returns ``(datetime64 Series, format)``.

    ``fmt`` (a strftime format, ``"ISO8601"`` or None = :func:`detect_date_format`) is applied to
    every value; blanks stay NaT (the missing-value policy decides about them), and any other
    value that does not parse is refused with the rows where it occurs.
    """
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(s):
        return pd.Series(s).reset_index(drop=True), "datetime"
    if fmt is None or fmt == "datetime":
        fmt, _ = detect_date_format(s)
        if fmt is None:
            example = s[~_blank(s)].astype(str).iloc[0] if (~_blank(s)).any() else ""
            raise InputError(f"column {column!r} holds no dates of a known format (values like {example!r}); "
                             "give its format with time_format= (for example %d/%m/%Y), or pick another role")
    text = pd.Series(s).reset_index(drop=True)
    blank = _blank(text)
    parsed = _parse_with(text.astype(str).str.strip().where(~blank), fmt)
    bad = parsed.isna().to_numpy() & ~blank
    if bad.any():
        example = text[bad].iloc[0]
        raise InputError(f"column {column!r}: {int(bad.sum())} value(s) like {str(example)!r} (data rows "
                         f"{_rows_text(bad)}) are not dates of the format {fmt}; fix them, or set time_format=")
    return parsed, fmt


# ---------------------------------------------------------------------------------- profile and proposal
def _kind(s: Any) -> tuple[str, str | None]:
    """("bool" | "integer" | "number" | "date" | "text", date format)."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(s):
        return "bool", None
    if pd.api.types.is_datetime64_any_dtype(s):
        return "date", "datetime"
    if pd.api.types.is_numeric_dtype(s):
        v = s.dropna().to_numpy(np.float64)
        return ("integer" if v.size and np.all(v == np.round(v)) else "number"), None
    fmt, _ = detect_date_format(s)
    if fmt is not None:
        return "date", fmt
    text = _distinct(s)[1]
    num = pd.to_numeric(text[text != ""], errors="coerce")
    if len(num) and num.notna().all():
        return "number", None
    return "text", None


def profile(df: Any) -> list[dict[str, Any]]:
    """One plain dict per column: name, type, blanks, distinct values, an example and, for dates,
    the detected format and its note (what the roles editor shows)."""
    out = []
    for c in df.columns:
        s = df[c]
        blank = _blank(s)
        kind, fmt = _kind(s)
        vals = s[~blank]
        note = detect_date_format(s)[1] if kind == "date" else ""
        out.append({"column": str(c), "type": kind, "blanks": int(blank.sum()),
                    "distinct": int(vals.nunique()), "example": "" if vals.empty else str(vals.iloc[0])[:40],
                    "date_format": fmt, "note": note})
    return out


def propose(df: Any, *, max_categories: int = 50, label_column: str | None = None) -> TablePrep:
    """A role, an encoding and a missing-value policy for every column, with the reason for each.

    From names (``store``, ``*_id``, ``date``, ``label`` ...), types (dates of any common format,
    numbers, text) and cardinality (unique per row -> id; repeated text -> group when the table
    has dates; few categories -> one-hot). Columns that cannot be modelled as they are (constant,
    mostly blank, text with too many values, numbers with stray text) are proposed as dropped or
    ignored with the reason, never coerced. Blank values get ``median`` (numbers), ``mode``
    (categories), ``indicator`` (5-50% blank) or ``drop`` (keys, labels).
    """
    prof = profile(df)
    n = len(df)
    roles: dict[str, str] = {}
    enc: dict[str, str] = {}
    reasons: dict[str, str] = {}
    time_col = None
    for p in prof:
        if p["type"] == "date" and time_col is None and (p["distinct"] > 1 or n <= 1):
            time_col = p["column"]
    for p in prof:
        c, kind, distinct, blanks = p["column"], p["type"], p["distinct"], p["blanks"]
        lname, words = c.strip().lower(), _words(c)
        filled = n - blanks
        binary = kind in ("bool", "integer") and set(df[c].dropna().astype(float).unique()) <= {0.0, 1.0}
        if c == label_column or (label_column is None and lname in _LABEL_NAMES and binary):
            roles[c], reasons[c] = "label", "0/1 values under a label's name (1 = outlier)"
        elif c == time_col:
            roles[c], reasons[c] = "time", f"dates ({p['date_format']})" + (f"; {p['note']}" if p["note"] else "")
        elif kind == "date":
            roles[c], reasons[c] = "ignore", f"a second date column (the time column is {time_col!r})"
        elif time_col is not None and lname in _DERIVED:
            roles[c], reasons[c] = "ignore", f"derived from the date column {time_col!r}"
        elif lname in ("", "index", "unnamed: 0", "row", "rowid", "row_id") or lname.startswith("unnamed:"):
            roles[c], reasons[c] = "id", "a row index"
        elif (words & _GROUP_WORDS or "id" in words) and not words & _MEASURE_WORDS and kind in ("integer", "text"):
            if distinct == filled and filled > 1:
                roles[c], reasons[c] = "id", "an identifier's name, unique per row"
            else:
                roles[c], reasons[c] = "group", f"an identifier's name, {distinct} distinct values repeated over rows"
        elif kind == "text" and distinct > max_categories:
            if distinct == filled:
                roles[c], reasons[c] = "id", f"text unique per row ({distinct} values)"
            elif time_col is not None:
                roles[c], reasons[c] = "group", f"text with {distinct} values repeated over dates: a series key"
            else:
                roles[c], reasons[c] = "ignore", (f"text with {distinct} distinct values: too many categories "
                                                  f"(more than {max_categories}) to encode")
        elif blanks > 0.5 * n:
            roles[c], reasons[c] = "ignore", f"mostly blank ({blanks:,} of {n:,})"
        else:
            roles[c] = "feature"
            if distinct <= 1:
                enc[c], reasons[c] = "drop", "constant: carries no information"
            elif kind == "text":
                num = _stray_numbers(df[c])
                if num is not None:
                    roles[c], reasons[c] = "ignore", num
                else:
                    enc[c], reasons[c] = "onehot", f"text with {distinct} categories: one 0/1 feature each"
            else:
                enc[c], reasons[c] = "numeric", {"bool": "true/false", "integer": "whole numbers"}.get(
                    kind, "numbers") + ", modelled as they are"
    prep = TablePrep(roles=roles, encoding=enc, reasons=reasons, max_categories=max_categories,
                     time_format=next((p["date_format"] for p in prof if p["column"] == time_col), None))
    if time_col is not None:
        _propose_measures(df, prep, prof)
    prep.missing = default_missing(prep, prof, n)
    return prep


#: words that name what an analyst watches over time (a measure); the money words among them get a currency
_WATCH_WORDS = {"sales", "sale", "revenue", "revenues", "turnover", "units", "qty", "quantity", "amount", "volume",
                "orders", "visits", "visitors", "footfall", "traffic", "demand", "transactions", "spend", "spending",
                "income", "profit", "margin", "bookings", "sold", "consumption", "usage", "calls", "clicks", "sessions",
                "gmv", "receipts", "takings"}
_MONEY_WORDS = {"sales", "sale", "revenue", "revenues", "turnover", "amount", "spend", "spending", "income", "profit",
                "margin", "gmv", "price", "cost", "costs", "receipts", "takings", "usd", "eur", "dollars", "value"}
_COUNT_WORDS = {"units", "qty", "quantity", "orders", "visits", "visitors", "footfall", "transactions", "count",
                "calls", "clicks", "sessions", "bookings", "sold"}
_PERCENT_WORDS = {"unemployment", "pct", "percent", "percentage", "rate", "share", "ratio"}
_TEMPERATURE_WORDS = {"temperature", "temp", "celsius", "fahrenheit"}


def propose_unit(column: str, values: Any = None) -> str:
    """The unit a column's name suggests: ``$`` (money: sales, revenue, price ...), ``units`` (counts),
    ``%`` (rates and shares given in percent), ``share`` (rates given as 0-1), ``°`` (temperature), or ``""``."""
    words = _words(column)
    if words & _COUNT_WORDS:
        return "units"
    if words & _MONEY_WORDS:
        return "$"
    if words & _TEMPERATURE_WORDS:
        return "°"
    if words & _PERCENT_WORDS:
        v = np.asarray(values, dtype=np.float64) if values is not None else np.zeros(0)
        v = v[~np.isnan(v)] if v.size else v
        return "share" if v.size and np.abs(v).max() <= 1.0 else "%"
    return ""


def _propose_measures(df: Any, prep: TablePrep, prof: Sequence[Mapping[str, Any]]) -> None:
    """With a time column, the numeric features become measures (a watched name: sales, units ...) and
    context (the others, flags included); with no watched name, every numeric non-flag column is a measure."""
    kinds = {p["column"]: p for p in prof}
    numeric = [c for c in prep.features("numeric") if kinds[c]["type"] in ("integer", "number", "bool")]
    flags = {c for c in numeric if set(df[c].dropna().astype(float).unique()) <= {0.0, 1.0}}
    watched = [c for c in numeric if c not in flags and _words(c) & _WATCH_WORDS]
    if not watched:
        watched = [c for c in numeric if c not in flags]
        why = "numbers over time (no sales/units name among the columns): watched as a measure"
    else:
        why = "its name says what is watched (sales, units ...): each series' expected value is learnt"
    groups = prep.columns("group")
    for c in prep.features("onehot"):  # a property of each series (a store's type): context, not modelled
        if groups and (df.groupby([df[g] for g in groups])[c].nunique(dropna=True) <= 1).all():
            prep.roles[c], prep.reasons[c] = "context", "the same value throughout each series: a property of it"
            prep.encoding.pop(c, None)
    for c in numeric:
        unit = propose_unit(c, df[c].to_numpy(dtype=np.float64, na_value=np.nan) if c not in flags else None)
        if c in watched:
            prep.roles[c], prep.reasons[c] = "measure", why
        else:
            prep.roles[c] = "context"
            prep.reasons[c] = ("a 0/1 flag: context that explains a measure (a holiday week ...)" if c in flags else
                               "a covariate beside the measure: context that explains it, never itself the anomaly")
        prep.encoding.pop(c, None)
        if unit:
            prep.units[c] = unit


def _stray_numbers(s: Any) -> str | None:
    """For a text column that is mostly numbers: why it is not modelled as it is (else None)."""
    import pandas as pd

    text = s[~_blank(s)].astype(str).str.strip()
    num = pd.to_numeric(text, errors="coerce")
    bad = num.isna()
    if len(text) and 0 < bad.sum() and bad.mean() < 0.5:
        example = text[bad].iloc[0]
        hint = " (a decimal comma? load with decimal=',')" if re.fullmatch(r"-?\d+,\d+", example) else ""
        return (f"numbers except {int(bad.sum())} value(s) like {example!r}{hint}: fix them (or blank them) "
                "to model it")
    return None


def default_missing(prep: TablePrep, prof: Sequence[Mapping[str, Any]], n: int) -> dict[str, str]:
    """The proposed policy of every column with blanks (keys and labels: drop the rows; numbers:
    median, or median + indicator when 5-50% are blank; categories: mode)."""
    out = {}
    for p in prof:
        c, blanks = p["column"], p["blanks"]
        role = prep.roles.get(c)
        if not blanks or role in ("ignore", None) or (role == "feature" and prep.encoding.get(c) == "drop"):
            continue
        if role in ("measure", "context") and prep.time_column:
            out[c] = "series"
        elif role in ("measure", "context"):
            out[c] = "median"
        elif role != "feature":
            out[c] = "drop"
        elif prep.encoding.get(c) == "onehot":
            out[c] = "mode"
        else:
            out[c] = "indicator" if blanks >= 0.05 * n else "median"
    return out


def from_options(df: Any, *, roles: Any = None, encoding: Any = None, missing: Any = None,
                 time_format: str | None = None, window: str = "rows", window_weeks: int = 4,
                 scaling: str = "global", columns_are_series: Any = False, id_columns: Any = None,
                 group_columns: Any = None, time_column: str | None = None, ignore_columns: Any = None,
                 label_column: str | None = None, feature_columns: Any = None, meta_columns: Any = None,
                 positive: Any = None, max_categories: int = 50, units: Any = None,
                 context_features: Any = False) -> TablePrep:
    """The proposal of :func:`propose`, overridden by the explicit choices (the CLI/API options).

    ``roles`` maps columns to roles (``"Store:group,Date:time"`` or a dict: the proposal changed for
    the columns named; ``"auto"`` keeps the proposal); ``id_columns`` / ``group_columns`` / ``time_column`` /
    ``ignore_columns`` / ``label_column`` / ``feature_columns`` set one role for several columns (``meta_columns`` is
    ``id_columns``; with ``feature_columns`` every column not given a role is ignored);
    ``encoding`` maps features to numeric / onehot / drop; ``missing`` maps columns to a policy,
    or is one policy for every feature with blanks; ``units`` maps measure / context columns to a unit
    (``"Weekly_Sales:$"``; proposed from the names); ``context_features`` also gives the model each
    context column's deviation from its own series.
    """
    given = {"roles": roles, "encoding": encoding, "missing": missing, "time_format": time_format, "window": window,
             "window_weeks": window_weeks, "scaling": scaling, "columns_are_series": columns_are_series,
             "id_columns": id_columns, "group_columns": group_columns, "time_column": time_column,
             "ignore_columns": ignore_columns, "units": units, "context_features": context_features}
    o = OPTIONS.parse({k: v for k, v in given.items() if v is not None}, "the table preparation")
    roles, encoding, missing = o.get("roles"), o.get("encoding"), o.get("missing")
    cols = [str(c) for c in df.columns]
    explicit: dict[str, str] = {}
    if isinstance(roles, str) and roles.strip().lower() == "auto":
        roles = None
    explicit.update(roles or {})
    for role, given in (("id", _as_list(id_columns) + _as_list(meta_columns)), ("group", _as_list(group_columns)),
                        ("time", _as_list(time_column)), ("ignore", _as_list(ignore_columns)),
                        ("label", _as_list(label_column)), ("feature", _as_list(feature_columns))):
        for c in given:
            explicit[c] = role
    unknown = [c for c in explicit if c not in cols]
    if unknown:
        raise InputError(f"column(s) {', '.join(map(repr, unknown))} not found; the columns are: {_shown(cols, 30)}")
    prep = propose(df, max_categories=max_categories, label_column=label_column)
    if feature_columns is not None:
        for c, r in prep.roles.items():
            if r == "feature" and c not in explicit:
                prep.roles[c], prep.reasons[c] = "ignore", "not in feature_columns"
    for c, r in explicit.items():
        if prep.roles.get(c) != r:
            prep.reasons[c] = "set by you"
        prep.roles[c] = r
    if prep.time_column and "time" in explicit.values() and not prep.columns("measure") \
            and "measure" not in explicit.values():  # a time column set by you: measures and context proposed
        chosen = {c: r for c, r in prep.roles.items() if c in explicit}
        _propose_measures(df, prep, profile(df))
        prep.roles.update(chosen)
    for role in ("time", "label"):
        chosen = prep.columns(role)
        if len(chosen) > 1:
            keep = [c for c in chosen if explicit.get(c) == role] or chosen[:1]
            if len(keep) > 1:
                raise InputError(f"only one column can have the role {role!r}; got {', '.join(keep)}")
            for c in chosen:
                if c != keep[0]:
                    prep.roles[c], prep.reasons[c] = "ignore", f"another column is the {role} column"
    prof = profile(df)
    kinds = {p["column"]: p for p in prof}
    for c in prep.features():  # text of numbers with a few stray values: numeric, so that they are named
        if c not in prep.encoding:
            text = kinds[c]["type"] == "text" and _stray_numbers(df[c]) is None
            prep.encoding[c] = "onehot" if text else "numeric"
    prep.encoding.update(encoding or {})
    for c in list(prep.encoding):
        if prep.roles.get(c) != "feature":
            prep.encoding.pop(c)
    if o.get("time_format"):
        prep.time_format = o["time_format"]
    elif prep.time_column and kinds[prep.time_column]["date_format"]:
        prep.time_format = kinds[prep.time_column]["date_format"]
    elif prep.time_column:
        prep.time_format = None
    prep.missing = default_missing(prep, prof, len(df))
    if isinstance(missing, str):  # one policy for every feature with blanks (the declaration checked it)
        for c in prep.missing:
            if prep.roles[c] == "feature" or missing in ("drop", "refuse"):
                prep.missing[c] = missing
    else:
        prep.missing.update(missing or {})
    prep.window, prep.scaling, prep.window_weeks = o["window"], o["scaling"], o["window_weeks"]
    prep.columns_are_series = o["columns_are_series"]
    prep.context_features = bool(o["context_features"])
    given_units = o.get("units") or {}
    bad = [c for c in given_units if c not in cols]
    if bad:
        raise InputError(f"units: column(s) {', '.join(map(repr, bad))} not found; the columns are: {_shown(cols, 30)}")
    prep.units.update(given_units)
    prep.units = {c: u for c, u in prep.units.items() if prep.roles.get(c) in ("measure", "context", "feature") and u}
    prep.positive = positive
    return prep


def wants_table(options: Mapping[str, Any]) -> bool:
    """True when loader options ask for the table preparation (any of :data:`OPTIONS` given)."""
    return any(options.get(k) not in (None, "", [], (), {}, False) for k in OPTIONS.names() if k in options)


# ---------------------------------------------------------------------------------- prepare / apply
def prepare(df: Any, prep: TablePrep, *, name: str = "table") -> PreparedTable:
    """Fit ``prep`` on ``df`` (fill values, categories, date format, series levels) and apply it.

    Returns the :class:`PreparedTable` whose ``prep`` is the fitted record; ``apply(df,
    result.prep)`` gives the same rows.
    """
    _check(prep)
    return _run(df, replace(prep, fitted=None), name=name, fit=True)


def apply(df: Any, prep: TablePrep | Mapping[str, Any], *, name: str = "input") -> PreparedTable:
    """Apply a fitted preparation to new rows (a pandas DataFrame, or a pyarrow Table / batch).

    The same roles, date format, missing-value policies (with the training table's fill values),
    categories, window and per-series levels; columns the preparation needs but ``df`` lacks are
    named; blanks where the policy is ``refuse`` and series unknown to per-series scaling are
    refused. Vectorised: one call per batch.
    """
    if isinstance(prep, Mapping):
        prep = TablePrep.from_dict(prep)
    if prep.fitted is None:
        raise InputError("this table preparation was never fitted; prepare the training table first")
    if hasattr(df, "to_pandas") and not hasattr(df, "iloc"):
        df = df.to_pandas()
    return _run(df, prep, name=name, fit=False)


def _check(prep: TablePrep) -> None:
    plain = _plain_features(prep)
    if not prep.series_mode and (not plain or all(prep.encoding.get(c) == "drop" for c in plain)):
        raise InputError("no column is a modelled feature; give at least one column the role 'measure' (what you "
                         "watch: sales, units) or 'feature' (numeric or one-hot)")
    if prep.window != "rows" and not prep.time_column:
        raise InputError(f"window {prep.window!r} needs a time column; give the date column the role 'time'")
    if prep.columns_are_series and prep.window == "rows":
        raise InputError("columns_are_series (one series per column) needs window 'week' or 'weeks'")
    if prep.scaling == "series" and not prep.columns("group") and not prep.columns_are_series:
        raise InputError("per-series scaling needs a series: give the store / market / category column the role "
                         "'group' (or set columns_are_series for one column per series)")


def _run(df: Any, prep: TablePrep, *, name: str, fit: bool) -> PreparedTable:

    df = df.copy()
    df.columns = [str(c).strip() for c in df.columns]
    fitted: dict[str, Any] = {} if fit else dict(prep.fitted or {})
    notes: list[str] = []
    used = [c for c in prep.used()  # new data may lack the label and the id columns (they are only carried)
            if fit or prep.roles[c] not in ("label", "id") or c in df.columns]
    lacking = [c for c in used if c not in df.columns]
    if lacking:
        need = ", ".join(f"{c} ({prep.roles[c]})" for c in lacking[:10])
        raise InputError(f"{name}: the table lacks column(s) {need} that the preparation uses; the columns are: "
                         f"{_shown(list(df.columns), 20)}")
    if fit:
        fitted["columns"] = list(df.columns)
        fitted["profile"] = profile(df)
        fitted["rows_in"] = int(len(df))
    n_in = len(df)
    df = df.reset_index(drop=True)

    # blanks: the rows dropped by a 'drop' policy, refusals for 'refuse'
    keep = np.ones(n_in, dtype=bool)
    blanks = {c: _blank(df[c]) for c in used}
    for c, b in blanks.items():
        if not b.any():
            continue
        policy = prep.missing.get(c, "refuse")
        role = prep.roles[c]
        if policy == "refuse":
            where = f"{name}: column {c!r} has {int(b.sum()):,} blank value(s) (data rows {_rows_text(b)})"
            if not fit:
                raise InputError(f"{where}, but the model was trained without blanks there (policy 'refuse'); fill or "
                                 "drop those rows before scoring, or train again with a missing-value policy for it")
            raise InputError(f"{where}; choose what to do with them: missing={c}:" + (
                "drop|series|median|zero" if role in ("measure", "context") else
                "drop" if role != "feature" else "drop|median|mode|zero|indicator"))
        if policy == "drop":
            keep &= ~b
            notes.append(f"{int(b.sum()):,} row(s) dropped for a blank {c}")
        elif role not in ("feature", "measure", "context"):
            raise InputError(f"{name}: column {c!r} ({role}) has blanks, which cannot be filled; use missing={c}:drop")
    dropped = int((~keep).sum())
    if fit and dropped:
        notes.append(f"{dropped:,} of {n_in:,} rows dropped in all")
    src_rows = np.flatnonzero(keep)
    d = df.iloc[src_rows].reset_index(drop=True)
    if len(d) == 0:
        raise InputError(f"{name}: no row is left after dropping the rows with blanks; choose another missing "
                         "policy for the columns with many blanks")

    # time
    time_col = prep.time_column
    dates = None
    if time_col:
        fmt = fitted.get("time_format") if not fit else prep.time_format
        dates, fmt = parse_dates(d[time_col], fmt, column=time_col)
        fitted["time_format"] = fmt
        d[time_col] = dates

    # features at row level (float64), their names and their scaling source
    blocks, names, sources = [], [], []
    fills: dict[str, Any] = fitted.setdefault("fill", {}) if not fit else {}
    cats: dict[str, list[str]] = fitted.setdefault("categories", {}) if not fit else {}
    for c in _plain_features(prep):  # in table order
        enc = prep.encoding.get(c, "numeric")
        if enc == "drop":
            continue
        if enc == "numeric":
            v = _numeric(d[c], c, name)
            miss = np.isnan(v)
            policy = prep.missing.get(c, "refuse")
            if fit:
                fills[c] = _fill_value(v[~miss], policy, c, name) if policy in ("median", "mode", "zero", "indicator",
                                                                                "series") else None
            if miss.any():
                if fills.get(c) is None:
                    raise InputError(f"{name}: column {c!r} has blank value(s) but the model was trained without a "
                                     "fill value for it (it had no blanks then); drop those rows first")
                v = np.where(miss, float(fills[c]), v)
                notes.append(f"{int(miss.sum()):,} blank {c} filled with {fills[c]:.6g}")
            blocks.append(v[:, None])
            names.append(c)
            sources.append(c)
            if policy == "indicator":
                blocks.append(miss.astype(np.float64)[:, None])
                names.append(f"{c} (blank)")
                sources.append(None)
            continue
        s = d[c]
        b = _blank(s)
        text = s.astype(str).str.strip()
        policy = prep.missing.get(c, "refuse")
        if b.any():
            if policy == "indicator":
                text = text.where(~b, "(blank)")
            else:
                if fit:
                    fills[c] = _fill_value(text[~b], "mode", c, name)
                if fills.get(c) is None:
                    raise InputError(f"{name}: column {c!r} has blanks but the model had no fill value for it")
                text = text.where(~b, str(fills[c]))
                notes.append(f"{int(b.sum()):,} blank {c} filled with {fills[c]!r}")
        if fit:
            values = sorted(text.unique())
            if len(values) > prep.max_categories:
                raise InputError(f"{name}: column {c!r} has {len(values)} distinct values (more than "
                                 f"{prep.max_categories}), too many to one-hot encode; give it the role group, id or "
                                 "ignore, or raise max_categories")
            cats[c] = values
        codes = _codes(text, cats[c])
        unseen = codes < 0
        if unseen.any():
            notes.append(f"{int(unseen.sum()):,} row(s) with a {c} not seen in training (like "
                         f"{text[unseen].iloc[0]!r}): encoded as none of its categories")
        onehot = np.zeros((len(d), len(cats[c])), dtype=np.float64)
        onehot[np.flatnonzero(~unseen), codes[~unseen]] = 1.0
        blocks.append(onehot)
        names.extend(f"{c}={v}" for v in cats[c])
        sources.extend([None] * len(cats[c]))
    series_cols: dict[str, Any] = {}
    if prep.series_mode:  # each measure's deviation from its series' expectation (odcore.series)
        from odcore.series.rows import deviation_block

        measures = prep.columns("measure")
        contexts = [c for c in prep.columns("context") if _numeric_kind(d[c])]  # text context is only carried
        values = {c: _numeric(d[c], c, name) for c in measures + contexts}
        if fit:
            for c in measures + contexts:
                ok = values[c][~np.isnan(values[c])]
                policy = prep.missing.get(c, "series")
                fills[c] = _fill_value(ok, policy, c, name) if policy in ("median", "zero", "mode") and ok.size \
                    else None
        keys = series_keys(d, prep)
        Vs, s_names, s_sources, series_cols, s_notes = deviation_block(
            values, keys, dates, measures=measures, contexts=contexts, policies=prep.missing, fills=fills,
            fitted=fitted, fit=fit, context_features=prep.context_features, name=name)
        blocks.append(Vs)
        names.extend(s_names)
        sources.extend(s_sources)
        notes.extend(s_notes)
    if fit:
        fitted["fill"], fitted["categories"] = fills, cats
    V = np.hstack(blocks) if blocks else np.zeros((len(d), 0))

    # labels
    y = None
    if prep.label_column and prep.label_column in d:
        y = _labels(d[prep.label_column], prep.positive, prep.label_column, name)

    # windows
    groups = prep.columns("group")
    if prep.window == "rows":
        X, feat, src = V, names, _pool_weekdays(names, sources)
        meta = d.copy()
        meta.insert(0, SOURCE_ROW, src_rows)
        for c, v in series_cols.items():  # expected value, band, change and 'filled' marks beside the row
            meta[c] = v
    else:
        X, feat, src, meta, y = _windows(d, V, names, sources, y, prep, groups, dates, name, notes)

    # per-series scaling (of the plain features: series deviations are already on their series' own scale)
    if prep.scaling == "series":
        keys = series_keys(meta, prep)
        own = set(sources) - set(_plain_features(prep)) if prep.series_mode else set()
        X = _scale_series(X, keys, [None if s in own else s for s in src], fitted, fit, name)
    if fit:
        fitted["feature_names"] = list(feat)
        fitted["sources"] = list(src)
        fitted["rows"] = int(len(X))
    elif list(feat) != list(fitted.get("feature_names", feat)):
        raise InputError(f"{name}: the prepared rows have features {_shown(list(feat))} but the model was trained on "
                         f"{_shown(fitted['feature_names'])}")
    if len(X) == 0:
        raise InputError(f"{name}: no complete window is left; check the window and the dates")
    out_prep = replace(prep, fitted=fitted)
    notes.insert(0, f"{n_in:,} rows -> {len(X):,} model rows x {X.shape[1]} features")
    return PreparedTable(X=np.ascontiguousarray(X, dtype=np.float64), feature_names=list(feat),
                         meta=meta.reset_index(drop=True), y=y, prep=out_prep, notes=notes)


def _plain_features(prep: TablePrep) -> list[str]:
    """The columns modelled as they are: the features, and the measures when there is no time column to
    learn their series' expectation from (then a measure is a numeric feature)."""
    if prep.series_mode:
        return prep.features()
    return [c for c, r in prep.roles.items() if r == "feature" or r == "measure"]


def _numeric_kind(s: Any) -> bool:
    """True for a column of numbers (numeric or boolean type, or text that is numbers where not blank)."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return True
    if pd.api.types.is_datetime64_any_dtype(s):
        return False
    text = s[~_blank(s)].astype(str).str.strip()
    return bool(len(text)) and bool(pd.to_numeric(text, errors="coerce").notna().all())


def _numeric(s: Any, c: str, name: str) -> np.ndarray:
    """A column as float64 (blanks NaN); text that is not a number is refused, never coerced."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return s.to_numpy(dtype=np.float64, na_value=np.nan)
    if pd.api.types.is_datetime64_any_dtype(s):
        raise InputError(f"{name}: column {c!r} holds dates, which are not a numeric feature; give it the role "
                         "'time' or 'ignore'")
    b = _blank(s)
    text = s.astype(str).str.strip()
    num = pd.to_numeric(text.where(~b), errors="coerce")
    bad = num.isna().to_numpy() & ~b
    if bad.any():
        example = str(text[bad].iloc[0])
        hint = (" (a decimal comma: load with decimal=',')" if re.fullmatch(r"-?\d+,\d+", example)
                else " (thousands separators? remove them)" if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", example)
                else "")
        raise InputError(f"{name}: column {c!r} is numeric except for {int(bad.sum())} value(s) like {example!r} "
                         f"(data rows {_rows_text(bad)}){hint}; fix or blank those entries, or encode the column as "
                         "one-hot or ignore it")
    return num.to_numpy(dtype=np.float64, na_value=np.nan)


def _fill_value(v: Any, policy: str, c: str, name: str) -> Any:
    import pandas as pd

    if policy == "zero":
        return 0.0
    if len(v) == 0:
        raise InputError(f"{name}: column {c!r} has no value to compute a fill from; ignore it")
    if policy == "mode":
        m = pd.Series(v).mode()
        return m.iloc[0].item() if hasattr(m.iloc[0], "item") else m.iloc[0]
    return float(np.median(np.asarray(v, dtype=np.float64)))


def _labels(s: Any, positive: Any, c: str, name: str) -> np.ndarray:
    from odcore.data.validate import check_labels

    if positive is not None:
        pos = _as_list(positive) if not isinstance(positive, (int, float, bool)) else [positive]
        return np.isin(s.astype(str).to_numpy(), [str(p) for p in pos]).astype(np.int64)
    return check_labels(s.to_numpy(), f"{name}: column {c!r}")


def _pool_weekdays(names: list[str], sources: list[str | None]) -> list[str | None]:
    """Rows as they are: the seven day columns of a weekly-rows table share one level (one source)."""
    lower = [str(n).lower()[:3] if s is not None else None for n, s in zip(names, sources)]
    if all(d in lower for d in DAYS):
        return ["mon..sun" if (s is not None and lo in DAYS and len(str(n)) <= 9) else s
                for n, s, lo in zip(names, sources, lower)]
    return list(sources)


def series_keys(meta: Any, prep: TablePrep) -> np.ndarray:
    """The series each prepared row belongs to: its group values (and, for one series per column,
    the column), joined by ' / '."""
    parts = [meta[c].astype(str).to_numpy() for c in prep.columns("group")]
    if prep.columns_are_series and SERIES in meta:
        parts.append(meta[SERIES].astype(str).to_numpy())
    if not parts:
        return np.full(len(meta), "", dtype=object)
    out = parts[0].astype(object)
    for p in parts[1:]:
        out = out + " / " + p
    return out


def _windows(d: Any, V: np.ndarray, names: list[str], sources: list[str | None], y: np.ndarray | None,
             prep: TablePrep, groups: list[str], dates: Any, name: str, notes: list[str]):
    """Rows -> windows (``week``: seven days; ``weeks``: k consecutive weeks) per series."""
    import pandas as pd

    time_col = prep.time_column
    key_frame = d[groups].reset_index(drop=True) if groups else pd.DataFrame(index=range(len(d)))
    if prep.columns_are_series:
        if any(s is None for s in sources):
            raise InputError(f"{name}: one series per column needs numeric features only (no one-hot or blank "
                             "indicator features); change their encoding or missing policy")
        p = V.shape[1]
        key_frame = key_frame.loc[np.repeat(np.arange(len(d)), p)].reset_index(drop=True)
        key_frame[SERIES] = np.tile(np.asarray(names, dtype=object), len(d))
        dates = pd.Series(np.repeat(dates.to_numpy(), p))
        y = None if y is None else np.repeat(y, p)
        V = V.reshape(-1, 1)
        names, sources = ["value"], ["value"]
    key_cols = list(key_frame.columns)
    t = pd.Series(pd.to_datetime(dates).to_numpy()).reset_index(drop=True)
    if prep.window == "week" and (t != t.dt.normalize()).any():
        raise InputError(f"{name}: column {time_col!r} holds times within a day; daily windows need one row per day")
    t = t.dt.normalize() if prep.window == "week" else t
    key = pd.Series(series_keys(key_frame, prep) if key_cols else np.full(len(t), ""), dtype=object)
    order = np.lexsort((t.to_numpy(), key.to_numpy().astype(str)))
    key, t, V = key.iloc[order].reset_index(drop=True), t.iloc[order].reset_index(drop=True), V[order]
    key_frame = key_frame.iloc[order].reset_index(drop=True)
    y = None if y is None else y[order]
    dup = (key.to_numpy() == np.roll(key.to_numpy(), 1)) & (t.to_numpy() == np.roll(t.to_numpy(), 1))
    dup[0] = False
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        where = f"series {key.iloc[i]!r}, " if key.iloc[i] else ""
        raise InputError(f"{name}: {int(dup.sum())} repeated dates ({where}{t.iloc[i].date()}); windows need one row "
                         "per series and date: give the column that tells the rows apart the role 'group', or "
                         "aggregate the file first")
    if prep.window == "week":
        dow = t.dt.day_of_week.to_numpy()
        start = (t - pd.to_timedelta(dow, unit="D")).to_numpy()
        kk = key.to_numpy()
        new_block = np.r_[True, (kk[1:] != kk[:-1]) | (start[1:] != start[:-1])]  # sorted: blocks are contiguous
        block_id = np.cumsum(new_block) - 1
        counts = np.bincount(block_id)
        full = counts[block_id] == 7
        k, labels = 7, list(DAYS)
        win_start = start[full][::7]
        last = t.to_numpy()[full][6::7]
        n_part = int((counts < 7).sum())
        if n_part:
            notes.append(f"{n_part:,} partial week(s) dropped ({int((~full).sum()):,} day rows)")
    else:
        k = prep.window_weeks
        tt = t.to_numpy()
        step = np.diff(tt).astype("timedelta64[D]").astype(np.int64) if len(tt) > 1 else np.zeros(0, np.int64)
        same = key.to_numpy()[1:] == key.to_numpy()[:-1]
        gaps = step[same]
        if gaps.size and np.median(gaps) != 7:
            raise InputError(f"{name}: window 'weeks' needs weekly rows (7 days apart within a series); here they are "
                             f"{np.median(gaps):g} days apart (median); use window 'week' for daily rows")
        new_run = np.r_[True, ~same | (step != 7)]
        run = np.cumsum(new_run) - 1
        pos = np.arange(len(tt)) - np.flatnonzero(new_run)[run]
        slot = pos // k
        win = np.cumsum(np.r_[True, (run[1:] != run[:-1]) | (slot[1:] != slot[:-1])]) - 1
        counts = np.bincount(win)
        full = counts[win] == k
        labels = [f"w{i + 1}" for i in range(k)] if k > 1 else [""]
        win_start = tt[full][::k]
        last = tt[full][k - 1::k]
        n_part = int((counts < k).sum())
        if n_part:
            notes.append(f"{n_part:,} incomplete window(s) of fewer than {k} consecutive weeks dropped "
                         f"({int((~full).sum()):,} rows)")
    n_win = int(full.sum()) // k
    W = V[full].reshape(n_win, k, V.shape[1])  # (window, position, value column)
    X = W.transpose(0, 2, 1).reshape(n_win, V.shape[1] * k)  # value-column-major: col1 pos1..k, col2 ...
    single = len(names) == 1
    feat = [(lab if single else f"{nm} {lab}".strip()) or nm for nm in names for lab in labels]
    src = [s for s in sources for _ in labels]
    meta = key_frame[full].iloc[::k].reset_index(drop=True)
    meta[WINDOW_START] = win_start
    meta[WINDOW_END] = last
    for j, f in enumerate(feat):  # the window's values before any scaling, at full precision
        if f not in meta:
            meta[f] = X[:, j]
    if y is not None:
        y = y[full].reshape(n_win, k).max(axis=1)
    notes.append(f"{n_win:,} window(s) of {k} {'days' if prep.window == 'week' else 'weeks'}"
                 + (f" over {key[full].nunique():,} series" if key_cols else ""))
    return X, feat, src, meta, y


def _scale_series(X: np.ndarray, keys: np.ndarray, sources: list[str | None], fitted: dict[str, Any], fit: bool,
                  name: str) -> np.ndarray:
    """Eq. ``z = (x - mean_{g,s}) / std_{g,s}`` per series ``g`` and source column ``s`` (moments over every
    value of ``s`` in ``g``; a constant series keeps scale 1)."""

    srcs = [s for s in dict.fromkeys(sources) if s is not None]
    if fit:
        series = sorted(set(keys.tolist()))
        codes = _codes(keys, series)
        mean = np.zeros((len(series), len(srcs)))
        scale = np.ones((len(series), len(srcs)))
        for j, s in enumerate(srcs):
            cols = [i for i, x in enumerate(sources) if x == s]
            v = X[:, cols]
            cnt = np.bincount(codes, minlength=len(series)) * len(cols)
            m = np.bincount(codes, weights=v.sum(axis=1), minlength=len(series)) / np.maximum(cnt, 1)
            sq = np.bincount(codes, weights=((v - m[codes][:, None]) ** 2).sum(axis=1), minlength=len(series))
            sd = np.sqrt(sq / np.maximum(cnt, 1))
            mean[:, j] = m
            scale[:, j] = np.where(sd > 1e-12 * np.maximum(1.0, np.abs(m)), sd, 1.0)
        fitted["series"] = {"keys": series, "sources": srcs, "mean": mean.tolist(), "scale": scale.tolist()}
    st = fitted.get("series")
    if not st:
        raise InputError(f"{name}: the preparation has no per-series levels; prepare the training table first")
    codes = _codes(keys, st["keys"])
    if (codes < 0).any():
        unseen = sorted(set(keys[codes < 0].tolist()))
        raise InputError(f"{name}: series {', '.join(map(repr, unseen[:5]))}{' ...' if len(unseen) > 5 else ''} "
                         "were not in the training table, so their level is unknown to per-series scaling; train "
                         "with them, or use global scaling")
    mean, scale = np.asarray(st["mean"]), np.asarray(st["scale"])
    out = X.copy()
    for j, s in enumerate(st["sources"]):
        cols = [i for i, x in enumerate(sources) if x == s]
        out[:, cols] = (X[:, cols] - mean[codes, j][:, None]) / scale[codes, j][:, None]
    return out


def to_units(prep: TablePrep | Mapping[str, Any] | None, X: Any, meta: Any) -> np.ndarray:
    """Prepared values (inputs, reconstructions, neighbour means) back in the data's units: the
    inverse of per-series scaling, ``x = z * std_{g,s} + mean_{g,s}``; the identity otherwise."""
    X = np.asarray(X, dtype=np.float64)
    if prep is None:
        return X
    if isinstance(prep, Mapping):
        prep = TablePrep.from_dict(prep)
    st = (prep.fitted or {}).get("series")
    if prep.scaling != "series" or not st:
        return X

    keys = series_keys(meta, prep)
    codes = _codes(keys, st["keys"])
    sources = prep.fitted["sources"]
    mean, scale = np.asarray(st["mean"]), np.asarray(st["scale"])
    out = X.copy()
    for j, s in enumerate(st["sources"]):
        cols = [i for i, x in enumerate(sources) if x == s]
        out[..., cols] = X[..., cols] * scale[codes, j][:, None] + mean[codes, j][:, None]
    return out


def whole_input(prep: TablePrep | Mapping[str, Any]) -> bool:
    """True when new rows must be prepared all at once rather than in batches: windows (a window may span
    batches) and series rows (each series' expectation is fitted over its history)."""
    if isinstance(prep, Mapping):
        prep = TablePrep.from_dict(prep)
    return prep.window != "rows" or prep.series_mode


def key_columns(prep: TablePrep | Mapping[str, Any], meta_columns: Sequence[str] = ()) -> list[str]:
    """The metadata columns that identify a prepared row: the source row, id, group and time
    columns (rows as they are), or the group, series and window dates (windows)."""
    if isinstance(prep, Mapping):
        prep = TablePrep.from_dict(prep)
    if prep.window == "rows":
        cols = [SOURCE_ROW] + prep.columns("id") + prep.columns("group") + prep.columns("time")
    else:
        cols = prep.columns("group") + ([SERIES] if prep.columns_are_series else []) + [WINDOW_START, WINDOW_END]
    return [c for c in cols if not meta_columns or c in meta_columns]


def known_normal_mask(meta: Any, spec: str) -> np.ndarray:
    """Rows marked as known normal (WALDO's labelled inliers) by ``spec``:

    - ``"before=YYYY-MM-DD"`` / ``"after=YYYY-MM-DD"``: rows (windows) whose date (window start)
      is before / on or after the date;
    - ``"COLUMN=v1|v2"``: rows whose ``COLUMN`` is one of the values;
    - ``"COLUMN"``: a 0/1 (or true/false) column, 1 = known normal.
    """
    import pandas as pd

    if meta is None:
        raise InputError("known-normal rows need the table's columns, and this dataset has none")
    spec = str(spec).strip()
    col, sep, value = spec.partition("=")
    col = col.strip()
    if col in ("before", "after") and sep:
        dcol = WINDOW_START if WINDOW_START in meta else next(
            (c for c in meta.columns if pd.api.types.is_datetime64_any_dtype(meta[c])), None)
        if dcol is None:
            raise InputError(f"known_normal={spec!r} needs a date column; give the date column the role 'time'")
        try:
            when = pd.Timestamp(value.strip())
        except (ValueError, TypeError):
            raise InputError(f"known_normal={spec!r}: {value!r} is not a date (use YYYY-MM-DD)") from None
        d = pd.to_datetime(meta[dcol])
        return (d < when).to_numpy() if col == "before" else (d >= when).to_numpy()
    if col not in meta:
        raise InputError(f"known_normal={spec!r}: no column {col!r}; the columns are {_shown(list(meta.columns))}")
    s = meta[col]
    if sep:
        wanted = [v.strip() for v in value.split("|")]
        return s.astype(str).str.strip().isin(wanted).to_numpy()
    vals = set(s.dropna().astype(str).str.strip().str.lower().unique())
    if not vals <= {"0", "1", "0.0", "1.0", "true", "false"}:
        raise InputError(f"known_normal column {col!r} must hold 0/1 or true/false (1 = known normal); use "
                         f"{col}=VALUE to pick rows by value")
    return s.astype(str).str.strip().str.lower().isin(["1", "1.0", "true"]).to_numpy()


def pop_options(options: dict[str, Any]) -> dict[str, Any]:
    """Remove and return the table options (:data:`OPTIONS`) from a loader's ``options``."""
    return {k: options.pop(k) for k in list(options) if k in OPTIONS}


# ---------------------------------------------------------------------------------- the roles editor's rows
#: the editor's columns: what the analyst sees (read-only) and chooses (role, encoding, missing)
EDITOR_COLUMNS = ("column", "type", "blanks", "distinct", "example", "role", "unit", "encoding", "if blank", "why")
#: the editor's mark for an encoding or a blank policy that does not apply (not a feature, no blanks)
NOT_APPLICABLE = "-"


def editor_rows(prep: TablePrep | Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per column of the prepared table for the roles editor (:data:`EDITOR_COLUMNS`): the
    profile (type, blanks, distinct values, an example), the role, encoding and blank policy in
    force (``""`` where they do not apply) and why the role was proposed."""
    if isinstance(prep, Mapping):
        prep = TablePrep.from_dict(prep)
    out = []
    for p in (prep.fitted or {}).get("profile", []):
        c = p["column"]
        role = prep.roles.get(c, "ignore")
        out.append({"column": c, "type": p["type"], "blanks": p["blanks"], "distinct": p["distinct"],
                    "example": p["example"], "role": role,
                    "unit": prep.units.get(c, "") if role in ("measure", "context", "feature") else NOT_APPLICABLE,
                    "encoding": prep.encoding.get(c, "numeric") if role == "feature" else NOT_APPLICABLE,
                    "if blank": prep.missing.get(c, "refuse") if p["blanks"] or c in prep.missing else NOT_APPLICABLE,
                    "why": prep.reasons.get(c, "")})
    return out


def options_from_rows(rows: Sequence[Mapping[str, Any]], **settings: Any) -> dict[str, Any]:
    """The table options (:data:`OPTIONS`) of the editor's rows plus ``settings`` (window,
    window_weeks, scaling, columns_are_series, time_format): what the loaders take again."""
    roles = {str(r["column"]): str(r["role"] or "ignore") for r in rows}
    bad = {c: r for c, r in roles.items() if r not in ROLES}
    if bad:
        c, r = next(iter(bad.items()))
        raise InputError(f"role {r!r} for column {c!r}: choose one of {', '.join(ROLES)}")
    given = (None, "", NOT_APPLICABLE)
    opts: dict[str, Any] = {"roles": roles,
                            "encoding": {str(r["column"]): str(r["encoding"]) for r in rows
                                         if roles[str(r["column"])] == "feature" and r.get("encoding") not in given},
                            "missing": {str(r["column"]): str(r["if blank"]) for r in rows
                                        if r.get("if blank") not in given}}
    units = {str(r["column"]): str(r["unit"]).strip() for r in rows
             if roles[str(r["column"])] in ("measure", "context", "feature") and r.get("unit") not in given}
    if units:
        opts["units"] = units
    OPTIONS.unknown(settings, "the table preparation")
    opts.update({k: v for k, v in settings.items() if v not in (None, "")})
    return OPTIONS.parse(opts, "the table preparation")


def impact(rows: Sequence[Mapping[str, Any]], n_rows: int) -> list[str]:
    """What the blank policies of the editor's rows do, in counts (rows dropped at most, values filled,
    indicator features added, columns refused), before the table is prepared again."""
    out = []
    dropped = [(r["column"], int(r["blanks"])) for r in rows if r.get("if blank") == "drop" and r["blanks"]]
    if dropped:
        most = max(b for _, b in dropped)
        total = min(n_rows, sum(b for _, b in dropped))
        out.append(f"drop: {most:,}-{total:,} of {n_rows:,} rows (blank {', '.join(c for c, _ in dropped)})")
    for policy, what in (("median", "filled with the median"), ("mode", "filled with the most frequent value"),
                         ("zero", "filled with 0"), ("indicator", "filled, plus a 0/1 'blank' feature"),
                         ("series", "filled from their own series and marked 'filled'")):
        cols = [(r["column"], int(r["blanks"])) for r in rows if r.get("if blank") == policy and r["blanks"]
                and r["role"] in ("feature", "measure", "context")]
        if cols:
            out.append(f"{sum(b for _, b in cols):,} values {what} ({', '.join(f'{c}: {b:,}' for c, b in cols)})")
    refused = [r["column"] for r in rows if r.get("if blank") == "refuse" and r["blanks"]
               and r["role"] not in ("ignore",) and r.get("encoding") != "drop"]
    if refused:
        out.append(f"refused: {', '.join(refused)} still have blanks; choose a policy for them")
    return out
