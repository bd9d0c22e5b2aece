"""Time budgets: early stopping on held-out training rows (the shared loop), and the ETA estimator
(odcore.runs.eta). No test asserts a measured time: the estimator's bookkeeping is checked with a fake
clock, timings themselves are measured in bench/ (BENCHMARKS.md)."""

import numpy as np
import pytest

from odcore.errors import InputError
from odcore.models import registry
from odcore.models.deep import batch_bounds
from odcore.runs import eta
from odcore.runs.spec import resolve


def rows(n=300, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32)


# ---------------------------------------------------------------------------------- early stopping
def test_early_stopping_keeps_the_best_epochs_weights():
    m = registry.create("autoencoder", epochs=200, batch_size=32, lr=3e-2, hidden=(16,), latent=2, device="cpu",
                        validation_share=0.25, patience=3).fit(rows())
    crit = [h["val_criterion"] for h in m.history_]
    assert m.stopped_epoch_ == len(m.history_) < 200 and "early stopping" in m.stop_reason_
    assert m.best_epoch_ == int(np.argmin(crit)) + 1 and len(crit) - m.best_epoch_ == 3
    # the restored weights give the best epoch's criterion again
    assert m._validation_loss(m._X_val) == pytest.approx(min(crit), rel=1e-6)
    assert [h["best_epoch"] for h in m.history_][-1] == m.best_epoch_


def test_the_held_out_rows_are_not_trained_on_and_no_labels_are_used():
    X = rows(200)
    m = registry.create("autoencoder", epochs=2, batch_size=32, device="cpu", validation_share=0.2)
    m._setup(X, None, None)
    assert m._X_val.shape == (40, 4) and m._X.shape[0] == 160
    held = {r.tobytes() for r in m._X_val}
    assert not held & {r.tobytes() for r in m._X.cpu().numpy()}
    assert held <= {r.tobytes() for r in X}


def test_without_a_validation_share_every_epoch_runs():
    m = registry.create("autoencoder", epochs=5, batch_size=64, device="cpu").fit(rows())
    assert len(m.history_) == 5 and "val_criterion" not in m.history_[-1] and m.best_epoch_ == 5


def test_pretraining_phases_do_not_early_stop():
    """Deep SVDD cannot score before its centre is fixed: only the training phase is checked."""
    m = registry.create("deep-svdd", pretrain_epochs=3, epochs=4, batch_size=32, device="cpu",
                        validation_share=0.2, patience=100).fit(rows())
    assert [("val_criterion" in h) for h in m.history_] == [False] * 3 + [True] * 4


def test_a_validation_share_that_leaves_no_rows_is_refused():
    with pytest.raises(InputError, match="validation_share=0.45 leaves no validation or training rows out of 2"):
        registry.create("autoencoder", validation_share=0.45, epochs=1).fit(rows(2))


@pytest.mark.parametrize("name", ["autoencoder", "deep-svdd", "drocc", "ocnn", "alad", "waldo"])
def test_every_deep_detector_accepts_a_time_budget_and_early_stopping(name):
    decl = registry.declaration(name)
    assert {"time_budget", "validation_share", "patience"} <= set(decl.names())


# ---------------------------------------------------------------------------------- the estimator
@pytest.fixture
def clock(monkeypatch):
    """Every timed block "takes" 0.08 s: the estimates become exact functions of what was counted."""
    calls = []

    def fake(fn):
        fn()
        calls.append(1)
        return 0.08

    monkeypatch.setattr(eta, "_timed", fake)
    return calls


def test_deep_estimate_is_epochs_times_batches_times_the_step_time(clock):
    X = rows(1000)
    m = registry.create("autoencoder", epochs=30, batch_size=64, device="cpu")
    e = eta.estimate_detector(m, X, n_test=500, steps=8)
    n_batches = len(batch_bounds(1000, 64))
    assert e.fit_seconds == pytest.approx(30 * n_batches * 0.08 / 8)  # 8 steps timed in 0.08 s
    assert e.score_seconds == pytest.approx(0.08 / 1000 * (1000 + 500))  # scoring timed on the 1000 rows
    assert f"30 epochs x {n_batches} steps" in e.how and not e.upper_bound
    assert not hasattr(m, "nets_") and not hasattr(m, "threshold_")  # the detector given is untouched


def test_deep_estimate_counts_every_phase_and_the_budget_caps_it(clock):
    X = rows(400)
    e = eta.estimate_detector(registry.create("deep-svdd", pretrain_epochs=5, epochs=20, batch_size=50,
                                              device="cpu"), X, steps=4)
    assert "pretrain: 5 epochs x 8 steps" in e.how and "train: 20 epochs x 8 steps" in e.how
    assert e.fit_seconds == pytest.approx(25 * 8 * 0.02)  # 4 steps timed in 0.08 s
    capped = eta.estimate_detector(registry.create("deep-svdd", pretrain_epochs=5, epochs=20, batch_size=50,
                                                   device="cpu", time_budget=0.5), X, steps=4)
    assert capped.fit_seconds == pytest.approx(0.5 + 8 * 0.02) and capped.upper_bound  # budget + one epoch
    stopping = eta.estimate_detector(registry.create("autoencoder", epochs=10, device="cpu",
                                                     validation_share=0.1), X)
    assert stopping.upper_bound and "early stopping may end it sooner" in stopping.text()


def test_classical_estimate_extrapolates_the_subsample_fits(clock):
    e = eta.estimate_detector(registry.create("iforest", n_estimators=5), rows(10_000), n_test=3000)
    # constant fake times: exponent 1 (clipped), so the fit scales with the rows
    assert e.fit_seconds == pytest.approx(0.08 * 10_000 / eta.LARGE)
    assert "fitted 500 and 2,000 of 10,000 training rows" in e.how
    small = eta.estimate_detector(registry.create("knn"), rows(300))
    assert small.fit_seconds == pytest.approx(0.08) and "fitted all 300 training rows" in small.how


def test_the_power_law_between_the_two_fits():
    t, b = eta.extrapolate(1.0, 4.0, 500, 1000, 4000)  # time x4 when rows x2: quadratic
    assert b == pytest.approx(2.0) and t == pytest.approx(4.0 * 16)
    t, b = eta.extrapolate(1.0, 8.0, 500, 1000, 2000)  # steeper than quadratic: clipped to 2
    assert b == 2.0 and t == pytest.approx(32.0)
    t, b = eta.extrapolate(1.0, 1.0, 500, 1000, 2000)  # flat (fixed costs dominate): at least linear
    assert b == 1.0 and t == pytest.approx(2.0)


def test_estimate_of_a_run_spec_uses_its_split(clock):
    from odcore.runs import RunSpec

    e = eta.estimate(resolve(RunSpec("breast-cancer", "iforest")))
    assert "fitted all 398 training rows" in e.how  # the unsupervised protocol's 70 % of 569 rows


def test_durations_read_as_people_say_them():
    assert eta.duration(0.2) == "under a second" and eta.duration(42) == "42 s"
    assert eta.duration(130) == "2 min 10 s" and eta.duration(2340) == "39 min"
    assert eta.duration(3 * 3600 + 300) == "3 h 05 min"
    e = eta.Estimate(200.0, 190.0, 10.0, "timed 8 steps")
    assert e.needs_confirmation() and e.text() == "about 3 min 20 s (timed 8 steps)"
    assert not eta.Estimate(60.0, 50.0, 10.0, "x").needs_confirmation()


def test_a_suite_estimate_probes_a_few_groups_and_scales_the_rest(monkeypatch):
    """Hundreds of (file, method, protocol) groups: only ``max_probes`` are timed, each method's largest first;
    the others take their method's seconds per training cell, so a cost linear in the cells is exact."""
    from odcore.runs.spec import RunSpec

    calls = []

    def fake(run, *, steps):
        name, split = registry.get_class(run.method).__name__, run.split
        calls.append((name, split.X_train.size))
        per_cell = {"IsolationForest": 1e-4, "KNN": 3e-4}.get(name, 2e-4)
        return eta.Estimate(per_cell * split.X_train.size, 0.0, 0.0, "fake", probe_seconds=0.5)

    monkeypatch.setattr(eta, "estimate", fake)
    cells = [{"run": resolve(RunSpec(d, m, protocol=p, seed=s), split=False).to_dict()}
             for d in ("breast-cancer", "sine", "sine-noisy") for m in ("iforest", "knn")
             for p in ("unsupervised", "all") for s in (0, 1)]
    exact, probe_all = eta.estimate_cells(cells, max_probes=100)
    calls.clear()
    sampled, probe = eta.estimate_cells(cells, max_probes=3)
    assert len(calls) == 3 and probe == pytest.approx(1.5) and probe_all == pytest.approx(6.0)
    assert {c[0] for c in calls} == {type(registry.create("iforest")).__name__, type(registry.create("knn")).__name__}
    assert sampled == pytest.approx(exact, rel=1e-9)  # linear cost: scaling by cells is exact
