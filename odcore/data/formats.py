"""Generic file formats: CSV, Parquet, ADBench ``.npz``, ODDS / MATLAB ``.mat`` and IDX arrays.

Each reader returns a :class:`~odcore.data.record.Dataset` (``read_idx`` an array) or raises
:class:`odcore.errors.InputError` naming the problem and the fix. Nothing here unpickles data.
Named benchmark sources built on these (KDD Cup 99, MNIST, the pharmacy file, abalone) live in
:mod:`odcore.data.sources`; :mod:`odcore.data.loaders` detects a file's format and dispatches.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from odcore.data.record import Dataset
from odcore.data.validate import MIN_ROWS, check_finite, check_labels, check_rows
from odcore.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
PARQUET_MAGIC = b"PAR1"
#: the day columns of a weekly-rows table (the analyst layout), in weekday order
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# ----------------------------------------------------------------------------- helpers


def open_binary(path: Path) -> BinaryIO:
    """The file opened for binary reading, through gzip when it starts with the gzip magic."""
    with open(path, "rb") as f:
        magic = f.read(2)
    return gzip.open(path, "rb") if magic == GZIP_MAGIC else open(path, "rb")


def read_head(path: Path, n: int = 8192) -> bytes:
    """The first ``n`` bytes of the file's content (decompressed when it is gzip)."""
    try:
        with open_binary(path) as f:
            return f.read(n)
    except (OSError, EOFError) as exc:
        raise InputError(f"{path.name}: cannot read the file ({exc}); it may be truncated or not really gzip") from None


def is_idx(head: bytes) -> bool:
    """True when ``head`` starts with an IDX magic number (MNIST-style arrays)."""
    return len(head) >= 4 and head[:2] == b"\x00\x00" and head[2] in (0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E) \
        and 1 <= head[3] <= 4


def looks_binary(head: bytes) -> bool:
    """True when ``head`` holds NUL bytes or is not UTF-8 text."""
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is fine
        return exc.start < len(head) - 4
    return False


def is_gzip(p: Path) -> bool:
    """True when the file starts with the gzip magic."""
    with open(p, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def refuse_unknown_options(fn: str, options: dict[str, Any]) -> None:
    """Raise :class:`InputError` naming the options a loader ``fn`` does not take."""
    if options:
        raise InputError(f"{fn} got unknown option(s) {', '.join(sorted(options))}")


def as_list(v: Any) -> list[Any]:
    """A column list option: None -> [], "a,b" -> ["a", "b"], a string -> [it], else list(v)."""
    if v is None:
        return []
    if isinstance(v, str):
        return [c.strip() for c in v.split(",")] if "," in v else [v]
    return list(v)


# ----------------------------------------------------------------------------- IDX


_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gz or plain) into an array of its declared shape."""
    p = Path(path)
    with open_binary(p) as f:
        data = f.read()
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] not in _IDX_DTYPES:
        raise InputError(f"{p.name}: not an IDX file (bad magic number); MNIST files are named like "
                         "t10k-images-idx3-ubyte.gz")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise InputError(f"{p.name}: the IDX header is truncated")
    shape = tuple(int(v) for v in np.frombuffer(data[4:header], dtype=">u4"))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    need = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != need:
        raise InputError(f"{p.name}: the IDX header declares shape {shape} ({need} bytes) but the file holds "
                         f"{len(data) - header} bytes; the file is truncated or damaged")
    return np.frombuffer(data[header:], dtype=dtype).reshape(shape)


# ----------------------------------------------------------------------------- ODDS .mat / ADBench .npz


def _xy_dataset(X: Any, y: Any, p: Path, kind: str) -> Dataset:
    X = np.asarray(X)
    if X.ndim != 2:
        raise InputError(f"{p.name}: X must be a 2-D matrix (rows x features), found shape {X.shape}")
    try:
        X = X.astype(np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{p.name}: X is not numeric") from None
    check_rows(X.shape[0], p.name)
    names = [f"x{i}" for i in range(X.shape[1])]
    check_finite(X, names, p.name)
    yy = None if y is None else check_labels(np.asarray(y).ravel(), p.name, n_rows=X.shape[0])
    share = "" if yy is None else f", {int(yy.sum())} outliers ({yy.mean():.2%})"
    return Dataset(name=p.stem, X=X, y=yy, feature_names=names, source=str(p),
                   notes=f"{kind}: {X.shape[0]:,} rows x {X.shape[1]} features{share}; y=1 marks outliers.")


def load_mat(path: str | os.PathLike, **options: Any) -> Dataset:
    """ODDS ``.mat`` file with matrices ``X`` (n, d) and ``y`` (n, 1), y = 1 outlier.

    MATLAB v5 files are read with scipy; v7.3 files (HDF5) with h5py when it is installed.
    """
    refuse_unknown_options("load_mat", options)
    p = Path(path)
    with open(p, "rb") as f:
        head = f.read(128)
    if head.startswith(HDF5_MAGIC) or b"MATLAB 7.3" in head:
        return _load_mat73(p)
    import scipy.io

    try:
        m = scipy.io.loadmat(p)
    except NotImplementedError:
        return _load_mat73(p)
    except Exception as exc:  # scipy raises several types on garbage
        raise InputError(f"{p.name}: not a readable MATLAB .mat file ({type(exc).__name__}: {exc}); "
                         "ODDS files are MATLAB v5 with matrices X and y") from None
    keys = sorted(k for k in m if not k.startswith("__"))
    if "X" not in m or "y" not in m:
        raise InputError(f"{p.name}: a .mat dataset must hold matrices named X (rows x features) and y (0/1 "
                         f"labels), as ODDS files do; this one holds {keys or 'no matrices'}. Rename them "
                         "in MATLAB/scipy, or export the table as CSV")
    return _xy_dataset(m["X"], m["y"], p, "ODDS .mat")


def _load_mat73(p: Path) -> Dataset:
    try:
        import h5py
    except ImportError:
        raise InputError(f"{p.name} is a MATLAB v7.3 (HDF5) file, which needs the h5py package: "
                         "pip install h5py, or re-save it in MATLAB with save(..., '-v7')") from None
    try:
        with h5py.File(p, "r") as f:
            keys = sorted(f.keys())
            if "X" not in f or "y" not in f:
                raise InputError(f"{p.name}: a .mat dataset must hold matrices named X and y (as ODDS files "
                                 f"do); this one holds {keys or 'nothing'}")
            X = np.asarray(f["X"][()]).T  # MATLAB stores column-major: h5py sees (d, n)
            y = np.asarray(f["y"][()]).T
    except OSError as exc:
        raise InputError(f"{p.name}: not a readable HDF5 / MATLAB v7.3 file ({exc})") from None
    return _xy_dataset(X, y, p, "MATLAB v7.3 .mat")


def load_npz(path: str | os.PathLike, **options: Any) -> Dataset:
    """ADBench ``.npz`` file with arrays ``X`` and ``y`` (loaded with ``allow_pickle=False``)."""
    refuse_unknown_options("load_npz", options)
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as z:
            keys = sorted(z.files)
            if "X" not in z.files:
                raise InputError(f"{p.name}: an .npz dataset must hold an array X (and usually y), as ADBench "
                                 f"files do; this one holds {keys or 'nothing'}")
            X = z["X"]
            y = z["y"] if "y" in z.files else None
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise InputError(f"{p.name}: the arrays hold Python objects, which would need unpickling; that is "
                             "refused for safety. Save X and y as plain numeric arrays") from None
        raise InputError(f"{p.name}: not a readable .npz file ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"{p.name}: not a readable .npz file ({exc}); ADBench files are numpy .npz archives "
                         "with arrays X and y") from None
    return _xy_dataset(X, y, p, "ADBench .npz")


# ----------------------------------------------------------------------------- CSV / Parquet

_DELIMS = (",", ";", "\t", "|")


def _sniff_sep(text: str) -> str:
    lines = [ln for ln in text.splitlines()[:20] if ln.strip()]
    if not lines:
        return ","
    best, best_score = ",", 0
    for d in _DELIMS:
        counts = [ln.count(d) for ln in lines[:-1] or lines]  # the last line may be cut
        if counts[0] == 0:
            continue
        score = counts[0] * sum(c == counts[0] for c in counts)
        if score > best_score:
            best, best_score = d, score
    return best


def _ragged_lines(path: Path, sep: str, limit: int = 50_000_000) -> list[tuple[int, int, int]]:
    """(line number, fields, expected) for lines whose field count differs from the header's."""
    if path.stat().st_size > limit:
        return []
    out = []
    with open_binary(path) as fb:
        text = io.TextIOWrapper(fb, encoding="utf-8", errors="replace", newline="")
        reader = csv.reader(text, delimiter=sep)
        expected = None
        for i, row in enumerate(reader, start=1):
            if not row:
                continue
            if expected is None:
                expected = len(row)
            elif len(row) != expected:
                out.append((i, len(row), expected))
                if len(out) >= 5:
                    break
    return out


def _ragged_message(name: str, bad: list[tuple[int, int, int]]) -> str:
    where = "; ".join(f"line {i} has {n} fields" for i, n, _ in bad[:3])
    return (f"{name}: ragged CSV: the header has {bad[0][2]} fields but {where}; every row needs the same "
            "number of fields (check for stray delimiters or quotes, or a missing value)")


def load_csv(path: str | os.PathLike, *, sep: str | None = None, label_column: str | None = None,
             feature_columns: Sequence[str] | None = None, meta_columns: Sequence[str] | None = None,
             categorical: str = "onehot", positive: Any = None, max_categories: int = 50,
             min_rows: int = MIN_ROWS, decimal: str = ".", **options: Any) -> Dataset:
    """A CSV file (gz or plain) with a header line; see :func:`frame_to_dataset` for the options.

    ``sep`` is detected from the first lines when not given. A file read as one column of text
    that contains another delimiter is refused with the delimiter to use.
    """
    import pandas as pd

    from odcore.data.table import pop_options

    table_options = pop_options(options)  # roles, blanks, windows, scaling: see odcore.data.table
    refuse_unknown_options("load_csv", options)
    p = Path(path)
    head = read_head(p)
    if not head.strip():
        raise InputError(f"{p.name}: the file is empty; a CSV needs a header line and data rows")
    if looks_binary(head):
        raise InputError(f"{p.name}: this is not a text CSV file (it holds binary bytes); pick the CSV file, "
                         "or give the right format (kdd99, mnist, mat, npz, parquet)")
    text = head.decode("utf-8", errors="ignore")
    sep = sep or _sniff_sep(text)
    try:
        df = pd.read_csv(p, sep=sep, compression="gzip" if is_gzip(p) else None, skipinitialspace=True,
                         decimal=decimal)
    except pd.errors.EmptyDataError:
        raise InputError(f"{p.name}: the file has no columns; a CSV needs a header line and data rows") from None
    except pd.errors.ParserError as exc:
        bad = _ragged_lines(p, sep)
        if bad:
            raise InputError(_ragged_message(p.name, bad)) from None
        raise InputError(f"{p.name}: cannot parse the CSV ({str(exc).strip().splitlines()[0]})") from None
    except UnicodeDecodeError:
        raise InputError(f"{p.name}: the file is not UTF-8 text; save it as UTF-8 CSV") from None
    if len(df.columns) and all(_is_number(c) for c in df.columns):  # no header line: re-read without one
        df = pd.read_csv(p, sep=sep, header=None, compression="gzip" if is_gzip(p) else None,
                         skipinitialspace=True, decimal=decimal)
        df.columns = [f"x{i}" for i in range(df.shape[1])]
    if df.shape[1] == 1 and not pd.api.types.is_numeric_dtype(df.iloc[:, 0]):
        sample = " ".join(map(str, df.iloc[:20, 0].tolist())) + " " + str(df.columns[0])
        others = [d for d in _DELIMS if d != sep and d in sample]
        if others:
            shown = {"\t": "\\t"}.get(others[0], others[0])
            raise InputError(f"{p.name}: read with delimiter {sep!r} the file has a single text column; it looks "
                             f"delimited by {shown!r}: pass sep={shown!r} (or leave sep unset to detect it)")
    if df.isna().any().any():
        bad = _ragged_lines(p, sep)
        if bad:
            raise InputError(_ragged_message(p.name, bad))
    return frame_to_dataset(df, name=p.name.split(".")[0], source=str(p), label_column=label_column,
                            feature_columns=feature_columns, meta_columns=meta_columns, categorical=categorical,
                            positive=positive, max_categories=max_categories, min_rows=min_rows, **table_options)


def _is_number(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


def load_parquet(path: str | os.PathLike, *, label_column: str | None = None,
                 feature_columns: Sequence[str] | None = None, meta_columns: Sequence[str] | None = None,
                 categorical: str = "onehot", positive: Any = None, max_categories: int = 50,
                 min_rows: int = MIN_ROWS, **options: Any) -> Dataset:
    """A Parquet file; see :func:`frame_to_dataset` for the options."""
    import pandas as pd

    from odcore.data.table import pop_options

    table_options = pop_options(options)  # roles, blanks, windows, scaling: see odcore.data.table
    refuse_unknown_options("load_parquet", options)
    p = Path(path)
    try:
        df = pd.read_parquet(p)
    except Exception as exc:  # pyarrow raises several types on damaged files
        raise InputError(f"{p.name}: not a readable Parquet file ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    return frame_to_dataset(df, name=p.name.split(".")[0], source=str(p), label_column=label_column,
                            feature_columns=feature_columns, meta_columns=meta_columns, categorical=categorical,
                            positive=positive, max_categories=max_categories, min_rows=min_rows, **table_options)


def _weekday_columns(cols: Sequence[str]) -> list[str]:
    """The 7 day columns (mon..sun, or monday..sunday, any case) in weekday order, or [] if absent."""
    found = []
    lower = {str(c).strip().lower(): c for c in cols}
    for day in WEEKDAYS:
        hit = lower.get(day) or lower.get({"tue": "tues", "wed": "wednes", "thu": "thurs", "sat": "satur"}.get(
            day, day) + "day")
        if hit is None:
            return []
        found.append(hit)
    return found


def frame_to_dataset(df: Any, *, name: str, source: str, label_column: str | None = None,
                     feature_columns: Sequence[str] | str | None = None,
                     meta_columns: Sequence[str] | str | None = None, categorical: str = "onehot",
                     positive: Any = None, max_categories: int = 50, min_rows: int = MIN_ROWS,
                     **table_options: Any) -> Dataset:
    """Turn a table into a Dataset.

    With any of the table options of :mod:`odcore.data.table` (``roles`` -- ``"auto"`` for the
    proposal --, ``group_columns``, ``time_column``, ``missing``, ``window``, ``scaling`` ...) the
    table is prepared by :func:`odcore.data.table.prepare` (:func:`table_dataset`); without them:

    - ``label_column``: optional column of 0/1 labels (1 = outlier); with ``positive`` any column
      whose value equal to ``positive`` marks an outlier (original values go to ``classes``).
    - ``meta_columns``: identifier columns (market, category, week, dates) kept row-aligned in
      ``meta`` and never used as features.
    - ``feature_columns``: the feature columns (default: every other column; for a table of weekly
      rows with columns ``mon..sun`` (or ``monday..sunday``), the 7 days, the rest going to ``meta``).
    - ``categorical``: ``"onehot"`` encodes text columns (at most ``max_categories`` distinct
      values each), ``"refuse"`` rejects them.
    """
    import pandas as pd

    if categorical not in ("onehot", "refuse"):
        raise InputError(f"categorical must be 'onehot' or 'refuse', got {categorical!r}")
    from odcore.data import table

    unknown = sorted(set(table_options) - set(table.OPTIONS))
    if unknown:
        raise InputError(f"{name}: unknown option(s) {', '.join(unknown)}; the table options are "
                         f"{', '.join(table.OPTIONS)}")
    if table.wants_table(table_options):
        return table_dataset(df, name=name, source=source, label_column=label_column, feature_columns=feature_columns,
                             meta_columns=meta_columns, categorical=categorical, positive=positive,
                             max_categories=max_categories, min_rows=min_rows, **table_options)
    df = df.copy()
    df.columns = [str(c).strip() for c in df.columns]
    cols = list(df.columns)
    meta_cols = as_list(meta_columns)
    feat_cols = as_list(feature_columns)
    for role, wanted in (("label_column", as_list(label_column)), ("meta_columns", meta_cols),
                         ("feature_columns", feat_cols)):
        missing = [c for c in wanted if c not in cols]
        if missing:
            shown = ", ".join(cols[:30]) + (" ..." if len(cols) > 30 else "")
            raise InputError(f"{name}: {role} {missing} not found; the columns are: {shown}")
    check_rows(len(df), name, min_rows=min_rows)
    weekly = _weekday_columns(cols)
    if weekly and not feat_cols and not meta_cols:
        # a table of weekly rows (mon..sun plus id columns such as market, category, week): the 7 days are
        # the features and every other column (but the label) is row metadata
        feat_cols = weekly
        meta_cols = [c for c in cols if c not in weekly and c != label_column]
    if not feat_cols:
        feat_cols = [c for c in cols if c != label_column and c not in meta_cols]
    elif label_column in feat_cols:
        raise InputError(f"{name}: the label column {label_column!r} cannot also be a feature")
    if not feat_cols:
        raise InputError(f"{name}: no feature columns are left; list them with feature_columns=")

    blocks: list[np.ndarray] = []
    names: list[str] = []
    text_cols = []
    for c in feat_cols:
        s = df[c]
        if pd.api.types.is_datetime64_any_dtype(s) or isinstance(s.dtype, pd.PeriodDtype):
            raise InputError(f"{name}: column {c!r} holds dates, which are not features; pass it in "
                             "meta_columns= (kept beside the rows) or drop it")
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            blocks.append(s.to_numpy(dtype=np.float64, na_value=np.nan)[:, None])
            names.append(c)
            continue
        num = pd.to_numeric(s, errors="coerce")
        bad = num.isna() & s.notna()
        if 0 < bad.sum() and bad.mean() < 0.5:
            rows = (np.flatnonzero(bad.to_numpy())[:3] + 1).tolist()
            example = str(s[bad].iloc[0])
            hint = (" (it looks like a decimal comma: pass decimal=',')"
                    if re.fullmatch(r"-?\d+,\d+", example.strip()) else "")
            raise InputError(f"{name}: column {c!r} is numeric except for values like {example!r} "
                             f"(data rows {rows}){hint}; fix or remove those entries")
        if not bad.any():
            blocks.append(num.to_numpy(dtype=np.float64, na_value=np.nan)[:, None])
            names.append(c)
            continue
        text_cols.append(c)
        if categorical == "refuse":
            continue
        if s.isna().any():
            raise InputError(f"{name}: text column {c!r} has missing values; fill them or drop the rows")
        cats = sorted(s.astype(str).unique())
        if len(cats) > max_categories:
            raise InputError(f"{name}: text column {c!r} has {len(cats)} distinct values (more than "
                             f"{max_categories}), so it looks like an identifier or a date, not a category; "
                             f"pass it in meta_columns= (or drop it), or raise max_categories")
        codes = pd.Categorical(s.astype(str), categories=cats).codes
        blocks.append(np.eye(len(cats), dtype=np.float64)[codes])
        names.extend(f"{c}={v}" for v in cats)
    if text_cols and categorical == "refuse":
        raise InputError(f"{name}: non-numeric column(s) {text_cols}; pass categorical='onehot' to encode them, "
                         "put identifiers in meta_columns=, or drop them with feature_columns=")
    X = np.hstack(blocks)
    check_finite(X, names, name)

    y = classes = None
    if label_column is not None:
        lab = df[label_column]
        if positive is not None:
            pos = as_list(positive) if not isinstance(positive, (int, float, bool)) else [positive]
            values = lab.to_numpy()
            y = np.isin(values.astype(str), [str(v) for v in pos]).astype(np.int64)
            if lab.isna().any():
                raise InputError(f"{name}: the label column {label_column!r} has missing values")
            classes = values
        else:
            y = check_labels(lab.to_numpy(), f"{name}: column {label_column!r}")
    meta = df[meta_cols].reset_index(drop=True) if meta_cols else None
    parts = [f"{X.shape[0]:,} rows x {X.shape[1]} features"]
    if text_cols:
        parts.append(f"one-hot encoded: {', '.join(text_cols)}")
    if y is not None:
        parts.append(f"label {label_column!r}: {int(y.sum())} outliers ({y.mean():.2%})")
    if meta_cols:
        parts.append(f"meta columns: {', '.join(meta_cols)}")
    return Dataset(name=name, X=X, y=y, feature_names=names, source=source, classes=classes, meta=meta,
                   notes="; ".join(parts))

def table_dataset(df: Any, *, name: str, source: str, label_column: str | None = None,
                  feature_columns: Sequence[str] | str | None = None, meta_columns: Sequence[str] | str | None = None,
                  categorical: str = "onehot", positive: Any = None, max_categories: int = 50,
                  min_rows: int = MIN_ROWS, **table_options: Any) -> Dataset:
    """A table prepared by :mod:`odcore.data.table`: every column's role proposed (or given),
    dates parsed, blanks handled by their policy, windows built, per-series scaling applied.

    ``meta`` holds each row's keys and original values at full precision; ``table`` the fitted
    preparation (saved with a run, applied again to new data by :func:`odcore.data.table.apply`).
    """
    from odcore.data import table

    check_rows(len(df), name, min_rows=min_rows)
    prep = table.from_options(df, label_column=label_column, feature_columns=feature_columns,
                              meta_columns=meta_columns, positive=positive, max_categories=max_categories,
                              **table_options)
    if categorical == "refuse" and prep.features("onehot"):
        raise InputError(f"{name}: non-numeric column(s) {prep.features('onehot')}; pass categorical='onehot' to "
                         "encode them, or give them the role id, group or ignore")
    res = table.prepare(df, prep, name=name)
    check_rows(len(res.X), f"{name} (prepared)", min_rows=min_rows)
    notes = list(res.notes) + [res.prep.summary()]
    if res.y is not None:
        notes.append(f"label {res.prep.label_column!r}: {int(res.y.sum())} outliers ({res.y.mean():.2%})")
    return Dataset(name=name, X=res.X, y=res.y, feature_names=res.feature_names, source=source, meta=res.meta,
                   notes="; ".join(notes), table=res.prep.to_dict())
