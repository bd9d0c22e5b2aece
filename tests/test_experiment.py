"""Experiment runner: spec round trip, prepare (seed, input_shape), execute, grid engines."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from odcore.errors import InputError
from odcore.runs.execution import execute, prepare
from odcore.runs.grid import grid_cells, run_grid
from odcore.runs.spec import RunSpec, resolve

BENCH_KEYS = {"dataset", "method", "protocol", "seed", "auroc", "auprc", "precision_at_10", "f1",
              "fit_seconds", "score_seconds"}


def test_spec_round_trips_through_json():
    import json

    spec = RunSpec("digits", "autoencoder", protocol="one-vs-rest", protocol_options={"inlier_classes": [0]},
                   params={"epochs": 1, "hidden": [32]}, seed=4)
    back = RunSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert back == spec
    with pytest.raises(InputError, match="unknown run spec field"):
        RunSpec.from_dict({**spec.to_dict(), "colour": "red"})


def test_spec_with_a_dataset_object_refers_to_its_hash():
    import odcore.data

    ds = odcore.data.load("breast-cancer")
    d = RunSpec(ds, "pca").to_dict()
    assert d["data"] == "stored:" + ds.content_hash()


def test_prepare_passes_seed_and_image_shape():
    ds, split, det = prepare(resolve(RunSpec("digits", "autoencoder", protocol="one-vs-rest",
                                     protocol_options={"inlier_classes": [0]}, params={"epochs": 1}, seed=7)))
    assert ds.image_shape == (1, 8, 8)
    assert det.random_state == 7 and det.input_shape == (1, 8, 8) and det.epochs == 1
    assert split.X_test.shape[1] == 64
    # the user's own values win
    _, _, det = prepare(resolve(RunSpec("breast-cancer", "autoencoder", params={"random_state": 1, "hidden": [4, 2]})))
    assert det.random_state == 1 and det.hidden == (4, 2) and det.input_shape is None


def test_drocc_on_images_skips_the_warm_up_unless_the_user_sets_it():
    from odcore.models import registry

    digits = RunSpec("digits", "drocc", protocol="one-vs-rest", protocol_options={"inlier_classes": [0]})
    assert prepare(resolve(digits))[2].only_ce_epochs == 0  # one-class images: the warm-up saturates the logits
    assert prepare(resolve(RunSpec("breast-cancer", "drocc", protocol="novelty")))[2].only_ce_epochs == 50
    mine = RunSpec("digits", "drocc", protocol="one-vs-rest", protocol_options={"inlier_classes": [0]},
                   params={"only_ce_epochs": 7})
    assert prepare(resolve(mine))[2].only_ce_epochs == 7
    # DROCC-LF's warm-up sees negatives (finite minimum): the class default stays on images
    assert registry.get_class("drocc-lf").image_defaults == {}
    # the form shows the default a run will get
    rows = {r["name"]: r for r in registry.param_table("drocc", image=True)}
    assert rows["only_ce_epochs"]["default"] == 0 and "image data" in rows["only_ce_epochs"]["help"]
    assert {r["name"]: r["default"] for r in registry.param_table("drocc")}["only_ce_epochs"] == 50


@pytest.mark.parametrize("spec, message", [
    (RunSpec("breast-cancer", "nope"), "unknown method 'nope'; choose one of"),
    (RunSpec("breast-cancer", "pca", params={"depth": 3}), "unknown parameter"),
    (RunSpec("breast-cancer", "pca", protocol="sideways"), "unknown protocol"),
    (RunSpec("breast-cancer", "pca", protocol_options={"bogus": 1}), "bogus"),
    (RunSpec("sine", "pca", protocol="novelty"), "no labelled anomalies"),
])
def test_bad_specs_raise_input_errors(spec, message):
    with pytest.raises(InputError, match=message):
        prepare(resolve(spec))


def test_execute_without_store_returns_metrics_and_timings():
    res = execute(resolve(RunSpec("breast-cancer", "iforest", params={"n_estimators": 25}, seed=1)))
    assert res["run_id"] is None
    assert set(res["metrics"]) == {"auroc", "auprc", "precision_at_10", "f1"}
    assert 0.5 < res["metrics"]["auroc"] <= 1.0  # malignant tumours are easier than chance to isolate
    assert res["fit_seconds"] >= 0 and res["score_seconds"] >= 0


def test_same_seed_same_scores_different_seed_different_split():
    a = execute(resolve(RunSpec("breast-cancer", "pca", seed=0)))
    b = execute(resolve(RunSpec("breast-cancer", "pca", seed=0)))
    c = execute(resolve(RunSpec("breast-cancer", "pca", seed=1)))
    assert a["metrics"] == b["metrics"] and a["metrics"] != c["metrics"]


def test_local_grid_records_follow_the_schema():
    cells = grid_cells(["breast-cancer"], ["pca", "iforest"], "unsupervised", seeds=range(2),
                       params={"iforest": {"n_estimators": 20}})
    recs = run_grid(cells)
    assert [(r["method"], r["seed"]) for r in recs] == [("pca", 0), ("pca", 1), ("iforest", 0), ("iforest", 1)]
    assert all(set(r) == BENCH_KEYS for r in recs)


class _Ref:
    def __init__(self, value):
        self.value = value


class _FakeRay(types.ModuleType):
    """Stands in for Ray at the engine boundary: remote tasks run in a fresh copy of the cell."""

    def __init__(self):
        super().__init__("ray")
        self.inits, self.submitted = [], 0

    def is_initialized(self):
        return bool(self.inits)

    def init(self, address=None, **kw):
        self.inits.append(address)

    def remote(self, num_cpus=1):
        fake = self

        def wrap(fn):
            class Task:
                @staticmethod
                def remote(cell):
                    import copy
                    import pickle

                    fake.submitted += 1
                    return _Ref(fn(pickle.loads(pickle.dumps(copy.deepcopy(cell)))))  # cells must pickle
            return Task
        return wrap

    def wait(self, pending, num_returns=1):
        return pending[-num_returns:], pending[:-num_returns]  # out of order on purpose

    def get(self, ref):
        return ref.value


def test_ray_engine_gives_the_local_records(monkeypatch):
    fake = _FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    cells = grid_cells(["breast-cancer", "gaussian-ocnn"], ["pca", "knn"], "unsupervised", seeds=range(2))
    seen = []
    remote = run_grid(cells, engine="ray", address="ray://head:10001", progress=seen.append)
    local = run_grid(cells)
    strip = lambda rs: [{k: v for k, v in r.items() if not k.endswith("_seconds")} for r in rs]  # noqa: E731
    assert strip(remote) == strip(local)  # same records, in cell order, except timings
    assert fake.inits == ["ray://head:10001"] and fake.submitted == len(cells) == len(seen)


def test_ray_engine_without_ray_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(InputError, match="requirements-ray.txt"):
        run_grid(grid_cells(["breast-cancer"], ["pca"], "unsupervised", seeds=[0]), engine="ray")


def test_pu_protocol_passes_positives():
    run = resolve(RunSpec("breast-cancer", "iforest", protocol="pu"))
    ds, split, det = prepare(run)
    assert split.X_pos is not None and len(split.X_pos) > 0
    assert split is run.split  # the split resolve made is the one the run uses
    res = execute(run)
    assert np.isfinite(res["metrics"]["auroc"])


@pytest.mark.slow
def test_real_ray_matches_the_local_engine():
    """Runs where Ray is installed (pip install -r requirements-ray.txt); starts a local Ray instance."""
    pytest.importorskip("ray", reason="Ray is optional: pip install -r requirements-ray.txt")
    cells = grid_cells(["breast-cancer"], ["pca", "iforest"], "unsupervised", seeds=range(2),
                       params={"iforest": {"n_estimators": 20}})
    strip = lambda rs: [{k: v for k, v in r.items() if not k.endswith("_seconds")} for r in rs]  # noqa: E731
    assert strip(run_grid(cells, engine="ray")) == strip(run_grid(cells))


def test_the_runs_package_exports_its_functions_lazily():
    import odcore.runs
    from odcore.runs import RunStore, execute, prepare, score_file
    from odcore.runs.execution import execute as direct

    assert execute is direct and callable(prepare) and callable(score_file) and isinstance(RunStore, type)
    assert set(odcore.runs.__all__) <= set(dir(odcore.runs))
    with pytest.raises(AttributeError, match="no attribute"):
        odcore.runs.nope  # noqa: B018
