"""Like with like (issue 23): runs record their protocol and test set; Compare groups and ranks within a group."""

from __future__ import annotations

import pytest

from ui import compare


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory):
    """Isolation Forest and an autoencoder on digits one-vs-rest (one test set), Isolation Forest on digits pu."""
    from odcore.runs.execution import execute
    from odcore.runs.spec import RunSpec, resolve
    from odcore.runs.store import RunStore

    d = tmp_path_factory.mktemp("runs")
    store = RunStore(d)
    ovr = dict(protocol="one-vs-rest", protocol_options={"inlier_classes": [0]})
    specs = {"iforest-ovr": RunSpec(data="digits", method="iforest", **ovr),
             "ae-ovr": RunSpec(data="digits", method="autoencoder", params={"epochs": 1}, **ovr),
             "iforest-pu": RunSpec(data="digits", method="iforest", protocol="pu",
                                   protocol_options={"inlier_classes": [0], "nu": 0.1})}
    ids = {k: execute(resolve(s, store=store), store=store)["run_id"] for k, s in specs.items()}
    return d, store, ids


def test_a_run_records_its_protocol_and_test_set(three_runs):
    _, store, ids = three_runs
    split = store.get(ids["iforest-ovr"]).config["split"]
    assert split["test_normal"] + split["test_anomalous"] == split["test"]
    assert 0 < split["test_normal"] < split["test_anomalous"]  # one digit normal, nine anomalous
    row = next(r for r in store.list_runs() if r["id"] == ids["iforest-ovr"])
    assert (row["protocol"], row["protocol_options"]) == ("one-vs-rest", {"inlier_classes": [0]})
    assert (row["test_normal"], row["test_anomalous"]) == (split["test_normal"], split["test_anomalous"])


def test_compare_groups_by_data_protocol_and_test_set(three_runs):
    _, store, ids = three_runs
    groups = compare.run_groups(store.list_runs())
    assert len(groups) == 2
    (key, table), (key2, table2) = groups
    assert key[1] == "one-vs-rest (inlier_classes=0)" and "normal /" in key[2]
    assert key2[1].startswith("pu (") and set(table2["id"]) == {ids["iforest-pu"]}
    assert set(table["id"]) == {ids["iforest-ovr"], ids["ae-ovr"]}
    assert list(table.columns[:5]) == ["method", "auroc", "auprc", "precision_at_10", "f1"]  # metrics first
    assert table["auroc"].is_monotonic_decreasing  # ranked within the group
    assert "Isolation Forest" in set(table["method"])  # titles, not registry names


def test_runs_that_did_not_record_a_test_set_are_not_ranked_with_those_that_did():
    old = {"id": "a", "method": "iforest", "data": "digits", "protocol": "pu", "metrics": {"auroc": 0.9}}
    new = dict(old, id="b", test_normal=53, test_anomalous=1619, metrics={"auroc": 0.8})
    groups = compare.run_groups([old, new])
    assert [k[2] for k, _ in groups] == ["53 normal / 1,619 anomalous", "not recorded"] or \
        [k[2] for k, _ in groups] == ["not recorded", "53 normal / 1,619 anomalous"]


def test_dates_without_seconds():
    assert compare.short_time("2026-12-07T22:31:05.123+00:00") == "2026-12-07 22:31"


def test_benchmark_view_names_benchmarks_in_words_and_hides_empty_paper_columns():
    def paper_value(d, m, k):
        return 0.78 if (d, m, k) == ("thyroid", "drocc", "f1") else None

    records = [{"dataset": "thyroid", "method": "drocc", "f1": 0.7, "auroc": 0.9, "seed": 0,
                "file": "drocc_t2_thyroid_drocc.json"},
               {"dataset": "thyroid", "method": "drocc", "f1": 0.6, "auroc": 0.8, "seed": 0, "protocol": "novelty",
                "file": "adbench_suite.json"},
               {"dataset": "cardio", "method": "iforest", "f1": 0.5, "auroc": 0.9, "seed": 0,
                "file": "adbench_suite.json"}]
    t = compare.bench_frame(records, paper_value)
    assert "auroc (paper)" not in t and "f1 (paper)" in t
    assert not t["benchmark"].str.contains(r"\.json").any()
    paper_rows = t[t["f1 (paper)"] != ""]
    assert list(paper_rows["benchmark"]) == ["DROCC Table 2 thyroid DROCC"]  # a suite's protocol is not the paper's
    assert list(t.columns[:4]) == ["dataset", "method", "auroc", "f1"] or list(t.columns[:3]) == ["dataset", "method",
                                                                                                   "auroc"]


def test_compare_page_shows_one_table_per_group_and_says_why(three_runs, monkeypatch, fresh_caches):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    d, _, ids = three_runs
    monkeypatch.setenv("ODCORE_RUNS_DIR", str(d))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=90)
    at.run()
    at.switch_page("app_pages/compare.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("2 different test sets" in i.value and "not ranked against each other" in i.value for i in at.info)
    heads = [m.value for m in at.markdown if m.value.startswith("**") and "test set" in m.value]
    assert len(heads) == 2 and any("2 runs" in h for h in heads)
    charts = at.get("plotly_chart")
    assert charts  # the curves of the first group: every run of it, Isolation Forest included
    import json

    roc = json.loads(charts[0].proto.spec)
    names = {t.get("name") for t in roc["data"]}
    assert any(n and n.startswith("Isolation Forest") for n in names) and any(n and n.startswith("Autoencoder")
                                                                            for n in names)


def test_a_method_that_needs_another_protocol_is_announced_before_it_starts(fresh_caches, tmp_path, monkeypatch):
    """WALDO on digits runs under pu; switching to Deep SVDD (one-class) says, before anything starts, that it will
    run under one-vs-rest, why, and on which test set."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("ODCORE_RUNS_DIR", str(tmp_path))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=90)
    at.run()
    at.switch_page("app_pages/train.py")
    at.run()
    at.selectbox(key="train_data").set_value("digits").run()
    at.selectbox(key="train_method").set_value("waldo").run()
    assert at.selectbox(key="train_protocol-digits-waldo").value == "pu"  # keyed by data and method (ui/form.py)
    at.selectbox(key="train_method").set_value("deep-svdd").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="train_protocol-digits-deep-svdd").value == "one-vs-rest"
    notes = [i.value.replace("\\", "") for i in at.info]  # shown as text (Markdown escaped)
    assert any("will run under the 'one-vs-rest' protocol, not 'pu'" in n and "normal rows only" in n
               and "test set 53 normal / 1,619 anomalous" in n for n in notes), notes


def test_small_things_read_as_a_person_reads():
    """Issue 23's small things: stores sort 1, 2, ..., 10; dates show no midnight; a page's need is in words."""
    import pandas as pd

    from ui import flagged, widgets

    assert flagged.natural_order(["10", "2", "1", "b", "11", "a"]) == ["1", "2", "10", "11", "a", "b"]
    frame = pd.DataFrame({"Date": pd.to_datetime(["2010-02-05", "2010-02-12"]), "text": ["2010-02-05 00:00:00", None],
                          "stamp": pd.to_datetime(["2010-02-05 13:30", "2010-02-12 00:00"]), "sales": [1.0, 2.0]})
    out = widgets.day_dates(frame)
    assert list(out["Date"]) == ["2010-02-05", "2010-02-12"] and list(out["text"]) == ["2010-02-05", ""]
    assert out["stamp"].dtype == frame["stamp"].dtype and list(out["sales"]) == [1.0, 2.0]  # a time of day is kept
    assert "generates new rows" in widgets.NEEDS["generate"] and "'" not in widgets.NEEDS["generate"]
