"""The analyst's marks on rows: what a mark is, which rows it names, and how a run reads them.

A *mark* says what an analyst decided about one row of a table: ``expected`` (a false alarm, with an
optional reason such as "promotion") or ``confirmed`` (a real anomaly, with an optional note). A mark
names its row by the row's **keys** (the values of the id, group and time columns of a prepared table,
or of a window's group and dates), never by its position, so marks survive a re-upload of the same
table or of a longer one. Key values are kept as canonical text (:func:`canonical`): dates as
``YYYY-MM-DD`` (with the time when it is not midnight), whole numbers without a decimal point, text
stripped.

Marks belong to a table, not to a run: :func:`identity` names the table by its columns and key columns
(not by its content hash, which changes when weeks are added). The run store keeps one marks document
per table identity (:mod:`odcore.runs.marks`); :func:`check_document` validates one (types, sizes,
nesting) and says why it cannot be used.

A run that retrains with marks carries them in its protocol options (``marks=``, :func:`option`), so
the run records exactly which marks it used and re-deriving its split gives the same rows again;
:func:`option_rows` turns that option back into row indices and refuses marks that do not belong to
the table (unknown keys, another table's key columns) with a message that names them.

This module is pure (pandas / numpy only) and sits in the data layer.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from odcore.data.record import Dataset
from odcore.errors import InputError

KINDS: dict[str, str] = {
    "expected": "a false alarm: the row is normal for a reason the model did not know (promotion, holiday, ...)",
    "confirmed": "a real anomaly the analyst confirmed",
}
#: the format name and version of a marks document (``odcore.runs.marks`` writes it)
FORMAT, VERSION = "odcore-marks", 1
#: reasons the app offers for an expected row (any other text is accepted)
REASONS = ("promotion", "holiday", "known event", "data error", "new store or product", "other")
#: sizes a document may not exceed (a larger one is treated as damaged, never read into memory whole)
MAX_MARKS = 100_000
MAX_KEYS = 12
MAX_TEXT = 500
_SEP = "\x1f"  # joins a row's key values into one string (a character no CSV value holds)


class MarksError(InputError):
    """Marks that cannot be used: they do not match the table, or their file is damaged. The message says
    which marks, and what to do."""


# ---------------------------------------------------------------------------------- keys
def key_columns(ds: Dataset) -> list[str]:
    """The columns whose values name a row of ``ds``: the id, group and time columns of a prepared table
    (or, for windows, the group, series and window dates); for other data with a row table (``meta``),
    its columns that are not decimal numbers. Raises :class:`MarksError` when the data have none."""
    from odcore.data import table

    meta = ds.meta
    if meta is None or len(getattr(meta, "columns", ())) == 0:
        raise MarksError(f"{ds.name}: marks name rows by their ids, groups or dates, and these data have none (no "
                         "table columns); load the data as a table (CSV or Parquet) with an id, group or date column")
    if ds.table:
        cols = [c for c in table.key_columns(ds.table, list(meta.columns)) if c != table.SOURCE_ROW]
        if not cols:
            raise MarksError(f"{ds.name}: marks name rows by their ids, groups or dates, and no column of this table "
                             "has the role id, group or time; give the store / date / id column its role on the Data "
                             "page (or --data-option roles=...)")
        return cols
    import pandas as pd

    cols = [str(c) for c in meta.columns if not pd.api.types.is_float_dtype(meta[c])]
    if not cols:
        raise MarksError(f"{ds.name}: its row table has only decimal numbers, which cannot name a row; add an id, "
                         "group or date column")
    return cols


def identity(ds: Dataset) -> str:
    """The table a dataset's rows come from, independent of its row count: a hash of the source table's
    columns and of the key columns. A re-upload of the same table, or of a longer one, has the same
    identity; a table with other columns (or other keys: rows versus weekly windows) has another."""
    keys = key_columns(ds)
    columns = sorted(str(c) for c in ((ds.table or {}).get("fitted") or {}).get("columns", []) or [])
    if not columns:
        columns = sorted([*map(str, ds.meta.columns), *map(str, ds.feature_names)])
    blob = json.dumps({"columns": columns, "keys": keys}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _canon_value(v: Any) -> str:
    """One key value as canonical text (see the module docstring)."""
    import pandas as pd

    if v is None:
        return ""
    if isinstance(v, (pd.Timestamp, _dt.datetime, np.datetime64)):
        t = pd.Timestamp(v)
        if pd.isna(t):
            return ""
        return t.strftime("%Y-%m-%d") if t == t.normalize() else t.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if not math.isfinite(f):
            return ""
        return str(int(f)) if f.is_integer() and abs(f) < 2**53 else format(f, ".15g")
    return str(v).strip()


def canonical(column: Any) -> np.ndarray:
    """A column of key values (a pandas Series) as canonical text, vectorised for dates and numbers."""
    import pandas as pd

    s = column
    if pd.api.types.is_datetime64_any_dtype(s):
        day = s.dt.strftime("%Y-%m-%d")
        full = s.dt.strftime("%Y-%m-%dT%H:%M:%S")
        out = np.where((s == s.dt.normalize()).to_numpy(), day.to_numpy(dtype=object), full.to_numpy(dtype=object))
        return np.where(s.isna().to_numpy(), "", out).astype(object)
    if pd.api.types.is_integer_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return s.astype("int64").astype(str).to_numpy(dtype=object)
    return np.asarray([_canon_value(v) for v in s.tolist()], dtype=object)


def row_keys(ds: Dataset, columns: Sequence[str] | None = None) -> np.ndarray:
    """Each row's key (its canonical key values joined), in row order."""
    cols = list(columns) if columns is not None else key_columns(ds)
    parts = [canonical(ds.meta[c].reset_index(drop=True)) for c in cols]
    out = parts[0].astype(object)
    for p in parts[1:]:
        out = out + _SEP + p
    return out


def _join(values: Sequence[str]) -> str:
    return _SEP.join(values)


def key_text(key: Mapping[str, str]) -> str:
    """A mark's key for people: ``Store 20 · 2010-12-24`` (dates bare, other columns with their name)."""
    parts = []
    for c, v in key.items():
        looks_date = len(v) >= 10 and v[4:5] == "-" and v[7:8] == "-"
        parts.append(v if looks_date else f"{c} {v}")
    return " · ".join(parts) or "(no key)"


def normalise_key(ds: Dataset, key: Mapping[str, Any]) -> dict[str, str]:
    """A key given by a person or a program (``{"Store": 20, "Date": "2010-12-24"}``) in the table's key
    columns and canonical form; refuses a key that lacks a key column or names a column the table's keys
    do not have, and values that do not parse as the column's type (a date, a number)."""
    import pandas as pd

    cols = key_columns(ds)
    given = {str(k).strip(): v for k, v in key.items()}
    extra = [c for c in given if c not in cols]
    missing = [c for c in cols if c not in given]
    if extra or missing:
        raise MarksError("a mark names its row by " + ", ".join(cols) + " (the table's id, group and time columns); "
                         + (f"missing: {', '.join(missing)}" if missing else "")
                         + ("; " if extra and missing else "") + (f"not a key column: {', '.join(extra)}" if extra
                                                                   else ""))
    out = {}
    for c in cols:
        v = given[c]
        s = ds.meta[c]
        if pd.api.types.is_datetime64_any_dtype(s) and not isinstance(v, (pd.Timestamp, _dt.date, np.datetime64)):
            try:
                v = pd.Timestamp(str(v).strip())
            except (ValueError, TypeError):
                raise MarksError(f"{c}={v!r} is not a date (use YYYY-MM-DD)") from None
        elif pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) and isinstance(v, str):
            try:
                v = float(v.strip())
            except ValueError:
                raise MarksError(f"{c}={v!r} is not a number, and the table's {c} column holds numbers") from None
        out[c] = _canon_value(v)
    return out


# ---------------------------------------------------------------------------------- the record
def _text(v: Any, what: str) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str):
        raise MarksError(f"a mark's {what} must be text, got {type(v).__name__}")
    v = v.strip()
    if len(v) > MAX_TEXT:
        raise MarksError(f"a mark's {what} is {len(v)} characters long; keep it under {MAX_TEXT}")
    return v or None


@dataclass
class Mark:
    """One mark: the row's ``key`` (key column -> canonical value), ``kind`` (one of :data:`KINDS`), an
    optional ``reason`` (why a row is expected) and ``note``, who made it (``author``: a session's tag or
    the command line's user), when (``time``, ISO 8601 UTC) and on which run's ranking (``run``)."""

    key: dict[str, str]
    kind: str
    reason: str | None = None
    note: str | None = None
    author: str | None = None
    time: str = ""
    run: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise MarksError(f"a mark is 'expected' or 'confirmed', got {self.kind!r}")
        if not isinstance(self.key, Mapping) or not self.key or len(self.key) > MAX_KEYS:
            raise MarksError(f"a mark's key must map 1 to {MAX_KEYS} key columns to values")
        for c, v in self.key.items():
            if not isinstance(c, str) or not isinstance(v, str) or len(c) > MAX_TEXT or len(v) > MAX_TEXT:
                raise MarksError("a mark's key must map column names to text values (each under "
                                 f"{MAX_TEXT} characters)")
        self.key = dict(self.key)
        self.reason, self.note = _text(self.reason, "reason"), _text(self.note, "note")
        for name in ("author", "run", "time", "id"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, str) or len(v) > 200):
                raise MarksError(f"a mark's {name} must be text under 200 characters")
        if not self.time:
            self.time = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> Mark:
        if not isinstance(d, Mapping):
            raise MarksError(f"a mark must be a JSON object, got {type(d).__name__}")
        unknown = sorted(set(d) - set(cls.__dataclass_fields__))
        if unknown:
            raise MarksError(f"a mark has unknown field(s) {', '.join(map(str, unknown))}")
        if "key" not in d or "kind" not in d:
            raise MarksError("a mark needs a key and a kind")
        return cls(**dict(d))

    @property
    def label(self) -> str:
        """``Store 20 · 2010-12-24: expected (promotion)`` for messages and tables."""
        why = self.reason or self.note
        return f"{key_text(self.key)}: {self.kind}" + (f" ({why})" if why else "")


def check_document(doc: Any) -> tuple[dict[str, Any], list[Mark]]:
    """A marks document's table record and marks, validated: the format and version, the types of every
    field, the sizes (:data:`MAX_MARKS`, :data:`MAX_KEYS`, :data:`MAX_TEXT`), every mark keyed by the
    document's key columns. Raises :class:`MarksError` saying what is wrong."""
    if not isinstance(doc, Mapping):
        raise MarksError(f"a marks file holds a JSON object, found {type(doc).__name__}")
    if doc.get("format") != FORMAT or doc.get("version") != VERSION:
        raise MarksError(f"not a marks file of this version (format {doc.get('format')!r}, version "
                         f"{doc.get('version')!r}; expected {FORMAT!r} version {VERSION})")
    tab, marks = doc.get("table"), doc.get("marks")
    if not (isinstance(tab, Mapping) and isinstance(tab.get("identity"), str) and isinstance(tab.get("keys"), list)):
        raise MarksError("a marks file's 'table' must hold the table's identity and key columns")
    keys = tab["keys"]
    if not keys or len(keys) > MAX_KEYS or not all(isinstance(k, str) and len(k) <= MAX_TEXT for k in keys):
        raise MarksError(f"a marks file's key columns must be 1 to {MAX_KEYS} column names")
    if not isinstance(marks, list) or len(marks) > MAX_MARKS:
        raise MarksError(f"a marks file's 'marks' must be a list of at most {MAX_MARKS:,} marks")
    out = [Mark.from_dict(m) for m in marks]
    for m in out:
        if list(m.key) != list(keys):
            raise MarksError(f"mark {m.id} is keyed by {', '.join(m.key)}, but the file's rows are keyed by "
                             f"{', '.join(keys)}")
    table = {"identity": tab["identity"], "keys": list(keys), "name": str(tab.get("name") or "")[:MAX_TEXT]}
    return table, out


def document(table: Mapping[str, Any], marks: Iterable[Mark]) -> dict[str, Any]:
    """A marks document (the form :func:`check_document` reads)."""
    return {"format": FORMAT, "version": VERSION, "table": dict(table), "marks": [m.to_dict() for m in marks]}


def table_record(ds: Dataset) -> dict[str, Any]:
    """The ``table`` part of a marks document for ``ds``: identity, key columns, name."""
    return {"identity": identity(ds), "keys": key_columns(ds), "name": ds.name}


# ---------------------------------------------------------------------------------- marks -> rows
@dataclass
class Matched:
    """Which rows the marks name: ``expected`` / ``confirmed`` row indices, each mark's rows (``rows``: mark
    id -> indices), the marks that name no row of the table (``unmatched``) and the rows marked both
    expected and confirmed (``conflicts``: two analysts disagree; such a row is in neither list)."""

    expected: np.ndarray
    confirmed: np.ndarray
    rows: dict[str, np.ndarray]
    unmatched: list[Mark]
    conflicts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def match(ds: Dataset, marks: Sequence[Mark], *, keys: Sequence[str] | None = None) -> Matched:
    """The rows of ``ds`` that ``marks`` name (a key shared by several rows names them all). Raises
    :class:`MarksError` when the marks are keyed by columns the table's keys are not (another table's marks)."""
    cols = key_columns(ds)
    marks = list(marks)
    keyed = list(keys) if keys is not None else (list(marks[0].key) if marks else cols)
    if keyed != cols:
        raise MarksError(f"these marks name rows by {', '.join(keyed)}, but the rows of {ds.name} are named by "
                         f"{', '.join(cols)}: they belong to another table (or to other rows of it: weekly windows "
                         "versus rows); mark the rows of this table instead")
    index: dict[str, list[int]] = {}
    for i, k in enumerate(row_keys(ds, cols)):
        index.setdefault(k, []).append(i)
    rows, unmatched = {}, []
    exp, conf = [], []
    for m in marks:
        if list(m.key) != cols:
            raise MarksError(f"mark {m.label} is keyed by {', '.join(m.key)}, not by {', '.join(cols)}: it belongs to "
                             "another table")
        hit = index.get(_join([m.key[c] for c in cols]))
        if hit is None:
            unmatched.append(m)
            continue
        rows[m.id] = np.asarray(hit, dtype=np.int64)
        (exp if m.kind == "expected" else conf).extend(hit)
    both = set(exp) & set(conf)
    return Matched(np.asarray(sorted(set(exp) - both), dtype=np.int64),
                   np.asarray(sorted(set(conf) - both), dtype=np.int64), rows, unmatched,
                   np.asarray(sorted(both), dtype=np.int64))


def refuse_unmatched(ds: Dataset, unmatched: Sequence[Mark], n: int) -> None:
    """Raise :class:`MarksError` naming marks that are not rows of ``ds``."""
    if not unmatched:
        return
    shown = "; ".join(key_text(m.key) for m in unmatched[:5]) + (" ..." if len(unmatched) > 5 else "")
    if n == 1:
        head, them = f"the mark names no row of {ds.name}", "it belongs"
    else:
        head = (f"none of the {n} marks names" if len(unmatched) == n else f"{len(unmatched)} of {n} marks name no"
                ) + f" a row of {ds.name}".replace("no a row", "no row")
        them = "they belong"
    raise MarksError(f"{head} (no row has the key {shown}): {them} to another table or to rows this table does not "
                     "have; check the keys, or load the table the marks were made on")


# ---------------------------------------------------------------------------------- the protocol option
def option(marks: Sequence[Mark], table: Mapping[str, Any]) -> dict[str, Any]:
    """The ``marks=`` protocol option of a run that retrains with ``marks`` (plain JSON, kept in the run's
    spec): the table identity, the key columns, and per mark its id, kind, key values, reason and note."""
    keys = list(table["keys"])
    return {"table": table["identity"], "keys": keys,
            "marks": [{"id": m.id, "kind": m.kind, "key": [m.key[c] for c in keys],
                       **({"reason": m.reason} if m.reason else {}), **({"note": m.note} if m.note else {})}
                      for m in marks]}


def option_marks(value: Any) -> tuple[list[str], list[Mark]]:
    """The key columns and marks of a ``marks=`` protocol option (refuses a malformed one)."""
    if not isinstance(value, Mapping) or not isinstance(value.get("keys"), list) or not isinstance(
            value.get("marks"), list):
        raise MarksError("the protocol option marks= must be the marks record a retraining writes (table, keys, "
                         "marks); use `odcore train --marks` or the Retrain button")
    keys = [str(k) for k in value["keys"]]
    out = []
    for m in value["marks"]:
        if not isinstance(m, Mapping) or not isinstance(m.get("key"), list) or len(m["key"]) != len(keys):
            raise MarksError("a mark in the protocol option marks= lacks its key values")
        out.append(Mark(key=dict(zip(keys, map(str, m["key"]))), kind=m.get("kind"), reason=m.get("reason"),
                        note=m.get("note"), id=str(m.get("id") or uuid.uuid4().hex[:12]), time="-"))
    return keys, out


def option_rows(ds: Dataset, value: Any) -> Matched:
    """The rows named by a ``marks=`` protocol option; refuses marks that are not rows of ``ds``."""
    keys, marks = option_marks(value)
    if not marks:
        raise MarksError("the protocol option marks= holds no mark; mark rows first")
    got = match(ds, marks, keys=keys)
    refuse_unmatched(ds, got.unmatched, len(marks))
    if len(got.conflicts):
        which = [m.label for m in marks if m.id in got.rows and np.isin(got.rows[m.id], got.conflicts).any()]
        raise MarksError(f"{len(got.conflicts)} row(s) are marked both expected and confirmed "
                         f"({'; '.join(which[:4])}); remove one of the two marks of each")
    return got
