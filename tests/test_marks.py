"""The analyst's marks (odcore.data.marks, odcore.runs.marks): rows named by their keys, kept with the table,
found again in a longer re-upload, refused when they name no row or another table's rows, a damaged marks
file reported and ignored (and kept aside, not overwritten), the split a retraining makes from them, and the
`odcore marks` command."""

from __future__ import annotations

import json
import threading

import numpy as np
import pandas as pd
import pytest

from odcore import cli
from odcore.data import marks as M
from odcore.data import split
from odcore.data.formats import frame_to_dataset
from odcore.runs.marks import MarkStore, author_tag
from odcore.runs.store import RunStore

ROLES = {"Store": "group", "Date": "time", "Sales": "feature", "Temp": "feature"}


def weekly(stores: int = 3, weeks: int = 20, *, seed: int = 0, reverse: bool = False, extra: bool = False):
    """A small weekly store table (Store, Date as text, Sales, Temp) as a prepared dataset."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2011-01-07", periods=weeks, freq="7D")
    rows = [{"Store": s, "Date": d.strftime("%Y-%m-%d"), "Sales": 1000.0 * s + rng.normal(0, 10),
             "Temp": rng.normal(60, 5)} for s in range(1, stores + 1) for d in dates]
    df = pd.DataFrame(rows)
    if reverse:
        df = df.iloc[::-1].reset_index(drop=True)
    roles = dict(ROLES)
    if extra:
        df["CPI"] = rng.normal(200, 1, len(df))
        roles["CPI"] = "feature"
    return frame_to_dataset(df, name="weekly", source="test", roles=roles)


def row_of(ds, store: int, date: str) -> int:
    meta = ds.meta.reset_index(drop=True)
    hit = np.flatnonzero((meta["Store"] == store).to_numpy() & (meta["Date"] == pd.Timestamp(date)).to_numpy())
    assert len(hit) == 1
    return int(hit[0])


def test_keys_are_the_rows_ids_groups_and_dates_in_canonical_text():
    ds = weekly()
    assert M.key_columns(ds) == ["Store", "Date"]
    keys = M.row_keys(ds)
    assert keys[row_of(ds, 2, "2011-01-14")] == "2\x1f2011-01-14"
    # a person's spelling of the same key: a number as text or a float, a date written otherwise
    assert M.normalise_key(ds, {"Store": "2", "Date": "14 Jan 2011"}) == {"Store": "2", "Date": "2011-01-14"}
    assert M.normalise_key(ds, {"Store": 2.0, "Date": pd.Timestamp("2011-01-14")}) == {"Store": "2",
                                                                                     "Date": "2011-01-14"}
    with pytest.raises(M.MarksError, match="missing: Date"):
        M.normalise_key(ds, {"Store": 2})
    with pytest.raises(M.MarksError, match="not a date"):
        M.normalise_key(ds, {"Store": 2, "Date": "soon"})
    with pytest.raises(M.MarksError, match="not a number"):
        M.normalise_key(ds, {"Store": "two", "Date": "2011-01-14"})


def test_data_without_keys_are_refused_with_the_fix():
    ds = frame_to_dataset(pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10.0)}), name="plain", source="t",
                          roles={"a": "feature", "b": "feature"})
    with pytest.raises(M.MarksError, match="role id, group or time"):
        M.key_columns(ds)


def test_marks_survive_a_longer_reupload_in_another_row_order(tmp_path):
    short, long = weekly(weeks=12), weekly(weeks=20, reverse=True)
    assert short.content_hash() != long.content_hash()
    assert M.identity(short) == M.identity(long)  # the same table, by its columns and keys
    ms = MarkStore(RunStore(tmp_path))
    ms.add(short, {"Store": 2, "Date": "2011-01-14"}, "expected", reason="promotion", author="a")
    ms.add_rows(short, [row_of(short, 3, "2011-02-04")], "confirmed", note="stock-out", author="a")
    got = ms.list(long)
    assert [m.kind for m in got.marks] == ["expected", "confirmed"]
    assert got.matched.expected.tolist() == [row_of(long, 2, "2011-01-14")]  # the row by its keys, not its position
    assert got.matched.confirmed.tolist() == [row_of(long, 3, "2011-02-04")]
    assert got.marks[0].reason == "promotion" and got.marks[1].note == "stock-out"
    assert got.frame()["in table"].all()


def test_marks_that_name_no_row_or_another_tables_rows_are_refused(tmp_path):
    ds = weekly()
    ms = MarkStore(RunStore(tmp_path))
    with pytest.raises(M.MarksError, match="no row has the key Store 9"):
        ms.add(ds, {"Store": 9, "Date": "2011-01-14"}, "expected")
    with pytest.raises(M.MarksError, match="not a key column: Market"):
        ms.add(ds, {"Market": "M1", "Store": 1, "Date": "2011-01-14"}, "expected")
    assert len(ms.list(ds)) == 0  # all or none: nothing was written
    # another table (other columns): its own marks document, and its marks do not apply here
    other = weekly(extra=True)
    assert M.identity(other) != M.identity(ds)
    ms.add(other, {"Store": 1, "Date": "2011-01-07"}, "confirmed")
    assert len(ms.list(ds)) == 0
    # a document keyed by other columns is refused by name
    foreign = M.document({"identity": "0" * 16, "keys": ["market", "week"], "name": "panel"},
                         [M.Mark(key={"market": "M01", "week": "3"}, kind="expected")])
    with pytest.raises(M.MarksError, match="not a key column"):
        ms.import_document(ds, foreign)
    # a shorter table than the one the marks were made on: the marks on missing weeks are listed, not used
    ms.add(weekly(weeks=20), {"Store": 1, "Date": "2011-05-20"}, "expected")
    got = ms.list(weekly(weeks=10))
    assert [m.key["Date"] for m in got.matched.unmatched] == ["2011-05-20"]
    assert not got.frame()["in table"].iloc[-1]


@pytest.mark.parametrize("content", [b"{not json", b'{"format": "odcore-marks", "version": 1, "table": "x"}',
                                     b'{"format": "odcore-marks", "version": 1, "table": {"identity": "ID", '
                                     b'"keys": ["Store", "Date"]}, "marks": [{"key": "x", "kind": "expected"}]}',
                                     b"[" * 100_000, b'{"format": "other", "version": 1}'])
def test_a_damaged_marks_file_is_reported_ignored_and_kept_aside(tmp_path, content):
    ds = weekly()
    ms = MarkStore(RunStore(tmp_path))
    p = ms.path(M.identity(ds))
    p.parent.mkdir(parents=True)
    p.write_bytes(content.replace(b"ID", M.identity(ds).encode()))
    got = ms.list(ds)  # no exception: the table has no marks, and says why
    assert len(got) == 0 and "damaged" in got.problem and p.name in got.problem
    m = ms.add(ds, {"Store": 1, "Date": "2011-01-07"}, "expected")
    aside = list(p.parent.glob(f"{p.stem}.damaged-*.json"))
    assert len(aside) == 1 and aside[0].read_bytes() == content.replace(b"ID", M.identity(ds).encode())
    again = ms.list(ds)
    assert again.problem is None and [x.id for x in again.marks] == [m.id]


def test_remove_by_id_authors_and_replacing_a_mark(tmp_path):
    ds = weekly()
    ms = MarkStore(RunStore(tmp_path))
    a, b = author_tag("a" * 32), author_tag("b" * 32)
    assert a.startswith("session:") and "a" * 32 not in a  # the session's token itself is never written
    m1 = ms.add(ds, {"Store": 1, "Date": "2011-01-07"}, "expected", author=a)
    m2 = ms.add(ds, {"Store": 1, "Date": "2011-01-07"}, "confirmed", author=a)  # the same row again: replaced
    ms.add(ds, {"Store": 2, "Date": "2011-01-07"}, "expected", author=b)
    ms.add(ds, {"Store": 3, "Date": "2011-01-07"}, "expected")  # no author: everyone's
    ms.add(ds, {"Store": 3, "Date": "2011-01-14"}, "confirmed", author="cli:analyst")  # the command line's: shared
    assert [m.id for m in ms.list(ds, author=a).marks] == [m2.id, *[m.id for m in ms.list(ds).marks[-2:]]]
    assert m1.id not in ms.list(ds).by_id()
    with pytest.raises(M.MarksError, match="no mark"):
        ms.remove(ds, [ms.list(ds, author=b).marks[0].id], author=a)  # another author's mark
    assert ms.remove(ds, [m2.id], author=a) == 1
    assert len(ms.list(ds)) == 3


def test_concurrent_writers_lose_no_mark(tmp_path):
    ds = weekly(stores=4, weeks=10)
    ms = MarkStore(RunStore(tmp_path))
    meta = ds.meta.reset_index(drop=True)

    def work(store: int) -> None:
        for d in meta.loc[meta["Store"] == store, "Date"]:
            MarkStore(RunStore(tmp_path)).add(ds, {"Store": store, "Date": d}, "expected", author=str(store))

    threads = [threading.Thread(target=work, args=(s,)) for s in (1, 2, 3, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ms.list(ds)) == 40


def test_a_read_only_store_lists_marks_and_refuses_to_change_them(tmp_path):
    ds = weekly()
    MarkStore(RunStore(tmp_path)).add(ds, {"Store": 1, "Date": "2011-01-07"}, "expected")
    ro = MarkStore(RunStore(tmp_path, read_only=True))
    assert len(ro.list(ds)) == 1
    with pytest.raises(Exception, match="read-only"):
        ro.add(ds, {"Store": 2, "Date": "2011-01-07"}, "expected")


# ---------------------------------------------------------------------------------- the split a retraining makes
def _option(ds, marks):
    return M.option(marks, M.table_record(ds))


def test_all_protocol_with_marks_fits_on_the_marks_never_on_the_labels():
    ds = weekly()
    ds.y = np.zeros(ds.n_rows, dtype=np.int64)
    ds.y[:5] = 1  # the data's own labels: they evaluate, they must not reach fit
    e, c = row_of(ds, 1, "2011-01-14"), row_of(ds, 2, "2011-01-21")
    opt = _option(ds, [M.Mark(key=M.normalise_key(ds, {"Store": 1, "Date": "2011-01-14"}), kind="expected"),
                       M.Mark(key=M.normalise_key(ds, {"Store": 2, "Date": "2011-01-21"}), kind="confirmed")])
    sp = split(ds, "all", marks=opt)
    plain = split(ds, "all")
    assert sp.y_train.tolist() == [int(i == c) for i in range(ds.n_rows)]
    assert sp.y_test.tolist() == ds.y.tolist()
    assert sp.pos_index.tolist() == [e] and sp.marked["confirmed"].tolist() == [c]
    np.testing.assert_allclose(sp.scaler.mean, plain.scaler.mean)  # the marked rows are not counted twice
    np.testing.assert_allclose(sp.X_pos, sp.X_train[[e]])


def test_pu_protocol_with_marks_adds_expected_rows_and_drops_confirmed_ones_from_the_known_normals():
    ds = weekly()
    early = row_of(ds, 1, "2011-01-14")  # inside before=2011-02-01 but confirmed: never a labelled inlier
    late = row_of(ds, 2, "2011-04-01")  # after the date but expected: a labelled inlier
    opt = _option(ds, [M.Mark(key=M.normalise_key(ds, {"Store": 1, "Date": "2011-01-14"}), kind="confirmed"),
                       M.Mark(key=M.normalise_key(ds, {"Store": 2, "Date": "2011-04-01"}), kind="expected")])
    sp = split(ds, "pu", known_normal="before=2011-02-01", marks=opt)
    base = split(ds, "pu", known_normal="before=2011-02-01")
    assert early in base.pos_index and early not in sp.pos_index and early in sp.train_index
    assert late in sp.pos_index and late not in sp.train_index
    assert len(sp.test_index) == ds.n_rows
    only = split(ds, "pu", marks=_option(ds, [M.Mark(key=k, kind="expected") for k in (
        {"Store": "1", "Date": "2011-01-07"}, {"Store": "3", "Date": "2011-01-07"})]))
    assert sorted(only.pos_index.tolist()) == sorted([row_of(ds, 1, "2011-01-07"), row_of(ds, 3, "2011-01-07")])


def test_a_marks_option_from_another_table_or_with_a_row_marked_both_ways_is_refused():
    ds = weekly()
    foreign = {"table": "0" * 16, "keys": ["market", "week"], "marks": [{"id": "x", "kind": "expected",
                                                                        "key": ["M1", "3"]}]}
    with pytest.raises(M.MarksError, match="belong to another table"):
        split(ds, "all", marks=foreign)
    k = {"Store": "1", "Date": "2011-01-07"}
    with pytest.raises(M.MarksError, match="both expected and confirmed"):
        split(ds, "all", marks=_option(ds, [M.Mark(key=k, kind="expected"), M.Mark(key=k, kind="confirmed")]))
    with pytest.raises(M.MarksError, match="no row has the key"):
        split(ds, "all", marks=_option(ds, [M.Mark(key={"Store": "1", "Date": "1999-01-01"}, kind="expected")]))


# ---------------------------------------------------------------------------------- odcore marks
def test_the_marks_command(tmp_path, capsys):
    df = pd.DataFrame({"Store": np.repeat([1, 2], 15), "Date": list(pd.date_range("2011-01-07", periods=15,
                                                                                  freq="7D").strftime("%Y-%m-%d")) * 2,
                       "Sales": np.random.default_rng(0).normal(100, 5, 30)})
    path = tmp_path / "weekly.csv"
    df.to_csv(path, index=False)
    runs = str(tmp_path / "runs")
    base = ["marks", "--data", str(path), "--runs-dir", runs]

    def run(*extra: str) -> tuple[int, str, str]:
        rc = cli.main([base[0], *extra, *base[1:]])
        out = capsys.readouterr()
        return rc, out.out, out.err

    assert run("add", "--key", "Store=1", "--key", "Date=2011-01-14", "--kind", "expected", "--reason",
               "promotion")[0] == 0
    rc, _, err = run("add", "--key", "Store=7", "--key", "Date=2011-01-14", "--kind", "expected")
    assert rc == 2 and "no row has the key Store 7" in err
    rc, out, _ = run("list", "--json")
    doc = json.loads(out)
    assert rc == 0 and doc["table"]["keys"] == ["Store", "Date"] and doc["marks"][0]["reason"] == "promotion"
    assert doc["marks"][0]["author"].startswith("cli:")
    assert run("export", "--output", str(tmp_path / "m.json"))[0] == 0
    assert run("remove", doc["marks"][0]["id"])[0] == 0
    assert "no marks" in run("list")[1]
    rc, out, _ = run("import", str(tmp_path / "m.json"))
    assert rc == 0 and "imported 1" in out
    (tmp_path / "bad.json").write_text("{")
    rc, _, err = run("import", str(tmp_path / "bad.json"))
    assert rc == 2 and "not a marks file" in err
