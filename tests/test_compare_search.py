"""Compare page: the trials of a parameter search (runs tagged ``tune`` by odcore tune) are marked with
their search and what they tried; other runs are not; the search filter keeps only its trials."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from odcore.runs.spec import resolve

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("fresh_caches")


def test_compare_marks_the_runs_of_a_search(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from odcore.runs import RunSpec, RunStore, execute

    monkeypatch.setenv("ODCORE_RUNS_DIR", str(tmp_path))
    store = RunStore(tmp_path)
    plain = execute(resolve(RunSpec("breast-cancer", "pca"), store=store), store=store)["run_id"]
    tag = {"tune": {"id": "tune-20261202-000000-abc123", "values": {"n_components": 3, "lr": 0.0031415},
                    "objective": "validation"}}
    trial = execute(resolve(RunSpec("breast-cancer", "pca", params={"n_components": 3}), store=store), store=store,
                    tags=tag)["run_id"]

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.run()
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
    cols = list(at.dataframe[0].value.columns)
    assert cols[cols.index("status") + 1:cols.index("status") + 3] == ["search", "searched values"]  # in view
    table = at.dataframe[0].value.set_index("id")
    assert table.loc[trial, "search"] == "tune-20261202-000000-abc123"
    assert table.loc[trial, "searched values"] == "n_components=3, lr=0.003142"
    assert table.loc[plain, "search"] == "" and table.loc[plain, "searched values"] == ""
    assert any("1 of these runs are trials of 1 parameter search" in c.value for c in at.caption)

    at.multiselect(key="cmp_search").select("tune-20261202-000000-abc123").run()
    assert list(at.dataframe[0].value["id"]) == [trial]
    assert os.environ["ODCORE_RUNS_DIR"] == str(tmp_path)
