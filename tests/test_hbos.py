"""HBOS through PyOD: the score is the sum over features of log(1 / bin density) (Goldstein and Dengel 2012)."""

import numpy as np
import pytest

from odcore import metrics
from odcore.models import registry


def test_planted_outliers_rank_first_and_the_score_is_the_histogram_formula():
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(size=(500, 3)), rng.normal(size=(10, 3)) * 8].astype(np.float32)
    y = np.r_[np.zeros(500), np.ones(10)]
    m = registry.create("hbos", n_bins=10).fit(X)
    s = m.decision_scores_
    assert metrics.auroc(y, s) > 0.98
    # independent check of the formula on one inlier, with the fitted histograms: sum_j -log2(density_j + alpha)
    # of the bin holding x_j (bins closed on the right, as numpy.digitize(right=True))
    est = m.estimator_
    x = X[0].astype(np.float64)
    expected = 0.0
    for j in range(X.shape[1]):
        edges, dens = est.bin_edges_[:, j], est.hist_[:, j]
        k = int(np.clip(np.digitize(x[j], edges, right=True) - 1, 0, len(dens) - 1))
        expected += -np.log2(dens[k] + m.alpha)
    assert s[0] == pytest.approx(expected, rel=1e-6)


def test_declared_parameters_and_round_trip(tmp_path):
    X = np.random.default_rng(1).normal(size=(200, 4))
    m = registry.create("hbos", n_bins="auto").fit(X)
    m.save(tmp_path / "m")
    r = type(m).load(tmp_path / "m")
    np.testing.assert_array_equal(r.decision_function(X), m.decision_function(X))
    assert registry.parse_params("hbos", {"n_bins": "20"}) == {"n_bins": 20}
    with pytest.raises(ValueError, match="n_bins"):
        registry.create("hbos", n_bins=1)
