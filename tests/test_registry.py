"""The detector contract, parametrised over every registered detector (not only the autoencoder).

clone, save/load with identical scores, one-row / two-row / odd-batch fits, the NaN guards, cancel,
declared parameters (validation before anything is built, text parsing) and declared capabilities
(every capability a detector declares works after fit; none is guessed from method names).
"""

import threading

import numpy as np
import pytest
import torch
from sklearn.base import clone

from odcore.errors import FitCancelled, InputError, TrainingError
from odcore.models import registry
from odcore.models.deep import DeepDetector, batch_bounds

NAMES = registry.available()
BS = 16


def tiny(name: str, **extra):
    """The detector at tiny settings (2 epochs, batch 16, small networks, CPU)."""
    decl = registry.declaration(name)
    params = {"epochs": 2, "batch_size": BS, "device": "cpu", "only_ce_epochs": 1, "ascent_num_steps": 2,
              "pretrain_epochs": 1, "hidden": (8,), "latent": 2, "rep_dim": 4, "validation_share": 0.0,
              "warm_up_epochs": 0, "n_estimators": 10, "epoch_num": 2}
    params = {k: v for k, v in params.items() if k in decl}
    if name == "ocnn":
        params["hidden"] = 8
    params.update(extra)
    return registry.create(name, **params)


def data(n: int = 60, d: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    X[: max(1, n // 10)] *= 5  # a few wide rows
    return X


def fit_kwargs(model, X):
    """What each setting needs: labelled positives for PU methods, limited negatives' labels for DROCC-LF."""
    kw = {}
    if model.needs_positives:
        kw["X_pos"] = data(max(2, len(X) // 2), X.shape[1], seed=1)
    if model.uses_labels:
        y = np.zeros(len(X), dtype=np.int64)
        y[: max(1, len(X) // 10)] = 1
        kw["y"] = y
    return kw


def fit(model, X, **kw):
    return model.fit(X, **{**fit_kwargs(model, X), **kw})


@pytest.mark.parametrize("name", NAMES)
def test_clone_is_an_unfitted_copy_with_equal_parameters(name):
    m = tiny(name)
    c = clone(m)
    assert c is not m and type(c) is type(m) and c.get_params() == m.get_params()
    fit(m, data())
    assert not hasattr(clone(m), "threshold_")


@pytest.mark.parametrize("name", NAMES)
def test_save_load_gives_identical_scores(name, tmp_path):
    X = data()
    m = fit(tiny(name), X)
    m.save(tmp_path / "m")
    r = type(m).load(tmp_path / "m")
    assert type(r) is type(m) and r.get_params() == m.get_params()
    np.testing.assert_allclose(r.decision_function(X), m.decision_function(X), rtol=1e-5, atol=1e-6)
    assert r.threshold_ == m.threshold_


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("rows", [2, BS + 1, 3 * BS + 1])
def test_two_row_and_odd_batch_fits(name, rows):
    """A last batch of one row used to crash batch norm (Deep SVDD at 201 rows, batch 200). A detector that
    declares more ``min_rows`` (ABOD's angles need pairs of neighbours) refuses fewer with a message."""
    X = data(rows)
    min_rows = getattr(registry.get_class(name), "min_rows", 2)
    if rows < min_rows:
        with pytest.raises(InputError, match=f"at least {min_rows} training rows"):
            fit(tiny(name), X)
        return
    m = fit(tiny(name), X)
    s = m.decision_function(X)
    assert s.shape == (rows,) and np.isfinite(s).all()


@pytest.mark.parametrize("name", NAMES)
def test_one_row_is_refused_with_a_message(name):
    with pytest.raises(InputError, match="1 sample"):
        fit(tiny(name), data(1))


def test_batches_never_hold_a_single_row():
    assert batch_bounds(201, 200) == [(0, 201)]
    assert batch_bounds(400, 200) == [(0, 200), (200, 400)]
    assert batch_bounds(1, 200) == [(0, 1)]
    assert all(b - a > 1 for n in range(2, 70) for a, b in batch_bounds(n, 16))


@pytest.mark.parametrize("name", NAMES)
def test_nan_input_is_refused(name):
    X = data()
    X[3, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        fit(tiny(name), X)


@pytest.mark.parametrize("name", [n for n in NAMES if issubclass(registry.get_class(n), DeepDetector)])
def test_nan_loss_stops_training_with_a_message(name, monkeypatch):
    m = tiny(name, pretrain_epochs=0) if "pretrain_epochs" in registry.declaration(name) else tiny(name)
    monkeypatch.setattr(m, "_train_step", lambda batch, epoch: {"loss": torch.tensor(float("nan"))})
    with pytest.raises(TrainingError, match="loss term 'loss' became nan in epoch 1"):
        fit(m, data())


@pytest.mark.parametrize("name", NAMES)
def test_cancel(name):
    m = tiny(name)
    stop = threading.Event()
    if isinstance(m, DeepDetector):  # deep fits look at cancel every batch: stop after the first epoch
        with pytest.raises(FitCancelled, match="epoch 2 of"):
            fit(m, data(), callbacks=[lambda rec: stop.set()], cancel=stop)
        assert len(m.history_) == 1  # the finished epoch is kept
    else:  # classical fits cannot be interrupted inside scikit-learn: refused before they start
        stop.set()
        with pytest.raises(FitCancelled, match="before fitting"):
            fit(m, data(), cancel=stop)


@pytest.mark.parametrize("name", NAMES)
def test_declared_capabilities_work(name):
    """Every capability a detector declares works after fit, with its own parameters deciding (WAE-GAN: one
    decoder, no outlier generation), and what is not declared is not guessed from attribute names."""
    X = data()
    m = fit(tiny(name), X)
    caps = m.capabilities()
    assert caps == registry.capabilities(name, m.get_params())
    if caps.latent:
        assert m.embed(X).shape[0] == len(X)
    for d in caps.decoders:
        out = m.reconstruct(X, decoder=d)
        assert out["reconstruction"].shape == X.shape and out["errors"].shape == X.shape
    if caps.decoders:
        with pytest.raises(InputError, match="decoder"):
            m.reconstruct(X, decoder="nope")
    for kind in caps.generate:
        assert m.generate(4, kind=kind, source="prior", random_state=0).shape == (4, X.shape[1])
    if caps.assign:
        assert set(np.unique(m.assign(X))) <= {0, 1}
    if caps.prior_distance:
        assert (m.prior_distance(X) >= 0).all()
    if caps.boundary:
        assert m.boundary(X[:, :2]).shape == (len(X),)
    if caps.adversarial:
        assert m.adversarial_points_.shape[1] == X.shape[1] and len(m.adversarial_points_) > 0
    if caps.report:  # what the detector chose and why (ensemble, auto)
        rep = m.report()
        assert rep["summary"] and rep["lines"][0] == rep["summary"]


def test_wae_gan_declares_one_decoder_although_it_shares_waldos_class():
    caps = registry.capabilities("wae-gan")
    assert caps.decoders == ("inlier",) and caps.generate == ("inlier",) and not caps.assign
    assert registry.capabilities("waldo").decoders == ("inlier", "outlier")
    assert registry.capabilities("waldo", {"single_decoder": True}).decoders == ("inlier",)


@pytest.mark.parametrize("name", NAMES)
def test_parameters_are_declared_once_and_validated_before_anything_is_built(name):
    decl = registry.declaration(name)
    cls = registry.get_class(name)
    # the constructor's signature is the declaration (scikit-learn reads it for get_params / clone)
    assert list(cls().get_params()) == sorted(decl.names()) or set(cls().get_params()) == set(decl.names())
    assert cls().get_params() == decl.defaults()
    for row in registry.param_table(name):
        assert row["help"], f"{name}.{row['name']} has no help"
    with pytest.raises(InputError, match="unknown parameter"):
        registry.create(name, not_a_parameter=1)
    with pytest.raises(TypeError):
        cls(1)  # keyword-only


@pytest.mark.parametrize("name, bad, match", [
    ("autoencoder", {"epochs": 0}, "epochs must be a whole number in \\[1, 100000\\], got 0"),
    ("autoencoder", {"latent": 0}, "latent"),
    ("autoencoder", {"hidden": "abc"}, "hidden must be a list"),
    ("autoencoder", {"hidden": (10 ** 6,)}, "hidden"),
    ("autoencoder", {"lr_milestones": (0, "x")}, "lr_milestones"),
    ("autoencoder", {"device": "gpu7"}, "device"),
    ("waldo", {"disc_on": "both"}, "disc_on must be one of 'positive', 'unlabelled', 'all'"),
    ("iforest", {"max_samples": -1}, "max_samples"),
    ("ocsvm", {"gamma": "wide"}, "gamma"),
])
def test_bad_parameter_values_are_refused_by_create(name, bad, match):
    with pytest.raises(InputError, match=match):
        registry.create(name, **bad)


def test_text_values_are_parsed_by_the_declaration():
    assert registry.parse_params("autoencoder", {"hidden": "64,32", "epochs": "3", "lr": "1e-3"}) == {
        "hidden": (64, 32), "epochs": 3, "lr": 1e-3}
    assert registry.parse_params("autoencoder", {"hidden": "[16]", "input_shape": "none"}) == {
        "hidden": (16,), "input_shape": None}
    assert registry.parse_params("iforest", {"max_samples": "256"}) == {"max_samples": 256}
    assert registry.parse_params("iforest", {"max_samples": "auto"}) == {"max_samples": "auto"}
    assert registry.parse_params("waldo", {"advantage": "no", "time_budget": "30"}) == {
        "advantage": False, "time_budget": 30}
    with pytest.raises(InputError, match="hidden must be a list of at most 16 whole numbers"):
        registry.parse_params("autoencoder", {"hidden": "abc"})
    with pytest.raises(InputError, match="unknown parameter\\(s\\) nope for autoencoder; valid: latent"):
        registry.parse_params("autoencoder", {"nope": "1"})


def test_variants_are_registry_entries_not_copied_signatures():
    waldo, cora, wae = (registry.get_class(n) for n in ("waldo", "cora", "wae-gan"))
    assert issubclass(cora, waldo) and issubclass(wae, waldo)
    assert "__init__" not in cora.__dict__ or cora.__init__ is not waldo.__init__
    changed = {k for k, v in registry.defaults("cora").items() if registry.defaults("waldo")[k] != v}
    assert changed == {"lam"}
    changed = {k for k, v in registry.defaults("wae-gan").items() if registry.defaults("waldo")[k] != v}
    assert changed == {"single_decoder", "advantage", "disc_on"}
    assert registry.name_of(cora) == "cora" and registry.name_of(waldo) == "waldo"


def test_time_budget_stops_after_the_epoch_that_reaches_it():
    m = tiny("autoencoder", epochs=500, time_budget=0.05)
    m.fit(data(400))
    assert 1 <= len(m.history_) < 500 and "time budget" in m.stop_reason_
    assert np.isfinite(m.decision_scores_).all()


def test_phases_run_in_the_one_loop_with_one_history():
    """Deep SVDD's pretraining and DROCC's warm-up are phases of the shared loop: one history, one epoch
    count for progress, the phase named in each record."""
    seen = []
    m = tiny("deep-svdd", pretrain_epochs=2, epochs=3).fit(data(), callbacks=[seen.append])
    assert [r["phase"] for r in m.history_] == ["pretrain"] * 2 + ["train"] * 3
    assert [r["epoch"] for r in seen] == [1, 2, 3, 4, 5] and {r["epochs"] for r in seen} == {5}
    assert len(m.pretrain_history_) == 2 and all("recon" in r for r in m.pretrain_history_)
    d = tiny("drocc", epochs=3, only_ce_epochs=1).fit(data())
    assert [r["phase"] for r in d.history_] == ["warm-up", "train", "train"]
    assert "adv" not in d.history_[0] and "adv" in d.history_[-1]
    stop = threading.Event()
    o = tiny("ocnn", pretrain="autoencoder", pretrain_epochs=3, epochs=2)
    with pytest.raises(FitCancelled, match="epoch 2 of 5"):  # OC-NN's pretraining obeys cancel now
        o.fit(data(), callbacks=[lambda rec: stop.set()], cancel=stop)
