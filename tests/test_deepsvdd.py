"""Deep SVDD: no bias anywhere, collapse guard, centre rule and refit, the objectives against a
direct numeric computation, soft-boundary radius, and learning on built-in digits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from odcore.errors import InputError
from odcore.metrics import auroc
from odcore.models.base import BaseDetector
from odcore.models.deepsvdd import DeepSVDD

FAST = dict(epochs=3, batch_size=64, hidden=(32,), rep_dim=8, lr=1e-3)


def blobs(n=200, d=6, seed=0, shift=0.0) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=(n, d)) + shift).astype(np.float32)


@pytest.mark.parametrize("kw", [dict(), dict(pretrain_epochs=1), dict(input_shape=(1, 8, 8), pretrain_epochs=1)])
def test_no_bias_parameters_and_no_affine_batchnorm(kw):
    d = 64 if "input_shape" in kw else 6
    model = DeepSVDD(**FAST, **kw).fit(blobs(d=d))
    for net in model.nets_.values():
        for name, _p in net.named_parameters():
            assert "bias" not in name, name
        for m in net.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                assert not m.affine
            if hasattr(m, "bias") and not isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                assert m.bias is None, m
    if "pretrain_epochs" in kw:
        assert len(model.pretrain_history_) == 1


@pytest.mark.parametrize("objective", ["one-class", "soft-boundary"])
def test_scores_not_all_equal(objective):
    model = DeepSVDD(**FAST, objective=objective, warm_up_epochs=1).fit(blobs())
    s = model.decision_function(blobs(seed=1))
    assert np.std(s) > 1e-6 * (np.abs(s).mean() + 1e-12)
    assert np.unique(np.round(s, 8)).size > 100


def test_centre_rule_and_recomputed_on_refit():
    model = DeepSVDD(**FAST, eps=0.1)
    model.fit(blobs())
    c1 = model.c_.copy()
    assert np.all(np.abs(c1) >= 0.1 - 1e-7)
    assert model.get_params()["eps"] == 0.1 and "c_" not in model.get_params()
    model.fit(blobs(seed=5, shift=3.0))
    assert not np.allclose(model.c_, c1)


def test_centre_is_the_mean_output_before_training():
    X = blobs()
    model = DeepSVDD(**FAST, eps=0.0)
    model._setup(X, None, None)
    model._start_train()  # the centre is fixed when the training phase starts, before any step
    phi = model.nets_["phi"]
    phi.train()
    with torch.no_grad():
        # bs 64 batches in training mode, exactly as the centre is computed
        outs = torch.cat([phi(torch.from_numpy(X[i:i + 64])) for i in range(0, len(X), 64)])
    np.testing.assert_allclose(model.c_, outs.mean(0).numpy(), rtol=1e-4, atol=1e-5)


def test_one_class_objective_matches_direct_computation():
    X = blobs()
    model = DeepSVDD(**FAST).fit(X)
    z = model.embed(X[:50]).astype(np.float64)
    direct = np.mean(np.sum((z - model.c_) ** 2, axis=1))
    assert model.objective_value(X[:50]) == pytest.approx(direct, rel=1e-6)
    np.testing.assert_allclose(model.decision_function(X[:50]), np.sum((z - model.c_) ** 2, axis=1), rtol=1e-5)


def test_soft_boundary_objective_and_radius():
    X = blobs()
    nu = 0.2
    model = DeepSVDD(**{**FAST, "epochs": 4}, objective="soft-boundary", nu=nu, warm_up_epochs=1).fit(X)
    assert model.R_ > 0
    z = model.embed(X[:64]).astype(np.float64)
    d2 = np.sum((z - model.c_) ** 2, axis=1)
    R2 = model.R_ ** 2
    direct = R2 + np.mean(np.maximum(0.0, d2 - R2)) / nu
    assert model.objective_value(X[:64]) == pytest.approx(direct, rel=1e-6)
    np.testing.assert_allclose(model.decision_function(X[:64]), d2 - R2, rtol=1e-4, atol=1e-5)
    assert [h["R"] for h in model.history_][0] == 0.0  # warm-up: R not set yet


def test_save_load_round_trip(tmp_path):
    X = blobs()
    model = DeepSVDD(**FAST, objective="soft-boundary", warm_up_epochs=0, pretrain_epochs=1).fit(X)
    model.save(tmp_path / "svdd")
    back = BaseDetector.load(tmp_path / "svdd")
    np.testing.assert_array_equal(back.decision_function(X), model.decision_function(X))
    np.testing.assert_array_equal(back.c_, model.c_)
    assert back.R_ == model.R_


@pytest.mark.parametrize("bad", [dict(objective="hard"), dict(nu=0.0), dict(pretrain_epochs=-1), dict(rep_dim=0)])
def test_bad_parameters(bad):
    with pytest.raises(InputError):
        DeepSVDD(**{**FAST, **bad}).fit(blobs(n=20))


@pytest.mark.parametrize("digit", [0, 8])
def test_learns_on_digits_one_vs_rest(digit):
    d = load_digits()
    X = (d.data / 16.0).astype(np.float32)
    rng = np.random.default_rng(0)
    normal = np.flatnonzero(d.target == digit)
    rng.shuffle(normal)
    train, held = normal[:120], normal[120:]
    others = rng.choice(np.flatnonzero(d.target != digit), 300, replace=False)
    model = DeepSVDD(epochs=30, batch_size=32, lr=1e-3, pretrain_epochs=10, random_state=0).fit(X[train])
    s = model.decision_function(X[np.r_[held, others]])
    a = auroc(np.r_[np.zeros(len(held)), np.ones(len(others))], s)
    assert a >= 0.8, a
