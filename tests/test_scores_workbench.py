"""The Scores page's threshold workbench (issue 23): the preset and the threshold agree before Apply, the counts
are whole, and a threshold move reruns only the workbench."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from odcore.analysis import thresholds


def test_workbench_gives_what_at_threshold_gives():
    rng = np.random.default_rng(0)
    s, y = rng.normal(size=500), (rng.random(500) < 0.2).astype(int)
    wb = thresholds.Workbench(s, y)
    for t in (-1.0, 0.0, 0.7):
        a, b = wb.at(t), thresholds.at_threshold(s, t, y)
        assert a.keys() == b.keys()
        for k in a:
            assert a[k] == pytest.approx(b[k], nan_ok=True), k
    assert wb.at(wb.default_threshold)["share"] == pytest.approx(y.mean(), abs=0.003)
    assert thresholds.Workbench(s).at(0.0).keys() == {"n", "flagged", "share", "threshold"}


@pytest.fixture(scope="module")
def ovr_run(tmp_path_factory):
    """Isolation Forest on digits one-vs-rest: 53 normal and 1,619 anomalous test rows (the issue's case)."""
    from odcore.runs.execution import execute
    from odcore.runs.spec import RunSpec, resolve
    from odcore.runs.store import RunStore

    d = tmp_path_factory.mktemp("runs")
    store = RunStore(d)
    spec = RunSpec(data="digits", method="iforest", protocol="one-vs-rest", protocol_options={"inlier_classes": [0]})
    return d, execute(resolve(spec, store=store), store=store)["run_id"]


def test_scores_page_preset_agrees_with_the_threshold_before_apply(ovr_run, monkeypatch, fresh_caches):
    from streamlit.testing.v1 import AppTest

    d, rid = ovr_run
    monkeypatch.setenv("ODCORE_RUNS_DIR", str(d))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=90)
    at.session_state["run_id"] = rid
    at.run()
    at.switch_page("app_pages/scores.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    flagged = next(m for m in at.metric if m.label == "flagged")
    assert flagged.value.endswith("/ 1,672")
    share = float(flagged.delta.rstrip("%"))
    assert at.selectbox(key="scores_preset").value == "contamination"
    assert at.number_input(key="scores_preset_value").value == pytest.approx(share, abs=0.1)  # e.g. 96.8, not 10
    at.number_input(key="scores_preset_value").set_value(10.0)
    at.button(key="scores_apply").click().run()
    assert next(m for m in at.metric if m.label == "flagged").delta == "10.0%"
    hist = next(c for c in at.get("plotly_chart"))
    import json

    spec = json.loads(hist.proto.spec)
    assert spec["layout"]["yaxis"]["title"]["text"]  # the histogram's y axis says what it counts
    assert not [w for w in at.warning if "session state" in w.value.lower()]
