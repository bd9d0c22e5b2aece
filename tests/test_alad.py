"""ALAD: EMA weights for scoring, the four scores, early stopping, learning on digits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from odcore import metrics
from odcore.errors import InputError
from odcore.models.alad import ALAD, NET_NAMES

FAST = dict(epochs=4, batch_size=64, lr=1e-3, device="cpu", validation_share=0.0)


def digits_split(inlier: int = 0):
    """Built-in digits one-vs-rest: train on one digit, test on held-out digits of every class."""
    try:
        from odcore.data import load, split

        s = split(load("digits"), "one-vs-rest", inlier_classes=[inlier], seed=0)
        return s.X_train, s.X_test, s.y_test
    except ImportError:  # the data module is missing: the same protocol inline
        from sklearn.datasets import load_digits

        X, c = load_digits(return_X_y=True)
        X = (X / 16.0).astype(np.float32)
        rng = np.random.default_rng(0)
        idx = rng.permutation(len(X))
        X, c = X[idx], c[idx]
        inl = np.flatnonzero(c == inlier)
        n_tr = int(0.7 * len(inl))
        test = np.r_[inl[n_tr:], np.flatnonzero(c != inlier)]
        return X[inl[:n_tr]], X[test], (c[test] != inlier).astype(np.int64)


@pytest.fixture(scope="module")
def data():
    return digits_split()


@pytest.fixture(scope="module")
def fitted(data):
    Xtr, _, _ = data
    return ALAD(**FAST).fit(Xtr)


def test_scoring_uses_the_ema_weights(fitted, data):
    _, Xte, _ = data
    m = fitted
    differ = [not torch.allclose(pe, pr) for n in NET_NAMES
              for pe, pr in zip(m.nets_["ema_" + n].parameters(), m.nets_[n].parameters())]
    assert all(differ)
    xb = torch.from_numpy(Xte[:200])
    for net in m.nets_.values():
        net.eval()
    with torch.no_grad():
        ema = m.score_with(xb, "features", ema=True).numpy()
        raw = m.score_with(xb, "features", ema=False).numpy()
    s = m.decision_function(Xte[:200])
    np.testing.assert_allclose(s, ema, rtol=1e-5, atol=1e-6)
    assert np.abs(s - raw).max() > 1e-3
    # embed and reconstruct also use the EMA networks
    with torch.no_grad():
        z = m.nets_["ema_E"](xb).numpy()
        rec = m.nets_["ema_G"](m.nets_["ema_E"](xb)).numpy()
    np.testing.assert_allclose(m.embed(Xte[:200]), z, rtol=1e-5, atol=1e-6)
    out = m.reconstruct(Xte[:200])
    np.testing.assert_allclose(out["reconstruction"], rec, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["errors"], (rec - Xte[:200]) ** 2, rtol=1e-4, atol=1e-6)


def test_features_score_is_l1_between_dxx_hidden_features(fitted, data):
    _, Xte, _ = data
    m = fitted
    x = torch.from_numpy(Xte[:100])
    D = m.nets_["ema_D_xx"]
    lin = D.body[0]
    assert isinstance(lin, torch.nn.Linear)
    with torch.no_grad():
        rec = m.nets_["ema_G"](m.nets_["ema_E"](x))

        def f_xx(a, b):  # last hidden layer of D_xx, computed from its weights
            return F.leaky_relu(torch.cat([a, b], 1) @ lin.weight.T + lin.bias, 0.2)

        direct = (f_xx(x, x) - f_xx(x, rec)).abs().sum(1).numpy()
    np.testing.assert_allclose(m.scores(Xte[:100], "features"), direct, rtol=1e-4, atol=1e-5)


def test_the_four_scores(fitted, data):
    _, Xte, _ = data
    m = fitted
    X = Xte[:100]
    rec = m.reconstruct(X)["reconstruction"]
    np.testing.assert_allclose(m.scores(X, "l1"), np.abs(X - rec).sum(1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(m.scores(X, "l2"), np.linalg.norm(X - rec, axis=1), rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        logit = m.nets_["ema_D_xx"](torch.from_numpy(X), torch.from_numpy(rec)).numpy()
    np.testing.assert_allclose(m.scores(X, "logits"), np.logaddexp(0, -logit), rtol=1e-4, atol=1e-5)
    for kind in ("l1", "l2", "logits", "features"):
        s = m.scores(X, kind)
        assert s.shape == (100,) and np.isfinite(s).all() and s.std() > 0
    m2 = ALAD(anomaly_score="l2", **FAST).fit(X)
    np.testing.assert_allclose(m2.decision_function(X), m2.scores(X, "l2"))


def test_early_stopping_stops_and_restores_best_ema(data):
    Xtr, _, _ = data
    m = ALAD(epochs=60, batch_size=32, lr=3e-3, device="cpu", validation_share=0.2, patience=2).fit(Xtr)
    crit = [h["val_criterion"] for h in m.history_]
    assert m.stopped_epoch_ == len(m.history_) < 60  # stopped early
    assert m.best_epoch_ == int(np.argmin(crit)) + 1
    assert len(crit) - m.best_epoch_ == 2  # patience epochs without improvement
    # the restored EMA networks give the best epoch's criterion again
    assert m._validation_loss(m._X_val) == pytest.approx(min(crit), rel=1e-5)


def test_early_stopping_on_tabular_data_and_score_criterion():
    rng = np.random.default_rng(0)
    X = np.hstack([rng.normal(size=(400, 5)), rng.integers(0, 2, (400, 6))]).astype(np.float32)
    m = ALAD(epochs=8, batch_size=64, lr=1e-3, device="cpu", validation_share=0.1, patience=3,
             stop_on="score", spectral_norm=True).fit(X)
    assert 1 <= m.best_epoch_ <= m.stopped_epoch_ <= 8
    assert all("val_criterion" in h for h in m.history_)


def test_beats_chance_on_digits(data):
    Xtr, Xte, yte = data
    m = ALAD(epochs=30, batch_size=32, lr=1e-3, device="cpu", validation_share=0.0, random_state=0).fit(Xtr)
    assert metrics.auroc(yte, m.decision_function(Xte)) > 0.8


def test_images_spectral_norm_and_save_load(data, tmp_path):
    Xtr, Xte, _ = data
    m = ALAD(input_shape=(1, 8, 8), spectral_norm=True, latent=8, **FAST).fit(Xtr)
    assert m.embed(Xte[:5]).shape == (5, 8)
    m.save(tmp_path / "alad")
    m2 = ALAD.load(tmp_path / "alad")
    np.testing.assert_allclose(m2.decision_function(Xte[:50]), m.decision_function(Xte[:50]), rtol=1e-5, atol=1e-6)


def test_bad_parameters(data):
    Xtr, _, _ = data
    with pytest.raises(InputError, match="score"):
        ALAD(anomaly_score="mse").fit(Xtr)
    with pytest.raises(InputError, match="validation_share"):
        ALAD(validation_share=0.9).fit(Xtr)
    with pytest.raises(InputError, match="validation_share"):
        ALAD(validation_share=0.1, epochs=1).fit(Xtr[:3])


def test_ema_warm_up_follows_the_decay_schedule():
    """EMA update ``ema <- d ema + (1 - d) raw`` with ``d = min(ema_decay, (1 + t) / (10 + t))``: after one
    step (t = 0, d = 0.1) the EMA weights are 0.1 x the initial weights + 0.9 x the trained ones, so short
    runs are not scored with weights stuck near the initialisation."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 6)).astype(np.float32)
    kw = dict(epochs=1, batch_size=64, lr=1e-2, device="cpu", validation_share=0.0, random_state=3)
    m = ALAD(**kw).fit(X)  # one step
    init = ALAD(**kw)
    init.device_ = "cpu"
    init._init_nets(X.shape[1])  # the same seeded initial weights
    for n in NET_NAMES:
        for p0, pr, pe in zip(init.nets_[n].parameters(), m.nets_[n].parameters(), m.nets_["ema_" + n].parameters()):
            torch.testing.assert_close(pe, 0.1 * p0 + 0.9 * pr, rtol=1e-5, atol=1e-6)
    assert any(not torch.allclose(p0, pr) for p0, pr in zip(init.nets_["E"].parameters(), m.nets_["E"].parameters()))
