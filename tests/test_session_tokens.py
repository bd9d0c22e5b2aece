"""Sessions the server issues: a forged ``?session=`` token is replaced and sees nothing of its victim.

Unit tests of :mod:`ui.sessions` (issue, sign, verify, the secret file) and one browser test: a victim's
session gets its link from the server, the victim's run is listed for that link only, and a visitor who
comes with the victim's bare token, a changed signature or a token of their own choosing gets a new
session of their own that lists nothing of the victim; after a server restart the victim's link still
finds the run (the secret stays in the runs folder).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from odcore.runs.spec import resolve

ROOT = Path(__file__).resolve().parents[1]


def test_tokens_are_random_signed_and_verified(tmp_path):
    from ui import sessions

    sessions.forget()
    a, b = sessions.new_token(), sessions.new_token()
    assert a != b and len(a) == 32 and int(a, 16) >= 0
    link = sessions.sign(a, tmp_path)
    assert sessions.verify(link, tmp_path) == a
    for forged in (a, f"{a}.{'0' * 32}", link[:-1] + ("0" if link[-1] != "0" else "1"), f"{b}.{link[33:]}",
                   "", "x" * 65, link + "0", link.upper()):
        assert sessions.verify(forged, tmp_path) is None, forged
    secret = tmp_path / sessions.SECRET_FILE
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    sessions.forget()  # a restart: the same secret is read from the runs folder
    assert sessions.verify(link, tmp_path) == a


def test_a_secret_others_may_read_or_a_symlink_is_not_used(tmp_path):
    from ui import sessions

    sessions.forget()
    link = sessions.sign(sessions.new_token(), tmp_path)
    secret = tmp_path / sessions.SECRET_FILE
    os.chmod(secret, 0o644)  # readable by others: whoever read it could forge links
    sessions.forget()
    assert sessions.verify(link, tmp_path) is None and stat.S_IMODE(secret.stat().st_mode) == 0o600
    other = tmp_path / "other"
    other.write_bytes(b"k" * 64)
    os.chmod(other, 0o600)
    secret.unlink()
    secret.symlink_to(other)  # a link to a file someone else knows
    sessions.forget()
    sessions.sign("a" * 32, tmp_path)
    assert not secret.is_symlink()


@pytest.mark.browser
def test_a_forged_session_token_is_replaced_and_sees_nothing_of_the_victim(tmp_path):
    from playwright.sync_api import sync_playwright

    from bench.faults import ARGS, CHROMIUM, App, settle
    from odcore.runs.execution import execute
    from odcore.runs.spec import RunSpec
    from odcore.runs.store import RunStore
    from tests.conftest import missing

    if not Path(CHROMIUM).exists():
        missing(f"{CHROMIUM} is not installed (apt-get install chromium)")
    runs = tmp_path / "runs"
    app = App(runs)
    app.start()
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)

            def open_scores(session: str | None) -> tuple[str, str]:
                """(the session the server left in the address, the page's text) of a fresh browser."""
                ctx = b.new_context(viewport={"width": 1300, "height": 1000})
                pg = ctx.new_page()
                pg.set_default_timeout(90_000)
                pg.goto(f"{app.url}/scores" + (f"?session={session}" if session else ""))
                pg.get_by_role("heading", name="Your runs").first.wait_for()
                settle(pg)
                pg.wait_for_timeout(1500)
                given = pg.url.split("session=")[-1] if "session=" in pg.url else ""
                text = pg.locator("[data-testid='stMain']").first.inner_text() + " ".join(
                    pg.get_by_test_id("stSelectbox").all_inner_texts()) + pg.content()
                ctx.close()
                return given, text

            link, _ = open_scores(None)  # the victim's session: the server issues its link
            victim = link.split(".")[0]
            assert len(victim) == 32 and len(link) == 65
            store = RunStore(runs)
            rid = execute(resolve(RunSpec("breast-cancer", "pca"), store=store), store=store, owner=victim)["run_id"]
            again, text = open_scores(link)
            assert again == link and rid in text  # the victim's link shows the victim's run
            forged = [victim, f"{victim}.{'0' * 32}", f"{'ab' * 16}.{'cd' * 16}", "ab" * 16]
            for token in forged:
                given, text = open_scores(token)
                assert given != token and not given.startswith(victim), (token, given)  # replaced
                assert rid not in text and "No finished run" in text, token  # sees nothing of the victim
            app.stop()
            app.start()  # a restart: the victim's link still finds the run
            again, text = open_scores(link)
            assert again == link and rid in text
            b.close()
    finally:
        app.stop()
