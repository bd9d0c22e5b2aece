"""HBOS: histogram-based outlier score, PyOD's implementation behind the odcore contract.

Goldstein and Dengel, *Histogram-based Outlier Score (HBOS): A fast Unsupervised Anomaly
Detection Algorithm*, KI 2012: one histogram per feature, the score is the sum over features of
``log(1 / density)`` of the row's bin (features assumed independent). ADBench ranks it among the
strongest unsupervised detectors on tabular data.

Saved without pickle: the training rows go to the safetensors file and ``load`` refits
(HBOS is deterministic), as for the other classical detectors.
"""

from __future__ import annotations

import numpy as np

from odcore.models.classical import RefitDetector
from odcore.models.params import Param


class HBOS(RefitDetector):
    """Histogram-based outlier score (PyOD's ``HBOS``); higher = more anomalous."""

    params = (
        Param("n_bins", 10, "bins per feature histogram, or 'auto' (Birge-Rozenblac, per feature)", kind="int",
              low=2, high=10_000, choices=("auto",)),
        Param("alpha", 0.1, "regulariser added to every bin's density (prevents log of zero)", low=0.0, high=1.0,
              low_open=True, high_open=True),
        Param("tol", 0.5, "how far outside the bins (as a share of a bin's width) a value still takes the edge bin's "
              "density", low=0.0, high=1.0, low_open=True, high_open=True),
    )

    def _estimator(self):
        from pyod.models.hbos import HBOS as PyODHBOS

        return PyODHBOS(n_bins=self.n_bins, alpha=self.alpha, tol=self.tol, contamination=self.contamination)

    def _score(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.estimator_.decision_function(np.asarray(X, dtype=np.float64)), dtype=np.float64)
