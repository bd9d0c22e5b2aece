"""The streaming score path: Arrow batches straight to the run's standardised float32 rows (the same
numbers as the DataFrame path), one Scorer for every batch, a reader thread that hands its errors to
the caller, and a Parquet output written batch by batch whose scores do not depend on the batch size."""

import threading

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from odcore.data.scaling import Standardizer
from odcore.errors import InputError
from odcore.runs import RunSpec, RunStore, execute, scoring
from odcore.runs.execution import score_rows
from odcore.runs.scoring import Scorer, ahead, score_file, select_features
from odcore.runs.spec import resolve


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("stream")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(5.0, 3.0, size=(600, 6)), columns=[f"f{i}" for i in range(6)])
    frame["f2"] = rng.integers(0, 40, 600)  # an integer column
    frame["label"] = (rng.random(600) < 0.1).astype(int)
    frame.to_parquet(d / "train.parquet", index=False)
    store = RunStore(d / "runs")
    spec = RunSpec(str(d / "train.parquet"), "autoencoder", data_options={"label_column": "label"},
                   params={"epochs": 2, "batch_size": 64}, monitor=False)
    return store.get(execute(resolve(spec, store=store), store=store)["run_id"]), frame, d


def test_column_wise_standardisation_gives_the_standardisers_numbers():
    rng = np.random.default_rng(1)
    A = rng.normal(100.0, 30.0, size=(257, 5))
    scaler = Standardizer.fit(A.astype(np.float32))
    got = scaler.transform_columns(A[:, j] for j in range(5))
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, scaler.transform(A))
    by_column = scaler.transform_columns((A[:, j] for j in range(5)), order="F")  # the score program's layout
    assert by_column.flags.f_contiguous and not by_column.flags.c_contiguous
    np.testing.assert_array_equal(by_column, got)
    np.testing.assert_array_equal(Standardizer.identity().transform_columns([A[:, 0], A[:, 1]]),
                                  A[:, :2].astype(np.float32))
    wide = Standardizer(scaler.mean.astype(np.float64), scaler.scale.astype(np.float64))  # float64 arithmetic
    np.testing.assert_array_equal(wide.transform_columns(A[:, j] for j in range(5)), wide.transform(A))


def test_an_arrow_batch_scores_as_the_dataframe_path(trained):
    run, frame, _ = trained
    scorer = Scorer(run)
    new = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    new = new[list(reversed(new.columns))]  # columns in another order: matched by name
    out = scorer.score_batch(pa.RecordBatch.from_pandas(new, preserve_index=False), row_start=10)
    X, label = select_features(new, scorer.feature_names, scorer.label_column)
    want = score_rows(scorer.model, scorer.scaler.transform(X))
    assert out.column_names == ["row_id", "score", "pred", "label"]
    assert scorer.program is not None  # the autoencoder scores without torch (odcore.program): float32 rounding
    np.testing.assert_allclose(out.column("score").to_numpy(), want["score"], rtol=1e-5, atol=1e-6)
    clear = np.abs(want["score"] - scorer.threshold) > 1e-5
    np.testing.assert_array_equal(out.column("pred").to_numpy()[clear], want["pred"][clear])
    np.testing.assert_array_equal(out.column("row_id").to_numpy(), np.arange(10, 10 + len(new)))
    np.testing.assert_array_equal(out.column("label").to_numpy(), label)
    # the DataFrame itself and a Table give the same table
    assert scorer.score_batch(new, row_start=10).equals(out)
    assert scorer.score_batch(pa.Table.from_pandas(new, preserve_index=False), row_start=10).equals(out)
    with pytest.raises(InputError, match="lacks 1 of the run's 6 feature columns"):
        scorer.score_batch(pa.RecordBatch.from_pandas(new.drop(columns=["f3"]), preserve_index=False))
    with pytest.raises(InputError, match=r"column\(s\) 'f1' are not numeric"):
        scorer.score_batch(pa.RecordBatch.from_pandas(new.assign(f1="x"), preserve_index=False))


def test_parquet_scores_do_not_depend_on_the_batch_size(trained, tmp_path):
    run, frame, d = trained
    whole = Scorer(run).score_batch(frame).column("score").to_numpy()
    for chunk in (7, 128, 10_000):
        out = tmp_path / f"s{chunk}.parquet"
        stats = score_file(run, d / "train.parquet", out, chunk_size=chunk)
        got = pq.read_table(out)
        assert stats["rows"] == len(frame) == got.num_rows
        np.testing.assert_array_equal(got.column("row_id").to_numpy(), np.arange(len(frame)))
        np.testing.assert_allclose(got.column("score").to_numpy(), whole, rtol=1e-6)
        assert stats["flagged"] == int(got.column("pred").to_numpy().sum())
        if chunk == 7:  # written batch by batch, not gathered first
            assert pq.ParquetFile(out).metadata.num_row_groups > 1


def test_the_reader_thread_hands_its_error_over_and_stops(trained, tmp_path):
    def items():
        yield 1
        yield 2
        raise InputError("broken at item 3")

    got = []
    with pytest.raises(InputError, match="broken at item 3"):
        for x in ahead(items()):
            got.append(x)
    assert got == [1, 2]
    before = threading.active_count()
    it = ahead(iter(range(1000)))
    assert next(it) == 0
    it.close()  # the consumer stops early: the thread ends, nothing waits on a full queue
    assert threading.active_count() == before

    run, frame, d = trained  # a file damaged part-way: one message, no output left behind
    raw = (d / "train.parquet").read_bytes()
    bad = tmp_path / "cut.parquet"
    bad.write_bytes(raw[: len(raw) // 2] + raw[-2000:])
    with pytest.raises(InputError, match="cut.parquet"):
        score_file(run, bad, tmp_path / "o.parquet", chunk_size=50)
    assert not list(tmp_path.glob("*o.parquet*"))


@pytest.mark.parametrize("row_group_limit", [None, 0], ids=["scanner", "streaming"])
def test_a_folder_or_glob_of_parts_scores_as_the_whole_file(trained, tmp_path, monkeypatch, row_group_limit):
    """The local engine reads a Parquet folder (recursively, hive key=value folders as columns, hidden and
    _-prefixed files skipped) or a glob, in path order, and writes a file or a folder of parts; with
    both readers (row groups above the limit are streamed)."""
    if row_group_limit is not None:
        monkeypatch.setattr(scoring, "THREADED_ROW_GROUP_BYTES", row_group_limit)
    run, frame, d = trained
    whole = Scorer(run).score_batch(frame).column("score").to_numpy()
    parts = tmp_path / "lake"
    bounds = [(0, 250, "region=north"), (250, 400, "region=north"), (400, 600, "region=south")]
    for k, (a, b, sub) in enumerate(bounds):
        (parts / sub).mkdir(parents=True, exist_ok=True)
        frame.iloc[a:b].to_parquet(parts / sub / f"part-{k}.parquet", index=False)
    (parts / "_tmp").mkdir()
    frame.iloc[:5].to_parquet(parts / "_tmp" / "stale.parquet", index=False)  # a writer's leftovers: skipped
    frame.iloc[:5].to_parquet(parts / ".part-9.parquet", index=False)

    stats = score_file(run, parts, tmp_path / "out", chunk_size=100)  # a folder in, a folder of parts out
    assert stats["rows"] == len(frame) and stats["parts"] == 3
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"part-{k:05d}.parquet" for k in range(3)]
    got = pq.read_table(tmp_path / "out")
    np.testing.assert_array_equal(got.column("row_id").to_numpy(), np.arange(len(frame)))  # input order
    np.testing.assert_allclose(got.column("score").to_numpy(), whole, rtol=1e-6)
    assert pq.read_table(tmp_path / "out" / "part-00002.parquet").num_rows == 200  # one part per input file

    score_file(run, str(parts / "region=*" / "*.parquet"), tmp_path / "glob.parquet")  # a glob in, one file out
    np.testing.assert_allclose(pq.read_table(tmp_path / "glob.parquet").column("score").to_numpy(), whole, rtol=1e-6)

    with pytest.raises(InputError, match="exists and is not empty"):
        score_file(run, parts, tmp_path / "out")
    (tmp_path / "csvs").mkdir()
    frame.to_csv(tmp_path / "csvs" / "a.csv", index=False)
    with pytest.raises(InputError, match="has no .parquet files"):
        score_file(run, tmp_path / "csvs", tmp_path / "o2")
    with pytest.raises(InputError, match="glob is read as Parquet"):
        score_file(run, str(tmp_path / "csvs" / "*"), tmp_path / "o3")
    frame.drop(columns=["f3"]).to_parquet(parts / "region=south" / "part-3.parquet", index=False)
    with pytest.raises(InputError, match=r"part-3.parquet: the input lacks 1 of the run's 6 feature columns"):
        score_file(run, parts, tmp_path / "o4")
    assert not (tmp_path / "o4").exists() and not list(tmp_path.glob(".o4*"))  # nothing half-written is left


@pytest.mark.parametrize("row_group_limit", [None, 0], ids=["scanner", "streaming"])
def test_a_hive_partition_key_is_a_column_the_run_can_carry(tmp_path, monkeypatch, row_group_limit):
    """A run whose training rows carried a key column gets it back from the folder names of a
    hive-partitioned lake (region=north/...), as Ray Data reads it (with both readers)."""
    if row_group_limit is not None:
        monkeypatch.setattr(scoring, "THREADED_ROW_GROUP_BYTES", row_group_limit)
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    frame["region"] = np.where(np.arange(300) < 150, "north", "south")
    frame.to_parquet(tmp_path / "train.parquet", index=False)
    store = RunStore(tmp_path / "runs")
    spec = RunSpec(str(tmp_path / "train.parquet"), "iforest", data_options={"meta_columns": "region"})
    run = store.get(execute(resolve(spec, store=store), store=store)["run_id"])
    for region, rows in frame.groupby("region"):
        (tmp_path / "lake" / f"region={region}").mkdir(parents=True)
        rows.drop(columns=["region"]).to_parquet(tmp_path / "lake" / f"region={region}" / "p.parquet", index=False)
    score_file(run, tmp_path / "lake", tmp_path / "scored.parquet")
    got = pq.read_table(tmp_path / "scored.parquet")
    assert got.column_names[0] == "region"
    assert got.column("region").to_pylist() == frame["region"].tolist()
