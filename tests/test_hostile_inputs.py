"""The hostile-input corpus: every file a careless or hostile user may hand the lab gets one message.

The tests write each file (nothing is downloaded or committed) and feed it to

- the API as the app does it (:func:`odcore.data.access.resolve`, then :func:`odcore.data.load`),
- the command line (``odcore describe`` in process for all of them, a real subprocess for a few),
- scoring (``odcore.runs.scoring.score_file``) for the text tables,
- training (``execute``) for the files that load,
- the Data page's upload widget in Chromium for a third of them (``-m browser``).

Each must load (``ok``) or end in exactly one line that matches its expected message, within a
time limit, without a traceback or a numeric warning, and leave the store intact and the app usable.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import os
import re
import subprocess
import sys
import time
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from odcore.runs.spec import resolve

ROOT = Path(__file__).resolve().parents[1]
TIME_LIMIT = 30.0  # seconds per file through the API (the loaded 2-core machine; most take well under 1 s)
UPLOAD_LIMIT = 60.0  # seconds per file through the browser


@dataclass(frozen=True)
class Case:
    name: str  # the file name written
    write: Callable[[Path], None]
    expect: str  # "ok" (loads), or a regex of the message
    options: tuple = ()  # loader options (API and CLI only)
    upload: bool = False  # also through the upload widget in Chromium
    api_only: bool = False  # not a regular file (pipes, links, folders): the policy refuses it
    upload_expect: str | None = None  # the message on the Data page when it differs (its table roles are "auto")


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
    Case("nan.csv", text("a,b\n1,2\nnan,4\n5,6\n"), r"missing/NaN"),
    Case("inf.csv", text("a,b\n1,2\ninf,4\n5,6\n"), r"infinite"),
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
    Case("link_out.csv", _symlink_out, r"outside the data folders", api_only=True),
    Case("pipe.csv", _fifo, r"not a regular file", api_only=True),
    Case("folder.csv", _folder, r"is a folder", api_only=True),
]
UPLOADS = [c for c in CORPUS if c.upload]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    folder = root / "files"
    folder.mkdir()
    for case in CORPUS:
        case.write(folder / case.name)
    return folder


@pytest.fixture(autouse=True)
def _roots(corpus, monkeypatch):
    monkeypatch.setenv("ODCORE_DATA_ROOTS", str(corpus))
    monkeypatch.setenv("ODCORE_SETTINGS", str(corpus / "none.toml"))


def test_the_corpus_is_big_enough():
    assert len(CORPUS) >= 40 and len({c.name for c in CORPUS}) == len(CORPUS)
    assert len(UPLOADS) * 3 >= len([c for c in CORPUS if not c.api_only])  # a third through the browser


def check_message(case: Case, msg: str) -> None:
    assert "\n" not in msg.strip() and "Traceback" not in msg, msg
    assert len(msg) < 700, msg
    assert re.search(case.expect, msg), f"{case.name}: {msg}"
    assert "abc123" not in msg  # never the content of a file outside the roots


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_api_gives_one_message_in_time(case, corpus):
    import odcore.data
    from odcore.data import access
    from odcore.errors import InputError

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numeric warning on the way is a failure too
        try:
            ds = odcore.data.load(access.resolve(corpus / case.name), **dict(case.options))
            outcome = "ok"
        except InputError as err:
            outcome, ds = str(err), None
    elapsed = time.perf_counter() - t0
    assert elapsed < TIME_LIMIT, f"{case.name} took {elapsed:.1f} s"
    if case.expect == "ok":
        assert outcome == "ok", f"{case.name}: {outcome}"
        assert ds.n_rows >= 2 and np.isfinite(ds.X).all()
    elif case.expect != r".*":
        assert outcome != "ok", f"{case.name} loaded but should be refused"
        check_message(case, outcome)


@pytest.mark.parametrize("case", [c for c in CORPUS if not c.api_only], ids=lambda c: c.name)
def test_cli_describe_gives_one_line_and_exit_code_2(case, corpus, capsys):
    from odcore import cli

    argv = ["describe", str(corpus / case.name)]
    for k, v in case.options:
        argv += ["--data-option", f"{k}={v}"]
    code = cli.main(argv)
    out, err = capsys.readouterr()
    if case.expect == "ok":
        assert code == 0 and "rows:" in out, err
    elif case.expect != r".*":
        assert code == 2 and err.startswith("error: "), (code, err)
        check_message(case, err.strip())
    else:
        assert code in (0, 2), err


def test_cli_in_a_real_process(corpus):
    """Three files through `python -m odcore describe` in a subprocess: the bomb stops at its limit."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cases = (("bomb_rows.csv.gz", 2, "rows is more than the limit"), ("pickle_inside.npz", 2, "refused for safety"),
             ("decimal_comma.csv", 0, "rows: 3"))
    for name, code_want, needle in cases:
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "odcore", "describe", str(corpus / name)], capture_output=True,
                           text=True, env=env, cwd=ROOT, timeout=120)
        assert r.returncode == code_want and needle in (r.stdout + r.stderr), (name, r.stdout, r.stderr)
        assert len(r.stderr.strip().splitlines()) <= 1 and time.perf_counter() - t0 < 60


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run on a 3-column table (a, b, c) to score the text tables with."""
    from odcore.runs.execution import execute
    from odcore.runs.spec import RunSpec
    from odcore.runs.store import RunStore

    d = tmp_path_factory.mktemp("hostile-runs")
    train = d / "train.csv"
    train.write_text("a,b,c\n" + NUMS)
    store = RunStore(d / "runs")
    rid = execute(resolve(RunSpec(str(train), "iforest"), store=store), store=store)["run_id"]
    return store, rid


SCORABLE = [c for c in CORPUS if c.name.endswith((".csv", ".csv.gz", ".tsv", ".parquet", ".npz")) and not c.api_only]


@pytest.mark.parametrize("case", SCORABLE, ids=lambda c: c.name)
def test_scoring_gives_one_message(case, corpus, trained, tmp_path):
    from odcore.errors import InputError
    from odcore.runs.scoring import score_file

    store, rid = trained
    try:
        stats = score_file(store.get(rid), corpus / case.name, tmp_path / "out.parquet")
    except InputError as err:
        msg = str(err)
        assert "\n" not in msg and "Traceback" not in msg and len(msg) < 700, msg
        assert not (tmp_path / "out.parquet").exists()
        return
    assert stats["rows"] >= 1  # scored: the file had the run's columns a, b, c by name


def test_renamed_columns_are_not_scored_by_position(trained, tmp_path):
    import pandas as pd

    from odcore.errors import InputError
    from odcore.runs.scoring import score_file

    store, rid = trained
    (tmp_path / "renamed.csv").write_text("v0,v1,v2\n" + NUMS)
    with pytest.raises(InputError, match="matched by name"):
        score_file(store.get(rid), tmp_path / "renamed.csv", tmp_path / "o.csv")
    (tmp_path / "dup.csv").write_text("a,b,c,a\n" + "".join(f"{r},0\n" for r in NUMS.split()))
    with pytest.raises(InputError, match="unique"):
        score_file(store.get(rid), tmp_path / "dup.csv", tmp_path / "o.csv")
    table = pd.read_csv(io.StringIO("a,b,c\n" + NUMS))
    table.to_csv(tmp_path / "right.csv", index=False)
    table[["c", "a", "b"]].to_csv(tmp_path / "reordered.csv", index=False)  # same columns, another order
    score_file(store.get(rid), tmp_path / "right.csv", tmp_path / "r.csv")
    score_file(store.get(rid), tmp_path / "reordered.csv", tmp_path / "o.csv")
    right = pd.read_csv(tmp_path / "r.csv")["score"].to_numpy()
    np.testing.assert_allclose(pd.read_csv(tmp_path / "o.csv")["score"].to_numpy(), right)  # matched by name
    assert np.unique(right).size > 5  # the scores differ between rows, so a shift would show


def test_training_on_what_loads_gives_a_run_or_one_message(corpus, tmp_path):
    from odcore.errors import InputError
    from odcore.runs.execution import execute
    from odcore.runs.spec import RunSpec
    from odcore.runs.store import RunStore

    store = RunStore(tmp_path / "runs")
    made = 0
    for case in (c for c in CORPUS if c.expect == "ok" and c.name != "rows_2m.csv"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                res = execute(resolve(RunSpec(str(corpus / case.name), "iforest", params={"n_estimators": 10}),
                                      store=store), store=store)
                made += store.get(res["run_id"]).status == "done"
            except InputError as err:
                assert "\n" not in str(err), str(err)
    rows = store.list_runs()
    assert made >= 8 and all(r["status"] in ("done", "failed") for r in rows)
    assert all(store.get(r["id"]).status == r["status"] for r in rows)  # every record reads back


# ----------------------------------------------------------------------------- the upload widget in Chromium
@pytest.fixture(scope="module")
def app(corpus, tmp_path_factory):
    from bench.faults import App
    from tests.test_browser import CHROMIUM

    if not Path(CHROMIUM).exists():
        from tests.conftest import missing

        missing(f"{CHROMIUM} is not installed (apt-get install chromium)")
    runs = tmp_path_factory.mktemp("upload") / "runs"
    server = App(runs, ODCORE_DATA_ROOTS=str(corpus))
    try:
        try:
            server.start()
        except RuntimeError as exc:
            pytest.fail(str(exc))
        yield server.url, runs, server.proc
    finally:
        server.stop()


@pytest.mark.browser
def test_upload_widget_gives_each_file_its_message(app, corpus):
    from playwright.sync_api import sync_playwright

    from bench.faults import upload_and_load
    from odcore.runs.store import RunStore
    from tests.test_browser import ARGS, CHROMIUM, EXCEPTION, SHOTS, settle

    url, runs, proc = app
    results = {}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = b.new_page(viewport={"width": 1400, "height": 1400})
        page.set_default_timeout(90_000)
        fetched = []  # a column named like a Markdown image must never make the browser fetch it
        page.on("request", lambda r: fetched.append(r.url) if "127.0.0.1:9/" in r.url else None)
        page.goto(f"{url}/data")
        page.get_by_role("heading", name="Data").first.wait_for()
        settle(page)
        session = page.url.split("session=")[-1]
        for case in UPLOADS:
            msg, elapsed = upload_and_load(page, url, session, corpus / case.name, limit=UPLOAD_LIMIT)
            assert page.locator(EXCEPTION).count() == 0, f"{case.name}: a traceback on the page"
            results[case.name] = (msg, round(elapsed, 2))
            assert elapsed < UPLOAD_LIMIT, f"{case.name} took {elapsed:.1f} s"
            if case.expect == "ok":
                assert msg == "ok", f"{case.name}: {msg}"
                page.locator(".js-plotly-plot").first.wait_for()  # the preview and its scatter drew
            else:
                assert msg not in ("ok", "nothing"), f"{case.name}: {msg}"
                check_message(dataclasses.replace(case, expect=case.upload_expect or case.expect), msg)
            if case.name in ("bomb_rows.csv.gz", "huge_values.csv", "one_column.csv"):
                SHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SHOTS / f"hostile-{case.name}.png"), full_page=True)
        # the app is still usable: a built-in loads and draws
        page.get_by_text("Built-in", exact=True).click()
        settle(page)
        page.get_by_role("button", name="Load", exact=True).click()
        page.get_by_test_id("stMetric").first.wait_for()
        settle(page)
        assert page.locator(EXCEPTION).count() == 0
        b.close()
    assert fetched == []  # user names were shown as text
    assert proc.poll() is None  # no server crash
    assert RunStore(runs, read_only=True).list_runs() == []  # the store is intact (uploads make no runs)
    (SHOTS / "hostile-uploads.json").write_text(json.dumps(results, indent=1))
