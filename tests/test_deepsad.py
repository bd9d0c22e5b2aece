"""Deep SAD (Ruff et al. 2020): its objective (Eq. 4) against a direct computation, the centre of the rows not
labelled anomalous, Deep SVDD's objective without labels, and labelled anomalies that teach it what to flag."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from odcore.errors import InputError
from odcore.metrics import auroc
from odcore.models.deepsad import INVERSE_EPS, DeepSAD

FAST = dict(epochs=3, batch_size=64, hidden=(16,), rep_dim=4, lr=1e-3)


def data(n=300, d=5, seed=0):
    """Gaussian rows with 15 anomalies shifted mildly in two features (a detector without labels misses many)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = np.zeros(n, dtype=np.int64)
    idx = rng.choice(n, 15, replace=False)
    X[idx, :2] += 2.0
    y[idx] = 1
    return X, y, idx


def test_objective_matches_eq4():
    X, y, idx = data()
    lab = np.zeros_like(y)
    lab[idx[:5]] = 1
    pos = X[y == 0][:10]
    model = DeepSAD(**FAST, eta=2.0).fit(X, lab, X_pos=pos)
    d_x = ((model.embed(X).astype(np.float64) - model.c_) ** 2).sum(axis=1)
    d_p = ((model.embed(pos).astype(np.float64) - model.c_) ** 2).sum(axis=1)
    terms = np.where(lab == 1, 2.0 / (d_x + INVERSE_EPS), d_x)  # y~ = -1: eta * (d + eps)^-1; unlabelled: d
    direct = np.r_[terms, 2.0 * (d_p + INVERSE_EPS)].mean()  # y~ = +1: eta * (d + eps)
    assert model.objective_value(X, lab, X_pos=pos) == pytest.approx(direct, rel=1e-5)
    np.testing.assert_allclose(model.decision_function(X), d_x, rtol=1e-4)
    assert model.n_labelled_ == {"normal": 10, "anomalous": 5}


def test_centre_is_the_mean_output_of_the_rows_not_labelled_anomalous():
    X, y, idx = data()
    model = DeepSAD(**FAST, eps=0.0)
    model._setup(X, y, None)
    model._start_train()
    phi = model.nets_["phi"]
    phi.train()
    with torch.no_grad():
        keep = torch.from_numpy(X[y == 0])
        outs = torch.cat([phi(keep[i:i + 64]) for i in range(0, len(keep), 64)])
    np.testing.assert_allclose(model.c_, outs.mean(0).numpy(), rtol=1e-3, atol=1e-4)


def test_without_labels_it_is_deep_svdd():
    from odcore.models.deepsvdd import DeepSVDD

    X, _, _ = data()
    a = DeepSAD(**FAST, random_state=3).fit(X)
    b = DeepSVDD(**FAST, random_state=3).fit(X)
    np.testing.assert_allclose(a.decision_function(X), b.decision_function(X), rtol=1e-5)
    with pytest.raises(InputError, match="objective must be one of 'one-class'"):
        DeepSAD(objective="soft-boundary").fit(X)


def test_labelled_anomalies_teach_it_what_to_flag():
    X, y, idx = data(n=400, seed=1)
    kw = dict(FAST, epochs=15, random_state=0)
    lab = np.zeros_like(y)
    lab[idx[:5]] = 1  # five confirmed anomalies
    rest = np.setdiff1d(np.arange(len(X)), idx[:5])  # judged on the rows nobody labelled
    plain = auroc(y[rest], DeepSAD(**kw).fit(X).decision_function(X[rest]))
    taught = auroc(y[rest], DeepSAD(**kw).fit(X, lab).decision_function(X[rest]))
    assert taught > plain + 0.1
