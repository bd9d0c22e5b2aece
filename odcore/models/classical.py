"""scikit-learn's classical detectors behind the odcore contract.

Scores are oriented so that higher = more anomalous. ``save`` stores the training matrix
(safetensors) and ``load`` refits the (deterministic, seeded) estimator on it, so no pickle is
ever written or read and a reloaded model gives identical scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from odcore.models.base import BaseDetector


class _SklearnDetector(BaseDetector):
    common_help = {
        "contamination": "expected outlier share; sets threshold_ at the (1 - c) quantile of training scores",
        "random_state": "seed of the estimator",
    }
    _saved_attrs = ("X_train_",)

    def _estimator(self):  # pragma: no cover
        raise NotImplementedError

    def _fit(self, X, y, *, X_pos, monitor, callbacks, cancel) -> None:
        self.X_train_ = np.asarray(X, dtype=np.float32)
        self.estimator_ = self._estimator().fit(self.X_train_)

    def _restore_tensors(self, tensors: dict[str, Any]) -> None:
        self.estimator_ = self._estimator().fit(self.X_train_)

    def _score(self, X: np.ndarray) -> np.ndarray:
        return -np.asarray(self.estimator_.score_samples(X), dtype=np.float64)


class IForest(_SklearnDetector):
    """Isolation Forest; score = minus scikit-learn's ``score_samples`` (mean path length)."""

    param_help = {"n_estimators": "number of trees", "max_samples": "rows drawn per tree ('auto' = min(256, n))"}

    def __init__(self, *, n_estimators: int = 100, max_samples: Any = "auto",
                 contamination: float = 0.1, random_state: int = 0):
        self._store_params(locals())

    def _estimator(self):
        from sklearn.ensemble import IsolationForest

        return IsolationForest(n_estimators=self.n_estimators, max_samples=self.max_samples,
                               random_state=self.random_state, n_jobs=1)


class LOF(_SklearnDetector):
    """Local Outlier Factor in novelty mode (so new rows can be scored)."""

    param_help = {"n_neighbors": "neighbourhood size k"}

    def __init__(self, *, n_neighbors: int = 20, contamination: float = 0.1, random_state: int = 0):
        self._store_params(locals())

    def _estimator(self):
        from sklearn.neighbors import LocalOutlierFactor

        return LocalOutlierFactor(n_neighbors=self.n_neighbors, novelty=True)


class OCSVM(_SklearnDetector):
    """One-class SVM with an RBF kernel; score = minus the signed distance to the boundary."""

    param_help = {"nu": "upper bound on the share of training errors",
                  "gamma": "RBF kernel width ('scale' or a number)"}

    def __init__(self, *, nu: float = 0.1, gamma: Any = "scale", contamination: float = 0.1,
                 random_state: int = 0):
        self._store_params(locals())

    def _estimator(self):
        from sklearn.svm import OneClassSVM

        return OneClassSVM(nu=self.nu, gamma=self.gamma)

    def boundary(self, grid) -> np.ndarray:
        """Anomaly scores over the rows of ``grid`` (same as ``decision_function``)."""
        return self.decision_function(grid)


class KNN(_SklearnDetector):
    """Distance to the k-th nearest training neighbour (``method='largest'``) or the mean of the k."""

    param_help = {"n_neighbors": "k", "method": "'largest' (k-th distance) or 'mean' (mean of the k distances)"}

    def __init__(self, *, n_neighbors: int = 5, method: str = "largest", contamination: float = 0.1,
                 random_state: int = 0):
        self._store_params(locals())

    def _estimator(self):
        from sklearn.neighbors import NearestNeighbors

        return NearestNeighbors(n_neighbors=self.n_neighbors)

    def _dist(self, X: np.ndarray, exclude_self: bool) -> np.ndarray:
        k = self.n_neighbors + (1 if exclude_self else 0)
        k = min(k, self.X_train_.shape[0])
        d, _ = self.estimator_.kneighbors(X, n_neighbors=k)
        if exclude_self:
            d = d[:, 1:]
        return d[:, -1] if self.method == "largest" else d.mean(axis=1)

    def _fit(self, X, y, *, X_pos, monitor, callbacks, cancel) -> None:
        from odcore.errors import InputError

        if self.method not in ("largest", "mean"):
            raise InputError(f"method must be 'largest' or 'mean', got {self.method!r}")
        super()._fit(X, y, X_pos=X_pos, monitor=monitor, callbacks=callbacks, cancel=cancel)

    def fit(self, X, y=None, **kw):
        super().fit(X, y, **kw)
        # training scores leave each row out of its own neighbourhood
        self.decision_scores_ = self._dist(self.X_train_, exclude_self=True).astype(np.float64)
        self._set_threshold(self.X_train_)
        return self

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._dist(X, exclude_self=False).astype(np.float64)


class PCARecon(_SklearnDetector):
    """PCA reconstruction error: squared distance to the span of the top components."""

    param_help = {"n_components": "number of components kept (int) or explained-variance share (float < 1)"}

    def __init__(self, *, n_components: Any = 0.9, contamination: float = 0.1, random_state: int = 0):
        self._store_params(locals())

    def _estimator(self):
        from sklearn.decomposition import PCA

        return PCA(n_components=self.n_components, random_state=self.random_state)

    def _score(self, X: np.ndarray) -> np.ndarray:
        rec = self.estimator_.inverse_transform(self.estimator_.transform(X))
        return np.sum((np.asarray(X, dtype=np.float64) - rec) ** 2, axis=1)

    def embed(self, X) -> np.ndarray:
        """Principal-component coordinates."""
        from odcore.models.base import as_matrix

        return self.estimator_.transform(as_matrix(X, n_features=self.n_features_in_))

    def reconstruct(self, X, decoder: str = "inlier") -> dict[str, np.ndarray]:
        """Projection onto the kept components and per-feature squared errors."""
        from odcore.models.base import as_matrix

        X = as_matrix(X, n_features=self.n_features_in_)
        rec = self.estimator_.inverse_transform(self.estimator_.transform(X)).astype(np.float32)
        return {"reconstruction": rec, "errors": (rec - X) ** 2}
