"""The sidebar on every page: this session's jobs (progress, errors, cancel) and device info.

Polling (:func:`poll`) runs a fragment with ``st.fragment(run_every=...)`` only while one of the
jobs it watches is queued or running, and backs off while nothing changes: every
:data:`POLL_FAST` seconds while the jobs move, :data:`POLL_SLOW` after ``10 s`` without a change,
:data:`POLL_IDLE` after a minute (a queued job waiting for a slot). When the last job ends it
triggers one full rerun so that pages pick up the finished run and every tray shows the job's
final state, and polling stops. Job titles (which hold file names) are shown as text.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

import streamlit as st

from ui import state, widgets

POLL_FAST = 2.0
POLL_SLOW = 5.0
POLL_IDLE = 15.0
_ICONS = {"queued": ":material/schedule:", "running": ":material/play_circle:", "done": ":material/check_circle:",
          "failed": ":material/error:", "cancelled": ":material/cancel:"}


def _fmt_seconds(s) -> str:
    if s is None:
        return "?"
    s = float(s)
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.1f} min"


def interval(key: str, jobs: list, now: float | None = None) -> float | None:
    """Seconds between polls of the fragment ``key`` watching ``jobs`` (None: nothing to wait for).

    Fast while the jobs' states or epochs change, slower after 10 s and after 60 s without a change."""
    if not state.active(jobs):
        return None
    now = time.time() if now is None else now
    sig = tuple((j.id, j.state, int(getattr(j, "epoch", 0) or 0)) for j in jobs)
    seen = st.session_state.setdefault("_poll_seen", {})
    if seen.get(key, (None,))[0] != sig:
        seen[key] = (sig, now)
    quiet = now - seen[key][1]
    return POLL_FAST if quiet < 10 else POLL_SLOW if quiet < 60 else POLL_IDLE


def poll(key: str, body: Callable[[], None], jobs: Callable[[], list]) -> None:
    """Draw ``body`` in a fragment that reruns while ``jobs()`` has an active job, at :func:`interval`.

    When the interval must change (a back-off step, or the last job ended) the fragment asks for one
    full rerun, which registers it again with the new interval (or without polling)."""
    every = interval(key, _safe(jobs))
    registered = st.session_state.setdefault("_poll_every", {})
    registered[key] = every

    def run() -> None:
        body()
        want = interval(key, _safe(jobs))
        if want != st.session_state.get("_poll_every", {}).get(key):
            st.rerun(scope="app")

    st.fragment(run_every=every)(run)()


def _safe(jobs: Callable[[], list]) -> list:
    try:
        return list(jobs())
    except Exception:  # noqa: BLE001 - the tray must never take a page down
        return []


def job_line(job) -> None:
    """One job in the tray (called in the script thread only)."""
    title = getattr(job, "title", None) or job.id
    st.markdown(f"{_ICONS.get(job.state, '')} **{widgets.plain(title, 120)}**  \n`{job.id}` · {job.state}")
    if job.state == "running":
        frac = float(job.progress or 0.0)
        ep = f"epoch {job.epoch}/{job.epochs} · " if getattr(job, "epochs", None) else ""
        st.progress(min(max(frac, 0.0), 1.0),
                    text=f"{ep}{_fmt_seconds(job.elapsed)} elapsed · ETA {_fmt_seconds(job.eta)}")
    if job.state in ("queued", "running"):
        if st.button("Cancel", key=f"cancel-{job.id}"):
            ok = state.registry().cancel(job.id, state.owner())
            msg = state.registry().get(job.id).message if ok else "This job is not yours to cancel"
            st.toast(widgets.plain(msg or "Cancel requested", 300))
        if getattr(job, "message", ""):  # "resumed after a server restart", "... cannot be interrupted ..."
            st.caption(widgets.plain(job.message, 300))
    if job.state == "failed" and job.error:
        st.error(widgets.plain(str(job.error).splitlines()[0], 300))
    elif job.state == "cancelled" and getattr(job, "message", ""):
        st.caption(widgets.plain(job.message, 300))


def _tray() -> None:
    try:
        jobs = state.my_jobs()
    except Exception as err:  # noqa: BLE001 - the tray must never take a page down
        st.caption(f"Job registry unavailable: {widgets.plain(widgets.one_line(err), 200)}")
        return
    if not jobs:
        st.caption("No jobs in this session yet. Start one on **Train**.")
    for job in jobs[:6]:
        job_line(job)
    if len(jobs) > 6:
        st.caption(f"{len(jobs) - 6} older jobs not shown.")


def render() -> None:
    """Draw the sidebar: job tray (polling with back-off only while jobs run), store warnings, device line."""
    with st.sidebar:
        st.subheader("Jobs")
        poll("tray", _tray, state.my_jobs)
        for w in getattr(state.store(), "warnings", [])[:2]:
            st.warning(widgets.plain(w, 300), icon=":material/warning:")
        st.divider()
        st.caption(device_line())


def device_line() -> str:
    """Cores and accelerator, without importing torch at start-up (it costs ~2 s)."""
    cores = os.cpu_count() or 1
    torch = sys.modules.get("torch")
    if torch is None:
        return f"Device: {cores} CPU cores · torch not loaded yet (loads with the first model)"
    try:  # the warm-up thread may be half-way through importing torch
        if torch.cuda.is_available():
            return f"Device: CUDA · {torch.cuda.get_device_name(0)} · {cores} CPU cores"
        return f"Device: CPU · {cores} cores · torch {torch.__version__}"
    except AttributeError:
        return f"Device: {cores} CPU cores · torch is loading"
