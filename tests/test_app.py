"""AppTest: every page renders without an exception, with seeded session state and one-epoch runs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from odcore.runs.spec import resolve
from ui import pages

ROOT = Path(__file__).resolve().parents[1]
PAGES = [p.stem for p in pages.PAGES]  # the app's one list of pages


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    """A run store with three one-epoch runs: autoencoder (breast cancer), WALDO (digits, retail)."""
    d = tmp_path_factory.mktemp("runs")
    old = os.environ.get("ODCORE_RUNS_DIR")
    os.environ["ODCORE_RUNS_DIR"] = str(d)
    from odcore.runs.execution import execute
    from odcore.runs.spec import RunSpec
    from odcore.runs.store import RunStore

    store = RunStore(d)
    ids = {}
    for name, spec in {
        "ae": RunSpec(data="breast-cancer", method="autoencoder", params={"epochs": 1}),
        "digits": RunSpec(data="digits", method="waldo", protocol="pu",
                          protocol_options={"inlier_classes": [0], "nu": 0.1}, params={"epochs": 1}),
        "retail": RunSpec(data="retail-synthetic", method="waldo", protocol="pu", params={"epochs": 1}),
    }.items():
        ids[name] = execute(resolve(spec, store=store), store=store)["run_id"]
    yield ids
    if old is None:
        os.environ.pop("ODCORE_RUNS_DIR", None)
    else:
        os.environ["ODCORE_RUNS_DIR"] = old


pytestmark = pytest.mark.usefixtures("fresh_caches")  # every AppTest starts from empty Streamlit caches


def open_page(page: str, **session):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    for k, v in session.items():
        at.session_state[k] = v
    at.run()
    if page != "home":
        at.switch_page(f"app_pages/{page}.py")
        at.run()
    return at


def start_button(at):
    """The Train page's Start button (keyed by the form's data, method and protocol: ui/form.submit_key)."""
    return next(b for b in at.button if b.label == "Start training")


def no_exception(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(page, runs_dir):
    run = runs_dir["digits"] if page in ("waldo", "latent") else runs_dir["ae"]
    at = open_page(page, run_id=run)
    no_exception(at)
    assert at.title or at.markdown  # the page drew something


def test_pages_without_any_run_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("ODCORE_RUNS_DIR", str(tmp_path))
    for page in ("scores", "latent", "waldo", "compare"):
        at = open_page(page)
        no_exception(at)
        assert any("Train" in i.value for i in at.info), page


def test_data_page_loads_the_sine_wave(runs_dir):
    at = open_page("data")
    at.radio(key="data_source").set_value("Built-in").run()
    at.selectbox(key="data_builtin").set_value("sine").run()
    for b in at.get("button"):
        if getattr(b, "label", "") == "Load":
            b.click()
    at.run()
    no_exception(at)
    assert any(m.value == "1,024" for m in at.metric)


def test_data_page_bad_path_is_a_message_not_a_traceback(runs_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ODCORE_DATA_ROOTS", str(tmp_path))  # the data roots policy: the folder must be allowed
    bad = tmp_path / "empty.csv"
    bad.write_text("")
    at = open_page("data")
    at.radio(key="data_source").set_value("File path").run()
    at.text_input(key="data_path").input(str(bad))
    for b in at.get("button"):
        if getattr(b, "label", "") == "Load":
            b.click()
    at.run()
    no_exception(at)
    assert at.error and "the file is empty" in at.error[0].value.lower()


def test_train_page_shows_the_image_defaults_on_image_data(runs_dir):
    at = open_page("train")
    at.selectbox(key="train_data").set_value("digits").run()
    at.selectbox(key="train_method").set_value("drocc").run()
    no_exception(at)
    assert at.number_input(key="param-drocc-only_ce_epochs-image").value == 0
    at.selectbox(key="train_data").set_value("breast-cancer").run()
    assert at.number_input(key="param-drocc-only_ce_epochs").value == 50


def test_train_page_runs_a_one_epoch_job_to_the_end(runs_dir):
    at = open_page("train")
    at.selectbox(key="train_data").set_value("breast-cancer").run()
    at.selectbox(key="train_method").set_value("autoencoder").run()
    # the method's setting picks the protocol (its widget is keyed by the data and method: ui/form.py)
    assert at.selectbox(key="train_protocol-breast-cancer-autoencoder").value == "unsupervised"
    at.number_input(key="param-autoencoder-epochs").set_value(1).run()
    start_button(at).click().run()
    no_exception(at)
    job_id = at.session_state["last_job"]
    from ui import state

    job = state.registry().wait(job_id, timeout=60)
    assert job.state == "done", job.error
    time.sleep(0.1)
    at.run()
    no_exception(at)
    assert any("is ready" in s.value for s in at.success)


def test_scores_preset_sets_the_shared_threshold(runs_dir):
    rid = runs_dir["ae"]
    at = open_page("scores", run_id=rid)
    at.selectbox(key="scores_preset").set_value("contamination").run()
    at.number_input(key="scores_preset_value").set_value(20.0).run()
    at.button(key="scores_apply").click().run()
    no_exception(at)
    flagged = [m for m in at.metric if m.label == "flagged"][0]
    assert abs(float(flagged.delta.rstrip("%")) - 20.0) < 1.0  # about 20% of the scored rows are flagged
    assert at.session_state["thresholds"][rid] == at.slider(key=f"thr-{rid}").value


def test_latent_page_shows_the_selected_row(runs_dir):
    from odcore.runs.store import RunStore

    rid = runs_dir["digits"]
    row = int(RunStore().get(rid).scores["row_id"].iloc[0])
    at = open_page("latent", run_id=rid, latent_selected=[row])
    no_exception(at)
    assert any(f"Row {row}" in s.value for s in at.subheader)


def test_flagged_rows_on_the_retail_panel(runs_dir):
    at = open_page("flagged")
    no_exception(at)
    assert any("Load a table" in i.value for i in at.info)  # the default rows: the Data page's table, none yet
    at.radio(key="flag_source").set_value("Synthetic retail panel").run()
    no_exception(at)
    assert any("No finished run" in i.value for i in at.info)  # per market by default: these rows are new
    at.radio(key="flag_retail_scaling").set_value("global").run()  # the built-in the fixture's WALDO run saw
    no_exception(at)
    assert any("rows flagged" in m.value for m in at.markdown)
    assert len(at.get("download_button")) == 2  # the ranking as CSV and as Parquet
    assert any("against its reconstruction" in c.value for c in at.caption)  # WALDO: its inlier decoder explains


def test_flagged_rows_of_a_prepared_table_are_traceable_and_explained(runs_dir, tmp_path):
    """A messy weekly panel prepared on the Data page (store id, dates, blanks) and a run on it: the ranked table
    shows each row's file row, store and date, its rank and the features that explain it."""
    import odcore.data
    from odcore.runs.execution import execute
    from odcore.runs.spec import RunSpec
    from odcore.runs.store import RunStore
    from tests.test_table import messy_weekly_panel

    p = tmp_path / "panel.csv"
    messy_weekly_panel(p)
    ds = odcore.data.load(p, roles="auto", scaling="series")
    execute(resolve(RunSpec(data=ds, method="iforest", protocol="all"), store=RunStore()), store=RunStore())
    at = open_page("data", dataset=ds, data_spec=ds, data_options={"roles": "auto", "scaling": "series"})
    no_exception(at)
    assert any(s.value == "Data roles" for s in at.subheader) and at.button(key="roles_apply")
    at.switch_page("app_pages/flagged.py").run()
    no_exception(at)
    table = at.dataframe[0].value
    assert list(table.columns[:6]) == ["rank", "flagged", "score", "source_row", "Unnamed: 0", "Store"]
    assert table["rank"].tolist()[:3] == [1, 2, 3] and table["flagged"].all()
    assert table["why"].str.contains("%").all()


def test_latent_page_computes_tsne_as_a_background_task(runs_dir):
    rid = runs_dir["ae"]
    at = open_page("latent", run_id=rid)
    at.radio(key="latent_method").set_value("tsne").run()
    at.button(key="latent_go").click().run()
    no_exception(at)
    from ui import state

    task = at.session_state[f"embed-{rid}-tsne-{[('perplexity', 30)]}"]  # the page's key for this task
    job = state.registry().wait(task, timeout=120)
    assert job.state == "done", job.error
    at.run()
    no_exception(at)
    assert not any("running in the background" in i.value for i in at.info)
    assert not at.get("button") or all(getattr(b, "key", "") != "latent_go" for b in at.button)


# ------------------------------------------------------------------ paper figures (recipes)
FIGURE_PAGES = {"waldo": "waldo_figure", "boundary": "lab_figure", "scores": "scores_figure", "latent": None}


@pytest.mark.parametrize("page", list(FIGURE_PAGES))
def test_every_reproduce_figure_button_shows_its_figure_from_the_shipped_runs(page, tmp_path, monkeypatch):
    """From an empty run store: each recipe's Reproduce figure draws its figure and its verdict (the colour of its
    status, the words Home and BENCHMARKS.md show), no exception."""
    from odcore import recipes
    from odcore.recipes import framework

    monkeypatch.setenv("ODCORE_RUNS_DIR", str(tmp_path))
    at = open_page(page)
    for name in recipes.names(page):
        if FIGURE_PAGES[page]:
            at.radio(key=FIGURE_PAGES[page]).set_value(name).run()
        charts = len(at.get("plotly_chart"))
        at.button(key=f"repro-{name}").click().run()
        no_exception(at)
        assert len(at.get("plotly_chart")) == charts + 1 + len(recipes.get(name).extras), name
        v = framework.shipped(name).verdict  # the verdict, in its colour, with the label Home shows
        box = {"green": at.success, "orange": at.warning, "red": at.error}[v.colour]
        assert any(f"**{v.label.capitalize()}**: {v.headline}" in b.value for b in box), name
        others = [b for c, bs in (("green", at.success), ("orange", at.warning), ("red", at.error)) if c != v.colour
                  for b in bs]
        assert not any(f"**{o.label.capitalize()}**" in b.value for b in others
                       for o in map(framework.verdict_of, framework.STATUSES))
        assert any("teaching run shipped with the package" in c.value for c in at.caption), name


def test_home_lists_each_figure_with_the_verdict_its_page_shows():
    """Regression (issue 23): Home called ALAD's figure reproduced while its page said "Not reproduced". Home's
    table now shows each shipped run's verdict (framework.verdict: the label the page and BENCHMARKS.md show)
    in its colour; OC-NN Fig. 3 is orange (only with our extension), Fig. 4 and ALAD's ablation red."""
    from odcore import recipes
    from odcore.recipes import framework

    at = open_page("home")
    no_exception(at)
    table = at.dataframe[0].value
    shown = dict(zip(zip(table["paper"], table["figure"]), table["verdict (teaching run)"]))
    for name, r in recipes.all_recipes().items():
        assert shown[(r.paper or "all", r.figure)] == framework.shipped(name).verdict.label, name
    assert shown[("OC-NN", "Fig. 3")] == "only with our extension" and shown[("OC-NN", "Fig. 4")] == "not reproduced"
    assert shown[("ALAD", "score ablation")] == "not reproduced"



def test_train_preset_fills_the_protocol_options_and_starts(runs_dir):
    at = open_page("train")
    at.selectbox(key="train_preset").set_value("WALDO Table 1 (digits, inlier 0, nu = 0.1)").run()
    at.button(key="train_apply").click().run()
    no_exception(at)
    assert at.text_input(key="popt-digits-waldo-pu-inlier_classes").value == "0"
    assert at.number_input(key="popt-digits-waldo-pu-nu").value == 0.1


def test_train_page_replaces_a_protocol_the_data_cannot_run(runs_dir):
    """Digits + Deep SVDD: novelty needs outlier labels; the page switches to one-vs-rest with inlier_classes."""
    at = open_page("train")
    at.selectbox(key="train_data").set_value("digits").run()
    at.selectbox(key="train_method").set_value("deep-svdd").run()
    no_exception(at)
    assert at.selectbox(key="train_protocol-digits-deep-svdd").value == "one-vs-rest"
    assert at.text_input(key="popt-digits-deep-svdd-one-vs-rest-inlier_classes").value == "0"
    assert any("inlier_classes=0" in i.value.replace("\\", "") for i in at.info)  # shown as text (escaped)
