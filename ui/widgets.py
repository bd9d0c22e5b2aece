"""Small reusable widgets: page intro, run picker, warnings, error display."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from ui import runs, state


def intro(title: str, text: str) -> None:
    """Page title and the two or three sentences on the idea behind the page."""
    st.title(title)
    st.markdown(text)


def show_error(err: BaseException) -> None:
    """A user-facing message, never a traceback."""
    from odcore.errors import InputError

    if isinstance(err, InputError):
        st.error(str(err))
    else:
        st.error(f"{type(err).__name__}: {err}")


def guarded(fn: Callable[[], Any]) -> Any:
    """Run ``fn``; show its error as a message and return None when it fails."""
    try:
        return fn()
    except Exception as err:  # noqa: BLE001 - pages show messages, not tracebacks
        show_error(err)
        return None


def warnings(messages: list[str]) -> None:
    for m in messages:
        st.warning(m, icon=":material/warning:")


def run_picker(*, key: str, need: str | None = None, methods: tuple[str, ...] | None = None,
               label: str = "Run") -> str | None:
    """Select a finished run (default: the session's current run). ``need`` filters by capability."""
    options = []
    for r in runs.finished_runs():
        rid = runs.run_id_of(r)
        if methods is not None and r.get("method") not in methods:
            continue
        if need is not None and need not in runs.capabilities(rid):
            continue
        options.append(r)
    if not options:
        what = f" with '{need}'" if need else ""
        st.info(f"No finished run{what} yet. Train one on the **Train** page (a one-epoch model is enough).")
        return None
    ids = [runs.run_id_of(r) for r in options]
    labels = {runs.run_id_of(r): runs.run_label(r) for r in options}
    current = st.session_state.get(state.RUN)
    index = ids.index(current) if current in ids else 0
    rid = st.selectbox(label, ids, index=index, format_func=lambda i: labels[i], key=key)
    st.session_state[state.RUN] = rid
    return rid


def start_job(spec, title: str | None = None, *, rerun: bool = True) -> str | None:
    """Submit a training job for this session; returns the job id (errors shown, not raised)."""
    try:
        job_id = state.registry().submit(spec, owner=state.owner(), title=title)
    except Exception as err:  # noqa: BLE001
        show_error(err)
        return None
    st.session_state["last_job"] = job_id
    st.toast(f"Started {title or spec.method} ({job_id})")
    if rerun:
        st.rerun()  # redraw at once so that the sidebar tray starts polling the new job
    return job_id
