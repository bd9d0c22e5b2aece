"""Sessions kept apart, output escaped, polling that backs off, the server's shared-deployment settings.

- a session sees its own runs and the shared demo runs; another session's run is not offered
  (the team store setting shows every run);
- the owner token comes back from the page address, so a reload finds its jobs again; the server issues
  it and signs it, a token it did not sign is replaced (tests/test_session_tokens.py has the browser test);
- user names are shown as text: Markdown, HTML, links and math are escaped; errors are one line
  without server paths;
- the tray polls fast while jobs move, slower while nothing changes, not at all when they end;
- ``.streamlit/config.toml``: XSRF on, 200 MB uploads, localhost, no error details, minimal toolbar.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from odcore.runs.spec import resolve

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("fresh_caches")  # every AppTest starts from empty Streamlit caches


@pytest.fixture
def store_with_owners(tmp_path, monkeypatch):
    """Three runs: one of session A, one of session B, one without owner (a demo run from the CLI)."""
    from odcore.runs.execution import execute
    from odcore.runs.spec import RunSpec
    from odcore.runs.store import RunStore

    monkeypatch.setenv("ODCORE_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("ODCORE_SETTINGS", str(tmp_path / "none.toml"))
    store = RunStore(tmp_path)
    ids = {who: execute(resolve(RunSpec("breast-cancer", "pca", seed=i), store=store), store=store,
                        owner=owner)["run_id"]
           for i, (who, owner) in enumerate((("a", "a" * 32), ("b", "b" * 32), ("demo", None)))}
    return ids


def link(owner: str) -> str:
    """The ``?session=`` value the server issues for ``owner`` (signed with the runs folder's secret)."""
    import os

    from odcore.runs.store import RunStore
    from ui import sessions

    return sessions.sign(owner, RunStore(os.environ["ODCORE_RUNS_DIR"], read_only=True).root)


def _page(page: str, session: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.query_params["session"] = session
    at.run()
    at.switch_page(f"app_pages/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_session_sees_its_runs_and_the_demo_runs_only(store_with_owners):
    ids = store_with_owners
    at = _page("scores", link("a" * 32))
    shown = " ".join(at.selectbox(key="scores_run").options)
    assert ids["a"] in shown and ids["demo"] in shown and ids["b"] not in shown
    cmp = _page("compare", link("a" * 32))
    table = cmp.dataframe[0].value
    assert set(table["id"]) == {ids["a"], ids["demo"]}


def test_a_team_store_shows_every_run(store_with_owners, monkeypatch):
    monkeypatch.setenv("ODCORE_TEAM_STORE", "1")
    table = _page("compare", link("a" * 32)).dataframe[0].value
    assert set(table["id"]) == set(store_with_owners.values())


def test_the_owner_token_comes_back_from_the_address(store_with_owners):
    at = _page("home", link("c" * 32))
    assert at.session_state["owner"] == "c" * 32
    assert at.query_params["session"] in (link("c" * 32), [link("c" * 32)])
    for bad_link in ("not-a-token", "a" * 32, "a" * 32 + "." + "0" * 32, link("c" * 32)[:-1] + "0"):
        bad = _page("home", bad_link)  # a token the server did not sign gets a fresh random one
        assert bad.session_state["owner"] not in ("a" * 32, "c" * 32, "not-a-token"), bad_link
        assert len(bad.session_state["owner"]) == 32


@pytest.mark.parametrize("text", ["![x](http://host/pixel.png)", "<img src=x onerror=alert(1)>", ":red[big]",
                                  "$\\frac{1}{0}$", "**bold** _it_ `code`", "[link](javascript:alert(1))",
                                  "# heading", "| a | b |"])
def test_user_names_are_shown_as_text(text):
    import re

    from ui.widgets import plain

    out = plain(text)
    unescaped = re.sub(r"\\(.)", "", out)  # what is left once every escaped character is taken out
    assert not re.search(r"[!\[\]()<>*_`$#|:]", unescaped), out
    assert re.sub(r"\\(.)", r"\1", out).replace("\u200b", "") == text  # the text itself is kept


def test_errors_are_one_line_without_server_paths():
    from odcore.errors import InputError
    from ui.widgets import one_line

    assert one_line(InputError("a.csv: ragged\nsecond line")) == "a.csv: ragged"
    msg = one_line(FileNotFoundError("[Errno 2] No such file or directory: '/home/lab/secret/x.csv'"))
    assert msg.startswith("FileNotFoundError") and "/home/lab" not in msg and "x.csv" in msg


class _Job:
    def __init__(self, id, state, epoch=0):
        self.id, self.state, self.epoch = id, state, epoch


def test_polling_backs_off_while_nothing_changes_and_stops_at_the_end(monkeypatch):
    import streamlit as st

    from ui import tray

    monkeypatch.setattr(st, "session_state", {})
    running = [_Job("j", "running", 1)]
    assert tray.interval("t", running, now=0) == tray.POLL_FAST
    assert tray.interval("t", running, now=5) == tray.POLL_FAST
    assert tray.interval("t", running, now=20) == tray.POLL_SLOW  # 20 s without a new epoch
    assert tray.interval("t", running, now=90) == tray.POLL_IDLE
    assert tray.interval("t", [_Job("j", "running", 2)], now=91) == tray.POLL_FAST  # a new epoch: fast again
    assert tray.interval("t", [_Job("j", "done", 2)], now=92) is None  # nothing to wait for: no polling
    assert tray.interval("u", [_Job("q", "queued")], now=0) == tray.POLL_FAST  # keys are independent


def test_the_server_settings_of_a_shared_deployment():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["enableXsrfProtection"] is True and cfg["server"]["maxUploadSize"] == 200
    assert cfg["server"]["address"] == "localhost"
    assert cfg["client"]["showErrorDetails"] == "none" and cfg["client"]["toolbarMode"] == "minimal"


def test_nothing_user_supplied_is_unpickled():
    """No reader of odcore unpickles: no pickle/joblib loads, every np.load with allow_pickle=False."""
    import re

    for path in (ROOT / "odcore").rglob("*.py"):
        src = path.read_text()
        assert not re.search(r"\bpickle\.loads?\(|joblib\.load|dill\.load|torch\.load\(", src), path
        for call in re.findall(r"np\.load\([^)]*\)", src):
            assert "allow_pickle=False" in call, (path, call)
