"""Classical detectors saved as their training rows and refitted on load (no pickle), and PCA's
reconstruction error.

:class:`RefitDetector` is the base of every detector whose fit is a deterministic, seeded function of
its training rows: ``save`` stores the training matrix (safetensors) and ``load`` refits, so no pickle
is ever written or read and a reloaded model gives identical scores. These fits do not look at
``cancel`` while they run (the libraries give no hook); the base class checks it before and after.

Isolation Forest, LOF, the one-class SVM, kNN, HBOS and the other classical detectors are PyOD's,
through :mod:`odcore.models.pyod_adapter` (``from odcore.models.pyod_adapter import IForest``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from odcore.errors import InputError
from odcore.models.base import RANDOM_STATE, BaseDetector
from odcore.models.capabilities import Capabilities
from odcore.models.params import Param


class RefitDetector(BaseDetector):
    """A detector saved as its training rows and refitted on load (deterministic, seeded estimators)."""

    params = (RANDOM_STATE,)
    param_overrides = {"random_state": {"help": "seed of the estimator"}}
    _saved_attrs = ("X_train_",)

    def _estimator(self):  # pragma: no cover
        raise NotImplementedError

    def _fit_estimator(self, X: np.ndarray):
        """The fitted estimator of the float64 training rows ``X`` (fit and load both call this)."""
        return self._estimator().fit(X)

    # the estimators work in float64 (as they do on plain NumPy input): float32 BLAS results depend on
    # the batch, so a row's score would change with the rows scored beside it
    def _fit(self, X, y, *, X_pos, monitor, callbacks, cancel) -> None:
        self.X_train_ = np.asarray(X, dtype=np.float32)
        self.estimator_ = self._fit_estimator(self.X_train_.astype(np.float64))

    def _restore_tensors(self, tensors: dict[str, Any]) -> None:
        self.estimator_ = self._fit_estimator(np.asarray(self.X_train_, dtype=np.float64))

    def _score(self, X: np.ndarray) -> np.ndarray:
        return -np.asarray(self.estimator_.score_samples(X.astype(np.float64)), dtype=np.float64)


class PCARecon(RefitDetector):
    """PCA reconstruction error: squared distance to the span of the top components,
    ``||x - W W^T (x - mu) - mu||^2`` with ``W`` the kept principal directions (Jolliffe, *Principal
    Component Analysis*, 2002, eq. 10.1.1). PyOD's ``PCA`` (``pyod-pca``) is another score (distances to
    the components' hyperplanes weighted by their variance)."""

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

