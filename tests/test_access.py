"""The data roots policy: the server reads only files inside the configured roots.

Paths are resolved (symlinks, ``..``) before the check; refusals name the setting; devices and
pipes are refused; the picker lists only what the policy allows; settings come from the
environment and from the settings file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import clear_streamlit_caches

from odcore import settings
from odcore.data import access
from odcore.errors import InputError


@pytest.fixture
def roots(tmp_path, monkeypatch):
    """A shared-datasets root holding one CSV, an extra root, and a secret outside both."""
    shared = tmp_path / "shared"
    (shared / "odds").mkdir(parents=True)
    (shared / "odds" / "t.csv").write_text("a,b\n1,2\n3,4\n")
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "e.csv").write_text("a,b\n1,2\n3,4\n")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / ".env").write_text("AWS_SECRET_ACCESS_KEY=abc\n")
    monkeypatch.setenv("ODCORE_DATA_DIR", str(shared))
    monkeypatch.setenv("ODCORE_UPLOADS_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("ODCORE_DATA_ROOTS", str(extra))
    monkeypatch.setenv("ODCORE_SETTINGS", str(tmp_path / "none.toml"))
    return {"shared": shared, "extra": extra, "secret": secret, "tmp": tmp_path}


def test_files_inside_the_roots_resolve(roots):
    assert access.resolve(roots["shared"] / "odds" / "t.csv") == (roots["shared"] / "odds" / "t.csv").resolve()
    assert access.resolve("odds/t.csv") == (roots["shared"] / "odds" / "t.csv").resolve()  # relative: in the roots
    assert access.resolve(roots["extra"] / "e.csv").name == "e.csv"


@pytest.mark.parametrize("path", ["/etc/shadow", "/etc/passwd", "~/.bashrc", "~/.ssh/id_rsa", "/proc/self/environ"])
def test_system_files_are_refused_with_the_setting_named(roots, path):
    with pytest.raises(InputError, match="outside the data folders") as err:
        access.resolve(path)
    assert "ODCORE_DATA_ROOTS" in str(err.value) and "roots" in str(err.value)


def test_dotdot_and_symlinks_cannot_leave_a_root(roots):
    shared, secret = roots["shared"], roots["secret"]
    with pytest.raises(InputError, match="outside the data folders"):
        access.resolve(shared / ".." / "secret" / ".env")
    with pytest.raises(InputError, match="outside the data folders"):
        access.resolve("../secret/.env")  # relative to each root
    (shared / "link.csv").symlink_to(secret / ".env")
    with pytest.raises(InputError, match="outside the data folders"):
        access.resolve(shared / "link.csv")
    (shared / "linkdir").symlink_to(secret, target_is_directory=True)
    with pytest.raises(InputError, match="outside the data folders"):
        access.resolve(shared / "linkdir" / ".env")
    # a symlink that stays inside the roots is fine
    (shared / "inner.csv").symlink_to(shared / "odds" / "t.csv")
    assert access.resolve(shared / "inner.csv") == (shared / "odds" / "t.csv").resolve()


def test_the_refusal_does_not_say_whether_the_file_exists(roots):
    msgs = []
    for p in (roots["secret"] / ".env", roots["secret"] / "missing.txt"):
        with pytest.raises(InputError) as err:
            access.resolve(p)
        msgs.append(str(err.value).replace(p.name, "NAME"))
    assert msgs[0] == msgs[1]


def test_folders_devices_pipes_and_missing_files(roots):
    shared = roots["shared"]
    with pytest.raises(InputError, match="is a folder"):
        access.resolve(shared / "odds")
    fifo = shared / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        access.resolve(fifo)
    with pytest.raises(InputError, match="no such file"):
        access.resolve(shared / "odds" / "nope.csv")
    with pytest.raises(InputError, match="no path"):
        access.resolve("  ")
    with pytest.raises(InputError, match="NUL"):
        access.resolve("odds/t.csv\x00.png")


def test_check_source_leaves_builtins_and_stored_data_alone(roots):
    names = ["sine"]
    assert access.check_source("sine", builtins=names) == "sine"
    assert access.check_source("stored:0123456789abcdef", builtins=names) == "stored:0123456789abcdef"
    assert access.check_source("odds/t.csv", builtins=names).endswith("t.csv")
    with pytest.raises(InputError, match="outside"):
        access.check_source("/etc/hostname", builtins=names)


def test_listing_shows_allowed_files_only(roots):
    shared = roots["shared"]
    (shared / "link.csv").symlink_to(roots["secret"] / ".env")
    (shared / ".hidden.csv").write_text("a\n1\n")
    (shared / "notes.docx").write_text("x")
    labels = [label for label, _ in access.listing()]
    assert "shared/odds/t.csv" in labels and "extra/e.csv" in labels
    assert not any("link" in lb or "hidden" in lb or "docx" in lb for lb in labels)
    assert all(any(access.inside(p, r) for r in access.roots()) for _, p in access.listing())


def test_roots_and_switches_from_the_settings_file(roots, monkeypatch, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "o.csv").write_text("a\n1\n")
    cfg = tmp_path / "lab.toml"
    cfg.write_text(f'[data]\nroots = ["{other}"]\npath_field = false\n\n[limits]\nmax_rows = 1_000\n')
    monkeypatch.setenv("ODCORE_SETTINGS", str(cfg))
    monkeypatch.delenv("ODCORE_DATA_ROOTS")
    assert access.resolve(other / "o.csv").name == "o.csv"
    with pytest.raises(InputError, match="outside"):
        access.resolve(roots["extra"] / "e.csv")  # only in the environment variable, which is unset now
    assert settings.get("data.path_field") is False and settings.get("limits.max_rows") == 1000
    monkeypatch.setenv("ODCORE_MAX_ROWS", "50")  # the environment wins over the file
    assert settings.get("limits.max_rows") == 50


def test_bad_settings_are_one_clear_message(monkeypatch, tmp_path):
    cfg = tmp_path / "lab.toml"
    cfg.write_text("[data]\nroots = [\n")
    monkeypatch.setenv("ODCORE_SETTINGS", str(cfg))
    with pytest.raises(InputError, match="not valid TOML"):
        settings.get("data.roots")
    cfg.write_text("[data]\nrootz = []\n")
    with pytest.raises(InputError, match="unknown setting 'data.rootz'"):
        settings.get("data.roots")
    monkeypatch.setenv("ODCORE_SETTINGS", str(tmp_path / "none.toml"))
    monkeypatch.setenv("ODCORE_MAX_ROWS", "lots")
    with pytest.raises(InputError, match="ODCORE_MAX_ROWS"):
        settings.get("limits.max_rows")


def test_uploads_are_private_and_no_session_reads_another_s_by_path(roots):
    """The uploads folder is the server's own (0700), not a data root: an upload in progress has no name
    anyone could type (it is unlinked at once and read through its descriptor)."""
    import stat

    import odcore.data

    up = Path(os.environ["ODCORE_UPLOADS_DIR"])
    ds = odcore.data.load_bytes("u.csv", b"a,b\n1,2\n3,4\n5,7\n")
    assert ds.n_rows == 3 and stat.S_IMODE(up.stat().st_mode) == 0o700
    assert list(up.iterdir()) == []  # nothing left behind, nothing to open by name
    (up / "u.csv").write_text("a\n1\n")
    with pytest.raises(InputError, match="outside the data folders"):
        access.resolve(up / "u.csv")
    assert all(up.resolve() not in p.parents for _, p in access.listing())
    long = odcore.data.load_bytes("b" * 300 + ".csv", b"a,b\n1,2\n3,4\n5,7\n")  # a name too long for a file
    assert long.n_rows == 3


def test_an_uploads_folder_that_is_a_symlink_or_someone_else_s_is_refused(tmp_path, monkeypatch):
    """Whoever creates the uploads folder first (a symlink to /, a folder of another user) gets nothing."""
    import odcore.data

    monkeypatch.setenv("ODCORE_SETTINGS", str(tmp_path / "none.toml"))
    link = tmp_path / "uploads-link"
    link.symlink_to("/")
    monkeypatch.setenv("ODCORE_UPLOADS_DIR", str(link))
    with pytest.raises(InputError, match="is a symbolic link"):
        odcore.data.load_bytes("u.csv", b"a,b\n1,2\n3,4\n5,7\n")
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o777)
    os.chmod(loose, 0o777)
    monkeypatch.setenv("ODCORE_UPLOADS_DIR", str(loose))
    assert odcore.data.load_bytes("u.csv", b"a,b\n1,2\n3,4\n5,7\n").n_rows == 3
    assert loose.stat().st_mode & 0o077 == 0  # an own folder others could write is closed to them
    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    os.chown(other, 12345, 12345) if os.geteuid() == 0 else pytest.skip("chown needs root")
    monkeypatch.setenv("ODCORE_UPLOADS_DIR", str(other))
    with pytest.raises(InputError, match="belongs to another user"):
        odcore.data.load_bytes("u.csv", b"a,b\n1,2\n3,4\n5,7\n")


def test_the_default_uploads_folder_is_not_in_a_world_writable_temp_folder(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.delenv("ODCORE_UPLOADS_DIR", raising=False)
    monkeypatch.setenv("ODCORE_SETTINGS", str(tmp_path / "none.toml"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert access.uploads_dir() == tmp_path / "cache" / "odcore" / "uploads"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert Path(tempfile.gettempdir()) not in access.uploads_dir().parents


def test_open_once_then_check_reads_nothing_outside_while_a_symlink_is_swapped(roots):
    """A race: one thread swaps a file in a root for a symlink to a secret and back (and its folder for a
    symlink to the secret's folder); the app's load path (open once, check the descriptor, read it) runs
    meanwhile. Every load gives the file's own rows or one refusal, never the secret."""
    import threading

    import odcore.data

    shared, secret = roots["shared"], roots["secret"]
    (secret / "data.csv").write_text("a,b\n" + "".join(f"{i},{9000 + i}\n" for i in range(40)))  # the secret rows
    folder = shared / "swap"
    folder.mkdir()
    real = folder / "data.csv"
    real.write_text("a,b\n" + "".join(f"{i},{i % 7}\n" for i in range(40)))
    keep = shared / "keep"
    stop = threading.Event()

    def swapper() -> None:
        import time

        tmp_link, tmp_dir = shared / ".l", shared / ".d"
        n = 0
        while not stop.is_set():
            n += 1
            tmp_link.symlink_to(secret / "data.csv")
            os.replace(real, keep)  # the real file aside, a symlink to the secret in its place
            os.replace(tmp_link, real)
            time.sleep(0.001)
            os.replace(keep, real)  # and back
            time.sleep(0.001)
            if n % 2 == 0:  # the folder itself becomes a symlink to the secret's folder, and back
                os.rename(folder, tmp_dir)
                folder.symlink_to(secret)
                time.sleep(0.001)
                folder.unlink()
                os.rename(tmp_dir, folder)
                time.sleep(0.001)

    t = threading.Thread(target=swapper, daemon=True)
    t.start()
    loads = refused = leaked = 0
    try:
        for _ in range(300):
            try:
                with access.open_checked("swap/data.csv") as f:
                    ds = odcore.data.load(f)
            except InputError:
                refused += 1
                continue
            loads += 1
            leaked += bool((ds.X[:, 1] >= 9000).any())
    finally:
        stop.set()
        t.join(10)
    assert leaked == 0, f"{leaked} of {loads} loads read the secret"
    assert loads + refused == 300 and loads > 0


@pytest.mark.parametrize("swap", ["file", "folder"])
def test_a_swap_right_after_the_check_is_refused(roots, monkeypatch, swap):
    """The same swap placed exactly between the check (``resolve``) and the open: the file becomes a symlink
    (``O_NOFOLLOW`` refuses it) or its folder does (the descriptor's real path is outside the roots)."""
    shared, secret = roots["shared"], roots["secret"]
    (secret / "data.csv").write_text("a,b\n" + "".join(f"{i},{9000 + i}\n" for i in range(40)))
    folder = shared / "swap"
    folder.mkdir()
    (folder / "data.csv").write_text("a,b\n1,2\n3,4\n5,6\n")
    check = access.resolve

    def check_then_swap(path, **kw):
        real = check(path, **kw)
        if swap == "file":
            (folder / "data.csv").unlink()
            (folder / "data.csv").symlink_to(secret / "data.csv")
        else:
            os.rename(folder, shared / "aside")
            folder.symlink_to(secret)
        return real

    monkeypatch.setattr(access, "resolve", check_then_swap)
    with pytest.raises(InputError, match="outside the data folders"):
        access.open_checked("swap/data.csv")


def test_confined_loads_open_through_the_policy(roots):
    """Inside ``access.confined()`` a path load opens through the roots check (the app's loads and jobs)."""
    import odcore.data

    (roots["shared"] / "link.csv").symlink_to(roots["secret"] / ".env")
    assert odcore.data.load(roots["shared"] / "odds" / "t.csv", min_rows=2).n_rows == 2
    with access.confined():
        assert odcore.data.load(roots["shared"] / "odds" / "t.csv", min_rows=2).n_rows == 2
        with pytest.raises(InputError, match="outside the data folders"):
            odcore.data.load(roots["shared"] / "link.csv")
        with pytest.raises(InputError, match="outside the data folders"):
            odcore.data.load(roots["secret"] / ".env")


# ----------------------------------------------------------------------------- the Data page (AppTest)
def _data_page(path: str):
    from streamlit.testing.v1 import AppTest

    clear_streamlit_caches()
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=90)
    at.run()
    at.switch_page("app_pages/data.py")
    at.run()
    at.radio(key="data_source").set_value("File path").run()
    at.text_input(key="data_path").input(path)
    next(b for b in at.get("button") if getattr(b, "label", "") == "Load").click()
    at.run()
    return at


def test_the_data_page_refuses_server_files_and_shows_no_content(roots, monkeypatch, tmp_path):
    monkeypatch.setenv("ODCORE_RUNS_DIR", str(tmp_path / "runs"))
    at = _data_page(str(roots["secret"] / ".env"))
    assert not at.exception
    assert at.error and "outside the data folders" in at.error[0].value
    assert "AWS_SECRET" not in " ".join(str(e.value) for e in at.error) and not at.metric  # nothing was loaded
    at = _data_page(str(roots["shared"] / "odds" / "t.csv"))
    assert not at.exception and any(m.value == "2" for m in at.metric)  # inside a root: loaded (2 rows)


def test_the_path_field_can_be_switched_off(roots, monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("ODCORE_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("ODCORE_PATH_FIELD", "false")
    clear_streamlit_caches()
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=90)
    at.run()
    at.switch_page("app_pages/data.py")
    at.run()
    options = list(at.radio(key="data_source").options)
    assert "File path" not in options and "Data folders" in options
    at.radio(key="data_source").set_value("Data folders").run()
    assert "shared/odds/t.csv" in list(at.selectbox(key="data_pick").options)


def test_the_app_loads_as_many_files_at_once_as_budgets_fit(tmp_path, monkeypatch):
    """The load pool's size: the setting, else as many memory budgets as fit in half the machine's memory."""
    from ui import state

    monkeypatch.setenv("ODCORE_SETTINGS", str(tmp_path / "none.toml"))
    monkeypatch.delenv("ODCORE_MAX_LOADS", raising=False)
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    monkeypatch.setenv("ODCORE_MAX_MEMORY", str(total))  # one budget is the whole machine: one load at a time
    assert state.max_loads() == 1
    monkeypatch.setenv("ODCORE_MAX_MEMORY", str(total // 8))
    assert state.max_loads() == min(os.cpu_count() or 1, 4)
    monkeypatch.setenv("ODCORE_MAX_LOADS", "3")
    assert state.max_loads() == 3
