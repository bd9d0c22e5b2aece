"""Process-wide resources (run store, job registry) and per-session state.

One :class:`odcore.jobs.JobRegistry` serves every browser session (``st.cache_resource``); each
session gets an owner token so it sees and cancels only its own jobs. Finished runs are shared
through the run store.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import streamlit as st

DATASET = "dataset"  # the loaded odcore Dataset
DATA_SPEC = "data_spec"  # what RunSpec.data should be for it: a name, a path, or the Dataset
DATA_OPTIONS = "data_options"
RUN = "run_id"  # the run the analysis pages look at
OWNER_PARAM = "session"  # the query parameter that keeps a session's owner token across reloads
THRESHOLDS = "thresholds"  # run id -> threshold, shared by Scores and Flagged rows
#: owner token -> script seconds of that session's last run (written by app.py; session state
#: cannot be written after st.stop, so this is a plain process-wide dict)
SCRIPT_SECONDS: dict[str, float] = {}


def owner() -> str:
    """This browser session's owner token for jobs and runs.

    The server issues it (:mod:`ui.sessions`: 128 random bits) and keeps it in the page address with
    its signature (``?session=<token>.<hmac>``), so a reload, a reconnect after a server restart or the
    same link opened later finds its jobs and runs again; a new browser tab without the link is a new
    session. A link the server did not sign (a token someone chose and sent to a victim, a victim's
    bare token, a changed signature) is replaced by a new session: nobody can hand a session to someone
    else or walk into theirs. Whoever has a signed link acts as that session (share runs through a team
    store instead, see ``runs.team_store``).
    """
    from ui import sessions

    folder = store().root
    if "owner" not in st.session_state:
        given = str(st.query_params.get(OWNER_PARAM, ""))
        st.session_state["owner"] = sessions.verify(given, folder) or sessions.new_token()
    token = st.session_state["owner"]
    link = sessions.sign(token, folder)
    try:
        if st.query_params.get(OWNER_PARAM) != link:
            st.query_params[OWNER_PARAM] = link
    except Exception:  # noqa: BLE001 - after st.stop the query parameters cannot be written; keep the token
        pass
    return token


@st.cache_resource(show_spinner=False)
def store():
    """The run store (root from ODCORE_RUNS_DIR or ./runs); read-only when the folder cannot be written."""
    from odcore.runs.store import RunStore

    return RunStore()


def log_script_time(owner_token: str, page: str, seconds: float) -> None:
    """Append ``time owner page seconds`` to the file named by ``ODCORE_SCRIPT_LOG`` (benchmarks only)."""
    path = os.environ.get("ODCORE_SCRIPT_LOG")
    if not path:
        return
    import time

    try:
        with open(path, "a") as fh:
            fh.write(f"{time.time():.3f} {owner_token[:8]} {page.replace(' ', '_')} {seconds:.4f}\n")
    except OSError:
        pass


def _check_data(source: Any) -> Any:
    """A RunSpec's data as the app may read it: built-ins and stored datasets as they are, paths only
    inside the data roots (odcore.data.access)."""
    import odcore.data
    from odcore.data import access

    return access.check_source(source, builtins=odcore.data.builtin_names())


@st.cache_resource(show_spinner=False)
def registry():
    """The one job registry of this process (thread-safe, shared by all sessions). Its jobs read
    files only inside the data roots, and leave one core to the server for the pages."""
    from odcore import settings
    from odcore.data import access
    from odcore.jobs import JobRegistry

    return JobRegistry(store(), max_running=settings.get("jobs.max_running"), data_check=_check_data,
                       data_context=access.confined, reserve_cores=1)


@st.cache_resource(show_spinner=False)
def setup_logging() -> None:
    """Once per process: the lab's and the engine's messages (warnings, unexpected errors with their
    tracebacks) go to the server's standard error, which is the log of a shared deployment."""
    import logging

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("outlier_lab", "odcore"):
        lg = logging.getLogger(name)
        if not lg.handlers:
            lg.addHandler(handler)
            lg.setLevel(logging.INFO)
            lg.propagate = False


_WARM: list[threading.Thread] = []
_WARM_LOCK = threading.Lock()


def warm_up() -> threading.Thread:
    """Import torch and the detector modules once per process in a background thread, so that the
    first page needing them does not pay ~2 s (more on a busy machine) in its script run.

    ``app.py`` calls it after the first script run has ended, not before: the page's own first imports
    (scikit-learn, SciPy, pandas for Home's verdicts) and the warm-up's (the same packages under the detectors)
    then never run in two threads at once. Packages whose modules import each other fail in one of two threads
    that enter them at different modules ("cannot import name 'clone' from partially initialized module
    'sklearn.base'": a fresh server's Home page, when the warm-up started first)."""
    with _WARM_LOCK:
        if _WARM:
            return _WARM[0]

        def work() -> None:
            try:
                from odcore.models import registry

                for name in registry.available():
                    registry.get_class(name)
            except Exception:  # noqa: BLE001 - a failed warm-up only means a slower first page
                pass

        t = threading.Thread(target=work, name="odcore-warm-up", daemon=True)
        t.start()
        _WARM.append(t)
        return t


@st.cache_resource(show_spinner=False)
def warm_up_umap() -> threading.Thread | None:
    """Compile umap-learn's numba code once per process, off the script thread.

    The first UMAP fit in a process spends ~60 s compiling (DESIGN.md); started when the Latent
    map page is first opened, the compile is usually done before anyone asks for a UMAP view.
    ``ODCORE_WARM_UMAP=0`` turns it off (the tests do, to keep the CPU for themselves).
    """
    if os.environ.get("ODCORE_WARM_UMAP", "1") == "0":
        return None

    def work() -> None:
        try:
            import numpy as np

            from odcore import embed

            embed.umap(np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32))
        except Exception:  # noqa: BLE001 - a failed warm-up only means a slower first UMAP
            pass

    t = threading.Thread(target=work, name="umap-warm-up", daemon=True)
    t.start()
    return t


def max_loads() -> int:
    """Files the app loads at once: the setting ``data.max_loads``, else as many memory budgets
    (``limits.max_memory``) as fit in half the machine's memory, at least 1 and at most the cores."""
    from odcore import settings

    given = settings.get("data.max_loads")
    if given:
        return int(given)
    budget = int(settings.get("limits.max_memory") or (1 << 30))
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 4 << 30
    return max(1, min(os.cpu_count() or 1, total // 2 // budget))


@st.cache_resource(show_spinner=False)
def _load_pool() -> Any:
    """Threads for loading files (:func:`max_loads`: their memory budgets fit the machine; more loads
    wait), off the script thread, at a lower CPU priority than the pages and the training jobs (one
    user's huge file cannot starve another user's job)."""
    from concurrent.futures import ThreadPoolExecutor

    def nice() -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)  # Linux: per thread
        except (AttributeError, OSError):
            pass

    return ThreadPoolExecutor(max_workers=max_loads(), thread_name_prefix="odcore-load", initializer=nice)


def off_thread(fn: Any, *args: Any, what: str = "the data", **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` in the load pool, within the limits, the memory budget and the load timeout
    (``data.load_timeout``, checked while the file is read), opening files only inside the data roots
    (``access.confined``: open once, then check the descriptor); raises the load's InputError, or one when
    it takes too long."""
    from concurrent.futures import TimeoutError as FutureTimeout

    from odcore import settings
    from odcore.data import access, limits
    from odcore.errors import InputError

    timeout = float(settings.get("data.load_timeout"))

    def work() -> Any:
        with limits.using(limits.current().with_timeout(timeout)), access.confined():
            return fn(*args, **kwargs)

    future = _load_pool().submit(work)
    try:
        return future.result(timeout=2 * timeout + 10)  # the load stops itself at its deadline; this waits for a slot
    except FutureTimeout:
        raise InputError(f"loading {what} did not finish in {2 * timeout + 10:.0f} s (the server is busy loading "
                         "other files); try again in a moment") from None


@st.cache_data(show_spinner=False, max_entries=16)
def _load_cached(source: str, options_json: str, stamp: str):
    """A built-in, or a file read and prepared once per content and options (kept in the run store's cache,
    where the run, its estimate and its rebuild find it: odcore.runs.prepared)."""
    from odcore.runs import prepared

    return off_thread(lambda: prepared.load(source, json.loads(options_json), store())[0],
                      what=source.rsplit("/", 1)[-1])


def resolve(spec: Any):
    """A page's run request checked once (``odcore.runs.resolve``: parameters, options, the data roots policy),
    its data loaded off the script thread within the limits (a prepared table from the store's cache)."""
    from odcore.runs.spec import resolve as resolve_run

    return off_thread(resolve_run, spec, store=store(), data_check=_check_data,
                      what=getattr(spec.data, "name", None) or str(spec.data).rsplit("/", 1)[-1])


def load_dataset(source: str, options_json: str = "{}"):
    """A built-in by name, or a file inside the data roots (``odcore.data.access``), loaded off the script
    thread within the limits; cached per source, options and the file's size and modification time (a
    file replaced on disk is read again). Raises InputError on bad input."""
    import odcore.data
    from odcore.data import access

    if source in odcore.data.builtin_names():
        return _load_cached(source, options_json, "builtin")
    real = access.resolve(source)
    stat = real.stat()
    return _load_cached(str(real), options_json, f"{stat.st_mtime_ns}-{stat.st_size}")


def load_upload(filename: str, data: bytes, options: dict | None = None):
    """An uploaded file's bytes, loaded off the script thread within the limits."""
    import odcore.data

    return off_thread(odcore.data.load_bytes, filename, data, what=filename, **dict(options or {}))


def set_dataset(ds, spec: Any, options: dict | None = None) -> None:
    st.session_state[DATASET] = ds
    st.session_state[DATA_SPEC] = spec
    st.session_state[DATA_OPTIONS] = dict(options or {})


def threshold(run_id: str, default: float) -> float:
    return float(st.session_state.setdefault(THRESHOLDS, {}).get(run_id, default))


def set_threshold(run_id: str, value: float) -> None:
    st.session_state.setdefault(THRESHOLDS, {})[run_id] = float(value)


def my_jobs() -> list:
    """This session's jobs, newest first."""
    jobs = list(registry().list(owner=owner()))
    return sorted(jobs, key=lambda j: getattr(j, "submitted", 0) or 0, reverse=True)


def active(jobs: list) -> bool:
    return any(j.state in ("queued", "running") for j in jobs)
