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
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from odcore.data import files, limits
from odcore.data.files import DataFile, name_of, opened
from odcore.data.limits import Limits
from odcore.data.record import Dataset
from odcore.data.validate import MIN_ROWS, check_finite, check_labels, check_rows
from odcore.errors import InputError, quoted

GZIP_MAGIC = b"\x1f\x8b"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
PARQUET_MAGIC = b"PAR1"
#: the day columns of a weekly-rows table (the analyst layout), in weekday order
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# ----------------------------------------------------------------------------- helpers
NPY_MAGIC = b"\x93NUMPY"
#: text encodings recognised by their byte-order mark (longest first)
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


#: a data file: a path (opened through :func:`odcore.data.files.open_file`) or a file opened once
Source = str | os.PathLike | DataFile


def open_binary(src: Source, lim: Limits | None = None) -> BinaryIO:
    """The file's content for binary reading: through gzip when it starts with the gzip magic, and
    bounded by the limits in force (:func:`odcore.data.limits.active`): at most ``max_bytes``
    decompressed bytes, then :class:`~odcore.data.limits.LimitError`. An opened :class:`DataFile` is
    read through its descriptor (a new stream from its start); a path is opened once, and closing the
    stream closes it."""
    lim = lim or limits.active()
    owned = not isinstance(src, DataFile)
    f = files.open_file(src) if owned else src
    raw = f.stream(owned=owned)
    if f.head(2) == GZIP_MAGIC:
        gz = gzip.GzipFile(fileobj=raw, mode="rb")  # closing it leaves raw open: LimitedReader closes both
        return io.BufferedReader(limits.LimitedReader(gz, lim, f.name, closing=raw), buffer_size=1 << 16)
    return io.BufferedReader(limits.LimitedReader(raw, lim, f.name), buffer_size=1 << 16)


def read_head(src: Source, n: int = 8192) -> bytes:
    """The first ``n`` bytes of the file's content (decompressed when it is gzip)."""
    try:
        with open_binary(src) as f:
            return f.read(n)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{name_of(src)}: cannot read the file ({_short(exc)}); it may be truncated or not really "
                         "gzip") from None


def is_idx(head: bytes) -> bool:
    """True when ``head`` starts with an IDX magic number (MNIST-style arrays)."""
    return len(head) >= 4 and head[:2] == b"\x00\x00" and head[2] in (0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E) \
        and 1 <= head[3] <= 4


def text_encoding(head: bytes) -> str | None:
    """The encoding of a text file from its first bytes: a byte-order mark (UTF-8, UTF-32, UTF-16), UTF-32
    or UTF-16 without one (three of four, or every other byte NUL), else UTF-8; None when the bytes are not
    text."""
    for bom, enc in _BOMS:
        if head.startswith(bom):
            return enc
    quad = head[: len(head) - len(head) % 4]
    if len(quad) >= 16:  # UTF-32 without a mark: three of every four bytes NUL
        lanes = [quad[i::4] for i in range(4)]
        zero = [lane.count(0) > 0.9 * len(lane) for lane in lanes]
        if zero == [False, True, True, True]:
            return "utf-32-le"
        if zero == [True, True, True, False]:
            return "utf-32-be"
    sample = head[: len(head) - len(head) % 2]
    if len(sample) >= 8:
        even, odd = sample[0::2], sample[1::2]
        if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
            return "utf-16-le"
        if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
            return "utf-16-be"
    if b"\x00" in head:
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is fine
        return "utf-8" if exc.start >= len(head) - 4 else None
    return "utf-8"


def decode_head(head: bytes, encoding: str) -> str:
    """``head`` decoded (a character cut at the end is dropped)."""
    return head.decode(encoding, errors="ignore")


def legacy_text(head: bytes) -> bool:
    """True when ``head`` is text in a legacy 8-bit encoding (Latin-1, Windows-1252): mostly printable
    ASCII, no NUL, and bytes above 127 that are not UTF-8."""
    if not head or b"\x00" in head or text_encoding(head) is not None:
        return False
    printable = sum(1 for b in head if 32 <= b < 127 or b in (9, 10, 13))
    return printable >= 0.9 * len(head)


def looks_binary(head: bytes) -> bool:
    """True when ``head`` is not text in one of the encodings :func:`text_encoding` recognises."""
    enc = text_encoding(head)
    return enc is None or "\x00" in decode_head(head, enc)


def is_gzip(src: Source) -> bool:
    """True when the file starts with the gzip magic."""
    with opened(src) as f:
        return f.head(2) == GZIP_MAGIC


def open_text(src: Source, *, sep: str | None = None, lim: Limits | None = None, encoding: str | None = None) -> Any:
    """The file's content as text: encoding from its first bytes (BOM, UTF-16, UTF-32), decompressed,
    bounded by the limits in force, and, with ``sep``, refusing fields longer than ``max_field``."""
    lim = lim or limits.active()
    if encoding is None:
        encoding = text_encoding(read_head(src)) or "utf-8"
    text = io.TextIOWrapper(open_binary(src, lim), encoding=encoding, newline="")
    return limits.FieldChecker(text, lim, name_of(src), sep) if sep is not None else text


def _short(exc: BaseException, limit: int = 100) -> str:
    """An exception's first line, shortened and with unprintable characters replaced (for messages)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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


def read_idx(path: Source) -> np.ndarray:
    """Read an IDX file (gz or plain) into an array of its declared shape.

    The declared shape is checked against the limits in force before the data are read, and the
    data must fill it exactly (a truncated file is refused, not padded)."""
    lim = limits.active()
    with opened(path) as src:
        return _read_idx(src, lim)


def _read_idx(p: DataFile, lim: Limits) -> np.ndarray:
    try:
        with open_binary(p, lim) as f:
            magic = f.read(4)
            if len(magic) < 4 or magic[:2] != b"\x00\x00" or magic[2] not in _IDX_DTYPES or not 1 <= magic[3] <= 4:
                raise InputError(f"{p.name}: not an IDX file (bad magic number); MNIST files are named like "
                                 "t10k-images-idx3-ubyte.gz")
            ndim = magic[3]
            dims = f.read(4 * ndim)
            if len(dims) < 4 * ndim:
                raise InputError(f"{p.name}: the IDX header is truncated; the file is damaged, download it again")
            shape = tuple(int(v) for v in np.frombuffer(dims, dtype=">u4"))
            dtype = np.dtype(_IDX_DTYPES[magic[2]])
            lim.check_shape(p.name, shape[0], product(shape[1:]) if ndim > 1 else 1)
            need = product(shape) * dtype.itemsize
            lim.check_bytes(p.name, need)
            data = f.read(need + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{p.name}: cannot read the IDX file ({_short(exc)}); it is truncated or damaged, "
                         "download it again") from None
    if len(data) != need:
        raise InputError(f"{p.name}: the IDX header declares shape {shape} ({need:,} bytes) but the file holds "
                         f"{len(data):,}{'+' if len(data) > need else ''} bytes; the file is truncated or damaged, "
                         "download it again")
    return np.frombuffer(data, dtype=dtype).reshape(shape)


# ----------------------------------------------------------------------------- ODDS .mat / ADBench .npz


def _xy_dataset(X: Any, y: Any, p: DataFile, kind: str) -> Dataset:
    X = np.asarray(X)
    if X.dtype.hasobject or X.dtype.kind not in "biuf":
        raise InputError(f"{p.name}: X is not a numeric matrix (it holds {X.dtype.name} values); save X as numbers")
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
    return Dataset(name=Path(p.name).stem, X=X, y=yy, feature_names=names, source=p.path,
                   notes=f"{kind}: {X.shape[0]:,} rows x {X.shape[1]} features{share}; y=1 marks outliers.")


_MAT_NOT_NUMERIC = {"cell": "a cell array", "struct": "a struct", "char": "text", "object": "an object",
                    "sparse": "a sparse matrix", "function_handle": "a function handle", "logical": None}


def load_mat(path: Source, **options: Any) -> Dataset:
    """ODDS ``.mat`` file with matrices ``X`` (n, d) and ``y`` (n, 1), y = 1 outlier.

    MATLAB v5 files are read with scipy (the shapes are checked against the limits from the file's
    variable headers first); v7.3 files (HDF5) with h5py.
    """
    refuse_unknown_options("load_mat", options)
    with opened(path) as p:
        return _load_mat(p, limits.active())


def _load_mat(p: DataFile, lim: Limits) -> Dataset:
    head = p.head(128)
    if head.startswith(HDF5_MAGIC) or b"MATLAB 7.3" in head:
        return _load_mat73(p)
    lim.check_bytes(p.name, p.size)
    import scipy.io

    try:
        variables = {name: (shape, cls) for name, shape, cls in scipy.io.whosmat(p.stream())}
    except NotImplementedError:
        return _load_mat73(p)
    except Exception as exc:  # noqa: BLE001 - scipy raises several types on garbage
        raise InputError(f"{p.name}: not a readable MATLAB .mat file ({type(exc).__name__}: {_short(exc)}); "
                         "ODDS files are MATLAB v5 with matrices X and y") from None
    if "X" not in variables or "y" not in variables:
        keys = sorted(variables)
        raise InputError(f"{p.name}: a .mat dataset must hold matrices named X (rows x features) and y (0/1 "
                         f"labels), as ODDS files do; this one holds {keys or 'no matrices'}. Rename them "
                         "in MATLAB/scipy, or export the table as CSV")
    for key in ("X", "y"):
        shape, cls = variables[key]
        if _MAT_NOT_NUMERIC.get(cls):
            raise InputError(f"{p.name}: {key} is {_MAT_NOT_NUMERIC[cls]} in the .mat file, not a numeric matrix; "
                             f"save {key} as a numeric (double) matrix")
        rows = int(shape[0]) if shape else 0
        lim.check_shape(p.name, rows, product(shape[1:]) if len(shape) > 1 else 1)
    try:
        m = scipy.io.loadmat(p.stream(), variable_names=["X", "y"])
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{p.name}: not a readable MATLAB .mat file ({type(exc).__name__}: {_short(exc)}); "
                         "ODDS files are MATLAB v5 with matrices X and y") from None
    return _xy_dataset(m["X"], m["y"], p, "ODDS .mat")


#: HDF5 filters built into the library (and h5py's own lzf): any other one would make HDF5 load a plugin
HDF5_BUILTIN_FILTERS = {1: "deflate", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit", 6: "scaleoffset",
                        32000: "lzf"}
#: the most links an HDF5 file may hold (each is checked before anything is read)
HDF5_MAX_LINKS = 20_000


def hdf5_self_contained(f: Any, name: str) -> None:
    """Refuse an open HDF5 file (``h5py.File``) that refers outside itself, before any data is read.

    Every link of the file is listed without being followed (``H5Lvisit``): external links and
    user-defined links are refused (soft links stay inside the file once no link leaves it); then
    every dataset's creation properties: external storage (``H5Pset_external``, raw data kept in
    another file), virtual datasets whose sources are other files, and filters that are not built in
    (reading them would load a plugin from the HDF5 plugin path). One line each, naming the object.
    """
    from h5py import h5d, h5l, h5o

    links: list[tuple[str, int]] = []

    def visit(path: bytes, info: Any) -> int | None:
        links.append((path.decode("utf-8", "replace"), info.type))
        return 1 if len(links) > HDF5_MAX_LINKS else None

    f.id.links.visit(visit, info=True)
    if len(links) > HDF5_MAX_LINKS:
        raise InputError(f"{name}: the HDF5 file holds more than {HDF5_MAX_LINKS:,} objects; save X and y alone in a "
                         "MATLAB file (save(f, 'X', 'y', '-v7.3'))")
    outside = "; only self-contained files are read: save X and y as plain numeric matrices in the file itself"
    for path, kind in links:
        if kind == h5l.TYPE_EXTERNAL:
            raise InputError(f"{name}: {quoted(path)} is an external link to another file{outside}")
        if kind not in (h5l.TYPE_HARD, h5l.TYPE_SOFT):
            raise InputError(f"{name}: {quoted(path)} is a user-defined HDF5 link{outside}")
    for path, kind in links:
        if kind != h5l.TYPE_HARD or h5o.get_info(f.id, path.encode()).type != h5o.TYPE_DATASET:
            continue
        dcpl = h5d.open(f.id, path.encode()).get_create_plist()
        if dcpl.get_external_count():
            raise InputError(f"{name}: dataset {quoted(path)} keeps its values in another file (HDF5 external "
                             f"storage){outside}")
        if dcpl.get_layout() == h5d.VIRTUAL:
            sources = {dcpl.get_virtual_filename(i) for i in range(dcpl.get_virtual_count())}
            if sources - {"."}:
                raise InputError(f"{name}: dataset {quoted(path)} is a virtual dataset over other files "
                                 f"({quoted(sorted(sources - {'.'})[0])}){outside}")
        for i in range(dcpl.get_nfilters()):
            code = dcpl.get_filter(i)[0]
            if code not in HDF5_BUILTIN_FILTERS:
                raise InputError(f"{name}: dataset {quoted(path)} uses HDF5 filter {code}, which is not built in "
                                 "(reading it would load a plugin); save it uncompressed or with gzip")


def _load_mat73(p: DataFile) -> Dataset:
    lim = limits.active()
    try:
        import h5py
    except ImportError:
        raise InputError(f"{p.name} is a MATLAB v7.3 (HDF5) file, which needs the h5py package: "
                         "pip install h5py, or re-save it in MATLAB with save(..., '-v7')") from None
    try:
        with h5py.File(p.stream(), "r") as f:
            hdf5_self_contained(f, p.name)
            keys = sorted(f.keys())
            if "X" not in f or "y" not in f:
                raise InputError(f"{p.name}: a .mat dataset must hold matrices named X and y (as ODDS files "
                                 f"do); this one holds {keys or 'nothing'}")
            arrays = []
            for key in ("X", "y"):
                d = f[key]
                if not isinstance(d, h5py.Dataset) or d.dtype.kind not in "biuf":
                    raise InputError(f"{p.name}: {key} is not a numeric matrix in this MATLAB v7.3 file; save it "
                                     "as a numeric (double) matrix")
                shape = tuple(reversed(d.shape))  # MATLAB stores column-major: h5py sees (d, n)
                lim.check_shape(p.name, shape[0] if shape else 0, product(shape[1:]) if len(shape) > 1 else 1)
                arrays.append(_read_hdf5(d, lim, p.name).T)
    except OSError as exc:
        raise InputError(f"{p.name}: not a readable HDF5 / MATLAB v7.3 file ({_short(exc)})") from None
    return _xy_dataset(arrays[0], arrays[1], p, "MATLAB v7.3 .mat")


def _read_hdf5(d: Any, lim: Limits, name: str) -> np.ndarray:
    """An HDF5 dataset's values, read in blocks along its last axis (MATLAB's rows) within the memory
    budget and the deadline."""
    need = product(d.shape) * d.dtype.itemsize
    lim.check_memory(name, need)
    if d.ndim < 1 or d.shape[-1] == 0:
        return np.asarray(d[()])
    out = np.empty(d.shape, dtype=d.dtype)
    per = max(1, (8 << 20) // max(1, need // d.shape[-1]))
    for a in range(0, d.shape[-1], per):
        lim.check_time(name)
        out[..., a:a + per] = d[..., a:a + per]
    return out


def _npy_header(f: BinaryIO, where: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a ``.npy`` header (nothing else is read; object arrays are refused)."""
    from numpy.lib import format as npformat

    try:
        version = npformat.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = npformat.read_array_header_1_0(f)
        else:
            shape, _, dtype = npformat.read_array_header_2_0(f)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{where}: not a readable NumPy array ({_short(exc)})") from None
    if dtype.hasobject:
        raise InputError(f"{where}: the array holds Python objects, which would need unpickling; that is "
                         "refused for safety. Save X and y as plain numeric arrays")
    return tuple(int(s) for s in shape), dtype


def product(values: Sequence[int]) -> int:
    """The product of declared sizes in Python integers (NumPy's would overflow or wrap to 0)."""
    out = 1
    for v in values:
        out *= int(v)
    return out


def _check_array(lim: Limits, where: str, shape: tuple[int, ...], dtype: np.dtype, stored: int | None) -> None:
    if any(int(s) < 0 for s in shape):
        raise InputError(f"{where}: the header declares a negative size {shape}; the file is damaged")
    rows = int(shape[0]) if shape else 1
    cols = product(shape[1:]) if len(shape) > 1 else 1
    lim.check_shape(where, rows, cols)
    need = product(shape) * dtype.itemsize
    lim.check_bytes(where, need)
    lim.check_memory(where, 2 * need)  # the array, then its float copy
    if stored is not None and need > stored:
        raise InputError(f"{where}: the header declares shape {shape} ({need:,} bytes) but only {stored:,} bytes "
                         "are stored; the file is truncated or damaged")


def _zip_kind(names: list[str]) -> str | None:
    if "[Content_Types].xml" in names or any(n.startswith("xl/") for n in names):
        return "an Excel workbook"
    if "mimetype" in names or "content.xml" in names:
        return "an OpenDocument spreadsheet"
    return None


def load_npz(path: Source, **options: Any) -> Dataset:
    """ADBench ``.npz`` file with arrays ``X`` and ``y`` (read with ``allow_pickle=False``).

    The arrays' declared shapes and sizes are checked against the limits before they are read, so a
    zip bomb is refused without being inflated (:func:`read_npz_arrays`)."""
    refuse_unknown_options("load_npz", options)
    with opened(path) as p:
        if p.head(6) == NPY_MAGIC:
            return load_npy(p)
        X, y = read_npz_arrays(p)
        return _xy_dataset(X, y, p, "ADBench .npz")


def read_npz_arrays(path: Source, lim: Limits | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """``(X, y or None)`` of an ``.npz`` archive, checked from the archive's and the arrays' headers
    against the limits before anything is inflated; object arrays (pickles) are refused. Zip members
    are read as the archive's own bytes (a member marked as a symbolic link is never followed)."""
    lim = lim or limits.active()
    with opened(path) as p:
        return _read_npz(p, lim)


def _read_npz(p: DataFile, lim: Limits) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        with zipfile.ZipFile(p.stream()) as zf:
            infos = {i.filename.removesuffix(".npy"): i for i in zf.infolist()}
            kind = _zip_kind([i.filename for i in zf.infolist()])
            if kind:
                raise InputError(f"{p.name} is {kind}; spreadsheets are not read directly: save the sheet as CSV "
                                 "(one header line, one row per sample) and load that")
            if not any(i.filename.endswith(".npy") for i in zf.infolist()):
                shown = sorted(i.filename for i in zf.infolist())[:5]
                raise InputError(f"{p.name} is a zip archive of {shown or 'nothing'}, not an .npz of NumPy arrays; "
                                 "unzip it and load the data file inside")
            if "X" not in infos:
                shown = sorted(infos)[:10]
                raise InputError(f"{p.name}: an .npz dataset must hold an array X (and usually y), as ADBench "
                                 f"files do; this one holds {shown or 'nothing'}")
            lim.check_bytes(p.name, sum(infos[k].file_size for k in ("X", "y") if k in infos))
            for key in ("X", "y"):
                if key in infos:
                    with zf.open(infos[key]) as fh:
                        shape, dtype = _npy_header(fh, f"{p.name} ({key})")
                    _check_array(lim, f"{p.name} ({key})", shape, dtype, infos[key].file_size)
        archive = p.stream()
        with np.load(archive, allow_pickle=False) as z:
            X = z["X"]
            y = z["y"] if "y" in z.files else None
    except InputError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise InputError(f"{p.name}: the arrays hold Python objects, which would need unpickling; that is "
                             "refused for safety. Save X and y as plain numeric arrays") from None
        raise InputError(f"{p.name}: not a readable .npz file ({_short(exc)})") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError) as exc:
        raise InputError(f"{p.name}: not a readable .npz file ({_short(exc)}); ADBench files are numpy .npz "
                         "archives with arrays X and y") from None
    if X.dtype.kind not in "biuf":
        raise InputError(f"{p.name}: X is not a numeric matrix (it holds {X.dtype.name} values); save X as numbers")
    return X, y


def load_npy(path: Source, **options: Any) -> Dataset:
    """A NumPy ``.npy`` file holding one 2-D numeric array: the features, without labels."""
    refuse_unknown_options("load_npy", options)
    lim = limits.active()
    with opened(path) as p:
        with p.stream() as f:
            shape, dtype = _npy_header(f, p.name)
        _check_array(lim, p.name, shape, dtype, p.size)
        try:
            stream = p.stream()
            X = np.load(stream, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(f"{p.name}: not a readable .npy file ({_short(exc)})") from None
        if not isinstance(X, np.ndarray):
            raise InputError(f"{p.name}: not a single NumPy array; save X with np.save, or X and y with np.savez")
        return _xy_dataset(X, None, p, "NumPy .npy (no labels; save X and y with np.savez for labels)")


# ----------------------------------------------------------------------------- CSV / Parquet

_DELIMS = (",", ";", "\t", "|")
#: a number written with a decimal comma (1,5 or -0,25e3)
_DECIMAL_COMMA = re.compile(r"\s*-?\d+,\d+([eE][-+]?\d+)?\s*")
_PLAIN_NUMBER = re.compile(r"\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")
#: pandas reads a text file in chunks of this many rows, so the row and cell limits act as it reads
CSV_CHUNK_ROWS = 50_000
#: the longest first (header) line read to find the columns
MAX_HEADER_CHARS = 4 << 20


def _consistent(lines: list[str], d: str) -> bool:
    counts = [ln.count(d) for ln in lines]
    return counts[0] > 0 and all(c == counts[0] for c in counts)


def _sniff_sep(text: str) -> tuple[str, str]:
    """``(delimiter, decimal mark)`` of a CSV from its first lines.

    A file like ``1,5;2,5`` (';' between fields, ',' inside numbers) is read with ``sep=';'`` and
    ``decimal=','``; otherwise the delimiter that splits every line into the same number of fields
    (most fields first) wins, with ``decimal='.'``."""
    lines = [ln for ln in text.splitlines()[:20] if ln.strip()]
    if len(lines) > 1:
        lines = lines[:-1]  # the last line of the sample may be cut
    if not lines:
        return ",", "."
    for d in (";", "\t", "|"):
        if _consistent(lines, d):
            fields = [f for ln in lines[1:] or lines for f in ln.split(d)]
            commas = [f for f in fields if "," in f]
            if commas and all(_DECIMAL_COMMA.fullmatch(f) for f in commas):
                return d, ","
    best, best_score = ",", 0
    for d in _DELIMS:
        counts = [ln.count(d) for ln in lines]
        if counts[0] == 0:
            continue
        score = counts[0] * sum(c == counts[0] for c in counts)
        if score > best_score:
            best, best_score = d, score
    return best, "."


def _is_number(v: Any, decimal: str = ".") -> bool:
    text = str(v)
    if decimal == "," and _DECIMAL_COMMA.fullmatch(text):
        return True
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class CsvLayout:
    """How a text table is written: encoding, delimiter, decimal mark and the header's column names
    (``header=None`` when the first line holds data, then the columns are ``x0, x1, ...``)."""

    encoding: str
    sep: str
    decimal: str
    names: tuple[str, ...]
    header: bool


def _shown_sep(sep: str) -> str:
    return {"\t": "\\t"}.get(sep, sep)


def csv_layout(p: DataFile, *, sep: str | None = None, decimal: str | None = None,
               lim: Limits | None = None) -> CsvLayout:
    """Detect a text table's layout from its first bytes and its first line (read within the limits).

    Refuses binary files, a first line with more columns than ``max_columns``, and duplicated column
    names (which pandas would silently rename ``a.1``), each with the fix."""
    lim = lim or limits.active()
    head = read_head(p, 1 << 16)
    if not head.strip():
        raise InputError(f"{p.name}: the file is empty; a CSV needs a header line and data rows")
    enc = text_encoding(head)
    if enc is None and legacy_text(head):
        raise InputError(f"{p.name}: the file is not UTF-8 text (it looks like Latin-1 / Windows-1252); save it as "
                         "UTF-8 (in a spreadsheet: CSV UTF-8) and load it again")
    if enc is None or "\x00" in decode_head(head, enc):
        raise InputError(f"{p.name}: this is not a text CSV file (it holds binary bytes); pick the CSV file, "
                         "or give the right format (kdd99, mnist, mat, npz, parquet)")
    text = decode_head(head, enc).lstrip("\ufeff")
    if sep is None:
        sep, sniffed_decimal = _sniff_sep(text)
        decimal = decimal or sniffed_decimal
    decimal = decimal or "."
    try:
        with open_text(p, lim=lim, encoding=enc) as fh:
            first = ""
            while not first.strip():
                first = fh.readline(MAX_HEADER_CHARS)
                if not first:
                    break
                if len(first) >= MAX_HEADER_CHARS and not first.endswith(("\n", "\r")):
                    lim.check_shape(p.name, columns=first.count(sep) + 1)
                    raise InputError(f"{p.name}: the first line is longer than {MAX_HEADER_CHARS:,} characters; "
                                     "is this a CSV file with one row per line?")
    except UnicodeDecodeError:
        raise InputError(f"{p.name}: the file is not {enc} text; save it as UTF-8 CSV") from None
    try:
        csv.field_size_limit(max(csv.field_size_limit(), MAX_HEADER_CHARS))
        names = next(csv.reader([first.lstrip("\ufeff").rstrip("\r\n")], delimiter=sep), [])
    except csv.Error as exc:
        raise InputError(f"{p.name}: cannot read the header line ({_short(exc)})") from None
    names = [n.strip() for n in names]
    lim.check_shape(p.name, columns=len(names))
    header = not (names and all(_is_number(n, decimal) for n in names))
    if header:
        seen: dict[str, list[int]] = {}
        for i, n in enumerate(names, start=1):
            if n:
                seen.setdefault(n, []).append(i)
        dup = {n: where for n, where in seen.items() if len(where) > 1}
        if dup:
            shown = "; ".join(f"{n[:40]!r} (columns {', '.join(map(str, w[:4]))})" for n, w in list(dup.items())[:3])
            raise InputError(f"{p.name}: column names must be unique, but {shown} appear more than once; rename "
                             "the duplicates in the header line")
    else:
        names = [f"x{i}" for i in range(len(names))]
    return CsvLayout(encoding=enc, sep=sep, decimal=decimal, names=tuple(names), header=header)


_EXPECTED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _parse_error(p: DataFile, exc: Exception, layout: CsvLayout, lim: Limits) -> InputError:
    """The one message for a pandas parser error: ragged rows by line, or the parser's first line."""
    m = _EXPECTED.search(str(exc))
    if m:
        return InputError(_ragged_message(p.name, [(int(m.group(2)), int(m.group(3)), int(m.group(1)))]))
    bad = _ragged_lines(p, layout, lim)
    if bad:
        return InputError(_ragged_message(p.name, bad))
    return InputError(f"{p.name}: cannot parse the CSV ({_short(exc)})")


def _chunks(p: DataFile, layout: CsvLayout, lim: Limits, chunk_rows: int) -> Iterator[Any]:
    """DataFrames of ``chunk_rows`` rows read within the limits; every error as one InputError."""
    import pandas as pd

    n_cols = len(layout.names)
    rows = held = 0
    try:
        with open_text(p, sep=layout.sep, lim=lim, encoding=layout.encoding) as fh:
            reader = pd.read_csv(fh, sep=layout.sep, decimal=layout.decimal, header=0 if layout.header else None,
                                 names=None if layout.header else list(layout.names), index_col=False,
                                 skipinitialspace=True, chunksize=chunk_rows)
            for chunk in reader:
                if layout.header:
                    chunk.columns = list(layout.names)
                rows += len(chunk)
                lim.check_shape(p.name, rows, n_cols, at_least=True)
                if lim.max_memory is not None:  # the frame so far, and the model rows made from it
                    held += int(chunk.memory_usage(index=False, deep=True).sum())
                    lim.check_memory(p.name, 2 * held)
                lim.check_time(p.name)
                yield chunk
    except pd.errors.EmptyDataError:
        raise InputError(f"{p.name}: the file has no columns; a CSV needs a header line and data rows") from None
    except pd.errors.ParserError as exc:
        raise _parse_error(p, exc, layout, lim) from None
    except UnicodeDecodeError:
        raise InputError(f"{p.name}: part of the file is not {layout.encoding} text (after row {rows:,}); save it "
                         "as UTF-8 CSV") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{p.name}: cannot read the file ({_short(exc)}); it may be truncated or damaged") from None


def read_table(p: DataFile, layout: CsvLayout, lim: Limits | None = None) -> Any:
    """The whole text table as one DataFrame (read in chunks within the limits)."""
    import pandas as pd

    frames = list(_chunks(p, layout, lim or limits.active(), CSV_CHUNK_ROWS))
    if not frames:
        return pd.DataFrame(columns=list(layout.names))
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def iter_csv(path: Source, chunk_size: int, *, sep: str | None = None) -> Iterator[Any]:
    """DataFrame chunks of a CSV file for streaming (scoring): layout detected as :func:`load_csv`
    does; rows and bytes unbounded, columns and field length bounded."""
    lim = limits.active().streaming()
    with opened(path) as p:
        layout = csv_layout(p, sep=sep, lim=lim)
        yield from _chunks(p, layout, lim, chunk_size)


def _ragged_lines(path: DataFile, layout: CsvLayout, lim: Limits) -> list[tuple[int, int, int]]:
    """(line number, fields, expected) for lines whose field count differs from the header's."""
    out = []
    try:
        with open_text(path, sep=layout.sep, lim=lim, encoding=layout.encoding) as text:
            reader = csv.reader(text, delimiter=layout.sep)
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
    except (csv.Error, UnicodeDecodeError):
        return out
    return out


def _ragged_message(name: str, bad: list[tuple[int, int, int]]) -> str:
    where = "; ".join(f"line {i} has {n} fields" for i, n, _ in bad[:3])
    return (f"{name}: ragged CSV: the header has {bad[0][2]} fields but {where}; every row needs the same "
            "number of fields (check for stray delimiters or quotes, or a missing value)")


def load_csv(path: Source, *, sep: str | None = None, label_column: str | None = None,
             feature_columns: Sequence[str] | None = None, meta_columns: Sequence[str] | None = None,
             categorical: str = "onehot", positive: Any = None, max_categories: int = 50,
             min_rows: int = MIN_ROWS, decimal: str | None = None, **options: Any) -> Dataset:
    """A CSV file (gz or plain; UTF-8, UTF-8 with BOM, UTF-16 or UTF-32) with a header line; see
    :func:`frame_to_dataset` for the options.

    ``sep`` and ``decimal`` are detected from the first lines when not given (``1,5;2,5`` is read
    with ``sep=';'`` and ``decimal=','``). A file read as one column of text that contains another
    delimiter is refused with the delimiter to use. The file is read within the limits in force
    (:mod:`odcore.data.limits`).
    """
    from odcore.data.table import pop_options

    table_options = pop_options(options)  # roles, blanks, windows, scaling: see odcore.data.table
    refuse_unknown_options("load_csv", options)
    lim = limits.active()
    with opened(path) as p:
        df, layout = _read_csv(p, sep, decimal, lim)
    return frame_to_dataset(df, name=p.name.split(".")[0], source=p.path, label_column=label_column,
                            feature_columns=feature_columns, meta_columns=meta_columns, categorical=categorical,
                            positive=positive, max_categories=max_categories, min_rows=min_rows, **table_options)


def _read_csv(p: DataFile, sep: str | None, decimal: str | None, lim: Limits) -> tuple[Any, CsvLayout]:
    """The table of a text file and its layout; refuses a file read as one text column that holds another
    delimiter, and ragged rows (by line)."""
    layout = csv_layout(p, sep=sep, decimal=decimal, lim=lim)
    df = read_table(p, layout, lim)
    if df.shape[1] == 1 and len(df) and not _numeric_column(df.iloc[:, 0]):
        sample = " ".join(map(str, df.iloc[:20, 0].tolist())) + " " + str(df.columns[0])
        others = [d for d in _DELIMS if d != layout.sep and d in sample]
        if others:
            shown = _shown_sep(others[0])
            raise InputError(f"{p.name}: read with delimiter {_shown_sep(layout.sep)!r} the file has a single text "
                             f"column; it looks delimited by {shown!r}: choose that delimiter (sep={shown!r}), or "
                             "leave the delimiter on auto to detect it")
    if df.isna().any().any():
        bad = _ragged_lines(p, layout, lim)
        if bad:
            raise InputError(_ragged_message(p.name, bad))
    return df, layout


def _numeric_column(s: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(s))


def _nested_types(schema: Any) -> list[tuple[str, str]]:
    """Columns of a pyarrow schema that are not flat values (lists, structs, maps, raw bytes)."""
    import pyarrow as pa

    out = []
    for f in schema:
        t = f.type
        if (pa.types.is_nested(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t)
                or pa.types.is_fixed_size_binary(t)):
            out.append((f.name, str(t)))
    return out


def load_parquet(path: Source, *, label_column: str | None = None,
                 feature_columns: Sequence[str] | None = None, meta_columns: Sequence[str] | None = None,
                 categorical: str = "onehot", positive: Any = None, max_categories: int = 50,
                 min_rows: int = MIN_ROWS, **options: Any) -> Dataset:
    """A Parquet file; see :func:`frame_to_dataset` for the options.

    Read by :func:`read_parquet`: the file's metadata is checked first (rows, columns, what the
    columns decode to, nested and binary columns, names that repeat, column data kept in other
    files), then the columns are read batch by batch within the limits and the deadline."""
    from odcore.data.table import pop_options

    table_options = pop_options(options)  # roles, blanks, windows, scaling: see odcore.data.table
    refuse_unknown_options("load_parquet", options)
    with opened(path) as p:
        df = read_parquet(p, limits.active())
    return frame_to_dataset(df, name=p.name.split(".")[0], source=p.path, label_column=label_column,
                            feature_columns=feature_columns, meta_columns=meta_columns, categorical=categorical,
                            positive=positive, max_categories=max_categories, min_rows=min_rows, **table_options)


#: rows per batch when a Parquet file is read (text columns: fewer, so one batch stays small)
PARQUET_BATCH_ROWS = 65_536
PARQUET_TEXT_BATCH_ROWS = 4_096


def _is_text(t: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_string(t) or pa.types.is_large_string(t) or (
        pa.types.is_dictionary(t) and (pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)))


def _fixed_width(t: Any) -> int:
    """Bytes one value of a fixed-width Arrow type decodes to in pandas (8 when unknown)."""
    try:
        return max(1, t.bit_width // 8)
    except ValueError:
        return 8


def parquet_check(pf: Any, name: str, lim: Limits) -> list[str]:
    """Check an open ``pyarrow.parquet.ParquetFile`` from its metadata alone; returns its text columns.

    Refuses, before any column is read: rows, columns and cells above the limits; column names that
    repeat (also when they differ only by surrounding spaces); list, struct, map and binary columns;
    column chunks kept in another file (``file_path``); and a decoded size above ``max_bytes``
    (fixed-width columns exactly, rows x width, however they are encoded; text columns at least
    their uncompressed bytes)."""
    meta = pf.metadata
    schema = pf.schema_arrow
    names = [str(n) for n in schema.names]
    rows = int(meta.num_rows)
    lim.check_shape(name, rows, len(names))
    stripped = [n.strip() for n in names]
    dup = sorted({n for n in stripped if stripped.count(n) > 1})
    if dup:
        spaced = [n for n in names if n.strip() in dup and n != n.strip()]
        how = " (they differ only by spaces around the name)" if spaced else ""
        raise InputError(f"{name}: column names must be unique, but {', '.join(quoted(n) for n in dup[:5])} appear "
                         f"more than once{how}; rename the duplicates")
    nested = _nested_types(schema)
    if nested:
        shown = ", ".join(f"{quoted(n)} ({t})" for n, t in nested[:4])
        raise InputError(f"{name}: column(s) {shown} hold lists, records or raw bytes, not one value per "
                         "cell; flatten them into plain columns (one number or category each) or drop them")
    text = [f.name for f in schema if _is_text(f.type)]
    decoded = sum(rows * _fixed_width(f.type) for f in schema if f.name not in text)
    for i in range(meta.num_row_groups):
        rg = meta.row_group(i)
        for j in range(rg.num_columns):
            col = rg.column(j)
            if col.file_path:
                raise InputError(f"{name}: column {quoted(col.path_in_schema)} keeps its data in another file "
                                 f"({quoted(col.file_path)}); only self-contained Parquet files are read: write the "
                                 "table into one file")
            if col.path_in_schema in text:
                decoded += int(col.total_uncompressed_size)
    lim.check_bytes(name, decoded)
    return text


def _dictionary_encoded(meta: Any, text: list[str]) -> list[str]:
    """The text columns stored dictionary-encoded (read so, a repeated value is held once); a column stored
    plain is read plain (building a dictionary of it would hold its values twice)."""
    coded = set()
    for i in range(meta.num_row_groups):
        rg = meta.row_group(i)
        for j in range(rg.num_columns):
            col = rg.column(j)
            if col.path_in_schema in text and any("DICTIONARY" in e for e in col.encodings):
                coded.add(col.path_in_schema)
    return [t for t in text if t in coded]


def read_parquet(p: DataFile, lim: Limits) -> Any:
    """The whole Parquet file as a DataFrame, read batch by batch within the limits.

    Text columns stored dictionary-encoded are read so (a value repeated a million times is held once
    while the batch is counted); text stored plain is read plain, in small batches. What each batch
    decodes to (for text: the lengths of the values its rows refer to) adds up against ``max_bytes``,
    what the load will hold (the batches and the frame made of them) against ``max_memory``, a text
    value against ``max_field``, and the deadline is checked after every batch. Only then are the text
    columns decoded into the frame."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        first = pq.ParquetFile(p.stream())
        text = parquet_check(first, p.name, lim)
        lim.check_time(p.name)
        pf = pq.ParquetFile(p.stream(), read_dictionary=_dictionary_encoded(first.metadata, text), pre_buffer=False)
        rows_per = PARQUET_TEXT_BATCH_ROWS if text else PARQUET_BATCH_ROWS
        decoded = held = rows = 0
        batches = []
        for batch in pf.iter_batches(batch_size=rows_per, use_threads=False):
            rows += batch.num_rows
            lim.check_shape(p.name, rows, batch.num_columns, at_least=True)
            for col in batch.columns:
                if pa.types.is_dictionary(col.type):
                    lengths = pc.take(pc.binary_length(col.dictionary), col.indices)
                    longest = pc.max(lengths).as_py() or 0
                    if lim.max_field is not None and longest > lim.max_field:
                        lim.check_field(p.name, longest)
                    n = int(pc.sum(lengths).as_py() or 0) + 8 * len(col)
                    decoded += n
                    held += col.nbytes + 2 * n  # the frame holds the decoded text, encoding it may copy it once
                else:
                    if _is_text(col.type) and len(col) and lim.max_field is not None:
                        longest = pc.max(pc.binary_length(col)).as_py() or 0
                        if longest > lim.max_field:
                            lim.check_field(p.name, longest)
                    decoded += col.nbytes
                    held += 2 * col.nbytes  # the batch, then its column of the frame
            lim.check_bytes(p.name, decoded)
            lim.check_memory(p.name, held)
            lim.check_time(p.name)
            batches.append(batch)
        table = pa.Table.from_batches(batches, schema=pf.schema_arrow if not batches else batches[0].schema)
        del batches
        if text:
            table = table.cast(pa.schema([pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type)
                                          else f for f in table.schema]))
        return table.to_pandas()
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types on damaged files
        raise InputError(f"{p.name}: not a readable Parquet file ({type(exc).__name__}: {_short(exc)})") from None


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

    table_options = table.OPTIONS.parse(table_options, name)  # unknown options refused with the valid ones
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
        # one look per distinct value (a value repeated a million times is parsed and copied once)
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        parsed = pd.to_numeric(pd.Series(np.asarray(uniques, dtype=object)), errors="coerce").to_numpy(np.float64)
        num = pd.Series(np.where(codes >= 0, parsed[np.maximum(codes, 0)] if len(parsed) else np.nan, np.nan),
                        index=s.index)
        bad = num.isna() & s.notna()
        if 0 < bad.sum() and bad.mean() < 0.5:
            rows = (np.flatnonzero(bad.to_numpy())[:3] + 1).tolist()
            example = str(s[bad].iloc[0])
            hint = (" (it looks like a decimal comma: pass decimal=',')"
                    if re.fullmatch(r"-?\d+,\d+", example.strip()[:100]) else "")
            raise InputError(f"{name}: column {quoted(c)} is numeric except for values like {quoted(example)} "
                             f"(data rows {rows}){hint}; fix or remove those entries")
        if not bad.any():
            blocks.append(num.to_numpy(dtype=np.float64, na_value=np.nan)[:, None])
            names.append(c)
            continue
        text_cols.append(c)
        if categorical == "refuse":
            continue
        if s.isna().any():
            raise InputError(f"{name}: text column {quoted(c)} has missing values; fill them or drop the rows")
        if len(uniques) > max_categories:
            raise InputError(f"{name}: text column {quoted(c)} has {len(uniques)} distinct values (more than "
                             f"{max_categories}), so it looks like an identifier or a date, not a category; "
                             f"pass it in meta_columns= (or drop it), or raise max_categories")
        labels = [str(u) for u in uniques]
        cats = sorted(set(labels))
        where = {v: i for i, v in enumerate(cats)}
        codes = np.asarray([where[v] for v in labels], dtype=np.int64)[codes]
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
