"""Loading a data file: detect its format and dispatch to a reader.

Generic formats (CSV, Parquet, ADBench ``.npz``, ODDS ``.mat``, IDX) are read by
:mod:`odcore.data.formats`; named benchmark sources (KDD Cup 99 raw, MNIST IDX images, the Kaggle
pharmacy daily-sales file, UCI abalone) by :mod:`odcore.data.sources`. To add a source, write its
loader there, add it to :data:`_LOADERS` and, when its files can be recognised, to
:func:`odcore.data.sources.sniff`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from odcore.data import formats, sources
from odcore.data.record import Dataset
from odcore.errors import InputError

FORMATS = ("kdd99", "mnist", "mat", "npz", "csv", "parquet", "pharma", "abalone")


def detect_format(path: str | os.PathLike) -> str:
    """Guess the format from the content (magic bytes, header) and the file name."""
    p = Path(path)
    name = p.name.lower()
    with open(p, "rb") as f:
        raw = f.read(512)
    if name.endswith((".xlsx", ".xls", ".xlsm", ".ods")):
        raise InputError(f"{p.name}: spreadsheets are not read directly; save the sheet as CSV (one header "
                         "line, one row per sample) and load that")
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
    if formats.looks_binary(head):
        raise InputError(f"{p.name}: this looks like a binary file of an unknown format; supported: "
                         "KDD Cup 99 raw (.gz or text), MNIST IDX, ODDS .mat, ADBench .npz, CSV, Parquet")
    text = head.decode("utf-8", errors="ignore")
    first = text.splitlines()[0] if text.splitlines() else ""
    return sources.sniff(name, first) or "csv"


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


_LOADERS: dict[str, Callable[..., Dataset]] = {
    "kdd99": sources.load_kdd99, "mnist": sources.load_mnist, "mat": formats.load_mat, "npz": formats.load_npz,
    "csv": formats.load_csv, "parquet": formats.load_parquet, "pharma": sources.load_pharma,
    "abalone": sources.load_abalone,
}
