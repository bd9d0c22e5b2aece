"""Nothing the analyst did is lost (odcore.runs.tables, ui.tables): an upload is kept once in the run store,
content-addressed and within the limits; it stays the session's current table, with the roles applied, across
pages, a reload and a server restart; a damaged session record is ignored."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from odcore.errors import InputError
from odcore.runs.marks import author_tag
from odcore.runs.spec import resolve
from odcore.runs.store import RunStore
from odcore.runs.tables import TableStore
from tests.test_app import no_exception, open_page

pytestmark = pytest.mark.usefixtures("fresh_caches")  # every AppTest starts from empty Streamlit caches (the store)


def weekly_csv(weeks: int = 30) -> bytes:
    rng = np.random.default_rng(0)
    dates = pd.date_range("2011-01-07", periods=weeks, freq="7D").strftime("%Y-%m-%d")
    df = pd.DataFrame([{"Store": s, "Date": d, "Sales": 1000.0 * s + rng.normal(0, 10), "Temp": rng.normal(60, 5)}
                       for s in (1, 2, 3) for d in dates])
    return df.to_csv(index=False).encode()


def test_an_upload_is_kept_once_by_content_and_read_back_checked(tmp_path):
    t = TableStore(RunStore(tmp_path))
    data = weekly_csv()
    a = t.save("weekly.csv", data)
    b = t.save("renamed.csv", data)  # the same bytes: the same file, kept once
    assert a["sha"] == b["sha"] and len(list(t.uploads.glob("*.csv"))) == 1
    assert (t.uploads.stat().st_mode & 0o777) == 0o700
    rec, got = t.read(a["sha"])
    assert got == data and rec["name"] == "weekly.csv"
    (t.uploads / f"{a['sha']}.csv").write_bytes(data + b"1,2011-01-07,5,5\n")
    with pytest.raises(InputError, match="damaged"):
        t.read(a["sha"])
    with pytest.raises(InputError, match="empty"):
        t.save("e.csv", b"")


def test_a_table_above_the_content_limit_is_not_kept(tmp_path):
    from odcore.data import limits

    t = TableStore(RunStore(tmp_path))
    with limits.using(limits.Limits(max_bytes=100)), pytest.raises(InputError, match="max_bytes"):
        t.save("big.csv", weekly_csv())


def test_a_sessions_current_table_and_a_damaged_record(tmp_path):
    t = TableStore(RunStore(tmp_path))
    tag = author_tag("f" * 32)
    assert t.session(tag) == {"current": None, "tables": []}
    sha = t.save("weekly.csv", weekly_csv())["sha"]
    t.set_current(tag, sha=sha, options={"roles": "auto"})
    t.set_current(tag, source="sine")
    cur = t.session(tag)
    assert cur["current"]["kind"] == "source" and cur["tables"] == [sha]
    t.set_current(tag, sha=sha, options={"roles": "auto", "scaling": "series"})
    assert t.session(tag)["current"]["options"] == {"roles": "auto", "scaling": "series"}
    assert [r["name"] for r in t.tables(tag)] == ["weekly.csv"]
    t._session_path(tag).write_text("{broken")
    assert t.session(tag) == {"current": None, "tables": []}  # ignored, not fatal


def test_the_current_table_comes_back_after_a_reload_and_roles_apply_from_the_kept_bytes(tmp_path, monkeypatch):
    monkeypatch.setenv("ODCORE_RUNS_DIR", str(tmp_path))
    first = open_page("home")
    token, params = first.session_state["owner"], dict(first.query_params)
    t = TableStore(RunStore(tmp_path))
    sha = t.save("weekly.csv", weekly_csv())["sha"]
    t.set_current(author_tag(token), sha=sha, options={"roles": "auto"})

    from streamlit.testing.v1 import AppTest

    from tests.test_app import ROOT

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)  # a reload: a new session, the same link
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    at.switch_page("app_pages/data.py").run()
    no_exception(at)
    assert any(s.value == "weekly" for s in at.subheader)  # the kept upload is the session's table again
    assert at.session_state["owner"] == token
    # series rows (a measure and a time column, no feature column): no scaling control, a sentence that says why
    assert not [r for r in at.radio if r.key == "roles_scaling"]
    assert any("own scale" in c.value for c in at.caption)
    at.selectbox(key="roles_window").set_value("weeks").run()
    at.button(key="roles_apply").click().run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert at.session_state["data_options"]["window"] == "weeks"
    assert t.session(author_tag(token))["current"]["options"]["window"] == "weeks"  # kept for the next reload


def test_flagged_page_shows_marks_what_moved_and_every_run_of_the_session(tmp_path, monkeypatch):
    """A weekly table, a run, marks (three expected, one confirmed) and the run retrained with them: the page lists
    the table among the session's runs, shows the marks beside the ranking, what moved and why."""
    import odcore.data
    from odcore.runs import feedback
    from odcore.runs.execution import execute
    from odcore.runs.marks import MarkStore
    from odcore.runs.spec import RunSpec

    monkeypatch.setenv("ODCORE_RUNS_DIR", str(tmp_path))
    p = tmp_path / "weekly.csv"
    p.write_bytes(weekly_csv(weeks=40))
    ds = odcore.data.load(p, roles="auto")
    store = RunStore(tmp_path)
    run = resolve(RunSpec(data=ds, method="iforest", protocol="all"), store=store)
    base = store.get(execute(run, store=store)["run_id"])
    top = base.scores.sort_values("score", ascending=False)["row_id"].tolist()
    MarkStore(store).add_rows(ds, top[:3], "expected", reason="promotion")
    MarkStore(store).add_rows(ds, top[3:4], "confirmed", note="stock-out")
    new = feedback.retrain(base, store=store)["run_id"]

    at = open_page("flagged")
    at.radio(key="flag_source").set_value("Your runs on any table").run()
    no_exception(at)
    at.selectbox(key="flag_run").set_value(new).run()
    no_exception(at)
    said = " ".join(m.value for m in at.markdown)
    assert "Trained with 3 expected and 1 confirmed marks" in said and "(3 of them marked expected)" in said
    moved = next(d.value for d in at.dataframe if "why" in d.value.columns and "change" in d.value.columns)
    assert (moved["why"].str.startswith("marked expected (promotion)")).sum() == 3
    ranked = next(d.value for d in at.dataframe if "mark" in d.value.columns and "rank" in d.value.columns)
    assert ranked.iloc[0]["mark"] == "confirmed"  # the confirmed row ranks first, with its mark beside it
    assert any("3 expected, 1 confirmed" in e.label for e in at.expander)
    assert at.button(key=f"marks-retrain-{new}")


def test_latent_map_marks_a_box_or_lasso_selection(tmp_path, monkeypatch):
    """Rows selected on the Latent map (a box or a lasso gives several) are marked in one click."""
    import odcore.data
    from odcore.runs.execution import execute
    from odcore.runs.marks import MarkStore
    from odcore.runs.spec import RunSpec

    monkeypatch.setenv("ODCORE_RUNS_DIR", str(tmp_path))
    p = tmp_path / "weekly.csv"
    p.write_bytes(weekly_csv(weeks=20))
    ds = odcore.data.load(p, roles="auto")
    store = RunStore(tmp_path)
    spec = RunSpec(data=ds, method="autoencoder", protocol="all", params={"epochs": 1})
    rid = execute(resolve(spec, store=store), store=store)["run_id"]
    at = open_page("latent", run_id=rid, latent_selected=[3, 7, 11])
    no_exception(at)
    assert any(m.value.startswith("**Mark 3 selected rows**") for m in at.markdown)
    at.button(key="latent-marks-confirmed").click().run()
    no_exception(at)
    got = MarkStore(store).list(ds)
    assert sorted(got.matched.confirmed.tolist()) == [3, 7, 11] and {m.run for m in got.marks} == {rid}
