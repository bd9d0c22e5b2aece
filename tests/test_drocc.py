"""DROCC and DROCC-LF: shell invariants, the projection of Proposition 1, options that reach the
loop, zero-gradient safety, and learning on the 2-D sine wave (where OC-SVM fails)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from odcore import data
from odcore.errors import InputError
from odcore.metrics import auroc
from odcore.models.base import BaseDetector
from odcore.models.drocc import DROCC, DROCCLF, project_shell, project_weighted_shell, weighted_norm
from odcore.models.pyod_adapter import OCSVM

FAST = dict(epochs=3, only_ce_epochs=1, ascent_num_steps=4, project_every=2, batch_size=64,
            hidden=(16,), lr=1e-2)


def sine_wave() -> np.ndarray:
    """The DROCC 2-D sine wave (METHODS.md): x1 = (t - 512)/512, x2 = sin(2 pi t / 1024)."""
    t = np.arange(1024)
    return np.c_[(t - 512) / 512, np.sin(2 * np.pi * t / 1024)].astype(np.float32)


def sine_test_points(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """On-wave points (label 0) vs points moved 0.5 vertically towards the axis, i.e. between
    the arcs (label 1), taken where |x2| > 0.7 so that they stay inside the arc."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 1024, 600)
    on = np.c_[(t - 512) / 512, np.sin(2 * np.pi * t / 1024)]
    off = on[np.abs(on[:, 1]) > 0.7].copy()
    off[:, 1] -= 0.5 * np.sign(off[:, 1])
    X = np.r_[on[:len(off)], off].astype(np.float32)
    y = np.r_[np.zeros(len(off)), np.ones(len(off))].astype(int)
    return X, y


def blobs(n=300, d=4, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


# ---------------------------------------------------------------------------- learning
def test_sine_wave_drocc_separates_arcs_where_ocsvm_fails():
    X = data.load("sine").X
    np.testing.assert_allclose(X, sine_wave(), atol=1e-6)
    Xt, yt = sine_test_points()
    model = DROCC(radius=0.15, gamma=2.0, epochs=60, only_ce_epochs=5, ascent_num_steps=5,
                  ascent_step_size=0.02, batch_size=64, hidden=(128,), lr=5e-3, random_state=0).fit(X)
    ocsvm = OCSVM().fit(X)
    a_drocc = auroc(yt, model.decision_function(Xt))
    a_ocsvm = auroc(yt, ocsvm.decision_function(Xt))
    assert a_drocc >= 0.9, a_drocc
    assert a_ocsvm < a_drocc - 0.3, (a_ocsvm, a_drocc)
    # the data layer's judge points: uniform in the wave's box, at least 0.2 away from the wave
    Xb, yb = data.sine_test_points(600, seed=0)
    b_drocc = auroc(yb, model.decision_function(Xb))
    b_ocsvm = auroc(yb, ocsvm.decision_function(Xb))
    assert b_drocc >= 0.9 and b_ocsvm < b_drocc - 0.1, (b_drocc, b_ocsvm)
    # the last epoch's negatives are kept for the app's figure, capped
    assert 0 < model.adversarial_points_.shape[0] <= 2000
    assert model.adversarial_points_.shape[1] == 2


def test_drocc_lf_uses_limited_negatives():
    rng = np.random.default_rng(0)
    normal = rng.normal(size=(400, 4)).astype(np.float32)
    neg = (rng.normal(size=(20, 4)) * 0.3 + np.array([2.5, 0, 0, 0])).astype(np.float32)
    X = np.r_[normal, neg]
    y = np.r_[np.zeros(400), np.ones(20)].astype(int)
    model = DROCCLF(radius=1.0, epochs=20, only_ce_epochs=5, ascent_num_steps=5, ascent_step_size=0.05,
                    hidden=(32,), lr=1e-2, batch_size=64).fit(X, y)
    test_norm = rng.normal(size=(200, 4)).astype(np.float32)
    test_neg = (rng.normal(size=(50, 4)) * 0.3 + np.array([2.5, 0, 0, 0])).astype(np.float32)
    s = model.decision_function(np.r_[test_norm, test_neg])
    assert auroc(np.r_[np.zeros(200), np.ones(50)], s) >= 0.9


# ---------------------------------------------------------------------------- shell invariants
def test_every_adversarial_point_lies_on_the_euclidean_shell():
    X = blobs()
    model = DROCC(radius=1.5, gamma=2.0, ascent_step_size=0.3, **FAST).fit(X)
    h = model.adversarial_points_.astype(np.float64) - model.adversarial_origins_
    n = np.linalg.norm(h, axis=1)
    assert h.shape[0] == X.shape[0]
    assert np.all(n >= 1.5 * (1 - 1e-4)) and np.all(n <= 3.0 * (1 + 1e-4)), (n.min(), n.max())


def test_every_lf_point_lies_on_the_weighted_shell():
    rng = np.random.default_rng(1)
    # feature 0 matters, the others are noise: the gradient weights are far from uniform
    X = np.c_[rng.normal(size=(300, 1)) * 3, rng.normal(size=(300, 3)) * 0.1].astype(np.float32)
    y = (np.abs(X[:, 0]) > 4).astype(int)
    model = DROCCLF(radius=1.0, gamma=1.5, ascent_step_size=0.5, **FAST).fit(X, y)
    w = model.feature_weights_.astype(np.float64)
    assert np.isclose(w.sum(), X.shape[1], rtol=1e-4)
    assert w.max() / max(w.min(), 1e-12) > 1.5  # the metric really differs from the Euclidean one
    h = model.adversarial_points_.astype(np.float64) - model.adversarial_origins_
    nw = np.sqrt((w * h * h).sum(axis=1))
    assert np.all(nw >= 1.0 - 1e-3) and np.all(nw <= 1.5 + 1e-3), (nw.min(), nw.max())
    # points searched around normal rows only
    assert h.shape[0] == int((y == 0).sum())


def test_weighted_projection_matches_brute_force_in_2d():
    rng = np.random.default_rng(0)
    w = torch.tensor([0.4, 1.6], dtype=torch.float64)
    h = torch.tensor(rng.normal(size=(40, 2)) * 2, dtype=torch.float64)
    r, gamma = 1.0, 1.5
    p = project_weighted_shell(h, w, r, gamma)
    nw = weighted_norm(p, w)
    assert torch.all(nw >= r - 1e-9) and torch.all(nw <= gamma * r + 1e-9)
    theta = np.linspace(0, 2 * np.pi, 200001)
    for i in range(h.shape[0]):
        n0 = float(weighted_norm(h[i:i + 1], w))
        if r <= n0 <= gamma * r:
            assert torch.allclose(p[i], h[i])  # inside: unchanged
            continue
        rho = r if n0 < r else gamma * r
        ell = np.c_[rho * np.cos(theta) / np.sqrt(0.4), rho * np.sin(theta) / np.sqrt(1.6)]
        best = np.min(np.linalg.norm(ell - h[i].numpy(), axis=1))
        got = float(torch.linalg.norm(p[i] - h[i]))
        assert got <= best + 1e-5, (i, got, best)


def test_weighted_projection_is_no_farther_than_radial_rescaling_in_high_dim():
    g = torch.Generator().manual_seed(0)
    w = torch.rand(20, generator=g, dtype=torch.float64) + 0.05
    w = w * 20 / w.sum()
    h = torch.randn(500, 20, generator=g, dtype=torch.float64) * torch.linspace(0.05, 3, 500)[:, None].double()
    r, gamma = 2.0, 2.0
    p = project_weighted_shell(h, w, r, gamma)
    n0 = weighted_norm(h, w)
    nw = weighted_norm(p, w)
    assert torch.all(nw >= r * (1 - 1e-9)) and torch.all(nw <= gamma * r * (1 + 1e-9))
    radial = h * (n0.clamp(r, gamma * r) / n0)[:, None]
    assert torch.all((p - h).norm(dim=1) <= (radial - h).norm(dim=1) + 1e-9)


def test_zero_displacement_is_projected_without_nan():
    h = torch.zeros(3, 4)
    p = project_shell(h, 1.0, 2.0)
    assert torch.isfinite(p).all() and torch.allclose(p.norm(dim=1), torch.ones(3))
    pw = project_weighted_shell(h, torch.tensor([1.0, 2.0, 0.5, 0.5]), 1.0, 2.0)
    assert torch.isfinite(pw).all()
    assert torch.allclose(weighted_norm(pw, torch.tensor([1.0, 2.0, 0.5, 0.5])), torch.ones(3), atol=1e-5)


# ---------------------------------------------------------------------------- options reach the loop
def test_ascent_steps_option_changes_gradient_evaluations():
    X = blobs(n=200)
    counts = {}
    for m in (3, 7):
        model = DROCC(**{**FAST, "ascent_num_steps": m, "epochs": 2, "only_ce_epochs": 0}).fit(X)
        counts[m] = model.n_grad_evals_
    n_batches = int(np.ceil(200 / FAST["batch_size"]))
    assert counts[3] == 3 * n_batches * 2
    assert counts[7] == 7 * n_batches * 2


def test_only_ce_epochs_and_mu_reach_the_loop():
    X = blobs(n=128)
    model = DROCC(**{**FAST, "epochs": 3, "only_ce_epochs": 3}).fit(X)
    assert model.n_grad_evals_ == 0 and all("adv" not in h for h in model.history_)
    assert model.adversarial_points_.shape == (0, 4)
    model = DROCC(**{**FAST, "epochs": 2, "only_ce_epochs": 1, "mu": 0.0}).fit(X)
    rec = model.history_[-1]
    assert np.isclose(rec["loss"], rec["ce"], rtol=1e-5)
    assert model.radius_ == pytest.approx(np.sqrt(4) / 2)


class _ConstantNet(nn.Module):
    """Output independent of the input: every input gradient is exactly zero."""

    def __init__(self):
        super().__init__()
        self.b = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return self.b.expand(x.shape[0], 1) + 0 * x[:, :1]


@pytest.mark.parametrize("cls", [DROCC, DROCCLF])
def test_zero_gradient_gives_no_nan(monkeypatch, cls):
    monkeypatch.setattr(cls, "_build", lambda self, d: {"f": _ConstantNet()})
    X = blobs(n=100)
    model = cls(**FAST).fit(X)
    assert np.isfinite(model.adversarial_points_).all() and model.adversarial_points_.shape[0] == 100
    assert np.isfinite(model.decision_scores_).all()
    assert all(np.isfinite(v) for rec in model.history_ for v in rec.values() if isinstance(v, float))
    if cls is DROCCLF:
        np.testing.assert_allclose(model.feature_weights_, 1.0)


# ---------------------------------------------------------------------------- capabilities, contract
def test_boundary_fills_other_coordinates():
    X = blobs(n=150, d=3)
    model = DROCC(**FAST).fit(X)
    grid = np.stack(np.meshgrid(np.linspace(-2, 2, 5), np.linspace(-2, 2, 5)), -1).reshape(-1, 2)
    s = model.boundary(grid)
    full = np.c_[grid, np.zeros(len(grid))]
    np.testing.assert_allclose(s, model.decision_function(full))
    s1 = model.boundary(grid, fill=1.0)
    np.testing.assert_allclose(s1, model.decision_function(np.c_[grid, np.ones(len(grid))]))
    with pytest.raises(InputError, match="columns"):
        model.boundary(np.zeros((4, 4)))


def test_score_is_negated_logit_and_save_load_round_trip(tmp_path):
    X = blobs(n=150)
    model = DROCCLF(**FAST).fit(X, np.r_[np.zeros(140), np.ones(10)].astype(int))
    with torch.no_grad():
        logit = model.nets_["f"](torch.from_numpy(X)).squeeze(1).numpy()
    np.testing.assert_allclose(model.decision_function(X), -logit, rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "m")
    back = BaseDetector.load(tmp_path / "m")
    np.testing.assert_array_equal(back.decision_function(X), model.decision_function(X))
    np.testing.assert_array_equal(back.adversarial_points_, model.adversarial_points_)


def test_same_seed_same_scores():
    X = blobs(n=120)
    a = DROCC(**FAST, random_state=3).fit(X).decision_scores_
    b = DROCC(**FAST, random_state=3).fit(X).decision_scores_
    np.testing.assert_array_equal(a, b)


def test_images_use_a_conv_net():
    X = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    model = DROCC(**{**FAST, "epochs": 2}, input_shape=(1, 8, 8), gamma=1.0, radius=2.0).fit(X)
    assert any(isinstance(m, nn.Conv2d) for m in model.nets_["f"].modules())
    assert model.adversarial_points_.shape == (64, 64)


def test_lenet_is_the_authors_mnist_net_and_scores_with_running_statistics(tmp_path):
    """conv_arch='lenet': bias-free 5x5 convolutions of 8 and 4 maps, batch norm without affine parameters,
    2x2 pooling, a bias-free 64-wide layer feeding the logit directly (EdgeML main_drocclf_mnist.py); scoring
    runs in eval mode, so a row's score does not depend on the rows scored with it, and survives save/load."""
    X = np.random.default_rng(0).random((96, 64)).astype(np.float32)
    y = (np.arange(96) % 4 == 0).astype(int)
    model = DROCCLF(**{**FAST, "epochs": 2, "hidden": (64,)}, input_shape=(1, 8, 8), conv_arch="lenet",
                    metric_weights="point", radius=0.2).fit(X, y)
    f = model.nets_["f"]
    convs = [m for m in f.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.bias) for c in convs] == [(8, (5, 5), None), (4, (5, 5), None)]
    assert all(not m.affine for m in f.modules() if isinstance(m, nn.BatchNorm2d))
    linears = [m for m in f.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features, m.bias) for m in linears] == [(4 * 2 * 2, 64, None), (64, 1, None)]
    assert not any(isinstance(m, nn.ReLU) for m in f.modules())
    s = model.decision_function(X)
    np.testing.assert_allclose(model.decision_function(X[:5]), s[:5], rtol=1e-5, atol=1e-5)
    again = BaseDetector.load(model.save(tmp_path / "m"))
    np.testing.assert_allclose(again.decision_function(X), s, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("bad", [dict(gamma=0.5), dict(radius=-1.0), dict(ascent_num_steps=-1),
                                 dict(project_every=0), dict(mu=-1.0), dict(hidden=(0,))])
def test_bad_parameters_raise(bad):
    with pytest.raises(InputError):
        DROCC(**{**FAST, **bad}).fit(blobs(n=20))


def test_drocc_lf_metric_concentrates_on_the_sine_coordinates():
    """Noisy 10-D sine (DROCC Fig. 1c-d): with a few off-wave negatives the classifier depends on
    x1, x2 only, so the gradient weights of the DROCC-LF shell must single those two out."""
    X = data.load("sine-noisy", seed=0).X.astype(np.float32)
    Xn, yn = data.sine_test_points(200, seed=5, noisy=True)
    neg = Xn[yn == 1][:50]
    model = DROCCLF(radius=0.3, gamma=2.0, epochs=12, only_ce_epochs=10, ascent_num_steps=3,
                    ascent_step_size=0.05, batch_size=128, hidden=(64,), lr=5e-3, random_state=0)
    model.fit(np.r_[X, neg], np.r_[np.zeros(len(X)), np.ones(len(neg))].astype(int))
    w = model.feature_weights_
    assert np.isclose(w.sum(), 10, rtol=1e-4)
    assert w[:2].min() > w[2:].max(), w  # each sine coordinate outweighs every noise coordinate


def test_drocc_lf_fits_its_labelled_data_once_adversarial_epochs_start():
    """Regression for the MNIST DROCC-LF run that scored AUROC 0.11: with too few optimisation steps
    after the CE-only warm-up, the generated negatives (x + noise on the shell) drag every logit
    down and the ranking of real data is arbitrary. Given enough steps, the known negatives must
    again score as more anomalous than the normal rows and the generated points too."""
    rng = np.random.default_rng(0)
    normal = rng.normal(size=(300, 6)).astype(np.float32) * 0.5
    neg = (rng.normal(size=(30, 6)) * 0.3 + 2.0).astype(np.float32)
    model = DROCCLF(radius=1.0, gamma=2.0, epochs=25, only_ce_epochs=5, ascent_num_steps=5,
                    ascent_step_size=0.05, hidden=(32,), lr=1e-2, batch_size=64, random_state=0)
    model.fit(np.r_[normal, neg], np.r_[np.zeros(300), np.ones(30)].astype(int))
    s_norm = model.decision_function(normal)
    assert auroc(np.r_[np.zeros(300), np.ones(30)], np.r_[s_norm, model.decision_function(neg)]) >= 0.95
    assert auroc(np.r_[np.zeros(300), np.ones(len(model.adversarial_points_))],
                 np.r_[s_norm, model.decision_function(model.adversarial_points_)]) >= 0.8


def test_per_row_weights_project_each_row_as_its_own_metric():
    g = torch.Generator().manual_seed(3)
    W = torch.rand(30, 6, generator=g, dtype=torch.float64) + 0.01
    W = W * 6 / W.sum(dim=1, keepdim=True)
    h = torch.randn(30, 6, generator=g, dtype=torch.float64) * torch.linspace(0.1, 4, 30)[:, None].double()
    p = project_weighted_shell(h, W, 1.0, 2.0)
    for i in range(30):
        torch.testing.assert_close(p[i:i + 1], project_weighted_shell(h[i:i + 1], W[i], 1.0, 2.0))
    nw = weighted_norm(p, W)
    assert torch.all(nw >= 1.0 - 1e-9) and torch.all(nw <= 2.0 + 1e-9)


def test_drocc_lf_point_weights_fit_and_reject_bad_option():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 4)).astype(np.float32)
    y = (np.abs(X[:, 0]) > 1.8).astype(int)
    model = DROCCLF(metric_weights="point", radius=1.0, gamma=1.5, ascent_step_size=0.3, **FAST).fit(X, y)
    assert np.isfinite(model.decision_function(X)).all()
    assert model.adversarial_points_.shape[0] == int((y == 0).sum())
    with pytest.raises(InputError, match="metric_weights"):
        DROCCLF(metric_weights="median", **FAST).fit(X, y)


# ---------------------------------------------------------------------------- training regime (issue 4)
def test_history_records_logits_and_shell_shares():
    X = blobs(n=128)
    model = DROCC(**{**FAST, "epochs": 2, "only_ce_epochs": 1}).fit(X)
    warm, adv = model.history_
    assert "logit_pos" in warm and "logit_adv" not in warm
    for key in ("logit_pos", "logit_adv", "shell_inner", "shell_outer"):
        assert np.isfinite(adv[key]), key
    assert 0.0 <= adv["shell_inner"] <= 1.0 and 0.0 <= adv["shell_outer"] <= 1.0
    assert adv["shell_inner"] + adv["shell_outer"] <= 1.0 + 1e-6
    # the kept points agree with the recorded shares: every ||h|| lies in [r, gamma r]
    h = np.linalg.norm(model.adversarial_points_ - model.adversarial_origins_, axis=1)
    r = model.radius_
    assert np.all(h >= r * (1 - 1e-4)) and np.all(h <= 2 * r * (1 + 1e-4))


def test_one_class_warm_up_runs_the_logits_off_and_no_warm_up_keeps_them_apart():
    """The broken invariant behind the MNIST collapse: with normal data only, the CE-only warm-up
    has no finite minimiser (the positives' logit rises every epoch while the loss is already ~0),
    so the adversarial phase starts from saturated logits. Without the warm-up, the adversarial
    phase keeps generated points below the data and the scores are not constant."""
    X = blobs(n=256, d=8)
    common = dict(ascent_num_steps=3, project_every=3, batch_size=64, hidden=(32,), lr=1e-2)
    warm = DROCC(epochs=20, only_ce_epochs=20, **common).fit(X)
    logits = [h["logit_pos"] for h in warm.history_]
    assert all(b > a for a, b in zip(logits, logits[1:])), logits
    assert warm.history_[-1]["ce"] < 0.01
    cold = DROCC(epochs=10, only_ce_epochs=0, **common).fit(X)
    last = cold.history_[-1]
    assert last["logit_adv"] < last["logit_pos"]
    assert np.std(cold.decision_scores_) > 1e-3
