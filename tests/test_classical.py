"""scikit-learn baselines behind the odcore contract."""

import numpy as np
import pytest

from odcore.metrics import auroc
from odcore.models import create
from odcore.models.base import BaseDetector

CLASSICAL = ["iforest", "lof", "ocsvm", "knn", "pca"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(42)
    # inliers near a 2-D plane in 6-D; outliers off the plane
    z = rng.normal(size=(400, 2))
    A = rng.normal(size=(2, 6))
    inl = z @ A + 0.05 * rng.normal(size=(400, 6))
    out = rng.normal(size=(20, 6)) * 3
    X = np.r_[inl, out].astype(np.float32)
    y = np.r_[np.zeros(400), np.ones(20)].astype(int)
    return X, y


@pytest.mark.parametrize("name", CLASSICAL)
def test_detects_planted_outliers(name, data):
    X, y = data
    m = create(name).fit(X)
    assert auroc(y, m.decision_scores_) > 0.9
    # higher = more anomalous on new data too
    assert m.decision_function(X[-20:]).mean() > m.decision_function(X[:400]).mean()


@pytest.mark.parametrize("name", CLASSICAL)
def test_save_load_identical(name, data, tmp_path):
    X, _ = data
    m = create(name).fit(X)
    m.save(tmp_path / name)
    r = BaseDetector.load(tmp_path / name)
    assert type(r) is type(m)
    assert np.array_equal(r.decision_function(X), m.decision_function(X))
    assert np.array_equal(r.predict(X), m.predict(X))


def test_knn_training_scores_leave_the_row_out(data):
    X, _ = data
    m = create("knn", n_neighbors=1).fit(X)
    assert (m.decision_scores_ > 0).all()  # a row is not its own neighbour
    assert np.allclose(m.decision_function(X), 0.0)  # but new copies of a row are at distance 0


def test_pca_reconstruction_errors_sum_to_score(data):
    X, _ = data
    m = create("pca", n_components=2).fit(X)
    rec = m.reconstruct(X[:10])
    assert np.allclose(rec["errors"].sum(axis=1), m.decision_function(X[:10]), rtol=1e-4)
