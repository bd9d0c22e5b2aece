"""Training forms generated from the declarations (ui/form.py): every method's form opens on exactly what a run
gets without it, the Train page opens on a configuration the loaded data can run, the Flagged rows page uses the
same form, and Start sends exactly what the form shows, also when a Method change and the click arrive in one
rerun (issue 25: settings lost when reruns interrupt each other)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from odcore.params import Param
from ui import form

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("fresh_caches")


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ODCORE_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


@pytest.fixture
def state_warnings():
    """Streamlit's "created with a default value but also had its value set via the Session State API" warnings
    (Streamlit logs the first one of a process only: the flag is reset for the test)."""
    from streamlit.elements.lib import policies

    seen: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    handler, logger = Catch(), logging.getLogger(policies.__name__)
    logger.addHandler(handler)
    old = policies._shown_default_value_warning
    policies._shown_default_value_warning = False
    yield seen
    policies._shown_default_value_warning = old
    logger.removeHandler(handler)


def start_button(at):
    return next(b for b in at.button if b.label == "Start training")


def open_page(page: str, **session):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    for k, v in session.items():
        at.session_state[k] = v
    at.run()
    at.switch_page(f"app_pages/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# ------------------------------------------------------------------ the mapping, without a page
def test_requested_keeps_only_what_differs_from_the_run_default():
    hidden = Param("hidden", (64,), "widths", kind="ints", low=1, high=8192)
    lr = Param("lr", 1e-3, "step", low=0, high=10, low_open=True)
    crit = Param("criterion", "a", "how", kind="str", choices=("a", "b"), clean_default="b")
    decl = [hidden, lr, crit]
    assert form.requested(decl, {"hidden": [64], "lr": 0.001, "criterion": "a"}) == {}
    assert form.requested(decl, {"hidden": (64, 32), "lr": 2, "criterion": "a"}) == {"hidden": (64, 32), "lr": 2}
    assert form.requested(decl, {"criterion": "a"}, clean=True) == {"criterion": "a"}  # clean rows default to "b"


def test_widget_states_of_optional_and_choice_values():
    nu = Param("nu", None, "share", low=0, high=1, low_open=True, high_open=True, optional=True)
    assert form.widget_states(nu, None, "k") == {"k": 0.1, "k-auto": True}  # auto on, a number in range shown
    assert form.widget_states(nu, 0.2, "k") == {"k": 0.2, "k-auto": False}
    gamma = Param("gamma", "scale", "kernel width", low=0, high=1e9, low_open=True, choices=("scale", "auto"))
    assert form.widget_states(gamma, "auto", "g")["g-auto"] == "auto"
    assert form.widget_states(gamma, 0.5, "g") == {"g": 0.5, "g-auto": form.NUMBER}
    widths = Param("hidden", None, "widths", kind="ints", low=1, high=8192, optional=True)
    assert form.widget_states(widths, (64, 32), "h") == {"h": "64, 32", "h-auto": False}
    std = Param("standardize", None, "z-score", kind="bool", optional=True)
    assert form.widget_states(std, None, "s") == {"s": "auto"}


def _every_form():
    """A script that draws the form of every registered method (tabular and image defaults) and keeps what each
    would request and its errors."""
    import streamlit as st

    from odcore.models import registry
    from ui import form

    out = {}
    for m in registry.available():
        for image in (False, True):
            out[(m, image)] = form.method_fields(m, prefix=f"p{int(image)}", image=image)
    st.session_state["out"] = out


def test_every_method_form_opens_on_the_run_defaults(state_warnings):
    """Each declared parameter of every method gets a widget that opens on the default a run gets: the form
    requests nothing until a field changes, and no field is invalid."""
    from streamlit.testing.v1 import AppTest

    from odcore.models import registry

    at = AppTest.from_function(_every_form, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    out = at.session_state["out"]
    assert set(out) == {(m, i) for m in registry.available() for i in (False, True)}
    bad = {k: v for k, v in out.items() if v != ({}, {})}
    assert not bad, bad
    assert at.number_input and at.selectbox and at.toggle and at.text_input  # numbers, choices, toggles, lists
    assert not state_warnings


# ------------------------------------------------------------------ the Train page
def test_train_page_opens_on_the_table_default_for_an_unlabelled_table(runs_dir, tmp_path):
    """An unlabelled analyst's table loaded: the page opens on the registry's default for tables (no labels
    needed), protocol 'all', and no error."""
    import odcore.data
    from odcore.data.storesales import store_sales
    from odcore.models import registry

    src = tmp_path / "weekly.csv"
    store_sales(seed=3, n_stores=4, blanks=0, sales_blanks=0).to_csv(src, index=False)
    ds = odcore.data.load(src, roles="auto")
    assert ds.y is None and ds.table is not None
    at = open_page("train", dataset=ds, data_spec=ds, data_options={"roles": "auto"})
    assert at.selectbox(key="train_data").value == "(session dataset)"
    assert at.selectbox(key="train_method").value == registry.recommended("tables")
    protocol = [s for s in at.selectbox if s.key.startswith("train_protocol-")]
    assert [s.value for s in protocol] == ["all"]
    assert not at.error, [e.value for e in at.error]
    assert any("default for analysts' tables" in c.value for c in at.caption)


def test_start_sends_what_the_form_shows_and_a_click_on_a_stale_form_starts_nothing(runs_dir, state_warnings):
    """A Method change and a click on the Start button drawn for the old method arrive in one rerun (what happens
    when a person clicks while the page still shows the old method's fields): nothing starts, and the page shows the
    new method's form; its Start then runs exactly the method, protocol and epochs the form shows."""
    from ui import state

    at = open_page("train")
    at.selectbox(key="train_data").set_value("breast-cancer").run()
    at.selectbox(key="train_method").set_value("waldo").run()
    at.number_input(key="param-waldo-epochs").set_value(3).run()
    assert [s.value for s in at.selectbox if s.key.startswith("train_protocol-")] == ["pu"]
    stale = start_button(at)
    at.selectbox(key="train_method").set_value("autoencoder")
    stale.click().run()  # one rerun: the new method and a click on WALDO's Start
    assert not at.exception, [e.value for e in at.exception]
    assert "last_job" not in at.session_state  # nothing started: the button clicked belonged to another form
    assert any("nothing started" in w.value for w in at.warning)  # and the page says so
    shown_protocol = at.selectbox(key="train_protocol-breast-cancer-autoencoder").value
    shown_epochs = at.number_input(key="param-autoencoder-epochs").value
    assert (shown_protocol, shown_epochs) == ("unsupervised", 50)  # the setting's protocol, the declared epochs
    start_button(at).click().run()
    job = state.registry().wait(at.session_state["last_job"], timeout=120)
    assert (job.run["method"], job.run["protocol"], job.run["epochs"]) == ("autoencoder", shown_protocol, shown_epochs)
    state.registry().cancel(job.id, job.owner)
    state.registry().wait(job.id, timeout=60)
    # a value changed in a field of the form on screen and the click in one rerun: the run has it
    at.number_input(key="param-autoencoder-epochs").set_value(1)
    start_button(at).click().run()
    job = state.registry().wait(at.session_state["last_job"], timeout=120)
    assert job.run["epochs"] == 1 and job.run["requested"] == {"epochs": 1}, job.run
    assert job.state == "done", job.error
    assert not state_warnings


def test_train_preset_puts_its_settings_into_the_generated_form(runs_dir, state_warnings):
    at = open_page("train")
    at.selectbox(key="train_preset").set_value("WALDO Table 1 (digits, inlier 0, nu = 0.1)").run()
    at.button(key="train_apply").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="train_protocol-digits-waldo").value == "pu"
    assert at.text_input(key="popt-digits-waldo-pu-inlier_classes").value == "0"
    assert at.toggle(key="popt-digits-waldo-pu-nu-auto").value is False
    assert at.number_input(key="popt-digits-waldo-pu-nu").value == 0.1
    assert at.number_input(key="param-waldo-epochs-image").value == 60
    assert at.toggle(key="param-waldo-time_budget-image-auto").value is True  # None: no budget
    assert not state_warnings


# ------------------------------------------------------------------ the Flagged rows page: the same form
def test_flagged_rows_trains_with_the_same_generated_form(runs_dir):
    from odcore.models import registry

    at = open_page("flagged")
    at.radio(key="flag_source").set_value("Synthetic retail panel").run()
    assert not at.exception, [e.value for e in at.exception]
    method = next(s for s in at.selectbox if s.key.startswith("flag_method-"))
    method.set_value("autoencoder").run()
    epochs = at.number_input(key="flagparam-autoencoder-epochs")
    assert epochs.value == registry.declaration("autoencoder")["epochs"].default  # the declared default, one form
    assert at.number_input(key="flagparam-autoencoder-latent").value <= 16  # at most half the row's features
    assert at.text_input(key="flagparam-autoencoder-hidden").value == "64"
