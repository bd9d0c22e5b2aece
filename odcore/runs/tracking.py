"""MLflow tracking (optional): every stored run logged to MLflow, and runs as MLflow ``pyfunc`` models.

Tracking is on when the ``mlflow`` package (``pip install .[mlflow]``: mlflow-skinny) is importable
and a tracking URI is configured: ``MLFLOW_TRACKING_URI`` (MLflow's own variable) or
``ODCORE_MLFLOW_URI``. Then :func:`odcore.runs.execution.execute` calls :func:`log_run` when a run
ends (done, failed or cancelled): its parameters (the spec and every resolved detector parameter),
the per-epoch history as metric steps, the final metrics and timings, and the run's files — the
model (safetensors weights + JSON config), the standardiser and the run's config — as artifacts, so
a team that tracks experiments in MLflow sees odcore runs there. Nothing is pickled.

:func:`log_model` logs a stored run as an MLflow model of the ``pyfunc`` flavour whose loader is
:mod:`odcore.runs.mlflow_flavor` (plain files, no cloudpickle): ``mlflow.pyfunc.load_model(uri)``
returns an object whose ``predict(DataFrame)`` gives the anomaly scores, and
``mlflow.pyfunc.spark_udf(spark, uri)`` scores a Spark DataFrame with it (the executors need
``pip install odcore``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

ENV_URI = "ODCORE_MLFLOW_URI"
#: run files an MLflow model needs (the loader reads these and nothing else)
MODEL_FILES = ("model", "transform.npz", "config.json")


def _mlflow():
    try:
        import mlflow
    except ImportError:
        return None
    return mlflow


def tracking_uri() -> str | None:
    """The configured tracking URI (``ODCORE_MLFLOW_URI``, else ``MLFLOW_TRACKING_URI``), or None."""
    return os.environ.get(ENV_URI) or os.environ.get("MLFLOW_TRACKING_URI") or None


def enabled() -> bool:
    """True when mlflow is installed and a tracking URI is configured."""
    return tracking_uri() is not None and _mlflow() is not None


def _flat(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        text = str(list(value) if isinstance(value, tuple) else value)
        out[prefix] = text[:6000]  # MLflow's limit for a parameter value is 6,000 characters


def run_params(config: dict[str, Any]) -> dict[str, str]:
    """The parameters to log for a run record: method, data, protocol and options, seed, and every
    detector parameter, flattened to ``key -> text``."""
    spec = config.get("spec", {})
    out: dict[str, str] = {}
    _flat("", {"method": config.get("method"), "data": spec.get("data"), "protocol": spec.get("protocol"),
               "seed": spec.get("seed")}, out)
    _flat("protocol_options", spec.get("protocol_options") or {}, out)
    _flat("data_options", spec.get("data_options") or {}, out)
    _flat("params", config.get("params") or spec.get("params") or {}, out)
    return out


def _numeric(record: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in record.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("epoch", "epochs")
            and v == v}


def log_run(run: Any, *, uri: str | None = None, experiment: str = "odcore") -> str | None:
    """Log a stored run (:class:`odcore.runs.store.Run`) to MLflow; returns the MLflow run id, or None
    when tracking is off. The MLflow run is tagged ``odcore.run_id`` and gets the run's status."""
    mlflow = _mlflow()
    uri = uri or tracking_uri()
    if mlflow is None or uri is None:
        return None
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    exp_id = exp.experiment_id if exp is not None else client.create_experiment(experiment)
    cfg = run.config
    mrun = client.create_run(exp_id, run_name=run.id, tags={"odcore.run_id": run.id, "odcore.method": run.method,
                                                           "odcore.status": run.status})
    rid = mrun.info.run_id
    from mlflow.entities import Metric, Param

    params = [Param(k, v) for k, v in run_params(cfg).items()]
    for i in range(0, len(params), 100):  # MLflow takes at most 100 parameters per batch
        client.log_batch(rid, params=params[i:i + 100])
    metrics = []
    for rec in run.history:
        step = int(rec.get("epoch", 0))
        metrics += [Metric(k, v, 0, step) for k, v in _numeric(rec).items()]
    final = {**_numeric(run.metrics or {}), **_numeric(cfg.get("timings") or {})}
    metrics += [Metric(k, v, 0, 0) for k, v in final.items()]
    for i in range(0, len(metrics), 1000):
        client.log_batch(rid, metrics=metrics[i:i + 1000])
    for name in MODEL_FILES:
        p = run.path / name
        if p.is_dir():
            client.log_artifacts(rid, str(p), artifact_path=f"odcore/{name}")
        elif p.exists():
            client.log_artifact(rid, str(p), artifact_path="odcore")
    status = {"done": "FINISHED", "failed": "FAILED", "cancelled": "KILLED"}.get(run.status, "FINISHED")
    client.set_terminated(rid, status=status)
    return rid


def log_model(run: Any, *, uri: str | None = None, experiment: str = "odcore", name: str = "model") -> str:
    """Log a finished stored run as an MLflow ``pyfunc`` model; returns its model URI
    (``runs:/<mlflow run id>/<name>``) for ``mlflow.pyfunc.load_model`` or ``spark_udf``."""
    mlflow = _mlflow()
    if mlflow is None:
        from odcore.errors import InputError

        raise InputError("logging a model to MLflow needs mlflow: pip install 'odcore[mlflow]'")
    if run.status != "done":
        from odcore.errors import InputError

        raise InputError(f"run {run.id} is {run.status}; only finished runs can be logged as models")
    uri = uri or tracking_uri()
    if uri:
        mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(experiment)
    with tempfile.TemporaryDirectory(prefix="odcore-mlflow-") as tmp:
        bundle = Path(tmp) / "odcore_run"
        bundle.mkdir()
        for part in MODEL_FILES:
            src = run.path / part
            if src.is_dir():
                shutil.copytree(src, bundle / part)
            elif src.exists():
                shutil.copy2(src, bundle / part)
        with mlflow.start_run(run_name=f"{run.id} (model)", tags={"odcore.run_id": run.id}) as active:
            mlflow.pyfunc.log_model(name=name, loader_module="odcore.runs.mlflow_flavor", data_path=str(bundle),
                                    pip_requirements=[f"odcore=={_version()}"])
            return f"runs:/{active.info.run_id}/{name}"


def _version() -> str:
    import odcore

    return odcore.__version__
