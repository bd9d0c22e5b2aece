"""`python -m odcore`: end to end on built-ins, in process (fast), plus one subprocess check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest

from odcore.cli import BENCH_KEYS, main
from odcore.runs.store import RunStore

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AE = ["--param", "epochs=2", "--param", "hidden=[16]", "--param", "latent=4"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def runs_dir(tmp_path):
    return str(tmp_path / "runs")


@pytest.fixture
def trained(capsys, runs_dir):
    code, out, err = run(capsys, "train", "--data", "breast-cancer", "--method", "autoencoder", *AE,
                         "--seed", "2", "--runs-dir", runs_dir, "--json")
    assert code == 0, err
    return json.loads(out)


def test_datasets_and_methods(capsys):
    code, out, _ = run(capsys, "datasets", "--json")
    names = [d["name"] for d in json.loads(out)]
    assert code == 0 and {"sine", "breast-cancer", "digits"} <= set(names)
    code, out, _ = run(capsys, "methods", "--json")
    methods = {m["name"]: m for m in json.loads(out)}
    assert code == 0 and "autoencoder" in methods
    ae = methods["autoencoder"]
    assert ae["family"] == "deep" and "embed" in ae["capabilities"]
    assert {"name", "default", "help"} <= set(ae["params"][0])
    code, out, _ = run(capsys, "methods", "-v")
    assert code == 0 and "epochs" in out


def test_describe(capsys):
    code, out, _ = run(capsys, "describe", "breast-cancer", "--json")
    assert code == 0 and isinstance(json.loads(out), dict)


def test_train_runs_show_and_score(capsys, runs_dir, trained, tmp_path):
    import odcore.data

    assert trained["status"] == "done" and set(trained["metrics"]) == {"auroc", "auprc", "precision_at_10", "f1"}
    rid = trained["run_id"]
    code, out, _ = run(capsys, "runs", "--runs-dir", runs_dir, "--json")
    assert code == 0 and [r["id"] for r in json.loads(out)] == [rid]
    code, out, _ = run(capsys, "runs", "--runs-dir", runs_dir)
    assert code == 0 and rid in out
    code, out, _ = run(capsys, "runs", "show", rid, "--runs-dir", runs_dir)
    assert code == 0 and "auroc" in out and "history: 2 epochs" in out

    # score the raw data (CSV, Parquet in small chunks, .npz): the run's standardisation is applied
    ds = odcore.data.load("breast-cancer")
    frame = ds.frame()
    frame.to_csv(tmp_path / "in.csv", index=False)
    frame.to_parquet(tmp_path / "in.parquet", index=False)
    np.savez(tmp_path / "in.npz", X=ds.X, y=ds.y)
    outs = {}
    for src, dst in (("in.csv", "a.parquet"), ("in.parquet", "b.csv"), ("in.npz", "c.parquet")):
        code, _, err = run(capsys, "score", "--run", rid, "--input", str(tmp_path / src),
                           "--output", str(tmp_path / dst), "--runs-dir", runs_dir, "--chunk-size", "100")
        assert code == 0, err
        outs[dst] = pd.read_parquet(tmp_path / dst) if dst.endswith("parquet") else pd.read_csv(tmp_path / dst)
    a = outs["a.parquet"]
    assert list(a.columns) == ["row_id", "score", "pred", "label"] and len(a) == ds.n_rows
    np.testing.assert_array_equal(a["row_id"], np.arange(ds.n_rows))
    np.testing.assert_array_equal(a["label"], ds.y)
    np.testing.assert_allclose(outs["b.csv"]["score"], a["score"], rtol=1e-6)
    np.testing.assert_array_equal(outs["c.parquet"]["score"], a["score"])
    # rows of the test part get exactly the scores the run recorded
    stored = RunStore(runs_dir).get(rid).scores
    np.testing.assert_allclose(a["score"].to_numpy()[stored["row_id"]], stored["score"], rtol=1e-6)

    # scoring a file with other columns is refused with a message
    pd.DataFrame({"a": [1.0, 2.0]}).to_csv(tmp_path / "bad.csv", index=False)
    code, _, err = run(capsys, "score", "--run", rid, "--input", str(tmp_path / "bad.csv"),
                       "--output", str(tmp_path / "x.csv"), "--runs-dir", runs_dir)
    assert code == 2 and "lacks 30 of the run's 30 feature columns" in err and not (tmp_path / "x.csv").exists()


def test_bench_json_and_markdown(capsys, tmp_path):
    jpath, mpath = tmp_path / "out" / "b.json", tmp_path / "out" / "b.md"
    code, _, err = run(capsys, "bench", "--data", "breast-cancer,gaussian-ocnn", "--methods", "pca,iforest",
                       "--param", "n_estimators=20", "--seeds", "2", "--json", str(jpath), "--markdown", str(mpath),
                       "-q")
    assert code == 0, err
    records = json.loads(jpath.read_text())
    assert len(records) == 2 * 2 * 2
    for r in records:
        assert tuple(r) == BENCH_KEYS
        assert r["protocol"] == "unsupervised" and r["seed"] in (0, 1)
        assert all(isinstance(r[k], float) for k in ("auroc", "auprc", "precision_at_10", "f1", "fit_seconds"))
    assert {(r["dataset"], r["method"]) for r in records} == {
        (d, m) for d in ("breast-cancer", "gaussian-ocnn") for m in ("pca", "iforest")}
    table = mpath.read_text()
    assert table.count("\n") == 2 + 4 and "±" in table and "| breast-cancer | iforest |" in table


def test_bench_takes_files_with_a_label_column(capsys, tmp_path):
    import odcore.data

    frame = odcore.data.load("breast-cancer").frame().rename(columns={"label": "malignant"})
    frame.to_csv(tmp_path / "cancer.csv", index=False)
    jpath = tmp_path / "b.json"
    code, out, err = run(capsys, "bench", "--data", f"breast-cancer,{tmp_path / 'cancer.csv'}", "--methods", "pca",
                         "--data-option", "label_column=malignant", "--seeds", "1", "--json", str(jpath), "-q")
    assert code == 0, err
    recs = json.loads(jpath.read_text())
    assert [r["dataset"] for r in recs] == ["breast-cancer", str(tmp_path / "cancer.csv")]
    assert abs(recs[0]["auroc"] - recs[1]["auroc"]) < 0.02  # the same table, read back from CSV


@pytest.mark.parametrize("argv, needle", [
    (["train", "--data", "breast-cancer", "--method", "nope"], "choose one of: "),
    (["train", "--data", "breast-cancer", "--method", "pca", "--param", "depth=2"], "valid: "),
    (["train", "--data", "breast-cancer", "--method", "autoencoder", "--param", "epochs=many"],
     "epochs must be a whole number"),  # the declared parameter's message
    (["train", "--data", "breast-cancer", "--method", "pca", "--protocol", "x"], "choose one of: unsupervised"),
    (["train", "--data", "breast-cancer", "--method", "pca", "--protocol-option", "bogus=1"], "valid: "),
    (["train", "--data", "missing.csv", "--method", "pca"], "neither a built-in"),
    (["train", "--data", "sine", "--method", "pca", "--protocol", "novelty"], "no labelled anomalies"),
    (["bench", "--data", "sine", "--methods", "pca", "--protocol", "drocc"], "sine"),
    (["bench", "--data", "breast-cancer", "--methods", "pca,nope"], "choose one of"),
    (["runs", "show", "nope"], "no run"),
    (["score", "--run", "nope", "--input", "a.csv", "--output", "b.csv"], "no run"),
])
def test_bad_input_is_one_line_and_exit_code_2(capsys, runs_dir, argv, needle):
    if argv[0] in ("train", "runs", "score", "bench"):
        argv = argv + (["--runs-dir", runs_dir] if argv[0] != "bench" else [])
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("error: ") and needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    if argv[0] == "train":
        assert not os.path.exists(runs_dir) or RunStore(runs_dir).list_runs() == []  # no run left behind


def test_debug_shows_the_traceback(runs_dir):
    from odcore.errors import InputError

    with pytest.raises(InputError):
        main(["train", "--data", "breast-cancer", "--method", "nope", "--runs-dir", runs_dir, "--debug"])


def test_ctrl_c_cancels_and_keeps_the_partial_run(capsys, runs_dir):
    import _thread

    def interrupt_after_two_epochs():
        end = time.time() + 60
        while time.time() < end:
            rows = RunStore(runs_dir, recover=False).list_runs() if os.path.exists(runs_dir) else []
            if rows and len(RunStore(runs_dir, recover=False).get(rows[0]["id"]).history) >= 2:
                _thread.interrupt_main()  # what Ctrl-C does
                return
            time.sleep(0.05)

    threading.Thread(target=interrupt_after_two_epochs, daemon=True).start()
    code, out, err = run(capsys, "train", "--data", "breast-cancer", "--method", "autoencoder",
                         "--param", "epochs=100000", "--param", "batch_size=16", "--param", "hidden=[8]",
                         "--no-monitor", "--runs-dir", runs_dir)
    assert code == 130, err
    assert "cancelled" in out and "interrupted" in err
    (row,) = RunStore(runs_dir).list_runs()
    run_ = RunStore(runs_dir).get(row["id"])
    assert run_.status == "cancelled" and len(run_.history) >= 2 and run_.scores is None


def test_module_entry_point_in_a_subprocess():
    env = {**os.environ, "PYTHONPATH": ROOT}
    ok = subprocess.run([sys.executable, "-m", "odcore", "datasets"], capture_output=True, text=True, env=env,
                        cwd=ROOT, timeout=120)
    assert ok.returncode == 0 and "breast-cancer" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "odcore", "train", "--data", "sine", "--method", "nope"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert bad.returncode == 2 and "unknown method 'nope'" in bad.stderr and "Traceback" not in bad.stderr


def test_parquet_reader_streams_in_bounded_memory(tmp_path):
    """Regression: pyarrow's default pre-buffering kept every row group read, so memory grew with the file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from odcore.runs.scoring import iter_chunks

    rng = np.random.default_rng(0)
    path = tmp_path / "big.parquet"
    with pq.ParquetWriter(path, pa.schema([(f"x{j}", pa.float32()) for j in range(10)])) as w:
        for _ in range(40):  # 40 row groups x 5,000 rows x 10 float32 = 8 MB of data
            X = rng.normal(size=(5000, 10)).astype(np.float32)
            w.write_table(pa.table({f"x{j}": X[:, j] for j in range(10)}))
    base = pa.total_allocated_bytes()
    peak = rows = 0
    for chunk in iter_chunks(path, 2000):
        rows += len(chunk)
        peak = max(peak, pa.total_allocated_bytes() - base)
    assert rows == 200_000
    assert peak < 2_000_000  # a few chunks, not the 8 MB file
