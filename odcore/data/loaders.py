"""File loaders: KDD Cup 99 raw, MNIST IDX, ODDS .mat, ADBench .npz, CSV, Parquet, and two
named layouts (the Kaggle pharmacy daily-sales file, UCI abalone with the DROCC protocol).

Every loader returns a :class:`~odcore.data.record.Dataset` or raises
:class:`odcore.errors.InputError` naming the problem and the fix. Nothing here unpickles data.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from odcore.data.record import Dataset
from odcore.data.validate import MIN_ROWS, check_finite, check_labels, check_rows
from odcore.errors import InputError

FORMATS = ("kdd99", "mnist", "mat", "npz", "csv", "parquet", "pharma", "abalone")

_GZIP_MAGIC = b"\x1f\x8b"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK\x03\x04"
_PARQUET_MAGIC = b"PAR1"

# ----------------------------------------------------------------------------- helpers


def _open_binary(path: Path):
    with open(path, "rb") as f:
        magic = f.read(2)
    return gzip.open(path, "rb") if magic == _GZIP_MAGIC else open(path, "rb")


def _head(path: Path, n: int = 8192) -> bytes:
    """The first ``n`` bytes of the file's content (decompressed when it is gzip)."""
    try:
        with _open_binary(path) as f:
            return f.read(n)
    except (OSError, EOFError) as exc:
        raise InputError(f"{path.name}: cannot read the file ({exc}); it may be truncated or not really gzip") from None


def _is_idx(head: bytes) -> bool:
    return len(head) >= 4 and head[:2] == b"\x00\x00" and head[2] in (0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E) \
        and 1 <= head[3] <= 4


def _looks_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is fine
        return exc.start < len(head) - 4
    return False


def detect_format(path: str | os.PathLike) -> str:
    """Guess the format from the content (magic bytes, header) and the file name."""
    p = Path(path)
    name = p.name.lower()
    with open(p, "rb") as f:
        raw = f.read(512)
    if name.endswith((".xlsx", ".xls", ".xlsm", ".ods")):
        raise InputError(f"{p.name}: spreadsheets are not read directly; save the sheet as CSV (one header "
                         "line, one row per sample) and load that")
    if raw.startswith(_PARQUET_MAGIC) or name.endswith((".parquet", ".pq")):
        return "parquet"
    if raw.startswith(_ZIP_MAGIC) or name.endswith(".npz"):
        return "npz"
    if raw.startswith(b"MATLAB") or raw.startswith(_HDF5_MAGIC) or name.endswith(".mat"):
        return "mat"
    head = _head(p)
    if _is_idx(head) or "idx" in name and "ubyte" in name:
        return "mnist"
    if not head.strip():
        return "csv"  # empty: the CSV loader reports it
    if _looks_binary(head):
        raise InputError(f"{p.name}: this looks like a binary file of an unknown format; supported: "
                         "KDD Cup 99 raw (.gz or text), MNIST IDX, ODDS .mat, ADBench .npz, CSV, Parquet")
    text = head.decode("utf-8", errors="ignore")
    first = text.splitlines()[0] if text.splitlines() else ""
    if first.startswith("datum;") and "Weekday Name" in first:
        return "pharma"
    if "abalone" in name and first.replace(" ", "").lower().startswith(("sex,", "m,", "f,", "i,")):
        return "abalone"
    fields = first.split(",")
    if len(fields) == 42 and fields[-1].strip().endswith(".") and not fields[-1].strip()[:-1].isdigit():
        return "kdd99"
    return "csv"


def load_file(path: str | os.PathLike, *, format: str | None = None, **options: Any) -> Dataset:
    """Load a file in one of :data:`FORMATS` (detected when ``format`` is None)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"{p}: no such file; check the path (relative paths start at {Path.cwd()})")
    if p.is_dir():
        raise InputError(f"{p} is a folder; pass the data file inside it")
    if p.stat().st_size == 0:
        raise InputError(f"{p.name}: the file is empty; pick a file with a header and data rows")
    fmt = format or detect_format(p)
    if fmt not in _LOADERS:
        raise InputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return _LOADERS[fmt](p, **options)


def _unknown_options(fn: str, options: dict[str, Any]) -> None:
    if options:
        raise InputError(f"{fn} got unknown option(s) {', '.join(sorted(options))}")


# ----------------------------------------------------------------------------- KDD Cup 99

KDD_COLUMNS = (
    "duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes", "land", "wrong_fragment",
    "urgent", "hot", "num_failed_logins", "logged_in", "num_compromised", "root_shell", "su_attempted",
    "num_root", "num_file_creations", "num_shells", "num_access_files", "num_outbound_cmds",
    "is_host_login", "is_guest_login", "count", "srv_count", "serror_rate", "srv_serror_rate",
    "rerror_rate", "srv_rerror_rate", "same_srv_rate", "diff_srv_rate", "srv_diff_host_rate",
    "dst_host_count", "dst_host_srv_count", "dst_host_same_srv_rate", "dst_host_diff_srv_rate",
    "dst_host_same_src_port_rate", "dst_host_srv_diff_host_rate", "dst_host_serror_rate",
    "dst_host_srv_serror_rate", "dst_host_rerror_rate", "dst_host_srv_rerror_rate",
)
#: the 7 categorical columns one-hot encoded (ALAD / WALDO preprocessing)
KDD_CATEGORICAL = ("protocol_type", "service", "flag", "land", "logged_in", "is_host_login", "is_guest_login")


def kdd_categories(path: str | os.PathLike) -> dict[str, list[str]]:
    """The categories of the 7 categorical KDD columns in a (training) file, sorted."""
    import pandas as pd

    df = pd.read_csv(path, header=None, names=[*KDD_COLUMNS, "label"], usecols=list(KDD_CATEGORICAL),
                     dtype=str, compression="gzip" if _is_gzip(Path(path)) else None)
    return {c: sorted(df[c].str.strip().unique().tolist()) for c in KDD_CATEGORICAL}


def _is_gzip(p: Path) -> bool:
    with open(p, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def load_kdd99(path: str | os.PathLike, *, positive: str | Sequence[str] = "normal.",
               categories: dict[str, Sequence[str]] | None = None, max_rows: int | None = None,
               **options: Any) -> Dataset:
    """KDD Cup 99 raw file (``kddcup.data_10_percent`` gz or plain): 41 columns + label, no header.

    The 7 categorical columns are one-hot encoded with the categories found in this (training)
    file, or with ``categories`` (from :func:`kdd_categories` of the training file) so a test file
    gets the same columns; unseen categories become all-zero. The 10% file gives 34 numeric + 87
    one-hot = 121 features. ``classes`` holds the label names (``smurf.``, ``normal.`` ...).

    ``y = 1`` marks ``positive`` (default ``"normal."``): in the ALAD and WALDO protocols the
    ``normal.`` traffic is the minority (19.7%) and plays the *anomaly*; pass e.g.
    ``positive=["smurf.", "neptune."]`` for another choice.
    """
    import pandas as pd

    _unknown_options("load_kdd99", options)
    p = Path(path)
    head = _head(p).decode("utf-8", errors="replace").splitlines()
    if head and len(head[0].split(",")) != 42:
        raise InputError(f"{p.name}: a KDD Cup 99 row has 41 features and a label (42 comma-separated "
                         f"fields); the first line has {len(head[0].split(','))}. Is this the raw KDD file?")
    dtypes = {c: "category" for c in KDD_CATEGORICAL} | {"label": "category"}
    try:
        df = pd.read_csv(p, header=None, names=[*KDD_COLUMNS, "label"], dtype=dtypes, nrows=max_rows,
                         compression="gzip" if _is_gzip(p) else None)
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError(f"{p.name}: not a valid KDD Cup 99 file ({str(exc).splitlines()[0]}); each row "
                         "must have 41 features and a label") from None
    check_rows(len(df), p.name)
    numeric_cols = [c for c in KDD_COLUMNS if c not in KDD_CATEGORICAL]
    if df.isna().any().any():
        raise InputError(f"{p.name}: some rows have fewer than 42 fields or empty values; "
                         "the raw KDD file has 41 features and a label on every row")
    bad = [c for c in numeric_cols if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        raise InputError(f"{p.name}: column(s) {', '.join(bad[:5])} must be numeric; the file is not raw KDD Cup 99 "
                         "data or is damaged")

    def codes_of(col: str, cats: Sequence[str]) -> np.ndarray:
        """Row codes into ``cats`` (-1 for a category the training file lacks), via the few distinct values."""
        c = df[col].cat
        per_value = pd.Index(list(cats)).get_indexer([str(v).strip() for v in c.categories])
        return np.where(c.codes >= 0, per_value[c.codes], -1)

    width = len(numeric_cols)
    chosen: dict[str, list[str]] = {}
    for col in KDD_CATEGORICAL:
        found = sorted({str(v).strip() for v in df[col].cat.categories})
        chosen[col] = list(categories[col]) if categories and col in categories else found
        width += len(chosen[col])
    X = np.zeros((len(df), width), dtype=np.float32)
    names: list[str] = []
    rows = np.arange(len(df))
    for col in KDD_COLUMNS:
        j = len(names)
        if col in KDD_CATEGORICAL:
            codes = codes_of(col, chosen[col])
            ok = codes >= 0
            X[rows[ok], j + codes[ok]] = 1.0
            names.extend(f"{col}={c}" for c in chosen[col])
        else:
            X[:, j] = df[col].to_numpy(np.float32)
            names.append(col)
    check_finite(X, names, p.name)
    label_cats = np.array([str(v).strip() for v in df["label"].cat.categories], dtype=object)
    labels = label_cats[df["label"].cat.codes.to_numpy()]
    pos = [positive] if isinstance(positive, str) else list(positive)
    y = np.isin(labels, pos).astype(np.int64)
    n_num = len(numeric_cols)
    return Dataset(
        name=p.name.split(".")[0], X=X, y=y, feature_names=names, source=str(p), classes=labels,
        notes=f"KDD Cup 99: {len(df):,} connections, {n_num} numeric + {X.shape[1] - n_num} one-hot features. "
              f"y=1 marks {', '.join(pos)} ({y.mean():.2%}): in the ALAD/WALDO protocol normal traffic is the "
              "minority and plays the anomaly. Use the kdd-alad protocol for ALAD's table.")


# ----------------------------------------------------------------------------- MNIST IDX

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gz or plain) into an array of its declared shape."""
    p = Path(path)
    with _open_binary(p) as f:
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


def _labels_path_for(images: Path) -> Path | None:
    name = images.name
    for a, b in (("images-idx3", "labels-idx1"), ("images.idx3", "labels.idx1"), ("images", "labels")):
        if a in name:
            for cand in (name.replace(a, b), name.replace(a, b).removesuffix(".gz"),
                         name.replace(a, b) + ".gz"):
                if (images.parent / cand).exists():
                    return images.parent / cand
    return None


def load_mnist(path: str | os.PathLike, *, labels: str | os.PathLike | None = None, inlier_classes: Any = None,
               max_rows: int | None = None, **options: Any) -> Dataset:
    """MNIST-style IDX images (gz or plain), values scaled to [0, 1], as flattened (1, H, W) images.

    The labels file is found beside the images file (``...images-idx3...`` -> ``...labels-idx1...``)
    or given as ``labels``; its digits go to ``classes``. ``y`` is None unless ``inlier_classes``
    is given (then 1 for every other class).
    """
    from odcore.data.builtins import _one_vs_rest_labels

    _unknown_options("load_mnist", options)
    p = Path(path)
    arr = read_idx(p)
    if arr.ndim == 1:
        raise InputError(f"{p.name} is a labels file; pass the images file (…images-idx3-ubyte…) instead")
    if arr.ndim not in (3, 4):
        raise InputError(f"{p.name}: expected images of shape (n, H, W), found {arr.shape}")
    if max_rows is not None:
        arr = arr[:max_rows]
    n = arr.shape[0]
    check_rows(n, p.name)
    shape = (1, arr.shape[1], arr.shape[2]) if arr.ndim == 3 else (arr.shape[3], arr.shape[1], arr.shape[2])
    if arr.ndim == 4:  # (n, H, W, C) -> channels first
        arr = arr.transpose(0, 3, 1, 2)
    X = arr.reshape(n, -1).astype(np.float32)
    if arr.dtype == np.uint8:
        X /= 255.0
    lab_path = Path(labels) if labels is not None else _labels_path_for(p)
    classes = None
    if lab_path is not None:
        classes = read_idx(lab_path).astype(np.int64)
        if max_rows is not None:
            classes = classes[:max_rows]
        if classes.ndim != 1 or len(classes) != n:
            raise InputError(f"{lab_path.name}: {classes.shape} labels for {n} images; pass the matching labels "
                             "file")
    elif inlier_classes is not None:
        raise InputError(f"{p.name}: inlier_classes needs the labels file; pass labels=<...labels-idx1-ubyte.gz>")
    y = _one_vs_rest_labels(classes, inlier_classes) if classes is not None else None
    h, w = shape[1], shape[2]
    return Dataset(
        name=p.name.split(".")[0].replace("-idx3-ubyte", ""), X=X, y=y, kind="image", image_shape=shape,
        feature_names=[f"px{i}" for i in range(X.shape[1])], source=str(p), classes=classes,
        notes=f"{n:,} {h}x{w} images in [0, 1]" + ("" if classes is not None else " (no labels file found)")
              + ". Use the one-vs-rest protocol with inlier_classes.")


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
    _unknown_options("load_mat", options)
    p = Path(path)
    with open(p, "rb") as f:
        head = f.read(128)
    if head.startswith(_HDF5_MAGIC) or b"MATLAB 7.3" in head:
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
    _unknown_options("load_npz", options)
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
    with _open_binary(path) as fb:
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

    _unknown_options("load_csv", options)
    p = Path(path)
    head = _head(p)
    if not head.strip():
        raise InputError(f"{p.name}: the file is empty; a CSV needs a header line and data rows")
    if _looks_binary(head):
        raise InputError(f"{p.name}: this is not a text CSV file (it holds binary bytes); pick the CSV file, "
                         "or give the right format (kdd99, mnist, mat, npz, parquet)")
    text = head.decode("utf-8", errors="ignore")
    sep = sep or _sniff_sep(text)
    try:
        df = pd.read_csv(p, sep=sep, compression="gzip" if _is_gzip(p) else None, skipinitialspace=True,
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
        df = pd.read_csv(p, sep=sep, header=None, compression="gzip" if _is_gzip(p) else None,
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
                            positive=positive, max_categories=max_categories, min_rows=min_rows)


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

    _unknown_options("load_parquet", options)
    p = Path(path)
    try:
        df = pd.read_parquet(p)
    except Exception as exc:  # pyarrow raises several types on damaged files
        raise InputError(f"{p.name}: not a readable Parquet file ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    return frame_to_dataset(df, name=p.name.split(".")[0], source=str(p), label_column=label_column,
                            feature_columns=feature_columns, meta_columns=meta_columns, categorical=categorical,
                            positive=positive, max_categories=max_categories, min_rows=min_rows)


def _as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    if isinstance(v, str):
        return [c.strip() for c in v.split(",")] if "," in v else [v]
    return list(v)


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
                     positive: Any = None, max_categories: int = 50, min_rows: int = MIN_ROWS) -> Dataset:
    """Turn a table into a Dataset.

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
    df = df.copy()
    df.columns = [str(c).strip() for c in df.columns]
    cols = list(df.columns)
    meta_cols = _as_list(meta_columns)
    feat_cols = _as_list(feature_columns)
    for role, wanted in (("label_column", _as_list(label_column)), ("meta_columns", meta_cols),
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
            pos = _as_list(positive) if not isinstance(positive, (int, float, bool)) else [positive]
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


# ----------------------------------------------------------------------------- named layouts

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def load_pharma(path: str | os.PathLike, *, categories: Iterable[str] | None = None, **options: Any) -> Dataset:
    """The Kaggle pharmacy daily-sales file (``salesdaily.csv``) as weekly rows.

    Semicolon-separated, ``datum`` in m/d/Y, one column per drug category (ATC codes). Returns
    one row per (category, whole Monday-to-Sunday week) with features ``mon..sun``; partial weeks
    at the ends are dropped (300 weeks x 8 categories = 2,400 rows for the shared file). ``meta``
    holds ``category``, ``week_start`` and ``week``. No labels: the WALDO weekend rule does not fit
    this pharmacy (12-46% of its weeks follow it), so the rows are real, unlabelled data.
    """
    import pandas as pd

    _unknown_options("load_pharma", options)
    p = Path(path)
    try:
        df = pd.read_csv(p, sep=";")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{p.name}: cannot read the pharmacy file ({exc})") from None
    if "datum" not in df.columns:
        raise InputError(f"{p.name}: the pharmacy file needs a 'datum' column (m/d/Y dates) and one column per "
                         f"category, separated by ';'; found columns {list(df.columns)[:10]}")
    try:
        dates = pd.to_datetime(df["datum"], format="%m/%d/%Y")
    except (ValueError, TypeError) as exc:
        raise InputError(f"{p.name}: the datum column must hold m/d/Y dates ({exc})") from None
    skip = {"datum", "Year", "Month", "Hour", "Weekday Name"}
    cats = [c for c in df.columns if c not in skip]
    if categories is not None:
        wanted = _as_list(categories)
        missing = [c for c in wanted if c not in cats]
        if missing:
            raise InputError(f"{p.name}: categories {missing} not found; the categories are {cats}")
        cats = wanted
    values = df[cats].apply(pd.to_numeric, errors="coerce")
    check_finite(values.to_numpy(np.float64), cats, p.name)
    dates = dates.dt.normalize()
    if dates.duplicated().any():
        raise InputError(f"{p.name}: some dates occur twice; give one row per day")
    dow = dates.dt.day_of_week.to_numpy()
    week_start = (dates - pd.to_timedelta(dow, unit="D")).to_numpy()
    frame = pd.DataFrame(values.to_numpy(np.float64), columns=cats)
    frame["week_start"] = week_start
    frame["dow"] = dow
    full = frame.groupby("week_start")["dow"].transform("nunique") == 7
    frame = frame[full.to_numpy()]
    check_rows(len(frame), f"{p.name} (whole weeks)")
    weeks = np.sort(frame["week_start"].unique())
    long = frame.melt(id_vars=["week_start", "dow"], value_vars=cats, var_name="category", value_name="v")
    wide = long.pivot_table(index=["category", "week_start"], columns="dow", values="v", aggfunc="first")
    wide = wide.reindex(pd.MultiIndex.from_product([cats, weeks], names=["category", "week_start"]))
    X = wide.to_numpy(np.float64)
    meta = pd.DataFrame({"category": wide.index.get_level_values(0).astype(str),
                         "week_start": wide.index.get_level_values(1),
                         "week": np.tile(np.arange(len(weeks)), len(cats))})
    return Dataset(
        name="pharma-weekly", X=X, y=None, feature_names=list(WEEKDAYS), source=str(p), meta=meta,
        notes=f"Real pharmacy sales: {len(weeks)} whole weeks x {len(cats)} drug categories = {len(X):,} weekly rows "
              "(7 daily values, Mon..Sun). Unlabelled: the WALDO weekend rule does not fit this shop; use the "
              "'all' protocol and read the flagged rows.")


_ABALONE_COLUMNS = ("Sex", "Length", "Diam", "Ht", "WWt", "SWt", "VWt", "Shell", "Rings")
_SEX_CODES = {"M": 0, "F": 1, "I": 2}


def load_abalone(path: str | os.PathLike, *, anomaly_rings: Sequence[int] = (3, 21),
                 normal_rings: Sequence[int] = (8, 9, 10), **options: Any) -> Dataset:
    """UCI abalone with the DROCC protocol: rings 3 and 21 anomalous, 8/9/10 normal, others dropped.

    Sex is encoded M=0, F=1, I=2 (one column, as the DROCC reference does); the 7 measurements
    follow. ``classes`` holds the number of rings. Works with or without the header line.
    """
    import pandas as pd

    _unknown_options("load_abalone", options)
    p = Path(path)
    first = _head(p, 256).decode("utf-8", errors="ignore").splitlines()[0:1]
    has_header = bool(first) and first[0].split(",")[0].strip() not in _SEX_CODES
    df = pd.read_csv(p, header=0 if has_header else None, skipinitialspace=True)
    if df.shape[1] != 9:
        raise InputError(f"{p.name}: abalone rows have 9 fields (Sex, 7 measurements, Rings); found {df.shape[1]}")
    df.columns = list(_ABALONE_COLUMNS)
    sex = df["Sex"].astype(str).str.strip().map(_SEX_CODES)
    if sex.isna().any():
        raise InputError(f"{p.name}: Sex must be M, F or I; found {sorted(df['Sex'][sex.isna()].unique())[:5]}")
    rings = pd.to_numeric(df["Rings"], errors="coerce").to_numpy()
    keep = np.isin(rings, list(anomaly_rings)) | np.isin(rings, list(normal_rings))
    X = np.column_stack([sex.to_numpy(np.float64), df[list(_ABALONE_COLUMNS[1:8])].to_numpy(np.float64)])[keep]
    check_finite(X, list(_ABALONE_COLUMNS[:8]), p.name)
    y = np.isin(rings[keep], list(anomaly_rings)).astype(np.int64)
    check_rows(len(y), p.name)
    return Dataset(
        name="abalone", X=X, y=y, feature_names=["sex", *[c.lower() for c in _ABALONE_COLUMNS[1:8]]],
        source=str(p), classes=rings[keep].astype(np.int64),
        notes=f"UCI abalone, DROCC protocol: rings {tuple(anomaly_rings)} anomalous ({int(y.sum())}), rings "
              f"{tuple(normal_rings)} normal ({int((y == 0).sum())}), {int((~keep).sum())} other rows dropped; "
              "sex encoded M=0, F=1, I=2. Use the drocc protocol for DROCC's Table 2.")


_LOADERS = {
    "kdd99": load_kdd99, "mnist": load_mnist, "mat": load_mat, "npz": load_npz, "csv": load_csv,
    "parquet": load_parquet, "pharma": load_pharma, "abalone": load_abalone,
}
