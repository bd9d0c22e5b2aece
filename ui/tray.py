"""The sidebar on every page: this session's jobs (progress, errors, cancel) and device info.

The tray polls with ``st.fragment(run_every=...)`` only while one of the session's jobs is
queued or running; when the last one ends it triggers one full rerun so that pages pick up
the finished run, and polling stops.
"""

from __future__ import annotations

import os
import sys

import streamlit as st

from ui import state

POLL_SECONDS = 1.0


def _fmt_seconds(s) -> str:
    if s is None:
        return "?"
    s = float(s)
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.1f} min"


def job_line(job) -> None:
    """One job in the tray (called in the script thread only)."""
    title = getattr(job, "title", None) or job.id
    icon = {"queued": ":material/schedule:", "running": ":material/play_circle:", "done": ":material/check_circle:",
            "failed": ":material/error:", "cancelled": ":material/cancel:"}.get(job.state, "")
    st.markdown(f"{icon} **{title}**  \n`{job.id}` · {job.state}")
    if job.state == "running":
        frac = float(job.progress or 0.0)
        ep = f"epoch {job.epoch}/{job.epochs} · " if getattr(job, "epochs", None) else ""
        st.progress(min(max(frac, 0.0), 1.0),
                    text=f"{ep}{_fmt_seconds(job.elapsed)} elapsed · ETA {_fmt_seconds(job.eta)}")
    if job.state in ("queued", "running"):
        if st.button("Cancel", key=f"cancel-{job.id}"):
            ok = state.registry().cancel(job.id, state.owner())
            st.toast("Cancel requested" if ok else "This job is not yours to cancel")
    if job.state == "failed" and job.error:
        st.error(str(job.error).splitlines()[0][:300])


def _tray(was_active: bool) -> None:
    try:
        jobs = state.my_jobs()
    except Exception as err:  # noqa: BLE001 - the tray must never take a page down
        st.caption(f"Job registry unavailable: {err}")
        return
    if not jobs:
        st.caption("No jobs in this session yet. Start one on **Train**.")
    for job in jobs[:6]:
        job_line(job)
    if was_active and not state.active(jobs):
        st.rerun(scope="app")  # last job ended: redraw the pages once, then stop polling


def render() -> None:
    """Draw the sidebar: job tray (polling only while jobs run) and device line."""
    with st.sidebar:
        st.subheader("Jobs")
        try:
            busy = state.active(state.my_jobs())
        except Exception:  # noqa: BLE001
            busy = False
        st.fragment(run_every=POLL_SECONDS if busy else None)(_tray)(busy)
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
