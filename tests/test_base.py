"""The detector contract and the shared training loop (odcore.models.base / deep)."""

import json
import threading

import numpy as np
import pytest
import torch
from sklearn.base import clone

from odcore.errors import FitCancelled, InputError, NotFittedError, TrainingError
from odcore.models import registry
from odcore.models.autoencoder import AutoEncoder
from odcore.models.base import BaseDetector
from odcore.models.deep import resolve_device


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(size=(300, 4)), rng.normal(size=(15, 4)) * 6].astype(np.float32)
    y = np.r_[np.zeros(300), np.ones(15)].astype(int)
    return X, y


def small_ae(**kw):
    base = dict(epochs=3, batch_size=64, latent=2, hidden=(8,))
    base.update(kw)
    return AutoEncoder(**base)


def test_params_are_stored_unchanged_and_clone_works():
    m = AutoEncoder(hidden=(16, 8), lr=0.01, epochs=7)
    assert m.get_params()["hidden"] == (16, 8)
    c = clone(m)
    assert c.get_params() == m.get_params() and c is not m
    m.set_params(epochs=2)
    assert m.epochs == 2
    with pytest.raises(TypeError):
        AutoEncoder(8)  # keyword-only


def test_fit_sets_contract_attributes(data):
    X, y = data
    m = small_ae(contamination=0.05)
    assert m.fit(X) is m
    assert m.decision_scores_.shape == (len(X),)
    assert m.threshold_ == pytest.approx(np.quantile(m.decision_scores_, 0.95))
    assert m.labels_.mean() == pytest.approx(0.05, abs=0.01)
    assert np.array_equal(m.predict(X), m.labels_)
    assert [r["epoch"] for r in m.history_] == [1, 2, 3]


def test_not_fitted_and_wrong_width(data):
    X, _ = data
    with pytest.raises(NotFittedError, match="fit"):
        small_ae().decision_function(X)
    m = small_ae().fit(X)
    with pytest.raises(InputError, match="X has 3 features, but AutoEncoder is expecting 4 features as input"):
        m.decision_function(X[:, :3])


@pytest.mark.parametrize("bad,match", [
    (np.empty((0, 3)), "no rows"),
    (np.array([1.0, 2.0]), "one-dimensional"),
    (np.array([[1.0, np.nan]]), "NaN or infinite"),
    (np.array([["a", "b"]]), "numeric"),
])
def test_bad_training_input(bad, match):
    with pytest.raises(InputError, match=match):
        small_ae().fit(bad)


def test_bad_params_have_clear_messages(data):
    X, _ = data
    with pytest.raises(InputError, match="contamination"):
        small_ae(contamination=0.9).fit(X)
    with pytest.raises(InputError, match="epochs"):
        small_ae(epochs=-1).fit(X)


def test_callbacks_and_monitoring_metrics(data):
    X, y = data
    seen = []
    small_ae(epochs=2).fit(X, monitor=(X, y), callbacks=[seen.append])
    assert small_ae(epochs=1).fit(X, y).history_[0].keys().isdisjoint({"val_auroc"})  # y alone is ignored
    assert [r["epoch"] for r in seen] == [1, 2]
    assert {"loss", "val_auroc", "val_auprc", "val_f1", "seconds"} <= set(seen[-1])
    assert seen[-1]["val_auroc"] > 0.8  # the planted outliers are 6x wider


def test_same_seed_same_scores_other_seed_differs(data):
    X, _ = data
    a = small_ae(random_state=3).fit(X).decision_scores_
    b = small_ae(random_state=3).fit(X).decision_scores_
    c = small_ae(random_state=4).fit(X).decision_scores_
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_batched_scoring_matches_one_batch(data):
    X, _ = data
    m = small_ae().fit(X)
    one = m.decision_function(X)
    m.set_params(score_batch_size=7)
    assert np.allclose(m.decision_function(X), one, rtol=1e-6, atol=1e-7)


def test_scoring_a_million_rows_in_batches(data):
    X, _ = data
    m = small_ae(epochs=1).fit(X)
    big = np.tile(X, (1_000_000 // len(X) + 1, 1))[:1_000_000]
    s = m.decision_function(big)
    assert s.shape == (1_000_000,) and np.isfinite(s).all()


def test_lr_schedule_is_stepped(data):
    X, _ = data
    m = small_ae(epochs=3, lr=1e-2, lr_milestones=(2,)).fit(X)
    lrs = [r["lr"] for r in m.history_]
    assert lrs[0] == pytest.approx(1e-2) and lrs[-1] == pytest.approx(1e-3)


def test_lr_gamma_sets_the_step_factor(data):
    X, _ = data
    m = small_ae(epochs=4, lr=1e-2, lr_milestones=(1, 3), lr_gamma=0.5).fit(X)
    assert [r["lr"] for r in m.history_] == pytest.approx([5e-3, 5e-3, 2.5e-3, 2.5e-3])
    with pytest.raises(InputError, match="lr_gamma"):
        small_ae(lr_milestones=(1,), lr_gamma=0.0).fit(X)


class _NaNAE(AutoEncoder):
    def _train_step(self, batch, epoch):
        super()._train_step(batch, epoch)
        return {"loss": torch.tensor(float("nan"))}


def test_nan_loss_stops_with_clear_error(data):
    X, _ = data
    with pytest.raises(TrainingError, match="loss term 'loss' became nan in epoch 1"):
        _NaNAE(epochs=2).fit(X)


class _CountingAE(AutoEncoder):
    """Sets the cancel event during the 3rd batch of the 2nd epoch."""

    def _train_step(self, batch, epoch):
        self.steps = getattr(self, "steps", 0) + 1
        if epoch == 1 and self.steps == self._per_epoch + 3:
            self._cancel.set()
        return super()._train_step(batch, epoch)


def test_cancel_is_honoured_within_one_batch(data):
    X, _ = data
    ev = threading.Event()
    m = _CountingAE(epochs=5, batch_size=32)
    m._cancel, m._per_epoch = ev, int(np.ceil(len(X) / 32))
    with pytest.raises(FitCancelled, match="epoch 2 of 5"):
        m.fit(X, cancel=ev)
    assert m.steps == m._per_epoch + 3  # no batch ran after the one that set the event
    assert len(m.history_) == 1  # the finished epoch is kept


def test_save_load_identical_scores(tmp_path, data):
    X, _ = data
    m = small_ae().fit(X)
    m.save(tmp_path / "m")
    r = BaseDetector.load(tmp_path / "m")
    assert isinstance(r, AutoEncoder)
    assert np.array_equal(r.decision_function(X), m.decision_function(X))
    assert r.threshold_ == m.threshold_ and r.history_ == m.history_
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["method"] == "autoencoder" and cfg["params"]["hidden"] == [8]


def test_load_refuses_unregistered_or_missing(tmp_path, data):
    X, _ = data
    with pytest.raises(InputError, match="no saved model"):
        BaseDetector.load(tmp_path / "nothing")
    small_ae().fit(X).save(tmp_path / "m")
    cfg_path = tmp_path / "m" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["method"] = "os.system"
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(InputError, match="unknown method 'os.system'"):
        BaseDetector.load(tmp_path / "m")


def test_capabilities(data):
    X, _ = data
    m = small_ae().fit(X)
    assert m.embed(X).shape == (len(X), 2)
    rec = m.reconstruct(X[:5])
    assert rec["errors"].shape == (5, 4)
    assert np.allclose(rec["errors"].mean(axis=1), m.decision_function(X[:5]), rtol=1e-5)


def test_device_resolution():
    assert resolve_device("auto") in ("cuda", "mps", "cpu")
    assert resolve_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            resolve_device("cuda")


def test_conv_autoencoder_on_image_rows():
    rng = np.random.default_rng(1)
    X = rng.random((64, 64)).astype(np.float32)
    m = AutoEncoder(input_shape=(1, 8, 8), epochs=1, latent=4).fit(X)
    assert m.embed(X).shape == (64, 4)
    with pytest.raises(InputError, match="input_shape"):
        AutoEncoder(input_shape=(1, 28, 28), epochs=1).fit(X)


def test_registry_metadata():
    names = registry.available()
    assert {"autoencoder", "iforest", "lof", "ocsvm", "knn", "pca"} <= set(names)
    for name in names:
        rows = registry.param_table(name)
        assert all(r["help"] for r in rows), f"{name} has parameters without help"
        assert registry.info(name).family in ("deep", "classical")
    assert registry.capabilities("autoencoder").names() == {"embed", "reconstruct"}
    with pytest.raises(InputError, match="unknown method 'nope'; choose one of: .*autoencoder"):
        registry.create("nope")
    with pytest.raises(InputError, match="unknown parameter\\(s\\) foo for autoencoder; valid: latent"):
        registry.create("autoencoder", foo=1)
