"""DTE (diffusion time estimation, categorical): the noise schedule and bins of Eqs. (1)-(2), the score of
Eq. (4) against a direct computation, predicted time rising with injected noise, a planted outlier first."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from odcore.errors import InputError
from odcore.metrics import auroc
from odcore.models.dte import DTE, noise_schedule, time_bins

FAST = dict(hidden=(64, 64), epochs=40, batch_size=128, lr=3e-3, random_state=0, device="cpu")


def ring(n: int, seed: int = 0, d: int = 4) -> np.ndarray:
    """Rows on a noisy circle in the first two coordinates, small noise in the others (a thin manifold:
    a row's distance from it says how much noise it carries)."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, 2 * np.pi, n)
    X = np.c_[np.cos(a), np.sin(a), np.zeros((n, d - 2))] + 0.03 * rng.normal(size=(n, d))
    return (X / 0.7).astype(np.float32)


@pytest.fixture(scope="module")
def fitted() -> DTE:
    return DTE(**FAST).fit(ring(1500))


def test_schedule_is_eq1_and_bins_are_eq2():
    sigma = noise_schedule(400, 1e-4, 1e-2)
    betas = np.linspace(1e-4, 1e-2, 400)
    np.testing.assert_allclose(sigma ** 2, 1 - np.cumprod(1 - betas))
    assert np.all(np.diff(sigma) > 0) and 0 < sigma[0] < 0.011 and 0.9 < sigma[-1] < 0.95
    t = torch.arange(400)
    b = time_bins(t, 400, 7)
    assert b.min() == 0 and b.max() == 6 and torch.all(b[1:] >= b[:-1])
    np.testing.assert_array_equal(np.bincount(b.numpy()), [58, 57, 57, 57, 57, 57, 57])  # floor(t K / T)


def test_score_is_the_mean_predicted_bin(fitted):
    X = ring(50, seed=3)
    p = fitted.time_posterior(X)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    with torch.no_grad():
        logits = fitted.nets_["classifier"].eval()(torch.from_numpy(X)).numpy()
    q = np.exp(logits - logits.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(fitted.decision_function(X), q @ np.arange(q.shape[1]), rtol=1e-4, atol=1e-5)


def test_training_learns_the_diffusion_time(fitted):
    """The cross-entropy falls well below log K (the loss of a classifier that cannot tell the time)."""
    losses = [h["loss"] for h in fitted.history_]
    assert losses[-1] < 0.85 * np.log(7), losses[-5:]


def test_predicted_time_increases_with_injected_noise(fitted):
    X = ring(400, seed=5)
    rng = np.random.default_rng(6)
    sigma = noise_schedule(400, 1e-4, 1e-2)
    means = [fitted.decision_function(X + s * rng.normal(size=X.shape).astype(np.float32)).mean()
             for s in (0.0, sigma[100], sigma[200], sigma[399])]
    assert all(b > a for a, b in zip(means, means[1:])), means
    # a row noised at step t is scored near its bin (Eq. 2): clean rows in the first bin, the noisiest in the last
    assert means[0] < 1.0 and means[-1] > 4.0, means


def test_planted_outlier_is_ranked_first(fitted):
    X = ring(200, seed=7)
    X[17] = np.r_[0.0, 0.0, 0.0, 0.0]  # the centre of the circle: far from every training row
    s = fitted.decision_function(X)
    assert int(np.argmax(s)) == 17
    y = np.zeros(len(X), dtype=int)
    y[17] = 1
    assert auroc(y, s) == 1.0


def test_options_are_checked():
    X = ring(40)
    with pytest.raises(InputError, match="bins"):
        DTE(bins=500, timesteps=400, epochs=1).fit(X)
    with pytest.raises(InputError, match="beta_end"):
        DTE(beta_start=0.01, beta_end=0.001, epochs=1).fit(X)


def test_dropout_follows_the_hidden_layers_but_the_first():
    net = DTE(hidden=(8, 8, 8), dropout=0.25, epochs=1, device="cpu").fit(ring(40)).nets_["classifier"]
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "ReLU", "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert net[-1].out_features == 7


def test_max_steps_cuts_the_epochs():
    m = DTE(hidden=(8,), epochs=100, batch_size=10, max_steps=25, device="cpu").fit(ring(40))
    assert len(m.history_) == 7  # 4 batches per epoch: ceil(25 / 4) epochs
    assert len(DTE(hidden=(8,), epochs=3, batch_size=10, max_steps=1000, device="cpu").fit(ring(40)).history_) == 3


def test_a_run_resolves_before_its_rows_are_known_and_reports_the_cut_epochs():
    from odcore.runs.spec import RunSpec, resolve

    m = DTE(hidden=(8,), epochs=100, batch_size=10, max_steps=25, device="cpu")
    assert m.plan().epochs == 100  # planned before any rows: the uncut epochs, an upper bound
    run = resolve(RunSpec(data="breast-cancer", method="dte", protocol="novelty", seed=0), split=False)  # the defaults
    assert run.epochs == 400
    m.fit(ring(40))
    assert m.plan().epochs == 7 and m.history_[-1]["epochs"] == 7  # the history carries the cut count


def test_folded_rows_rank_a_dip_as_a_spike_and_survive_save_and_load(tmp_path):
    """fold=True: each feature is folded about its training median and re-standardised before the classifier (the
    equation of the module docstring, against a direct computation), so a row of one signed deviation is scored by
    its size either way; the fold's state is saved with the model."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal(1000)
    z[:20] -= 4.0  # the training rows' own dips: one tail heavier than the other
    X = z[:, None].astype(np.float32)
    quick = {**FAST, "epochs": 15}
    m = DTE(fold=True, **quick).fit(X)
    c, mean, std = m.fold_
    F = np.abs(X - np.median(X, axis=0))
    np.testing.assert_allclose([c[0], mean[0], std[0]], [np.median(X), F.mean(), F.std()], rtol=1e-5)
    np.testing.assert_allclose(m._fold(X), (F - F.mean()) / F.std(), rtol=1e-4, atol=1e-5)
    probe = np.array([[c[0] - 5.0], [c[0] + 5.0], [c[0]]], dtype=np.float32)
    s = m.decision_function(probe)
    assert s[0] == pytest.approx(s[1], rel=1e-5) and min(s[:2]) > s[2]  # a dip and a spike alike, both above 0
    m.save(tmp_path / "m")
    again = type(m).load(tmp_path / "m")
    np.testing.assert_array_equal(again.decision_function(probe), s)
    assert DTE(**{**quick, "epochs": 1}).fit(X).fold_ is None  # the paper's DTE: rows as they are
