"""The Train page: an estimate before a run starts (a long one asks first), and what ``auto`` chose and why under
its result (AppTest, one small run each)."""

from __future__ import annotations

import numpy as np
import pytest
from test_app import no_exception, open_page, start_button  # noqa: F401 - the page helpers of the AppTest tests

from ui import choice


@pytest.fixture(autouse=True)
def _fresh(tmp_path, monkeypatch, fresh_caches):
    monkeypatch.setenv("ODCORE_RUNS_DIR", str(tmp_path / "runs"))


def test_a_run_longer_than_a_couple_of_minutes_asks_before_it_starts():
    at = open_page("train")
    at.selectbox(key="train_data").set_value("breast-cancer").run()
    at.selectbox(key="train_method").set_value("autoencoder").run()
    at.number_input(key="param-autoencoder-epochs").set_value(100_000).run()
    start_button(at).click().run()
    no_exception(at)
    assert "last_job" not in at.session_state  # nothing started yet
    warning = " ".join(w.value for w in at.warning)
    assert "This run will take" in warning and "Start it anyway?" in warning
    at.button(key="train_not_now").click().run()
    assert not at.warning and "last_job" not in at.session_state
    start_button(at).click().run()
    at.button(key="train_confirm").click().run()
    from ui import state

    job_id = at.session_state["last_job"]
    state.registry().cancel(job_id, state.registry().get(job_id).owner)  # the page's session owns it
    assert state.registry().wait(job_id, timeout=60).state in ("cancelled", "done")


def test_auto_shows_what_it_chose_and_why_under_the_result():
    at = open_page("train")
    at.selectbox(key="train_data").set_value("breast-cancer").run()
    at.selectbox(key="train_method").set_value("auto").run()
    start_button(at).click().run()
    no_exception(at)
    from ui import state

    job = state.registry().wait(at.session_state["last_job"], timeout=120)
    assert job.state == "done", job.error
    at.run()
    no_exception(at)
    text = " ".join(m.value for m in at.markdown)
    assert "What was chosen and why" in text and "auto chose" in text and "no labels used" in text
    assert len(at.dataframe) >= 2  # the candidates and their agreement


def test_report_tables():
    rep = {"summary": "s", "lines": ["s"], "members": [
        {"name": "knn", "title": "k", "used": True, "fit_seconds": 0.1, "agreement": 0.8, "centrality": 0.81,
         "reason": "kept"},
        {"name": "lof", "title": "l", "used": False, "fit_seconds": 0.2, "agreement": 0.1, "centrality": 0.1,
         "reason": "left out"}],
        "agreement": {"names": ["knn", "lof"], "matrix": [[1.0, 0.123], [0.123, 1.0]]}}
    m = choice.members_frame(rep)
    assert list(m.columns) == ["detector", "used", "centrality", "mean agreement", "fit s", "why"]
    assert m["used"].tolist() == [True, False]
    a = choice.agreement_frame(rep)
    assert a.loc["knn", "lof"] == 0.12 and np.allclose(np.diag(a), 1)
