"""The hostile-input corpus: every file, path and stored record a careless or hostile user may hand the lab.

One module, imported by the tests (``tests/test_hostile_inputs.py``, ``tests/test_damaged_records.py``)
and by the fault script (``python -m bench.faults --parts corpus``). Nothing is downloaded or committed:
each :class:`Case` writes its file. A case names the class of problem it belongs to (``group``), the
message it must end in (a regular expression, or ``"ok"`` when it must load), and the channels it goes
through:

- the library (``odcore.data.load(path)``) and the command line (``odcore describe``), except the
  cases only the data roots policy refuses (``policy_only``: a symlink out of the roots);
- the path field of the app (``access.open_checked`` then the load, what ``ui.state.load_dataset`` does);
- the upload widget in Chromium for the cases marked ``upload``.

:data:`RECORDS` is the gallery of ill-typed run records (``config.json``) the run store must list as
damaged without failing a page or a command.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: the content of the files outside the data roots that hostile files point at: it must never be read
SECRET = "abc123"


@dataclass(frozen=True)
class Case:
    name: str  # the file name written
    write: Callable[[Path], None]
    expect: str  # "ok" (loads), or a regex of the message
    options: tuple = ()  # loader options (library, path field and CLI only)
    upload: bool = False  # also through the upload widget in Chromium
    policy_only: bool = False  # only the data roots policy refuses it (a symlink out): the path field only
    upload_expect: str | None = None  # the message on the Data page when it differs (its table roles are "auto")
    group: str = "file"  # the class of problem (see GROUPS)


def text(s: str, enc: str = "utf-8") -> Callable[[Path], None]:
    return lambda p: p.write_bytes(s.encode(enc))


def raw(b: bytes) -> Callable[[Path], None]:
    return lambda p: p.write_bytes(b)


def gz(b: bytes) -> Callable[[Path], None]:
    return lambda p: p.write_bytes(gzip.compress(b, compresslevel=1))


def _npz(**arrays) -> Callable[[Path], None]:
    def w(p: Path) -> None:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        p.write_bytes(buf.getvalue())
    return w


def _npy(arr, allow_pickle=False) -> Callable[[Path], None]:
    def w(p: Path) -> None:
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=allow_pickle)
        p.write_bytes(buf.getvalue())
    return w


def _npz_declared_huge(p: Path) -> None:
    """A zip bomb in spirit: X's header declares 10^7 x 10^4 float64 (800 GB); a few bytes follow."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (10**7, 10**4)})
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("X.npy", buf.getvalue() + b"\0" * 64)


def _idx(magic: bytes, dims: tuple, data: bytes) -> Callable[[Path], None]:
    return raw(magic + b"".join(int(d).to_bytes(4, "big") for d in dims) + data)


def _mat(**arrays) -> Callable[[Path], None]:
    def w(p: Path) -> None:
        import scipy.io

        scipy.io.savemat(p, arrays)
    return w


def _mat_cell(p: Path) -> None:
    import scipy.io

    cell = np.empty((3, 1), dtype=object)
    for i in range(3):
        cell[i, 0] = np.arange(i + 2.0)
    scipy.io.savemat(p, {"X": cell, "y": np.zeros((3, 1))})


def _mat73_group(p: Path) -> None:
    import h5py

    with h5py.File(p, "w", userblock_size=512) as f:
        f.create_group("X").create_dataset("inner", data=np.zeros(3))
        f.create_dataset("y", data=np.zeros((1, 3)))
    with open(p, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file".ljust(128, b" "))


def _parquet(table_fn) -> Callable[[Path], None]:
    def w(p: Path) -> None:
        import pyarrow.parquet as pq

        pq.write_table(table_fn(), p)
    return w


def _pa_list():
    import pyarrow as pa

    return pa.table({"a": [1.0, 2.0, 3.0], "b": [[1, 2], [3], []]})


def _pa_struct():
    import pyarrow as pa

    return pa.table({"a": [1.0, 2.0, 3.0], "s": [{"x": 1}, {"x": 2}, {"x": 3}]})


def _pa_bytes():
    import pyarrow as pa

    return pa.table({"a": [1.0, 2.0, 3.0], "b": pa.array([b"\x00", b"\x01", b"\x02"], pa.binary())})


def _pa_dup():
    import pyarrow as pa

    return pa.Table.from_arrays([pa.array([1.0, 2.0, 3.0]), pa.array([4.0, 5.0, 6.0])], names=["a", "a"])


def _parquet_truncated(p: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table({"a": np.arange(1000.0), "b": np.arange(1000.0)}), buf)
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])


def _xlsx(p: Path) -> None:
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")


def _zip_of_csv(p: Path) -> None:
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("data.csv", "a,b\n1,2\n3,4\n")


def _pickle(p: Path) -> None:
    import pickle

    p.write_bytes(pickle.dumps({"X": [[1, 2], [3, 4]]}))


def _symlink_out(p: Path) -> None:
    target = p.parent.parent / "secret.env"
    target.write_text("AWS_SECRET_ACCESS_KEY=abc123\n")
    p.symlink_to(target)


def _fifo(p: Path) -> None:
    os.mkfifo(p)


def _folder(p: Path) -> None:
    p.mkdir()
    (p / "inner.csv").write_text("a\n1\n2\n")


def _rows(n: int) -> bytes:
    return b"a\n" + b"\n".join(str(i).encode() for i in range(n)) + b"\n"


HEADER_10K = ",".join(f"c{i}" for i in range(10_000))
NUMS = "".join(f"{i},{i * 2 % 7},{i % 3}\n" for i in range(60))


def _zip_member(p: Path, name: str, write: Callable[[Path], None]) -> None:
    tmp = p.with_name(p.name + ".member")
    write(tmp)
    with zipfile.ZipFile(p, "w") as zf:
        zf.write(tmp, name)
    tmp.unlink()


FORMULAS = ('=HYPERLINK("http://127.0.0.1:9/x","click")', "@SUM(1+1)*cmd|' /C calc'!A0", "+1+1", "-2+3",
            "\t=1+2", "\r=1+2")


# ----------------------------------------------------------------------------- files that refer outside themselves
def nothing(p: Path) -> None:
    """No file: the case is the path itself (a name too long for the system)."""


def _outside(p: Path, name: str) -> Path:
    """A file outside the data roots (beside the corpus folder), holding :data:`SECRET`."""
    target = p.parent.parent / name
    if not target.exists():
        if name.endswith(".h5"):
            import h5py

            with h5py.File(target, "w") as f:
                f["X"] = np.arange(12.0).reshape(2, 6) + 123.0  # 123: the secret's digits
        else:
            target.write_text(f"AWS_SECRET_ACCESS_KEY={SECRET}\n" + "#" * 256 + "\n")
    return target


def _mat73(fill: Callable[[Any, Path], None]) -> Callable[[Path], None]:
    """A MATLAB v7.3 file (HDF5 with MATLAB's 512-byte header) holding y (6 labels) and what ``fill`` adds."""
    def w(p: Path) -> None:
        import h5py

        with h5py.File(p, "w", userblock_size=512) as f:
            f.create_dataset("y", data=np.array([[0.0, 0, 0, 0, 0, 1]]))
            fill(f, p)
        with open(p, "r+b") as fh:
            fh.write(b"MATLAB 7.3 MAT-file".ljust(128, b" "))
    return w


def _h5_plain(f, p):
    f.create_dataset("X", data=np.random.default_rng(0).normal(size=(2, 6)))


def _h5_soft_inside(f, p):
    f.create_dataset("data", data=np.random.default_rng(0).normal(size=(2, 6)))
    import h5py

    f["X"] = h5py.SoftLink("/data")


def _h5_external_storage(f, p):
    f.create_dataset("X", shape=(2, 6), dtype="f8", external=[(str(_outside(p, "secret.env")), 0, 96)])


def _h5_environ(f, p):
    f.create_dataset("X", shape=(2, 6), dtype="f8", external=[("/proc/self/environ", 0, 96)])


def _h5_external_link(f, p):
    import h5py

    f["X"] = h5py.ExternalLink(str(_outside(p, "secret.h5")), "/X")


def _h5_soft_to_external(f, p):
    import h5py

    f["elsewhere"] = h5py.ExternalLink(str(_outside(p, "secret.h5")), "/X")
    f["X"] = h5py.SoftLink("/elsewhere")


def _h5_external_link_unused(f, p):
    import h5py

    _h5_plain(f, p)
    f.create_group("g")["deep"] = h5py.ExternalLink("/etc/passwd", "/x")


def _h5_virtual(f, p):
    import h5py

    layout = h5py.VirtualLayout(shape=(2, 6), dtype="f8")
    layout[:] = h5py.VirtualSource(str(_outside(p, "secret.h5")), "X", shape=(2, 6))
    f.create_virtual_dataset("X", layout)


def _h5_plugin_filter(f, p):
    import h5py

    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk((2, 6))
    dcpl.set_filter(32004, h5py.h5z.FLAG_OPTIONAL)  # LZ4: not built in, HDF5 would look for a plugin
    h5py.h5d.create(f.id, b"X", h5py.h5t.NATIVE_DOUBLE, h5py.h5s.create_simple((2, 6)), dcpl=dcpl)


def _npz_symlink_member(p: Path) -> None:
    """A zip entry marked as a symbolic link to /etc/passwd: read as the bytes of its name, never followed."""
    with zipfile.ZipFile(p, "w") as zf:
        info = zipfile.ZipInfo("X.npy")
        info.external_attr = (0o120777 << 16)
        info.create_system = 3
        zf.writestr(info, "/etc/passwd")


def _gzip_named(p: Path) -> None:
    """A gzip file whose header names /etc/passwd (FNAME): the name is metadata, the content is a table."""
    body = ("a,b\n" + "".join(f"{i},{i * 3 % 7}\n" for i in range(30))).encode()
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = comp.compress(body) + comp.flush()
    header = b"\x1f\x8b\x08\x08" + struct.pack("<I", int(time.time())) + b"\x00\x03" + b"/etc/passwd\x00"
    p.write_bytes(header + data + struct.pack("<II", zlib.crc32(body), len(body)))


def _parquet_file_path(p: Path) -> None:
    """A Parquet footer whose column chunks say their data lives in another file (ColumnChunk.file_path)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = p.with_name(p.name + ".tmp")
    pq.write_table(pa.table({"a": np.arange(30.0), "b": np.arange(30.0) % 7}), tmp)
    md = pq.read_metadata(tmp)
    md.set_file_path(str(_outside(p, "secret.env")))
    md.write_metadata_file(p)
    tmp.unlink()


# ----------------------------------------------------------------------------- what a small file decodes to
def _pq(columns: Callable[[], dict], **kw) -> Callable[[Path], None]:
    def w(p: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table(columns()), p, **kw)
    return w


def _repeated(value: str, n: int) -> Any:
    """A dictionary-encoded column of ``value`` on ``n`` rows, built without decoding it."""
    import pyarrow as pa

    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([value]))


def _dict_bomb():  # the file: one 5,000-character string on 400k rows (1-25 KB), 2 GB decoded
    return {"s": _repeated("x" * 5000, 400_000)}


def _dict_columns():  # 40 columns of one 2,000-character string on 15k rows: 1.2 GB decoded
    return {f"c{i}": _repeated(chr(65 + i % 26) * 2000, 15_000) for i in range(40)}


def _distinct_zstd(p: Path) -> None:
    """120k different 5,000-character strings, plain-encoded, zstd: 0.5 MB on disk, 600 MB decoded."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("s", pa.string())])
    with pq.ParquetWriter(p, schema, compression="zstd", compression_level=3, use_dictionary=False) as w:
        for start in range(0, 120_000, 20_000):
            w.write_table(pa.table({"s": ["x" * 4990 + f"{i:010d}" for i in range(start, start + 20_000)]},
                                   schema=schema))


def _long_value():
    return {"a": np.arange(30.0), "note": ["short"] * 29 + ["y" * 20_000]}


def _dict_fits():  # 20k rows of one 5,000-character string beside a number: 100 MB decoded, within the limits
    return {"kind": _repeated("x" * 5000, 20_000), "v": np.random.default_rng(0).normal(size=20_000)}


def _space_names():
    return {"a ": [1.0, 2.0, 3.0, 4.0], "a": [4.0, 5.0, 6.0, 8.0]}


# ----------------------------------------------------------------------------- smaller points
def _npy_declared(shape: tuple) -> Callable[[Path], None]:
    """An .npy header declaring ``shape`` (its product overflows 64-bit integers), then a few bytes."""
    def w(p: Path) -> None:
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
        p.write_bytes(buf.getvalue() + b"\0" * 64)
    return w


def _subnormal(p: Path) -> None:
    p.write_text("a,b\n" + "".join(f"{(i + 1) * 1e-40!r},{(i % 7 + 1) * 3e-41!r}\n" for i in range(60)))


QUOTED_MULTILINE = 'a,b\n1,"' + ("x" * 50 + "\n") * 8000 + '"\n2,3\n4,5\n6,7\n'


def _csv_rows(header: list[str], rows: list[list]) -> Callable[[Path], None]:
    def w(p: Path) -> None:
        import csv

        with open(p, "w", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(header)
            out.writerows(rows)
    return w


MARKUP_NAMES = ('<a href="http://127.0.0.1:9/x">click</a>', "<b>bold</b><br>next", "<img src=x onerror=alert(1)>")
LONG_NAME = "a" * 296 + ".csv"  # one path component longer than the system allows (255)


CORPUS: list[Case] = [
    # text tables
    Case("empty.csv", raw(b""), r"empty"),
    Case("header_only.csv", text("a,b,c\n"), r"no data rows", upload=True),
    Case("one_row.csv", text("a,b\n1,2\n"), r"only 1 data row"),
    Case("ragged.csv", text("a,b\n1,2\n3,4,5\n6,7\n"), r"ragged CSV.*line 3 has 3 fields", upload=True),
    Case("short_row.csv", text("a,b,c\n1,2,3\n4,5\n6,7,8\n"), r"ragged CSV"),
    Case("decimal_comma.csv", text("a;b\n1,5;2,5\n3,5;4,25\n0,5;1,0\n"), "ok", upload=True),
    Case("decimal_comma.tsv", text("a\tb\n1,5\t2,5\n3,5\t4,25\n0,5\t1,0\n"), "ok"),
    Case("utf16.csv", text("a,b\n1,2\n3,4\n5,7\n", "utf-16"), "ok", upload=True),
    Case("utf16_no_bom.csv", text("a,b\n1,2\n3,4\n5,7\n", "utf-16-le"), "ok"),
    Case("utf8_bom.csv", text("\ufeffa;b\n1;2\n3;4\n5;7\n"), "ok"),
    Case("latin1.csv", text("caf\xe9,b\n1,2\n3,4\n5,6\n", "latin-1"), r"not UTF-8 text.*Latin-1", upload=True),
    Case("dup_names.csv", text("a,b,a\n1,2,3\n4,5,6\n7,8,9\n"), r"column names must be unique.*'a'", upload=True),
    Case("dup_after_strip.csv", text("a, a\n1,2\n3,4\n5,6\n"), r"column names must be unique"),
    Case("nan.csv", text("a,b\n1,2\nnan,4\n5,6\n"), r"missing/NaN", upload_expect="ok"),  # the page fills blanks
    Case("inf.csv", text("a,b\n1,2\ninf,4\n5,6\n"), r"infinite", upload_expect=r"infinite|too large for 32-bit"),
    Case("huge_values.csv", text("a,b\n1e308,2\n-1e308,4\n5,6\n"), r"too large for 32-bit floats", upload=True),
    Case("big_but_float32.csv", text("a,b\n3e38,2\n-3e38,4\n5,6\n7,1\n"), "ok"),
    Case("constant.csv", text("a,b\n1,2\n1,2\n1,2\n1,2\n"), r"every feature column is constant", upload=True,
         upload_expect=r"every feature column is constant|no column is a modelled feature"),
    Case("one_column.csv", text("a\n" + "".join(f"{i % 11}\n" for i in range(50))), "ok", upload=True),
    Case("labels_not_01.csv", text("a,y\n1,0\n2,2\n3,1\n"), r"labels must be 0", options=(("label_column", "y"),)),
    Case("label_missing.csv", text("a,b\n1,2\n3,4\n"), r"not found", options=(("label_column", "nope"),)),
    Case("long_field.csv", text("a,b\n1," + "9" * 20_000 + "\n3,4\n"), r"characters in one field", upload=True),
    Case("wide_10k_columns.csv", text(HEADER_10K + "\n" + ",".join(["1"] * 10_000) + "\n"),
         r"10,000 columns is more than the limit", upload=True),
    Case("header_line_8mb.csv", text("c," * (4 << 20)), r"columns is more than the limit"),
    Case("rows_2m.csv", raw(_rows(2_000_000)), "ok"),
    Case("bomb_rows.csv.gz", gz(b"a,b\n" + b"0,1\n" * 6_000_000), r"rows is more than the limit", upload=True),
    Case("bomb_line.csv.gz", gz(b"a,b\n1," + b"0" * (64 << 20)), r"characters in one field", upload=True),
    Case("truncated.csv.gz", lambda p: p.write_bytes(gzip.compress(NUMS.encode())[:-12]), r"truncated|cannot read"),
    Case("not_really.csv.gz", text("a,b,c\n" + NUMS), "ok"),
    Case("binary_garbage.csv", raw(bytes(range(256)) * 8), r"not a text CSV|binary", upload=True),
    Case("nul_bytes.csv", raw(b"a,b\n1,2\n\x00\x00\x00\n3,4\n"), r"binary"),
    Case("crlf_quoted.csv", text('a,"b, c"\r\n1,"2"\r\n3,4\r\n5,6\r\n'), "ok"),
    Case("md_names.csv", text("![x](http://127.0.0.1:9/pixel.png),<img src=http://127.0.0.1:9/i.png>,:red[b]\n"
                              + NUMS), "ok", upload=True),
    Case("html_page.csv", text("<!DOCTYPE html>\n<html>\n<body>hi</body>\n</html>\n"), r".*"),
    # arrays
    Case("pickle_inside.npz", _npz(X=np.array([{"a": 1}] * 3, dtype=object), y=np.zeros(3)),
         r"refused for safety", upload=True),
    Case("pickle.npy", _npy(np.array([{"a": 1}] * 3, dtype=object), allow_pickle=True), r"refused for safety"),
    Case("npy_renamed.npz", _npy(np.arange(12.0).reshape(6, 2)), "ok", upload=True),
    Case("plain.npy", _npy(np.arange(12.0).reshape(6, 2)), "ok"),
    Case("npy_3d.npy", _npy(np.zeros((2, 3, 4))), r"2-D matrix"),
    Case("npz_declared_huge.npz", _npz_declared_huge, r"is more than the limit", upload=True),
    Case("npz_no_x.npz", _npz(A=np.zeros((3, 2))), r"must hold an array X"),
    Case("npz_strings.npz", _npz(X=np.array([["a", "b"], ["c", "d"], ["e", "f"]])), r"not a numeric matrix"),
    Case("npz_y_length.npz", _npz(X=np.arange(6.0).reshape(3, 2), y=np.zeros(5)), r"5 labels for 3 rows"),
    Case("npz_garbage.npz", raw(b"PK\x03\x04" + bytes(range(200))), r"not a readable \.npz"),
    Case("zip_of_csv.zip", _zip_of_csv, r"zip archive.*unzip"),
    Case("mat_cell.mat", _mat_cell, r"cell array", upload=True),
    Case("mat_no_xy.mat", _mat(A=np.zeros((3, 2))), r"must hold matrices named X"),
    Case("mat_garbage.mat", raw(b"MATLAB 5.0 MAT-file".ljust(128, b" ") + bytes(range(256))), r"not a readable"),
    Case("mat73_group.mat", _mat73_group, r"not a numeric matrix"),
    Case("t-images-idx3-ubyte", _idx(b"\x00\x00\x08\x03", (100, 28, 28), b"\x00" * 10), r"truncated", upload=True),
    Case("huge-images-idx3-ubyte", _idx(b"\x00\x00\x08\x03", (10**9, 28, 28), b"\x00" * 10),
         r"rows is more than the limit"),
    Case("bad-images-idx3-ubyte", raw(b"\x00\x00\x07\x03" + b"\x00" * 40), r"not an IDX file"),
    Case("t-labels-idx1-ubyte", _idx(b"\x00\x00\x08\x01", (5,), bytes(5)), r"labels file"),
    Case("list_column.parquet", _parquet(_pa_list), r"hold lists", upload=True),
    Case("struct_column.parquet", _parquet(_pa_struct), r"hold lists, records"),
    Case("bytes_column.parquet", _parquet(_pa_bytes), r"raw bytes"),
    Case("dup_names.parquet", _parquet(_pa_dup), r"column names must be unique"),
    Case("truncated.parquet", _parquet_truncated, r"not a readable Parquet"),
    Case("garbage.parquet", raw(b"PAR1" + bytes(range(100)) + b"PAR1"), r"not a readable Parquet", upload=True),
    # other files people pick by mistake
    Case("sheet.xlsx", _xlsx, r"spreadsheets", upload=True),
    Case("sheet_renamed.csv", _xlsx, r"Excel workbook"),
    Case("old.xls", raw(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100), r"spreadsheets"),
    Case("model.pkl", _pickle, r"pickle", upload=True),
    Case("pickle_renamed.csv", _pickle, r"pickle"),
    Case("program.elf", raw(b"\x7fELF\x02\x01\x01" + bytes(200)), r"binary file of an unknown format"),
    Case("data.csv.bz2", raw(b"BZh91AY&SY" + bytes(range(100))), r"binary file of an unknown format"),
    # not regular files: the data roots policy refuses them before anything is opened
    Case("link_out.csv", _symlink_out, r"outside the data folders", policy_only=True, group="path"),
    Case("pipe.csv", _fifo, r"not a regular file", group="path"),
    Case("folder.csv", _folder, r"is a folder", group="path"),
    Case(LONG_NAME, nothing, r"too long", group="path"),
    # files that refer outside themselves (issue 25: refused before any data is read, one line)
    Case("mat73_plain.mat", _mat73(_h5_plain), "ok", group="outside"),
    Case("mat73_soft_link_inside.mat", _mat73(_h5_soft_inside), "ok", group="outside"),
    Case("mat73_external_storage.mat", _mat73(_h5_external_storage), r"another file \(HDF5 external storage\)",
         upload=True, group="outside"),
    Case("mat73_environ.mat", _mat73(_h5_environ), r"HDF5 external storage", upload=True, group="outside"),
    Case("mat73_external_link.mat", _mat73(_h5_external_link), r"external link to another file", upload=True,
         group="outside"),
    Case("mat73_soft_to_external.mat", _mat73(_h5_soft_to_external), r"external link to another file",
         group="outside"),
    Case("mat73_unused_external_link.mat", _mat73(_h5_external_link_unused), r"external link to another file",
         group="outside"),
    Case("mat73_virtual.mat", _mat73(_h5_virtual), r"virtual dataset over other files", upload=True,
         group="outside"),
    Case("mat73_plugin_filter.mat", _mat73(_h5_plugin_filter), r"HDF5 filter 32004.*not built in",
         group="outside"),
    Case("npz_symlink_member.npz", _npz_symlink_member, r"not a readable NumPy array|not a readable \.npz",
         group="outside"),
    Case("gzip_named_passwd.csv.gz", _gzip_named, "ok", group="outside"),
    Case("parquet_file_path.parquet", _parquet_file_path, r"keeps its data in another file", upload=True,
         group="outside"),
    # what a small file decodes to (issue 25: limits on the decoded size, counted while reading)
    Case("parquet_dict_bomb.parquet", _pq(_dict_bomb), r"is more than the limit", upload=True, group="decoded"),
    Case("parquet_dict_columns.parquet", _pq(_dict_columns), r"is more than the limit", group="decoded"),
    Case("parquet_distinct_zstd.parquet", _distinct_zstd, r"is more than the limit", upload=True, group="decoded"),
    Case("parquet_long_value.parquet", _pq(_long_value), r"characters in one field", group="decoded"),
    Case("parquet_dict_fits.parquet", _pq(_dict_fits), "ok", group="decoded"),
    Case("quoted_multiline_field.csv", text(QUOTED_MULTILINE), r"characters in one field", upload=True,
         group="decoded"),
    # smaller points
    Case("subnormal.csv", _subnormal, r"smaller than.*32-bit", upload=True, group="values"),
    Case("space_names.parquet", _pq(_space_names), r"differ only by spaces", upload=True, group="values"),
    Case("npy_shape_overflow.npy", _npy_declared((2**62, 2**62)), r"is more than the limit", group="values"),
    Case("npy_shape_wraps.npy", _npy_declared((2**32, 2**32)), r"is more than the limit", group="values"),
    Case("npz_shape_wraps.npz", lambda p: _zip_member(p, "X.npy", _npy_declared((2**32, 2**32, 1))),
         r"is more than the limit", group="values"),
    Case("utf32.csv", text("a,b\n1,2\n3,4\n5,7\n", "utf-32"), "ok", upload=True, group="values"),
    Case("utf32_no_bom.csv", text("a,b\n1,2\n3,4\n5,7\n", "utf-32-le"), "ok", group="values"),
    Case("formulas.csv", _csv_rows(["store", "sales"], [[f, i * 3.5] for i, f in enumerate(FORMULAS * 3)]),
         "ok", upload=True, group="values"),
    Case("markup_names.csv", _csv_rows(list(MARKUP_NAMES), [[i % 5, i * 2 % 7, i % 3] for i in range(60)]), "ok",
         upload=True, group="values"),

]
UPLOADS = [c for c in CORPUS if c.upload]
#: the classes of problem, for the report
GROUPS = {"file": "damaged or unsupported files", "path": "paths and non-regular files",
          "outside": "files that refer outside themselves", "decoded": "small files that decode to a lot",
          "values": "values, names and encodings"}


def write_corpus(folder: str | os.PathLike) -> Path:
    """Write every case of :data:`CORPUS` into ``folder`` (created; the files outside it go beside it)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for case in CORPUS:
        case.write(folder / case.name)
    return folder


# ----------------------------------------------------------------------------- ill-typed run records
def _deep(n: int) -> str:
    return "[" * n + "]" * n


#: ``(name, edit)``: ``edit(config_text) -> new config.json content`` of a finished run; each must read as one
#: damaged run with its reason, and no page or command may fail because of it
RECORDS: list[tuple[str, Callable[[str], str | bytes]]] = [
    ("spec_is_text", lambda t: json.dumps({**json.loads(t), "spec": "oops"})),
    ("deep_200k", lambda t: t.rstrip()[:-1] + ', "config": ' + _deep(200_000) + "}"),
    ("status_list", lambda t: json.dumps({**json.loads(t), "status": ["done"]})),
    ("status_unknown", lambda t: json.dumps({**json.loads(t), "status": "exploded"})),
    ("dataset_is_list", lambda t: json.dumps({**json.loads(t), "dataset": [1, 2]})),
    ("dataset_name_number", lambda t: json.dumps({**json.loads(t), "dataset": {**json.loads(t)["dataset"],
                                                                               "name": 5}})),
    ("metrics_nested", lambda t: json.dumps({**json.loads(t), "metrics": {"auroc": {"x": 1}}})),
    ("timings_text", lambda t: json.dumps({**json.loads(t), "timings": "fast"})),
    ("files_list", lambda t: json.dumps({**json.loads(t), "files": ["scores.parquet"]})),
    ("created_number", lambda t: json.dumps({**json.loads(t), "created": 12345})),
    ("owner_object", lambda t: json.dumps({**json.loads(t), "owner": {"a": 1}})),
    ("method_null", lambda t: json.dumps({**json.loads(t), "method": None})),
    ("seed_text", lambda t: json.dumps({**json.loads(t), "spec": {**json.loads(t)["spec"], "seed": "zero"}})),
    ("feature_names_numbers", lambda t: json.dumps({**json.loads(t), "dataset": {**json.loads(t)["dataset"],
                                                                                 "feature_names": [1, 2]}})),
    ("top_level_list", lambda t: "[1, 2, 3]"),
    ("not_this_run", lambda t: json.dumps({**json.loads(t), "id": "someone-else"})),
    ("truncated", lambda t: t[:50]),
    ("binary", lambda t: b"\xff\x00garbage"),
]
