"""MLflow tracking: a run logs its parameters, per-epoch history, metrics and model files to a local
file store, and a stored run loads back as an MLflow pyfunc model that gives the same scores."""

import numpy as np
import pytest
from conftest import require

from odcore.runs import execution
from odcore.runs.spec import RunSpec, resolve
from odcore.runs.store import RunStore


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch):
    mlflow = require("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps the file store behind this switch
    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("ODCORE_MLFLOW_URI", uri)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return mlflow, uri


def test_a_run_is_logged_with_params_history_metrics_and_files(tmp_path, mlflow_store):
    mlflow, uri = mlflow_store
    from mlflow.tracking import MlflowClient

    store = RunStore(tmp_path / "runs")
    res = execution.execute(resolve(RunSpec("breast-cancer", "autoencoder", params={"epochs": 3, "latent": 4}),
                                    store=store), store=store)
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("odcore").experiment_id])
    assert len(runs) == 1
    r = runs[0]
    assert r.data.tags["odcore.run_id"] == res["run_id"] and r.info.status == "FINISHED"
    assert r.data.params["method"] == "autoencoder" and r.data.params["params.epochs"] == "3"
    assert r.data.params["params.latent"] == "4"
    history = client.get_metric_history(r.info.run_id, "loss")
    assert [m.step for m in history] == [1, 2, 3]
    assert r.data.metrics["auroc"] == pytest.approx(res["metrics"]["auroc"])
    files = {f.path for f in client.list_artifacts(r.info.run_id, "odcore")}
    assert {"odcore/model", "odcore/config.json"} <= files
    model_files = {f.path for f in client.list_artifacts(r.info.run_id, "odcore/model")}
    assert {"odcore/model/weights.safetensors", "odcore/model/config.json"} <= model_files


def test_a_stored_run_loads_as_a_pyfunc_model_with_the_same_scores(tmp_path, mlflow_store):
    mlflow, uri = mlflow_store
    import pandas as pd

    from odcore import data
    from odcore.runs import tracking
    from odcore.runs.scoring import score_file

    store = RunStore(tmp_path / "runs")
    res = execution.execute(resolve(RunSpec("breast-cancer", "knn", protocol="unsupervised"), store=store), store=store)
    run = store.get(res["run_id"])
    model_uri = tracking.log_model(run, uri=uri)
    model = mlflow.pyfunc.load_model(model_uri)
    ds = data.load("breast-cancer")
    frame = pd.DataFrame(ds.X, columns=ds.feature_names)
    got = np.asarray(model.predict(frame), dtype=np.float64)
    frame.to_parquet(tmp_path / "rows.parquet")
    score_file(run, tmp_path / "rows.parquet", tmp_path / "scored.parquet")
    want = pd.read_parquet(tmp_path / "scored.parquet")["score"].to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_tracking_is_off_without_a_uri(tmp_path, monkeypatch):
    from odcore.runs import tracking

    monkeypatch.delenv("ODCORE_MLFLOW_URI", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert not tracking.enabled()
    store = RunStore(tmp_path / "runs")
    res = execution.execute(resolve(RunSpec("breast-cancer", "knn"), store=store), store=store)
    assert tracking.log_run(store.get(res["run_id"])) is None
