"""OC-NN: the exact objective (hinge included), r as the nu-quantile (Theorem 3.1), learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from odcore import metrics
from odcore.errors import InputError
from odcore.models.ocnn import OCNN, nu_quantile, r_objective


def gaussian_ocnn(seed: int = 0):
    """The OC-NN synthetic set: 190 N(0, 2^2) normals and 10 N(0, 10^2) anomalies in 512-d."""
    try:
        from odcore.data import load

        ds = load("gaussian-ocnn")
        return ds.X, ds.y
    except Exception:  # the data module is not there yet: generate it inline
        rng = np.random.default_rng(seed)
        X = np.vstack([rng.normal(0, 2, (190, 512)), rng.normal(0, 10, (10, 512))]).astype(np.float32)
        return X, np.r_[np.zeros(190), np.ones(10)].astype(np.int64)


def blobs(seed: int = 0, n: int = 300, d: int = 8):
    """Inliers in a tight cluster away from the origin, outliers spread around the origin."""
    rng = np.random.default_rng(seed)
    X = rng.normal(3.0, 0.5, (n, d))
    Xo = rng.normal(0.0, 1.0, (n // 10, d))
    return X.astype(np.float32), Xo.astype(np.float32)


def test_theorem_31_example():
    # the paper's example: outputs 1..9 and nu = 0.33 give r = 3
    y = np.arange(1, 10, dtype=float)
    r = nu_quantile(y, 0.33)
    assert r == 3.0
    grid = np.linspace(0, 10, 10001)
    values = np.array([r_objective(g, y, 0.33) for g in grid])
    assert r_objective(r, y, 0.33) <= values.min() + 1e-12


@pytest.mark.parametrize("activation", ["linear", "sigmoid", "relu"])
def test_r_is_nu_quantile_and_minimises_subproblem(activation):
    X, _ = blobs()
    nu = 0.1
    m = OCNN(activation=activation, nu=nu, hidden=16, epochs=5, batch_size=64, lr=1e-3, device="cpu").fit(X)
    y_hat = m.outputs(X)
    assert m.r_ == pytest.approx(nu_quantile(y_hat, nu), abs=1e-6)
    grid = np.linspace(y_hat.min() - 1, y_hat.max() + 1, 20001)
    values = np.array([r_objective(g, y_hat, nu) for g in grid])
    assert r_objective(m.r_, y_hat, nu) <= values.min() + 1e-9
    # share of training outputs below r is at most nu (and r is a training output)
    assert np.mean(y_hat < m.r_) <= nu + 1e-9
    # decision score and anomaly score are the two signs of y_hat - r
    np.testing.assert_allclose(m.decision_score(X), y_hat - m.r_, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(m.decision_function(X), m.r_ - y_hat, rtol=1e-5, atol=1e-5)
    assert [h["r"] for h in m.history_][-1] == pytest.approx(m.r_)


def test_hinge_gradient_reaches_w_and_v():
    X, _ = blobs()
    m = OCNN(activation="sigmoid", hidden=8, epochs=1, batch_size=64, lr=1e-3, device="cpu").fit(X)
    f = torch.from_numpy(X)
    r = float(m.outputs(X).max()) + 1.0  # every row violates the margin: the hinge is active
    loss = m.objective(f, r)
    w, V = m.nets_["w"].weight, m.nets_["V"].weight
    gw, gV = torch.autograd.grad(loss, [w, V])
    # gradient of the regulariser alone is (w, V): the hinge must add something on top
    assert (gw - w).abs().max() > 1e-4 and (gV - V).abs().max() > 1e-6
    # the objective equals Eq. 4 computed directly
    y = m.outputs(X)
    direct = 0.5 * (w ** 2).sum().item() + 0.5 * (V ** 2).sum().item() + np.maximum(0, r - y).mean() / m.nu - r
    assert loss.item() == pytest.approx(direct, rel=1e-4)


def test_training_lowers_objective_and_changes_parameters():
    X, _ = blobs()
    m = OCNN(activation="relu", hidden=16, epochs=1, batch_size=300, lr=1e-2, device="cpu").fit(X)
    w0 = m.nets_["w"].weight.detach().clone()
    m2 = OCNN(activation="relu", hidden=16, epochs=40, batch_size=300, lr=1e-2, device="cpu").fit(X)
    assert not torch.allclose(w0, m2.nets_["w"].weight)
    losses = [h["loss"] for h in m2.history_]
    assert losses[-1] < losses[0]


def test_detects_outliers_off_the_inlier_cluster():
    X, Xo = blobs()
    m = OCNN(activation="sigmoid", hidden=16, epochs=60, batch_size=64, lr=1e-2, device="cpu").fit(X)
    Xt, _ = blobs(seed=1)
    s = m.decision_function(np.vstack([Xt, Xo]))
    y = np.r_[np.zeros(len(Xt)), np.ones(len(Xo))]
    assert metrics.auroc(y, s) > 0.9


@pytest.mark.parametrize("activation", ["linear", "sigmoid", "relu"])
def test_gaussian_set_paper_activations_rank_the_anomalies_as_normal(activation):
    """Pins what the exact OC-NN objective does on the synthetic set with the paper's activations: the
    N(0, 10^2) anomalies get the *higher* decision score S = y_hat - r (the mean S of the anomalies is not below
    the normals'). Why: without biases ``<w, g(Vx)>`` is positively homogeneous (linear, ReLU) or odd around a
    constant (sigmoid) along every ray from the origin, and the norm penalty makes lifting high-norm rows above
    ``r`` the cheapest way to fit the nu-quantile; the anomalies differ from the normals only by their norm
    (decision of issue 16; measurements in bench/results/alad_ocnn.md)."""
    X, y = gaussian_ocnn()
    m = OCNN(activation=activation, hidden=128, epochs=100, batch_size=200, lr=1e-3, device="cpu").fit(X)
    S = m.decision_score(X)
    assert S[y == 1].mean() >= S[y == 0].mean()
    assert metrics.auroc(y, m.decision_function(X)) < 0.5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gaussian_set_radial_activation_separates_the_anomalies(seed):
    """The documented extension g(t) = exp(-t^2) (bounded and radial, like the OC-SVM's RBF kernel) with the
    same exact objective ranks the anomalies below the normals: AUROC >= 0.99 on the synthetic set for 3 seeds
    (data and weights). Its settings, not tuned per seed: 128 hidden units, 100 full-batch epochs at lr 1e-3 (the
    figure recipe's; with the declared default lr 1e-4, shared with the paper's activations, 100 epochs on 200
    rows are 100 steps and train too little: AUROC 0.1-0.7)."""
    from odcore.data import builtins

    ds = builtins.gaussian_ocnn(seed=seed)
    X, y = ds.X.astype(np.float32), ds.y
    m = OCNN(activation="radial", hidden=128, epochs=100, batch_size=200, lr=1e-3, random_state=seed,
             device="cpu").fit(X)
    assert metrics.auroc(y, m.decision_function(X)) >= 0.99
    S = m.decision_score(X)
    assert S[y == 1].mean() < 0 < S[y == 0].mean() + 1e-9  # anomalies below r on average, normals not


def test_autoencoder_pretraining_freezes_the_extractor(tmp_path):
    X, Xo = blobs()
    m = OCNN(pretrain="autoencoder", pretrain_epochs=3, pretrain_latent=4, hidden=8, epochs=3,
             batch_size=64, lr=1e-3, device="cpu").fit(X)
    assert all(not p.requires_grad for p in m.nets_["features"].parameters())
    assert m.embed(X).shape == (len(X), 8)
    m.save(tmp_path / "m")
    m2 = OCNN.load(tmp_path / "m")
    np.testing.assert_allclose(m2.decision_function(Xo), m.decision_function(Xo), rtol=1e-5, atol=1e-6)
    assert m2.r_ == pytest.approx(m.r_)


def test_bad_parameters():
    X, _ = blobs()
    with pytest.raises(InputError, match="activation"):
        OCNN(activation="tanh").fit(X)
    with pytest.raises(InputError, match="nu"):
        OCNN(nu=0.0).fit(X)
    with pytest.raises(InputError, match="pretrain"):
        OCNN(pretrain="vae").fit(X)
