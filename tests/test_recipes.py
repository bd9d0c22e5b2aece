"""Figure recipes: declarations, settings, the cache round trip, the shipped files (fast; the idea of every
figure is checked in tests/test_recipes_ideas.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from odcore import plots, recipes
from odcore.errors import InputError
from odcore.recipes import folds, framework

ROOT = Path(__file__).resolve().parents[1]
PAGES = {p.stem for p in (ROOT / "app_pages").glob("*.py")}


@pytest.mark.parametrize("name", recipes.names())
def test_every_recipe_is_complete(name):
    r = recipes.get(name)
    assert r.page in PAGES
    assert set(r.training.budgets) == set(framework.BUDGETS)
    for b in r.training.budgets.values():
        assert b.seconds > 0 and b.what and b.seeds
    assert r.training.fold in folds.FOLDS
    assert getattr(plots, r.build.__name__) is r.build  # figures come from odcore.plots
    # one sentence that says what to look for
    assert r.caption.endswith(".") and len(re.findall(r"[.!?](\s|$)", r.caption)) == 1, r.caption
    assert r.expect in framework.STATUSES
    if r.expect != framework.REPRODUCED:  # where the idea does not show with the paper's variant, say what does
        assert r.finding and r.finding.endswith(".")
    framework.resolve(r.training, "teaching")
    framework.resolve(r.training, "full")


def test_resolve_applies_budget_params_only_where_declared_and_refuses_unknown_options():
    t = recipes.get("drocc-fig1").training
    s = framework.resolve(t, "teaching")
    assert s["members"]["DROCC"]["params"]["epochs"] == 60
    assert "epochs" not in s["members"]["OC-SVM"]["params"]  # OC-SVM declares no epochs
    knob = framework.resolve(t, "teaching", member_params={"DROCC": {"gamma": 3.0}})
    assert knob["members"]["DROCC"]["params"]["gamma"] == 3.0
    assert knob["members"]["OC-SVM"]["params"]["gamma"] == "scale"  # the kernel's gamma is another parameter
    assert framework.settings_key(knob) != framework.settings_key(s)
    with pytest.raises(InputError, match="no option"):
        framework.resolve(t, "teaching", options={"wave": 2})
    with pytest.raises(InputError, match="no member"):
        framework.resolve(t, "teaching", member_params={"LOF": {"k": 1}})
    with pytest.raises(InputError, match="radius"):
        framework.resolve(t, "teaching", params={"radius": -1.0})


def test_estimate_scales_with_epochs_and_seeds():
    t = recipes.get("ocnn-fig3").training
    base = framework.estimate_seconds(t, framework.resolve(t, "teaching"))
    assert base == pytest.approx(t.budget("teaching").seconds)
    longer = framework.resolve(t, "teaching", params={"epochs": 300}, seeds=[0, 1])
    assert framework.estimate_seconds(t, longer) == pytest.approx(base * 3 * 2)


def test_fit_member_gives_each_setting_its_part():
    X = np.zeros((4, 2), np.float32)
    fold = folds.Fold("f", X_test=X, y_test=None, X_mix=X + 1, X_pos=X + 2, X_lab=X + 3, y_lab=np.zeros(4, int))
    seen = {}

    class Probe:
        needs_positives = uses_labels = False

        def fit(self, X, y=None, **kw):
            seen["X"], seen["y"], seen["pos"] = float(X[0, 0]), y, kw.get("X_pos")
            return self

    p = Probe()
    framework.fit_member("autoencoder", p, fold)
    assert seen["X"] == 1.0  # unsupervised: the mixture
    framework.fit_member("deep-svdd", p, fold)
    assert seen["X"] == 2.0  # one-class: the labelled inliers
    p.uses_labels = True
    framework.fit_member("drocc-lf", p, fold)
    assert seen["X"] == 3.0 and seen["y"] is not None
    p.needs_positives = True
    framework.fit_member("waldo", p, fold)
    assert seen["X"] == 1.0 and float(seen["pos"][0, 0]) == 2.0


def test_run_caches_per_settings_and_the_saved_models_give_the_saved_scores(tmp_path, monkeypatch):
    monkeypatch.setenv("ODCORE_RUNS_DIR", str(tmp_path))
    few = {"epochs": 3}
    assert framework.result("ocnn-fig3", params=few) is None  # not trained yet
    fresh = framework.run("ocnn-fig3", params=few)
    assert fresh.source == "fresh" and fresh.folder.is_dir()
    again = framework.result("ocnn-fig3", params=few)
    assert again.source == "cache" and again.data == json.loads(json.dumps(fresh.data))
    assert again.check == fresh.check or again.check.summary == fresh.check.summary
    models = framework.load_fits(fresh.folder)
    saved = framework.saved_scores(fresh.folder)
    fold = folds.build("gaussian", fresh.settings["options"], 0)
    assert set(models) == set(saved) == {"sigmoid-paper-s0", "radial-exp-t-extension-s0"}  # file-safe names
    for k, m in models.items():
        np.testing.assert_allclose(m.decision_function(fold.X_test), saved[k], rtol=1e-6, atol=1e-9)
    assert framework.result("ocnn-fig3", params={"epochs": 4}) is None  # other settings: other folder


def test_cancel_stops_a_recipe_run(tmp_path, monkeypatch):
    import threading

    from odcore.errors import FitCancelled

    monkeypatch.setenv("ODCORE_RUNS_DIR", str(tmp_path))
    ev = threading.Event()
    ev.set()
    with pytest.raises(FitCancelled):
        framework.run("ocnn-fig3", params={"epochs": 3}, cancel=ev)


def test_every_training_is_shipped_small_and_declared_as_package_data():
    text = (ROOT / "pyproject.toml").read_text()
    assert "recipes/shipped/" in text  # pip install . carries the shipped runs
    for name, t in recipes.trainings().items():
        folder = framework.SHIPPED / name / "teaching"
        assert (folder / framework.SETTINGS).is_file(), f"{name}: run python -m odcore.recipes.ship {name}"
        meta = json.loads((folder / framework.SETTINGS).read_text())
        assert meta["settings"] == framework.resolve(t, "teaching"), f"{name}: shipped settings are stale; reship"
        for r in recipes.sharing(name):
            assert (folder / f"{r.name}.json").is_file()
        for sub in (folder / framework.MODELS).iterdir():
            size = sum(p.stat().st_size for p in sub.rglob("*") if p.is_file())
            assert size < 4_000_000, f"{sub} is {size / 1e6:.1f} MB"
            assert {p.name for p in sub.iterdir()} == {"config.json", "weights.safetensors"}


@pytest.mark.parametrize("name", recipes.names())
def test_shipped_figure_builds(name):
    res = framework.shipped(name)
    assert res is not None and res.source == "shipped"
    fig = res.figure()
    assert len(fig.data) > 0


def test_latent_maps_cover_every_deep_detector_with_codes():
    from odcore.models import registry
    from odcore.recipes import latent_figures

    have = {m.method for m in latent_figures.DETECTORS}
    want = {n for n in registry.available() if registry.info(n).family == "deep" and registry.capabilities(n).latent}
    assert want == have


def test_unknown_recipe_and_training_names_say_the_valid_ones():
    with pytest.raises(InputError, match="waldo-fig1b"):
        recipes.get("waldo-fig9")
    with pytest.raises(InputError, match="teaching"):
        recipes.get("waldo-fig1b").training.budget("huge")
    with pytest.raises(InputError, match="mnist-pu"):
        folds.build("cifar", {}, 0)


def test_the_verdict_follows_the_check_and_only_the_papers_variant_is_green():
    paper = framework.verdict(framework.Check(True, "x"))
    ext = framework.verdict(framework.Check(True, "x", variant=framework.EXTENSION_VARIANT))
    assert (paper.status, paper.colour) == (framework.REPRODUCED, "green")
    assert (ext.status, ext.colour) == (framework.EXTENSION, "orange")
    for variant in (framework.PAPER_VARIANT, framework.EXTENSION_VARIANT):
        no = framework.verdict(framework.Check(False, "x", variant=variant))
        assert (no.status, no.colour) == (framework.NOT_REPRODUCED, "red")
    assert framework.verdict_of("extension") == ext
    assert ext.badge.endswith(ext.label) and ext.badge != paper.badge
    with pytest.raises(InputError, match="reproduced"):
        framework.verdict_of("yes")


@pytest.mark.parametrize("name", recipes.names())
def test_the_shipped_verdict_is_the_declared_one_and_its_saved_check_is_current(name):
    """Home, the page and BENCHMARKS.md read the shipped run: its status is the recipe's ``expect``, and the check
    saved in the file is what the recipe's check says of the saved data today (else: ship --recheck)."""
    r, res = recipes.get(name), framework.shipped(name)
    assert res.verdict.status == r.expect, res.check.summary
    saved = json.loads((res.folder / f"{name}.json").read_text())["check"]
    assert (saved["ok"], saved["summary"], saved.get("status")) == (res.check.ok, res.check.summary,
                                                                    res.verdict.status), \
        f"python -m odcore.recipes.ship {r.training.name} --recheck"


def test_a_weak_ocnn_separation_is_not_reproduced_and_the_radial_only_one_is_an_extension():
    """Regression (issue 23): OC-NN Fig. 4 at AUROC 0.65 (overlapping humps) was green; Fig. 3 was green while
    the paper's sigmoid scored 0.00 and only the radial extension separated."""
    from odcore.recipes import ocnn_figures as oc

    def panels(sig: float, rad: float) -> dict:
        return {"panels": [{"key": oc._SIG, "auroc": sig, "mean_normal": 1.0, "mean_anomalous": 0.5 if sig > .5 else 2},
                           {"key": oc._RAD, "auroc": rad, "mean_normal": 1.0, "mean_anomalous": 0.5}]}

    assert framework.verdict(oc.mnist_check(panels(0.65, 0.5))).status == framework.NOT_REPRODUCED
    assert framework.verdict(oc.gaussian_check(panels(0.0, 1.0))).status == framework.EXTENSION
    assert framework.verdict(oc.gaussian_check(panels(0.95, 1.0))).status == framework.REPRODUCED


def test_benchmarks_md_shows_the_verdict_badge_home_shows():
    """The teaching column of the figures table in BENCHMARKS.md carries each shipped run's badge, the one Home's
    table and the figure's page show (all from framework.verdict)."""
    text = (ROOT / "BENCHMARKS.md").read_text()
    for name, r in recipes.all_recipes().items():
        row = next(line for line in text.splitlines() if line.startswith(f"| {r.label} |"))
        teaching = row.split(" | ")[1]
        assert teaching.startswith(framework.shipped(name).verdict.badge + ":"), row
