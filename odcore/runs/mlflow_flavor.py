"""The MLflow ``pyfunc`` loader of a stored odcore run (see :func:`odcore.runs.tracking.log_model`).

MLflow calls :func:`_load_pyfunc` with the folder logged as ``data_path`` (the run's ``model/``,
``transform.npz`` and ``config.json``); the returned :class:`RunModel` scores pandas DataFrames with the
run's columns, so ``mlflow.pyfunc.load_model(uri).predict(df)`` and ``mlflow.pyfunc.spark_udf(spark, uri)``
give the same scores as ``python -m odcore score``. Plain files only: nothing is unpickled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


class RunModel:
    """A stored run's detector with its feature columns and standardiser; ``predict`` returns scores."""

    def __init__(self, folder: str | Path):
        from odcore.runs.rebuild import load_model
        from odcore.runs.store import Run

        folder = Path(folder)
        config = json.loads((folder / "config.json").read_text())
        self.run = Run(None, str(config.get("id", folder.name)), folder, config)
        self.model = load_model(self.run)
        self.scaler = self.run.standardizer()
        info = config.get("dataset", {})
        self.features = list(info.get("feature_names") or [])
        self.label_column = info.get("label_column")

    def predict(self, model_input: Any, params: dict | None = None) -> np.ndarray:
        """Anomaly scores (higher = more anomalous) of the rows of ``model_input`` (a DataFrame with the
        run's feature columns, matched by name)."""
        import pandas as pd

        from odcore.runs.execution import score_rows
        from odcore.runs.scoring import select_features

        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        X, _ = select_features(frame, self.features, self.label_column)
        return score_rows(self.model, self.scaler.transform(X))["score"]


def _load_pyfunc(data_path: str) -> RunModel:
    """MLflow's entry point for the ``loader_module`` pyfunc flavour."""
    return RunModel(data_path)
