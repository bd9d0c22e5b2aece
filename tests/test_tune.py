"""odcore tune: search spaces checked against the declarations, and a tiny ASHA search on local Ray whose
trials land in the run store like any other run."""

import pytest
from conftest import require

from odcore.errors import InputError
from odcore.runs import tune
from odcore.runs.spec import RunSpec, resolve
from odcore.runs.store import RunStore


def test_spaces_are_checked_against_the_declared_parameters():
    space = tune.parse_space("autoencoder", ["lr=1e-4:1e-2:log", "latent=2:16"])
    assert space["lr"] == tune.Dimension("lr", "float", 1e-4, 1e-2, True)
    assert space["latent"] == tune.Dimension("latent", "int", 2.0, 16.0, False)
    assert tune.parse_space("ocnn", ["activation=sigmoid|radial"])["activation"].choices == ("sigmoid", "radial")
    for bad, match in [("nope=1:2", "unknown parameter"), ("latent=0:4", "latent must be a whole number"),
                       ("lr=0.1:0.01", "below high"), ("weight_decay=0:0.1:log", "log range"), ("lr=1e-3", "low:high"),
                       ("hidden=8:16", "choices")]:
        with pytest.raises(InputError, match=match):
            tune.parse_space("autoencoder", [bad])
    with pytest.raises(InputError, match="labelled objective"):
        tune.search(resolve(RunSpec("breast-cancer", "iforest")), tune.parse_space("iforest", ["n_estimators=10:50"]),
                    budget=10)


def test_objectives_read_the_loop_records():
    assert tune.objective_key("validation", {"loss": 1.0}) == ("loss", "min")
    assert tune.objective_key("validation", {"loss": 1.0, "val_loss": 2.0}) == ("val_loss", "min")
    assert tune.objective_key("auprc", {}) == ("val_auprc", "max")


@pytest.mark.slow
def test_a_tiny_search_on_local_ray_stores_its_trials(tmp_path):
    require("ray.tune")
    store_dir = tmp_path / "runs"
    res = tune.search(resolve(RunSpec("breast-cancer", "autoencoder", params={"epochs": 3, "batch_size": 64})),
                      tune.parse_space("autoencoder", ["lr=1e-3:3e-2:log"]), budget=300, samples=2,
                      objective="validation", runs_dir=str(store_dir), seed=0)
    ran = [t for t in res["trials"] if t["run_id"]]
    assert ran and res["best"] is not None
    store = RunStore(store_dir)
    runs = {r["id"]: store.get(r["id"]) for r in store.list_runs()}
    assert {t["run_id"] for t in ran} <= set(runs)
    for t in ran:
        run = runs[t["run_id"]]
        assert run.config["tune"]["id"] == res["tune_id"] and run.status in ("done", "cancelled")
        assert run.config["tune"]["values"]["lr"] == pytest.approx(t["values"]["lr"])
    best = runs[res["best"]["run_id"]]
    assert best.status == "done" and len(best.history) == 3
    assert res["best"]["objective"] == pytest.approx(best.history[-1]["loss"])
    done = [runs[t["run_id"]] for t in ran if runs[t["run_id"]].status == "done"]
    assert res["best"]["objective"] == pytest.approx(min(r.history[-1]["loss"] for r in done))
