"""Behaviour of the fast paths of the shared training loop and of scoring (odcore/models/deep.py).

No timing here (bench/speed.py measures): only that each fast path computes what the plain path did.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from odcore.models.autoencoder import AutoEncoder
from odcore.models.deep import DeepDetector, _epoch_sum


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 7)).astype(np.float32)
    X[:15] += 4.0
    return X


@pytest.fixture(scope="module")
def fitted(data):
    return AutoEncoder(latent=3, hidden=(8,), epochs=2, batch_size=64, device="cpu", random_state=0).fit(data)


def test_inference_mode_scores_equal_no_grad_scores(fitted, data):
    fitted._score_fused = False  # the plain forward in both (the fused one: tested below, to 1e-5)
    try:
        fast = fitted.decision_function(data)
        fitted._score_inference_mode = False
        slow = fitted.decision_function(data)
    finally:
        del fitted._score_inference_mode, fitted._score_fused
    assert np.array_equal(fast, slow)
    np.testing.assert_allclose(fitted.decision_function(data), slow, rtol=1e-5, atol=1e-7)


def test_scores_are_float64_and_one_per_row(fitted, data):
    s = fitted.decision_function(data)
    assert s.dtype == np.float64 and s.shape == (data.shape[0],)
    assert np.array_equal(fitted.decision_scores_, s)


@pytest.mark.parametrize("bs", [1, 7, 64, 299, 300, 8192])
def test_score_batch_size_does_not_change_scores(fitted, data, bs):
    ref = fitted.decision_function(data)
    fitted.set_params(score_batch_size=bs)
    try:
        got = fitted.decision_function(data)
        emb = fitted.embed(data)
    finally:
        fitted.set_params(score_batch_size=8192)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(emb, fitted.embed(data), rtol=1e-5, atol=1e-6)


def test_non_contiguous_and_float64_input_scores_like_float32(fitted, data):
    ref = fitted.decision_function(data)
    fortran64 = np.asfortranarray(data.astype(np.float64))
    np.testing.assert_array_equal(fitted.decision_function(fortran64), ref)
    wide = np.concatenate([data, data], axis=1)[:, ::2]  # a strided view
    np.testing.assert_array_equal(fitted.decision_function(np.ascontiguousarray(wide)),
                                  fitted.decision_function(wide))


@pytest.mark.parametrize("staged", [False, True])
@pytest.mark.parametrize("bs", [1, 64, 1000])
def test_host_batches_cover_every_row_once(fitted, data, staged, bs):
    X = np.asfortranarray(data.astype(np.float64))
    starts, parts = [], []
    for i, xb in fitted._host_batches(X, bs, staged=staged):
        assert xb.dtype == torch.float32 and xb.shape[1] == data.shape[1]
        starts.append(i)
        parts.append(xb.clone())  # the staged path reuses its buffers
    assert starts == list(range(0, data.shape[0], bs))
    np.testing.assert_array_equal(torch.cat(parts).numpy(), data)


def test_staged_scoring_path_equals_direct_path(fitted, data, monkeypatch):
    """The double-buffered staging path (pinned on CUDA) gives the same scores as direct batches."""
    ref = fitted.decision_function(data)
    fitted.set_params(score_batch_size=50)
    try:
        monkeypatch.setattr(fitted, "_host_batches",
                            lambda X, bs: DeepDetector._host_batches(fitted, X, bs, staged=True))
        got = fitted.decision_function(data)
        emb = fitted.embed(data)
        monkeypatch.undo()
        emb_ref = fitted.embed(data)
    finally:
        fitted.set_params(score_batch_size=8192)
    # same values; GEMM kernels may round differently for differently aligned buffers (~1 ulp)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(emb, emb_ref, rtol=1e-5, atol=1e-6)


def test_amp_flag_is_ignored_on_cpu(fitted, data):
    ref = fitted.decision_function(data)
    fitted.amp = True
    try:
        got = fitted.decision_function(data)
    finally:
        del fitted.amp
    assert np.array_equal(got, ref)
    assert DeepDetector.amp is False
    assert "amp" not in fitted.get_params()  # not a parameter: configs and saved models are unchanged


def test_epoch_sum_of_tensors_numbers_and_mixtures():
    assert _epoch_sum([torch.tensor(1.0), torch.tensor(2.5)]) == pytest.approx(3.5)
    assert _epoch_sum([1.0, torch.tensor(2.0), np.float32(0.5)]) == pytest.approx(3.5)
    assert _epoch_sum([torch.tensor(1, dtype=torch.int64), torch.tensor(0.5)]) == pytest.approx(1.5)
    assert _epoch_sum([torch.tensor(2.0, requires_grad=True) * 1]) == pytest.approx(2.0)
    assert _epoch_sum([]) == 0.0


def test_history_loss_is_the_mean_of_the_batch_losses(data):
    class Recording(AutoEncoder):
        def _train_step(self, batch, epoch):
            out = super()._train_step(batch, epoch)
            self.seen.append(float(out["loss"]))
            return out

    m = Recording(latent=3, hidden=(8,), epochs=1, batch_size=64, device="cpu")
    m.seen = []
    m.fit(data)
    assert len(m.seen) == 5
    assert m.history_[0]["loss"] == pytest.approx(np.mean(m.seen), rel=1e-6)


def test_noise_generator_on_cpu_keeps_refits_reproducible(data):
    """Noise comes from the fit's own generator: refitting the same instance repeats the fit."""
    from odcore.models.drocc import DROCC

    m = DROCC(epochs=2, only_ce_epochs=1, ascent_num_steps=3, batch_size=64, device="cpu", random_state=3)
    a = m.fit(data).decision_function(data)
    pts = m.adversarial_points_.copy()
    b = m.fit(data).decision_function(data)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(pts, m.adversarial_points_)
    assert m._noise_gen() is m._gen


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (pinned memory, device generator, AMP)")
def test_cuda_scores_match_cpu_scores(data):  # pragma: no cover - no GPU in CI
    m = AutoEncoder(latent=3, hidden=(8,), epochs=1, batch_size=64, device="cpu", score_batch_size=50).fit(data)
    ref = m.decision_function(data)
    m.nets_ = {k: v.to("cuda") for k, v in m.nets_.items()}
    m.device_ = "cuda"
    np.testing.assert_allclose(m.decision_function(data), ref, rtol=1e-4, atol=1e-6)
    m.amp = True
    np.testing.assert_allclose(m.decision_function(data), ref, rtol=5e-2, atol=1e-3)


# ---------------------------------------------------------------------- fused CPU inference (oneDNN)
def _plain_scores(model, X):
    model._score_fused = False
    try:
        return model.decision_function(X)
    finally:
        del model._score_fused


@pytest.mark.parametrize("act", ["leaky_relu", "relu", "tanh", "sigmoid", "linear"])
def test_fused_cpu_scoring_equals_the_plain_forward(data, act):
    """Fused linear + activation scoring == the plain nn.Sequential forward within 1e-5 (every activation,
    dropout and batch norm in the net, odd batch sizes incl. a single row)."""
    from odcore.models import nets

    class Net(AutoEncoder):
        def _build(self, n_features):
            return {"encoder": nets.mlp([n_features, 16, 8, 3], act=act, dropout=0.1, batchnorm=act == "relu"),
                    "decoder": nets.mlp([3, 8, n_features], act=act)}

    m = Net(epochs=1, batch_size=64, device="cpu", score_batch_size=7).fit(data)
    ref = _plain_scores(m, data)
    np.testing.assert_allclose(m.decision_function(data), ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(m.embed(data[:1]), m.nets_["encoder"](torch.from_numpy(data[:1])).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    if torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise"):
        assert type(m.nets_["encoder"]).__name__ == "FusedCPUSequential"
        from odcore.models.deep import _FUSED_PLANS

        assert _FUSED_PLANS[m.nets_["encoder"]]  # the check on first use passed: fused for real


def test_fused_path_follows_weight_changes_save_load_and_training(data, tmp_path):
    """Packed weights are rebuilt when the weights change (refit, in-place edit, load); the state
    dict is unchanged, and training after scoring still learns through the plain forward."""
    m = AutoEncoder(latent=3, hidden=(8,), epochs=2, batch_size=64, device="cpu").fit(data)
    first = m.decision_function(data)
    sd_keys = set(m.nets_["encoder"].state_dict())
    with torch.no_grad():
        m.nets_["decoder"][0].weight.mul_(1.5)  # in place: the packed copy must be refreshed
    np.testing.assert_allclose(m.decision_function(data), _plain_scores(m, data), rtol=1e-5, atol=1e-7)
    assert not np.allclose(m.decision_function(data), first)
    assert set(m.nets_["encoder"].state_dict()) == sd_keys
    path = tmp_path / "ae"
    m.save(path)
    loaded = type(m).load(path)
    np.testing.assert_allclose(loaded.decision_function(data), m.decision_function(data), rtol=1e-5, atol=1e-7)
    m.set_params(epochs=1)
    m.fit(data, monitor=(data, (np.arange(len(data)) < 15).astype(int)))  # scoring inside fit (monitor)
    assert np.isfinite(m.history_[-1]["loss"])
    np.testing.assert_allclose(m.decision_function(data), _plain_scores(m, data), rtol=1e-5, atol=1e-7)


def test_fused_path_is_per_thread_and_leaves_autograd_alone(fitted, data):
    """Outside a scoring call (and with gradients on) the networks run their plain forward."""
    from odcore.models import deep

    fitted.decision_function(data)  # converts the nets
    x = torch.from_numpy(data[:5]).requires_grad_(True)
    out = fitted.nets_["encoder"](x)
    assert out.requires_grad  # plain forward: differentiable
    assert not getattr(deep._FUSED, "on", False)
    import copy
    import pickle

    clone = pickle.loads(pickle.dumps(fitted.nets_["encoder"]))
    assert torch.equal(clone(x).detach(), out.detach())
    assert isinstance(copy.deepcopy(fitted.nets_["encoder"]), torch.nn.Sequential)


def test_row_mse_in_place_equals_plain_and_keeps_the_input():
    import torch

    from odcore.models.deep import row_mse

    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 7, generator=g)
    r = torch.randn(64, 7, generator=g)
    expected = ((r - x) ** 2).mean(dim=1)
    x_copy = x.clone()
    with torch.inference_mode():
        got = row_mse(r.clone(), x)
        same = row_mse(x, x)  # the input itself as "reconstruction": never modified in place
    assert torch.allclose(got, expected)
    assert torch.equal(x, x_copy) and torch.all(same == 0)
    w = r.clone().requires_grad_(True)
    loss = row_mse(w, x).sum()  # under autograd: a normal graph
    loss.backward()
    assert torch.allclose(w.grad, 2 * (r - x) / x.shape[1])
