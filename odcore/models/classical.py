"""scikit-learn's classical detectors behind the odcore contract.

Scores are oriented so that higher = more anomalous. ``save`` stores the training matrix
(safetensors) and ``load`` refits the (deterministic, seeded) estimator on it, so no pickle is
ever written or read and a reloaded model gives identical scores. These fits do not look at
``cancel`` while they run (scikit-learn gives no hook); the base class checks it before and after.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from odcore.errors import InputError
from odcore.models.base import RANDOM_STATE, BaseDetector
from odcore.models.capabilities import Capabilities
from odcore.models.params import Param

N_NEIGHBORS = Param("n_neighbors", 20, "neighbourhood size k", kind="int", low=1, high=100_000)


class RefitDetector(BaseDetector):
    """A detector saved as its training rows and refitted on load (deterministic, seeded estimators)."""

    params = (RANDOM_STATE,)
    param_overrides = {"random_state": {"help": "seed of the estimator"}}
    _saved_attrs = ("X_train_",)

    def _estimator(self):  # pragma: no cover
        raise NotImplementedError

    # the estimators work in float64 (as they do on plain NumPy input): float32 BLAS results depend on
    # the batch, so a row's score would change with the rows scored beside it
    def _fit(self, X, y, *, X_pos, monitor, callbacks, cancel) -> None:
        self.X_train_ = np.asarray(X, dtype=np.float32)
        self.estimator_ = self._estimator().fit(self.X_train_.astype(np.float64))

    def _restore_tensors(self, tensors: dict[str, Any]) -> None:
        self.estimator_ = self._estimator().fit(np.asarray(self.X_train_, dtype=np.float64))

    def _score(self, X: np.ndarray) -> np.ndarray:
        return -np.asarray(self.estimator_.score_samples(X.astype(np.float64)), dtype=np.float64)


class IForest(RefitDetector):
    """Isolation Forest; score = minus scikit-learn's ``score_samples`` (mean path length)."""

    params = (
        Param("n_estimators", 100, "number of trees", kind="int", low=1, high=100_000),
        Param("max_samples", "auto", "rows drawn per tree: 'auto' = min(256, n), a whole number, or a share in (0, 1]",
              kind="float", low=0.0, high=1e9, low_open=True, choices=("auto",)),
    )

    def _check_extra(self) -> None:
        v = self.max_samples
        if isinstance(v, float) and not v.is_integer() and v > 1.0:
            raise InputError(f"max_samples must be 'auto', a whole number of rows or a share in (0, 1], got {v!r}")

    def _estimator(self):
        from sklearn.ensemble import IsolationForest

        return IsolationForest(n_estimators=self.n_estimators, max_samples=self.max_samples,
                               random_state=self.random_state, n_jobs=1)


class LOF(RefitDetector):
    """Local Outlier Factor in novelty mode (so new rows can be scored)."""

    params = (N_NEIGHBORS,)

    def _estimator(self):
        from sklearn.neighbors import LocalOutlierFactor

        return LocalOutlierFactor(n_neighbors=min(int(self.n_neighbors), self.X_train_.shape[0] - 1), novelty=True)


class OCSVM(RefitDetector):
    """One-class SVM with an RBF kernel; score = minus the signed distance to the boundary."""

    params = (
        Param("nu", 0.1, "upper bound on the share of training errors", low=0.0, high=1.0, low_open=True),
        Param("gamma", "scale", "RBF kernel width: 'scale', 'auto' or a positive number", kind="float", low=0.0,
              high=1e9, low_open=True, choices=("scale", "auto")),
    )
    capability = Capabilities(boundary=True)

    def _estimator(self):
        from sklearn.svm import OneClassSVM

        return OneClassSVM(nu=self.nu, gamma=self.gamma)


class KNN(RefitDetector):
    """Distance to the k-th nearest training neighbour (``method='largest'``) or the mean of the k."""

    params = (
        N_NEIGHBORS,
        Param("method", "largest", "'largest' (k-th distance) or 'mean' (mean of the k distances)", kind="str",
              choices=("largest", "mean")),
    )
    param_overrides = {"n_neighbors": {"default": 5, "help": "k"}}

    def _estimator(self):
        from sklearn.neighbors import NearestNeighbors

        return NearestNeighbors(n_neighbors=min(int(self.n_neighbors), self.X_train_.shape[0]))

    def _dist(self, X: np.ndarray, exclude_self: bool) -> np.ndarray:
        k = self.n_neighbors + (1 if exclude_self else 0)
        k = min(k, self.X_train_.shape[0])
        d, _ = self.estimator_.kneighbors(np.asarray(X, dtype=np.float64), n_neighbors=k)
        if exclude_self:
            d = d[:, 1:]
        return d[:, -1] if self.method == "largest" else d.mean(axis=1)

    def fit(self, X, y=None, **kw):
        super().fit(X, y, **kw)
        # training scores leave each row out of its own neighbourhood
        self.decision_scores_ = self._dist(self.X_train_, exclude_self=True).astype(np.float64)
        self._set_threshold(self.X_train_)
        return self

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._dist(X, exclude_self=False).astype(np.float64)


class PCARecon(RefitDetector):
    """PCA reconstruction error: squared distance to the span of the top components."""

    params = (
        Param("n_components", 0.9, "number of components kept (a whole number) or explained-variance share (< 1)",
              kind="float", low=0.0, high=1e6, low_open=True),
    )
    capability = Capabilities(latent=True, decoders=("inlier",), latent_name="principal components")

    def _check_extra(self) -> None:
        v = self.n_components
        if isinstance(v, float) and not v.is_integer() and v >= 1.0:
            raise InputError(f"n_components must be a whole number of components or a share in (0, 1), got {v!r}")

    def _estimator(self):
        from sklearn.decomposition import PCA

        n = self.n_components
        if isinstance(n, float) and n.is_integer() and n >= 1:
            n = int(n)
        if isinstance(n, int):
            n = min(n, *self.X_train_.shape)
        return PCA(n_components=n, random_state=self.random_state)

    def _score(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        rec = self.estimator_.inverse_transform(self.estimator_.transform(X))
        return np.sum((X - rec) ** 2, axis=1)

    def embed(self, X) -> np.ndarray:
        """Principal-component coordinates."""
        self._check_fitted()
        return self.estimator_.transform(self._validate(X, reset=False).astype(np.float64))

    def reconstruct(self, X, decoder: str = "inlier") -> dict[str, np.ndarray]:
        """Projection onto the kept components and per-feature squared errors."""
        self._check_decoder(decoder)
        self._check_fitted()
        X = self._validate(X, reset=False)
        rec = self.estimator_.inverse_transform(self.estimator_.transform(X.astype(np.float64))).astype(np.float32)
        return {"reconstruction": rec, "errors": (rec - X) ** 2}
