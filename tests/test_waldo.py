"""WALDO, CoRa and WAE-GAN: invariants of METHODS.md (WALDO section), persistence, bad input, learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from odcore import metrics
from odcore.errors import InputError
from odcore.models import registry
from odcore.models.waldo import WAEGAN, WALDO, CoRa

FAST = dict(epochs=3, batch_size=32, lr=1e-3, latent=4, random_state=0, device="cpu")


def _pu_digits(nu: float = 0.1, n_pos: int = 60, seed: int = 0):
    """Built-in digits, inlier digit 0: labelled zeros X_pos and an unlabelled mixture with share nu."""
    try:
        from odcore import data

        ds = data.load("digits")
        sp = data.split(ds, "pu", seed=seed, nu=nu, inlier_classes=(0,), n_pos=n_pos)
        return sp.X_pos, sp.X_train, sp.y_train
    except (ImportError, AttributeError, TypeError, InputError):
        pass
    from sklearn.datasets import load_digits

    d = load_digits()
    X = (d.data / 16.0).astype(np.float32)
    rng = np.random.default_rng(seed)
    zeros = rng.permutation(np.flatnonzero(d.target == 0))
    others = rng.permutation(np.flatnonzero(d.target != 0))
    u_in = zeros[n_pos:]
    n_out = int(round(len(u_in) * nu / (1 - nu)))
    Xu = np.concatenate([X[u_in], X[others[:n_out]]])
    yu = np.r_[np.zeros(len(u_in)), np.ones(n_out)].astype(np.int64)
    return X[zeros[:n_pos]], Xu, yu


@pytest.fixture(scope="module")
def pu():
    return _pu_digits()


@pytest.fixture(scope="module")
def small():
    """Small Gaussian PU set: 40 positives, 50 unlabelled (5 shifted outliers), 6 features."""
    rng = np.random.default_rng(1)
    Xp = rng.normal(size=(40, 6)).astype(np.float32)
    Xu = rng.normal(size=(50, 6)).astype(np.float32)
    Xu[-5:] += 4.0
    yu = np.r_[np.zeros(45), np.ones(5)].astype(np.int64)
    return Xp, Xu, yu


@pytest.fixture(scope="module")
def fitted(pu):
    Xp, Xu, yu = pu
    return WALDO(**{**FAST, "epochs": 30, "batch_size": 64, "latent": 8}).fit(Xu, X_pos=Xp, monitor=(Xu, yu))


def _state(net):
    return {k: v.clone() for k, v in net.state_dict().items()}


# ------------------------------------------------------------------ invariants
def test_outlier_decoder_is_a_copy_of_the_inlier_decoder_after_init(small):
    Xp, Xu, _ = small
    m = WALDO(**FAST)
    m._setup(Xu, None, Xp)  # built, not trained (epochs >= 1 is required for a fit)
    a, b = m.nets_["decoder_in"].state_dict(), m.nets_["decoder_out"].state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert m.nets_["decoder_in"] is not m.nets_["decoder_out"]
    # identical decoders -> identical reconstructions
    m._train_mode(False)
    with torch.no_grad():
        z = m.nets_["encoder"](torch.from_numpy(Xu))
        np.testing.assert_array_equal(m.nets_["decoder_in"](z).numpy(), m.nets_["decoder_out"](z).numpy())


def _prepared(model, Xp, Xu):
    model._check_params()
    model.fit(Xu, X_pos=Xp)  # builds everything; then reset the nets to a known state
    model._init_nets(Xu.shape[1])
    model.optimizers_ = model._optimizers()
    model._train_mode(True)
    return torch.from_numpy(Xp), torch.from_numpy(Xu)


def test_positives_never_reach_the_outlier_decoder(small):
    """With the advantage off (so positives cannot even shift the contest), G_o's gradient does
    not depend on the positive batch at all: positives are always reconstructed by G_i."""
    Xp, Xu, _ = small
    m = WALDO(**{**FAST, "epochs": 1, "advantage": False, "lam": 0.0})
    p, u = _prepared(m, Xp, Xu)
    # make the decoders differ so that some unlabelled rows go to G_o
    with torch.no_grad():
        for prm in m.nets_["decoder_out"].parameters():
            prm.add_(0.05 * torch.randn_like(prm))
    grads = []
    for pp in (p, p * 3.0 + 1.0):
        for net in m.nets_.values():
            net.zero_grad(set_to_none=True)
        t = m._terms(pp, u)
        y = t["y"]
        assert 0 < y.sum() < len(y)
        loss = (y * t["l_uo"] + (1 - y) * t["l_ui"]).mean() + t["l_p"].mean()
        loss.backward()
        grads.append([prm.grad.clone() for prm in m.nets_["decoder_out"].parameters()])
        # positives' error is the inlier decoder's error, computed directly
        direct = ((m.nets_["decoder_in"](m.nets_["encoder"](pp)) - pp) ** 2).mean(dim=1)
        torch.testing.assert_close(t["l_p"], direct)
    for g1, g2 in zip(*grads):
        assert torch.equal(g1, g2)


def test_advantage_equals_direct_computation_on_a_fixed_batch(fitted, pu):
    Xp, Xu, _ = pu
    m = fitted
    p, u = torch.from_numpy(Xp[:32]), torch.from_numpy(Xu[:40])
    m._train_mode(False)
    with torch.no_grad():
        t = m._terms(p, u)
        Q, Gi, Go = m.nets_["encoder"], m.nets_["decoder_in"], m.nets_["decoder_out"]
        l_p = ((Gi(Q(p)) - p) ** 2).mean(dim=1)
        l_ui = ((Gi(Q(u)) - u) ** 2).mean(dim=1)
        l_uo = ((Go(Q(u)) - u) ** 2).mean(dim=1)
    adv = l_uo.min() - l_p.min()
    torch.testing.assert_close(t["adv"], adv)
    assert torch.equal(t["y"], (l_uo < l_ui + adv).float())
    assert not t["y"].requires_grad
    # advantage off: zero, and the contest is the plain comparison
    m.advantage = False
    try:
        with torch.no_grad():
            t0 = m._terms(p, u)
        assert float(t0["adv"]) == 0.0
        assert torch.equal(t0["y"], (l_uo < l_ui).float())
    finally:
        m.advantage = True


@pytest.mark.parametrize("disc_on", ["positive", "unlabelled", "all"])
def test_discriminator_sees_only_the_chosen_codes(small, disc_on):
    Xp, Xu, _ = small
    m = WALDO(**{**FAST, "disc_on": disc_on, "lam": 0.5, "disc_dropout": 0.0})
    p, u = _prepared(m, Xp[:16], Xu[:24])
    with torch.no_grad():
        zp, zu = m.nets_["encoder"](p), m.nets_["encoder"](u)
    expected = {"positive": zp, "unlabelled": zu, "all": torch.cat([zp, zu])}[disc_on]
    seen = []
    hook = m.nets_["disc"].register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach().clone()))
    try:
        m._train_step((p, u), 0)
    finally:
        hook.remove()
    # calls: prior samples, then the codes (discriminator step), then the codes (autoencoder step)
    assert len(seen) == 3
    assert seen[0].shape == expected.shape  # the prior batch matches the fake batch in size
    assert not torch.allclose(seen[0], expected)
    torch.testing.assert_close(seen[1], expected)
    torch.testing.assert_close(seen[2], expected)


def test_gen_on_chooses_the_codes_the_encoder_pushes_to_the_prior(small):
    """gen_on='unlabelled' with disc_on='positive' (the authors' MNIST script): D is trained on the positives'
    codes, the autoencoder step's Wasserstein term is applied to the unlabelled codes."""
    Xp, Xu, _ = small
    m = WALDO(**{**FAST, "disc_on": "positive", "gen_on": "unlabelled", "lam": 0.5, "disc_dropout": 0.0})
    p, u = _prepared(m, Xp[:16], Xu[:24])
    with torch.no_grad():
        zp, zu = m.nets_["encoder"](p), m.nets_["encoder"](u)
    seen = []
    hook = m.nets_["disc"].register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach().clone()))
    try:
        m._train_step((p, u), 0)
    finally:
        hook.remove()
    torch.testing.assert_close(seen[1], zp)  # discriminator step: the positives' codes are the fakes
    torch.testing.assert_close(seen[2], zu)  # autoencoder step: the unlabelled codes are pushed


def test_the_authors_wae_conv_nets():
    """conv_arch='wae': four stride-2 convolutions (w, 2w, 4w, 8w) to a 1x1 map, then a linear code; the decoder
    goes 7 -> 10 -> 13 -> 28; only for 28x28 images; trains and reconstructs through the shared loop."""
    from odcore.models import nets

    rng = np.random.default_rng(0)
    X = rng.random((40, 784)).astype(np.float32)
    m = WALDO(**{**FAST, "epochs": 1, "batch_size": 16, "latent": 20}, input_shape=(1, 28, 28), conv_arch="wae",
              conv_width=8).fit(X[20:], X_pos=X[:20])
    enc = m.nets_["encoder"]
    assert isinstance(enc, nets.WAEConvEncoder)
    convs = [mod for mod in enc.modules() if isinstance(mod, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 32, 64] and enc.fc.in_features == 64
    assert m.reconstruct(X[:5], "outlier")["reconstruction"].shape == (5, 784)
    with pytest.raises(InputError, match="28x28"):
        WALDO(**FAST, input_shape=(1, 8, 8), conv_arch="wae").fit(X[:, :64], X_pos=X[:10, :64])


def test_lambda_zero_turns_the_discriminator_off(small):
    Xp, Xu, _ = small
    m = WALDO(**{**FAST, "lam": 0.0}).fit(Xu, X_pos=Xp)
    before = _state(m.nets_["disc"])
    assert "loss_disc" not in m.history_[-1] and "loss_wass" not in m.history_[-1]
    m2 = WALDO(**{**FAST, "lam": 0.0})
    m2._setup(Xu, None, Xp)  # the same seed builds the same initial discriminator
    for k, v in _state(m2.nets_["disc"]).items():
        assert torch.equal(v, before[k])  # never updated


def test_batches_shuffle_and_cycle_the_shorter_set(small):
    Xp, Xu, _ = small
    m = WALDO(**{**FAST, "batch_size": 16})
    m._check_params()
    m.fit(Xu, X_pos=Xp[:10])
    m._prepare(Xu, None, Xp[:10])
    pairs = list(m._batches(0))
    assert len(pairs) == int(np.ceil(len(Xu) / 16))  # one pass over the longer (unlabelled) set
    rows_u = torch.cat([u for _, u in pairs]).numpy()
    assert sorted(map(tuple, rows_u)) == sorted(map(tuple, Xu))  # every unlabelled row exactly once
    assert not np.array_equal(rows_u, Xu)  # shuffled
    for p, _ in pairs:
        assert p.shape[0] == 10  # the shorter set is cycled in full batches, never truncated away
    # longer positive set: the unlabelled rows are cycled instead
    m._prepare(Xu[:12], None, Xp)
    pairs = list(m._batches(0))
    assert len(pairs) == int(np.ceil(len(Xp) / 16))
    assert all(u.shape[0] == 12 for _, u in pairs)


def test_encoder_does_not_end_in_relu_unless_asked(small):
    Xp, Xu, _ = small
    z = WALDO(**FAST).fit(Xu, X_pos=Xp).embed(Xu)
    assert (z < 0).any()
    z_bug = WALDO(**{**FAST, "encoder_relu": True}).fit(Xu, X_pos=Xp).embed(Xu)
    assert (z_bug >= 0).all()


def test_output_activation_follows_the_data_range(small, pu):
    Xp, Xu, _ = small
    assert WALDO(**FAST).fit(Xu, X_pos=Xp).out_act_ == "linear"
    dp, du, _ = pu
    m = WALDO(**{**FAST, "epochs": 1}).fit(du, X_pos=dp)
    assert m.out_act_ == "sigmoid"
    rec = m.reconstruct(du[:5])["reconstruction"]
    assert rec.min() >= 0 and rec.max() <= 1


# ------------------------------------------------------------------ contract
def test_scoring_twice_is_identical_and_labels_are_the_assignment(fitted, pu):
    _, Xu, _ = pu
    s1, s2 = fitted.decision_function(Xu), fitted.decision_function(Xu)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_allclose(s1, fitted.decision_scores_, rtol=1e-6)
    np.testing.assert_array_equal(fitted.labels_, fitted.assign(Xu))
    assert set(np.unique(fitted.labels_)) <= {0, 1}
    assert fitted.threshold_ == pytest.approx(np.quantile(fitted.decision_scores_, 0.9))
    rec = fitted.reconstruct(Xu[:7], decoder="outlier")
    assert rec["reconstruction"].shape == (7, Xu.shape[1]) and rec["errors"].shape == (7, Xu.shape[1])
    np.testing.assert_allclose(fitted.reconstruct(Xu[:7])["errors"].mean(axis=1), s1[:7], rtol=1e-5)
    assert fitted.embed(Xu).shape == (len(Xu), 8)
    np.testing.assert_allclose(fitted.prior_distance(Xu[:5]), np.linalg.norm(fitted.embed(Xu[:5]), axis=1),
                               rtol=1e-5)


def test_history_records_each_term(fitted):
    h = fitted.history_[-1]
    for k in ("loss", "loss_rec_p", "loss_rec_u", "loss_wass", "loss_disc", "outlier_share", "advantage",
              "val_auroc", "val_auprc", "val_f1", "val_assign_f1"):
        assert k in h, k
    assert 0.0 <= h["outlier_share"] <= 1.0
    assert len(fitted.history_) == 30


def test_same_seed_same_scores_and_refit_reinitialises(small):
    Xp, Xu, _ = small
    a = WALDO(**FAST).fit(Xu, X_pos=Xp)
    s_a = a.decision_scores_.copy()
    b = WALDO(**FAST).fit(Xu, X_pos=Xp)
    np.testing.assert_array_equal(s_a, b.decision_scores_)
    nets_before = a.nets_["encoder"]
    a.fit(Xu[::-1] * 2.0, X_pos=Xp)  # other data
    a.fit(Xu, X_pos=Xp)  # refit from scratch: same result as the first fit
    assert a.nets_["encoder"] is not nets_before
    np.testing.assert_array_equal(s_a, a.decision_scores_)
    c = WALDO(**{**FAST, "random_state": 1}).fit(Xu, X_pos=Xp)
    assert not np.array_equal(s_a, c.decision_scores_)


def test_save_load_round_trip(tmp_path, fitted, pu):
    _, Xu, _ = pu
    fitted.save(tmp_path / "m")
    m = WALDO.load(tmp_path / "m")
    np.testing.assert_array_equal(m.decision_function(Xu), fitted.decision_function(Xu))
    np.testing.assert_array_equal(m.assign(Xu), fitted.assign(Xu))
    np.testing.assert_array_equal(m.labels_, fitted.labels_)
    assert m.advantage_ == fitted.advantage_ and m.out_act_ == fitted.out_act_
    np.testing.assert_array_equal(m.generate(5, random_state=3), fitted.generate(5, random_state=3))
    assert m.history_ == fitted.history_


def test_registry_names_and_variants(small):
    Xp, Xu, _ = small
    assert isinstance(registry.create("cora"), CoRa) and registry.create("cora").lam == 0
    assert registry.create("cora").advantage is True
    assert isinstance(registry.create("wae-gan"), WAEGAN) and registry.create("wae-gan").single_decoder
    assert registry.capabilities("waldo").names() >= {"embed", "reconstruct", "generate"}
    assert registry.create("waldo").get_params()["lam"] == 0.1
    w = WAEGAN(**FAST).fit(Xu, X_pos=Xp)
    assert "decoder_out" not in w.nets_
    assert w.labels_.sum() == (w.decision_scores_ > w.threshold_).sum()
    with pytest.raises(InputError, match="single decoder"):
        w.reconstruct(Xu, decoder="outlier")
    with pytest.raises(InputError, match="single decoder"):
        w.generate(3, kind="outlier")
    assert w.generate(3).shape == (3, Xu.shape[1])
    c = CoRa(**FAST).fit(Xu, X_pos=Xp)
    assert "loss_wass" not in c.history_[-1]


# ------------------------------------------------------------------ bad input
def test_missing_positives_is_refused_with_an_explanation(small):
    _, Xu, _ = small
    with pytest.raises(InputError, match="X_pos"):
        WALDO(**FAST).fit(Xu)


def test_bad_input(small):
    Xp, Xu, _ = small
    with pytest.raises(InputError, match="features"):
        WALDO(**FAST).fit(Xu, X_pos=Xp[:, :4])
    with pytest.raises(InputError, match="empty"):
        WALDO(**FAST).fit(Xu, X_pos=Xp[:0])
    with pytest.raises(InputError, match="input_shape"):
        WALDO(**{**FAST, "input_shape": (1, 8, 8)}).fit(Xu, X_pos=Xp)
    with pytest.raises(InputError, match="disc_on"):
        WALDO(**{**FAST, "disc_on": "both"}).fit(Xu, X_pos=Xp)
    with pytest.raises(InputError, match="lam"):
        WALDO(**{**FAST, "lam": -1.0}).fit(Xu, X_pos=Xp)
    m = WALDO(**FAST).fit(Xu, X_pos=Xp)
    with pytest.raises(InputError, match="features"):
        m.decision_function(Xu[:, :3])
    with pytest.raises(InputError, match="decoder"):
        m.reconstruct(Xu, decoder="both")
    with pytest.raises(InputError, match="source"):
        m.generate(2, source="posterior")


def test_nu_outside_the_unit_interval_is_refused_by_the_split():
    data = pytest.importorskip("odcore.data")
    if not hasattr(data, "split"):
        pytest.skip("odcore.data.split is not there yet")
    ds = data.load("digits")
    for nu in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(InputError, match="nu"):
            data.split(ds, "pu", nu=nu, inlier_classes=(0,))


def test_conv_networks_for_images(pu):
    Xp, Xu, _ = pu
    m = WALDO(**{**FAST, "epochs": 1, "input_shape": (1, 8, 8)}).fit(Xu, X_pos=Xp)
    assert any(isinstance(mod, torch.nn.Conv2d) for mod in m.nets_["encoder"].modules())
    assert m.generate(4, kind="inlier", source="prior", random_state=0).shape == (4, 64)


# ------------------------------------------------------------------ learning
def test_learns_digits_and_generates_inlier_like_rows(fitted, pu):
    Xp, Xu, yu = pu
    assert metrics.auroc(yu, fitted.decision_scores_) >= 0.90
    gen = fitted.generate(200, kind="inlier", source="fitted", random_state=0)
    real_out = Xu[yu == 1]
    real_in = Xu[yu == 0][: len(real_out)]  # same size, so the larger set has no head start

    def mean_nn(A, B):
        d = ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)
        return float(np.sqrt(d.min(axis=1)).mean())

    assert mean_nn(gen, real_in) < mean_nn(gen, real_out)


def test_latent_score_is_the_mahalanobis_distance_from_the_encoded_positives(tmp_path, small):
    """score="latent": (Q(x) - m)^T S^-1 (Q(x) - m) with N(m, S) fitted to Q(X_pos); training unchanged."""
    Xp, Xu, yu = small
    base = WALDO(**FAST).fit(Xu, X_pos=Xp, monitor=(Xu, yu))
    lat = WALDO(**{**FAST, "anomaly_score": "latent"}).fit(Xu, X_pos=Xp, monitor=(Xu, yu))
    # the same training (only the ranking differs): same codes, same assignment
    np.testing.assert_array_equal(base.embed(Xu), lat.embed(Xu))
    np.testing.assert_array_equal(base.labels_, lat.labels_)
    # the default ranking is the inlier-decoder error
    np.testing.assert_allclose(base.decision_scores_, base.reconstruct(Xu)["errors"].mean(axis=1), rtol=1e-5)
    # the positives' Gaussian is the mean / (ridged) covariance of the encoded positives
    Zp = lat.embed(Xp).astype(np.float64)
    np.testing.assert_allclose(lat.latent_mean_pos_, Zp.mean(axis=0), rtol=1e-5, atol=1e-6)
    cov = np.linalg.inv(lat.latent_prec_pos_)
    np.testing.assert_allclose(np.diag(cov), Zp.var(axis=0, ddof=1), rtol=0.02, atol=1e-5)
    d = lat.embed(Xu).astype(np.float64) - lat.latent_mean_pos_
    direct = np.einsum("ij,jk,ik->i", d, lat.latent_prec_pos_, d)
    np.testing.assert_allclose(lat.decision_scores_, direct, rtol=1e-4, atol=1e-5)
    assert lat.decision_scores_.min() >= 0
    # per-epoch monitoring used the latent score too, and save / load keeps the Gaussian
    assert "val_auprc" in lat.history_[-1]
    lat.save(tmp_path / "m")
    np.testing.assert_array_equal(WALDO.load(tmp_path / "m").decision_function(Xu), lat.decision_function(Xu))
    with pytest.raises(InputError, match="score"):
        WALDO(**{**FAST, "anomaly_score": "outlier"}).fit(Xu, X_pos=Xp)


def test_ratio_score_is_the_log_ratio_of_the_two_decoders_errors(small):
    """score="ratio": log l_i - log l_o per row; same training as the default; refused with one decoder."""
    Xp, Xu, yu = small
    base = WALDO(**FAST).fit(Xu, X_pos=Xp)
    rat = WALDO(**{**FAST, "anomaly_score": "ratio"}).fit(Xu, X_pos=Xp)
    np.testing.assert_array_equal(base.labels_, rat.labels_)  # only the ranking differs
    l_i = rat.reconstruct(Xu, decoder="inlier")["errors"].mean(axis=1)
    l_o = rat.reconstruct(Xu, decoder="outlier")["errors"].mean(axis=1)
    np.testing.assert_allclose(rat.decision_scores_, np.log(l_i + 1e-12) - np.log(l_o + 1e-12), rtol=1e-4, atol=1e-4)
    # a row the outlier decoder wins clearly scores above one the inlier decoder wins clearly
    assert rat.decision_scores_[np.argmax(l_i / l_o)] >= rat.decision_scores_.max() - 1e-4
    with pytest.raises(InputError, match="ratio"):
        WALDO(**{**FAST, "anomaly_score": "ratio", "single_decoder": True}).fit(Xu, X_pos=Xp)
