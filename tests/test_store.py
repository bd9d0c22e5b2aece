"""Run store: layout, identical scores on reload, failed runs, crash recovery, index rebuild."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from odcore.errors import InputError
from odcore.runs.execution import execute
from odcore.runs.rebuild import load_model, load_split
from odcore.runs.spec import RunSpec, resolve
from odcore.runs.store import RunStore

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AE = {"epochs": 2, "hidden": [16], "latent": 4, "batch_size": 128}


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs")


def test_run_folder_holds_everything_and_reloads_to_identical_scores(store):
    res = execute(resolve(RunSpec("breast-cancer", "autoencoder", params=AE, seed=3), store=store), store=store)
    run = store.get(res["run_id"])
    assert run.status == "done"
    cfg = run.config
    for key in ("method", "params", "dataset", "protocol", "protocol_options", "split_seed", "seed", "device",
                "versions", "created", "finished", "status", "timings", "metrics"):
        assert key in cfg, key
    assert cfg["params"]["random_state"] == 3 and cfg["split_seed"] == 3
    assert len(cfg["dataset"]["hash"]) == 16 and "torch" in cfg["versions"]
    assert [h["epoch"] for h in run.history] == [1, 2]
    assert set(run.metrics) == {"auroc", "auprc", "precision_at_10", "f1"}
    assert list(run.scores.columns) == ["row_id", "score", "label", "pred"]
    assert (run.path / "model" / "weights.safetensors").exists() and run.cache_dir.is_dir()
    # reloading the model and the split reproduces the recorded scores exactly
    model = load_model(run)
    ds, split = load_split(run)
    np.testing.assert_array_equal(split.test_index, run.scores["row_id"].to_numpy())
    np.testing.assert_array_equal(model.decision_function(split.X_test), run.scores["score"].to_numpy())
    # the index lists it with its metrics, and filters work
    rows = store.list_runs(method="autoencoder", status="done")
    assert [r["id"] for r in rows] == [run.id] and rows[0]["metrics"]["auroc"] == run.metrics["auroc"]
    assert store.list_runs(method="iforest") == []


def test_in_memory_dataset_is_kept_once_and_reloads(store):
    import odcore.data

    ds = odcore.data.load("breast-cancer")
    ds.name = "my upload"
    a = execute(resolve(RunSpec(ds, "iforest", params={"n_estimators": 20}), store=store), store=store)
    b = execute(resolve(RunSpec(ds, "pca"), store=store), store=store)
    saved = list((store.root / "_data").glob("*.npz"))
    assert len(saved) == 1 and saved[0].stem == ds.content_hash()
    for rid in (a["run_id"], b["run_id"]):
        run = store.get(rid)
        assert run.config["spec"]["data"] == "stored:" + ds.content_hash()
        ds2, split = load_split(run)
        assert ds2.name == "my upload" and ds2.content_hash() == ds.content_hash()
        np.testing.assert_array_equal(load_model(run).decision_function(split.X_test), run.scores["score"])


def test_bad_parameters_are_refused_before_a_run_record_exists(store):
    with pytest.raises(InputError, match="batch_size"):
        execute(resolve(RunSpec("breast-cancer", "autoencoder", params={**AE, "batch_size": 0}), store=store),
                store=store)
    assert store.list_runs() == [] and not any(store.root.glob("*/config.json"))


def test_failed_run_keeps_error_and_traceback(store, monkeypatch):
    from odcore.runs import execution

    def fails(*a, **k):  # a failure during the fit (the request itself was valid)
        raise InputError("the bogus layer ran out of memory (simulated)")

    monkeypatch.setattr(execution, "fit_detector", fails)
    with pytest.raises(InputError) as info:
        execute(resolve(RunSpec("breast-cancer", "autoencoder", params=AE), store=store), store=store)
    run = store.get(info.value.run_id)
    assert run.status == "failed"
    assert "bogus" in run.error and "Traceback" in run.traceback
    assert run.scores is None and store.list_runs(status="failed")[0]["id"] == run.id
    with pytest.raises(InputError, match="no saved model"):
        load_model(run)


def test_crash_mid_write_is_marked_failed_and_index_stays_readable(store):
    # a separate process starts a run, writes some history, leaves a torn line and a temp file, then dies
    code = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {ROOT!r})
        from odcore.runs.spec import RunSpec
        from odcore.runs.store import RunStore
        s = RunStore({str(store.root)!r})
        run = s.begin("autoencoder", RunSpec("breast-cancer", "autoencoder").to_dict())
        s.append_history(run.id, {{"epoch": 1, "loss": 0.5}})
        with open(run.path / "history.jsonl", "a") as fh:
            fh.write('{{"epoch": 2, "lo')
        (run.path / ".scores.parquet.tmp").write_bytes(b"PAR1 half")
        print(run.id)
        os._exit(1)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    run_id = proc.stdout.strip()
    assert run_id, proc.stderr
    reopened = RunStore(store.root)
    run = reopened.get(run_id)
    assert run.status == "failed" and "stopped before it finished" in run.error
    assert run.history == [{"epoch": 1, "loss": 0.5}]  # the torn line is skipped, never half-read
    assert run.scores is None and not list(run.path.glob(".*.tmp"))  # the half-written file is gone
    assert [r["status"] for r in reopened.list_runs()] == ["failed"]


def test_live_run_of_this_process_is_not_marked_failed(store):
    run = store.begin("iforest", RunSpec("breast-cancer", "iforest").to_dict())
    assert RunStore(store.root).get(run.id).status == "running"
    store.mark(run.id, "cancelled", error="stopped by test")
    assert RunStore(store.root).get(run.id).status == "cancelled"


def test_index_is_rebuilt_from_run_folders(store):
    ids = [execute(resolve(RunSpec("breast-cancer", "pca", seed=s), store=store),
                   store=store)["run_id"] for s in range(2)]
    # a garbage index file
    store._con.close()
    for suffix in ("-wal", "-shm"):
        p = store.root / ("index.sqlite" + suffix)
        if p.exists():
            p.unlink()
    (store.root / "index.sqlite").write_bytes(b"this is not a database" * 100)
    again = RunStore(store.root)
    assert sorted(r["id"] for r in again.list_runs()) == sorted(ids)
    # a run folder copied in behind the index's back is picked up on open
    import shutil

    shutil.copytree(store.root / ids[0], store.root / "copied-run")
    cfg = json.loads((store.root / "copied-run" / "config.json").read_text())
    cfg["id"] = "copied-run"
    (store.root / "copied-run" / "config.json").write_text(json.dumps(cfg))
    assert "copied-run" in {r["id"] for r in RunStore(store.root).list_runs()}
    assert again.rebuild_index() == 3


def test_unknown_run_id_is_a_clear_error(store):
    with pytest.raises(InputError, match="no run"):
        store.get("nope")
    with pytest.raises(InputError, match="not a run id"):
        store.get("../etc")


def test_root_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ODCORE_RUNS_DIR", str(tmp_path / "envruns"))
    assert RunStore().root == (tmp_path / "envruns").resolve()
