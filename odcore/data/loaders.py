"""Loading a data file: detect its format and dispatch to a reader.

Generic formats (CSV, Parquet, ADBench ``.npz``, ODDS ``.mat``, IDX) are read by
:mod:`odcore.data.formats`; named benchmark sources (KDD Cup 99 raw, MNIST IDX images, the Kaggle
pharmacy daily-sales file, UCI abalone) by :mod:`odcore.data.sources`. Every format is declared once, in
:data:`FORMATS` (its reader, label and options); to add a source, write its loader there, add a
:class:`Format` line and, when its files can be recognised, extend :func:`odcore.data.sources.sniff`.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from odcore.data import formats, sources
from odcore.data.files import DataFile, opened
from odcore.data.options import DECLARED, format_param
from odcore.data.record import Dataset
from odcore.errors import InputError
from odcore.params import Declaration

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old Excel .xls (and other Office files)
PICKLE_MAGICS = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")

log = logging.getLogger(__name__)


def detect_format(path: str | os.PathLike | DataFile) -> str:
    """Guess the format from the content (magic bytes, header) and the file name."""
    with opened(path) as p:
        return _detect(p)


def _detect(p: DataFile) -> str:
    name = p.name.lower()
    raw = p.head(512)
    if name.endswith((".xlsx", ".xls", ".xlsm", ".ods")) or raw.startswith(OLE2_MAGIC):
        raise InputError(f"{p.name}: spreadsheets are not read directly; save the sheet as CSV (one header "
                         "line, one row per sample) and load that")
    if raw.startswith(PICKLE_MAGICS) or name.endswith((".pkl", ".pickle", ".joblib")):
        raise InputError(f"{p.name}: this is a Python pickle, which is never loaded (unpickling can run any code); "
                         "save the data as CSV, Parquet or .npz instead")
    if raw.startswith(formats.NPY_MAGIC) or name.endswith(".npy") and not raw.startswith(formats.ZIP_MAGIC):
        return "npy"
    if raw.startswith(formats.PARQUET_MAGIC) or name.endswith((".parquet", ".pq")):
        return "parquet"
    if raw.startswith(formats.ZIP_MAGIC) or name.endswith(".npz"):
        return "npz"
    if raw.startswith(b"MATLAB") or raw.startswith(formats.HDF5_MAGIC) or name.endswith(".mat"):
        return "mat"
    head = formats.read_head(p)
    if formats.is_idx(head) or "idx" in name and "ubyte" in name:
        return "mnist"
    if not head.strip():
        return "csv"  # empty: the CSV loader reports it
    if formats.legacy_text(head):
        return "csv"  # Latin-1 / Windows-1252 text: the CSV reader says how to fix the encoding
    if formats.looks_binary(head):
        raise InputError(f"{p.name}: this looks like a binary file of an unknown format; supported: "
                         f"{generic_labels()}")
    text = formats.decode_head(head, formats.text_encoding(head) or "utf-8").lstrip("\ufeff")
    first = text.splitlines()[0] if text.splitlines() else ""
    return sources.sniff(name, first) or "csv"


def load_file(path: str | os.PathLike | DataFile, *, format: str | None = None, **options: Any) -> Dataset:
    """Load a file in one of :data:`FORMATS` (detected when ``format`` is None).

    The file is opened once (:func:`odcore.data.files.open_file`, through the policy in force: the app's
    data roots) and every step reads that one descriptor, never the name again; a folder, a pipe or a
    device is refused without blocking. The file is read within the limits in force
    (:mod:`odcore.data.limits`); numeric warnings are handled here (values beyond 32-bit floats get a
    message, not an overflow warning); a table whose every feature column is constant is refused
    (there is nothing to learn); any other failure of a reader on a damaged file becomes one
    :class:`InputError` naming the format.
    """
    if not isinstance(path, DataFile):
        with opened(Path(path).expanduser()) as f:
            return load_file(f, format=format, **options)
    p = path
    if p.size == 0:
        raise InputError(f"{p.name}: the file is empty; pick a file with a header and data rows")
    fmt = format or _detect(p)
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt not in ("csv", "parquet") and options.get("roles") == "auto":
        options.pop("roles")  # roles="auto": understand the columns when the file is a table (odcore.data.table)
    options = reader_options(fmt).parse(options, p.name)  # the declared options: text parsed, values checked
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            ds = FORMATS[fmt].reader(p, **options)
    except InputError:
        raise
    except MemoryError:
        raise InputError(f"{p.name}: reading it needs more memory than the server has; use a smaller file") from None
    except RecursionError:
        raise InputError(f"{p.name}: the file is nested too deeply to read as {fmt}") from None
    except Exception as exc:  # noqa: BLE001 - a damaged file is bad input: one message, the traceback in the log
        log.info("reading %s as %s failed", p, fmt, exc_info=True)
        raise InputError(f"{p.name}: cannot be read as {fmt} ({type(exc).__name__}: {formats._short(exc, 80)}); "
                         "check that the file is complete and in that format") from None
    _check_values(ds, p.name)
    return ds


def _check_values(ds: Dataset, name: str) -> None:
    """Refuse values that overflowed 32-bit floats, columns whose every value is below their precision
    (subnormal: they would all train as one number) and tables where every column is constant."""
    X = ds.X
    finite = np.isfinite(X)
    if not finite.all():
        cols = [str(ds.feature_names[j]) for j in np.flatnonzero(~finite.all(axis=0))]
        shown = ", ".join(c[:40] for c in cols[:6]) + (" ..." if len(cols) > 6 else "")
        raise InputError(f"{name}: values in column(s) {shown} are too large for 32-bit floats (beyond ±3.4e38); "
                         "rescale them (for example divide by a power of ten) before loading")
    tiny = np.finfo(np.float32).tiny  # 1.2e-38: below it 32-bit floats lose their precision (subnormal)
    peak = np.abs(X).max(axis=0) if X.size else np.zeros(X.shape[1])
    small = np.flatnonzero((peak > 0) & (peak < tiny))
    if small.size:
        cols = ", ".join(str(ds.feature_names[j])[:40] for j in small[:6]) + (" ..." if small.size > 6 else "")
        raise InputError(f"{name}: every value of column(s) {cols} is smaller than 1.2e-38, below the precision of "
                         "32-bit floats (the model would see them all as the same number); rescale them (for "
                         "example multiply by 1e40) before loading")
    if X.shape[0] > 1 and X.shape[1] and bool((X.min(axis=0) == X.max(axis=0)).all()):
        raise InputError(f"{name}: every feature column is constant (each holds a single value), so there is "
                         "nothing to learn; check that you picked the right file and columns")


@dataclass(frozen=True)
class Format:
    """One file format, declared once (the loader, ``odcore describe --options`` and the Data page read it):
    ``label`` what people call it, ``reader`` the function that reads it, ``options`` the reader's keywords
    (declared in :data:`odcore.data.options.DECLARED`) and ``defaults`` where its defaults differ, ``table``
    when its frame goes through the table preparation (whose options it then takes), ``generic`` for a layout
    anyone may have (named in upload prompts) rather than one known file of a paper (a named source)."""

    label: str
    reader: Callable[..., Dataset]
    options: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    table: bool = False
    generic: bool = True


_TABLE_READER = ("label_column", "feature_columns", "meta_columns", "categorical", "positive", "max_categories",
                 "min_rows")
#: every format, in the order the Data page lists them
FORMATS: dict[str, Format] = {
    "csv": Format("CSV", formats.load_csv, (*_TABLE_READER, "decimal", "sep"), table=True),
    "parquet": Format("Parquet", formats.load_parquet, _TABLE_READER, table=True),
    "npz": Format("ADBench .npz", formats.load_npz),
    "npy": Format("NumPy .npy", formats.load_npy),
    "mat": Format("ODDS .mat", formats.load_mat),
    "kdd99": Format("KDD Cup 99 raw", sources.load_kdd99, ("positive", "categories", "max_rows"),
                    {"positive": "normal."}),
    "mnist": Format("MNIST IDX", sources.load_mnist, ("labels", "inlier_classes", "max_rows")),
    "pharma": Format("pharmacy daily sales (Kaggle salesdaily.csv)", sources.load_pharma, ("categories",),
                     generic=False),
    "abalone": Format("UCI abalone (DROCC's protocol)", sources.load_abalone, ("anomaly_rings", "normal_rings"),
                      generic=False),
}


def generic_labels() -> str:
    """The generic formats by name, for prompts: ``CSV, Parquet, ADBench .npz, ...``."""
    return ", ".join(f.label for f in FORMATS.values() if f.generic)


def reader_options(fmt: str, *, table: bool = True) -> Declaration:
    """The declared options of format ``fmt``'s reader: its own, then ``format``, then (CSV and Parquet, when
    ``table``) the table preparation's."""
    from odcore.data.table import OPTIONS

    f = FORMATS[fmt]
    own = Declaration({n: replace(DECLARED[n], default=f.defaults[n]) if n in f.defaults else DECLARED[n]
                       for n in f.options}, "option")
    decl = own + Declaration.of(format_param(tuple(FORMATS)))
    return decl + OPTIONS if table and f.table else decl


def every_file_option() -> Declaration:
    """Every option any file may be given (every reader's, ``format``, the table preparation's)."""
    from odcore.data.table import OPTIONS

    return DECLARED + Declaration.of(format_param(tuple(FORMATS))) + OPTIONS
