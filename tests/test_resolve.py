"""One resolved request: a run's parameters are validated once per request, a file's table is prepared once per
(content, preparation), and jobs, estimates and execution take only the resolved record."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from odcore.data import table
from odcore.errors import InputError
from odcore.jobs import JobRegistry
from odcore.params import Param
from odcore.runs import eta, prepared, rebuild
from odcore.runs.execution import execute
from odcore.runs.spec import ResolvedRun, RunSpec, resolve
from odcore.runs.store import RunStore

ROOT = Path(__file__).resolve().parents[1]


def _count_epochs_checks(monkeypatch) -> list:
    """Every validation of a detector's ``epochs`` value (one per validation of its parameters); the form's own
    reading of its field (ui/form.py, once per rerun: what the field shows is a valid value) is not one."""
    import sys

    calls: list = []
    real = Param.check

    def check(self, value):
        if self.name == "epochs" and self.group == "training" and not sys._getframe(1).f_code.co_filename.endswith(
                "ui/form.py"):
            calls.append(value)
        return real(self, value)

    monkeypatch.setattr(Param, "check", check)
    return calls


def _sales_csv(path: Path) -> Path:
    rng = np.random.default_rng(0)
    days = pd.date_range("2024-01-01", periods=56, freq="D")
    rows = [{"store": s, "date": d.strftime("%Y-%m-%d"), "sales": float(100 * (s + 1) + rng.normal(0, 5))}
            for s in range(3) for d in days]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_one_train_click_validates_the_parameters_once(monkeypatch, tmp_path):
    """The Train page's Start button: resolve, the estimate, submit, the job's execute and the detector's fit
    together validate the parameters once (they were validated 9 times before the resolved request)."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("ODCORE_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.run()
    at.switch_page("app_pages/train.py")
    at.run()
    at.selectbox(key="train_data").set_value("breast-cancer").run()
    at.selectbox(key="train_method").set_value("autoencoder").run()
    at.number_input(key="param-autoencoder-epochs").set_value(2).run()
    from test_app import start_button

    calls = _count_epochs_checks(monkeypatch)
    start_button(at).click().run()
    assert not at.exception, [e.value for e in at.exception]
    from ui import state

    job = state.registry().wait(at.session_state["last_job"], timeout=90)
    assert job.state == "done", job.error
    assert job.epochs == 2 and job.epoch == 2  # progress counts the resolved run's epochs
    assert calls == [2], f"the parameters were validated {len(calls)} times for one click"


def test_a_run_prepares_its_table_once(tmp_path, monkeypatch):
    """Loading the table (the Data page), resolving, the estimate, the job, a rebuild of its split, and the
    same run resolved in another process (its record) prepare the table once."""
    path = _sales_csv(tmp_path / "sales.csv")
    store = RunStore(tmp_path / "runs")
    preparations = []
    real = table.prepare

    def counted(*a, **k):
        preparations.append(1)
        return real(*a, **k)

    monkeypatch.setattr(table, "prepare", counted)
    options = {"roles": "auto", "scaling": "series"}
    ds, _ = prepared.load(str(path), options, store)  # what the Data page does
    spec = RunSpec(str(path), "iforest", protocol="all", data_options=options, params={"n_estimators": 20})
    run = resolve(spec, store=store)
    assert run.data_hash == ds.content_hash() and run.table and run.source_hash == prepared.file_hash(path)
    eta.estimate(run, store=store)
    reg = JobRegistry(store, max_running=1)
    job = reg.wait(reg.submit(run, owner="a"), 60)
    assert job.state == "done", job.error
    rebuilt, _ = rebuild.load_split(store.get(job.run_id))
    assert rebuilt.content_hash() == run.data_hash
    elsewhere = ResolvedRun.from_dict(run.to_dict())  # a worker process: no dataset in memory
    assert elsewhere.dataset is None and execute(elsewhere, store=store)["metrics"] == {}
    assert len(preparations) == 1


def test_a_changed_file_is_prepared_again_and_the_cache_is_bounded(tmp_path, monkeypatch):
    path = _sales_csv(tmp_path / "sales.csv")
    store = RunStore(tmp_path / "runs")
    first, h1 = prepared.load(str(path), {"roles": "auto"}, store)
    text = path.read_text().replace("100", "101", 1)
    time.sleep(0.01)
    path.write_text(text)
    second, h2 = prepared.load(str(path), {"roles": "auto"}, store)
    assert h1 != h2
    monkeypatch.setattr("odcore.runs.store.PREPARED_MAX", 2)
    for window in ("rows", "week"):
        prepared.load(str(path), {"roles": "auto", "window": window}, store)
    assert len(list((store.root / "_data" / "prepared").glob("*.npz"))) == 2


def test_the_resolved_record_round_trips_and_holds_what_the_job_needs():
    run = resolve(RunSpec("digits", "drocc", protocol="one-vs-rest", protocol_options={"inlier_classes": "0"},
                          params={"epochs": 3, "hidden": [8]}))
    assert run.protocol_options["inlier_classes"] == "0" and run.params["hidden"] == (8,)
    assert run.epochs == 3 and run.device == "auto" and run.cancellable  # from the detector's plan
    assert run.params["only_ce_epochs"] == 0  # image data: the image defaults, resolved once
    back = ResolvedRun.from_dict(run.to_dict())
    assert back.to_dict() == run.to_dict() and back.params == run.params and back.params["hidden"] == (8,)
    assert run.spec().params == {"epochs": 3, "hidden": (8,)}
    classical = resolve(RunSpec("breast-cancer", "iforest"))
    assert classical.epochs is None and classical.device is None and not classical.cancellable


def test_jobs_estimates_and_execute_take_only_a_resolved_run(tmp_path):
    spec = RunSpec("breast-cancer", "pca")
    with pytest.raises(TypeError, match="ResolvedRun"):
        execute(spec)
    with pytest.raises(TypeError, match="ResolvedRun"):
        JobRegistry(RunStore(tmp_path)).submit(spec)
    with pytest.raises(TypeError, match="ResolvedRun"):
        eta.estimate(spec)
    with pytest.raises(InputError, match="unknown parameter"):  # checked when resolved, before any record
        resolve(RunSpec("breast-cancer", "pca", params={"bogus": 1}))
