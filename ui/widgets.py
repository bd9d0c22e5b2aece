"""Small reusable widgets: page intro, run picker, warnings, error display.

User-supplied names and values (file names, column names, messages that quote them) are shown
as text: :func:`plain` escapes Markdown and HTML, so a column named ``![x](http://host/p.png)``
is printed, never fetched. Errors are one line on the page; tracebacks go to the server log
(and, for runs, to the run record).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import streamlit as st

from ui import runs, state

log = logging.getLogger("outlier_lab")

_ABS_PATH = re.compile(r"(?<![\w.])/(?:[\w.@+-]+/)+([\w.@+-]+)")


def plain(text: Any, limit: int | None = 500) -> str:
    """``text`` as literal text for ``st.markdown`` / ``st.error`` & co.: one line, Markdown and HTML
    escaped, at most ``limit`` characters (:func:`odcore.markup.markdown`, the one escaping helper; figures
    get theirs from :func:`odcore.markup.plotly`)."""
    from odcore.markup import markdown

    return markdown(text, limit)


def one_line(err: BaseException) -> str:
    """The message of ``err`` for a page: an InputError's text; other errors by type, without
    server paths (only the file names are kept)."""
    from odcore.errors import InputError

    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if isinstance(err, InputError):
        return text
    text = _ABS_PATH.sub(r"\1", text)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def show_error(err: BaseException) -> None:
    """A user-facing one-line message, never a traceback (unexpected errors go to the log)."""
    from odcore.errors import InputError

    if not isinstance(err, InputError):
        log.error("unexpected error on a page", exc_info=err)
    st.error(plain(one_line(err)))


def guarded(fn: Callable[[], Any]) -> Any:
    """Run ``fn``; show its error as a message and return None when it fails."""
    try:
        return fn()
    except Exception as err:  # noqa: BLE001 - pages show messages, not tracebacks
        show_error(err)
        return None


def day_dates(frame):
    """``frame`` with its date columns as ``YYYY-MM-DD`` text where every time of day is midnight (a weekly or
    daily table shows no "00:00:00"); datetime columns, and text columns that hold such stamps, are converted."""
    import pandas as pd

    out = None
    for c in frame.columns:
        col = frame[c]
        if pd.api.types.is_datetime64_any_dtype(col):
            d = col
        elif pd.api.types.is_string_dtype(col) and col.notna().any() and col.dropna().astype(str).str.fullmatch(
                r"\d{4}-\d{2}-\d{2}[ T]00:00:00(\.0+)?").all():
            d = pd.to_datetime(col, errors="coerce")
        else:
            continue
        if d.isna().all() or not (d.dropna() == d.dropna().dt.normalize()).all():
            continue
        out = frame.copy() if out is None else out
        out[c] = d.dt.strftime("%Y-%m-%d").where(d.notna(), "")
    return frame if out is None else out


#: what a page needs of a run, in a user's words (``run_picker(need=...)``: a capability name)
NEEDS = {"embed": "that maps rows to latent codes (a deep detector)",
         "generate": "that generates new rows from its decoders",
         "reconstruct": "that reconstructs rows", "boundary": "that draws a decision boundary",
         "assign": "whose decoders compete for each row", "prior_distance": "with a latent prior"}


def intro(title: str, text: str) -> None:
    """Page title and the two or three sentences on the idea behind the page (the page's own text)."""
    st.title(title)
    st.markdown(text)


def warnings(messages: list[str]) -> None:
    """Warnings (they may quote user names: shown as text)."""
    for m in messages:
        st.warning(plain(m, None), icon=":material/warning:")


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
        what = f" of a detector {NEEDS.get(need, 'that can show this')}" if need else ""
        st.info(f"No finished run{what} yet. Train one on the **Train** page (a one-epoch model is enough).")
        return None
    ids = [runs.run_id_of(r) for r in options]
    labels = {runs.run_id_of(r): runs.run_label(r) for r in options}
    current = st.session_state.get(state.RUN)
    index = ids.index(current) if current in ids else 0
    rid = st.selectbox(label, ids, index=index, format_func=lambda i: labels[i], key=key)
    st.session_state[state.RUN] = rid
    return rid


def history_figure(job) -> Any:
    """The live curves of a job, built again only when a new epoch arrived (polls in between reuse them)."""
    from odcore import plots

    cache = st.session_state.setdefault("_live_curves", {})
    key = (job.id, len(job.history))
    if cache.get("key") != key:
        cache.update(key=key, figure=plots.training_curves(job.history))
    return cache["figure"]


def start_job(run, title: str | None = None, *, rerun: bool = True) -> str | None:
    """Submit a training job for this session; returns the job id (errors shown, not raised). ``run`` is a
    ResolvedRun, or a RunSpec that is resolved here (``state.resolve``: checked once)."""
    try:
        from odcore.runs.spec import ResolvedRun

        if not isinstance(run, ResolvedRun):
            run = state.resolve(run)
        job_id = state.registry().submit(run, owner=state.owner(), title=title)
    except Exception as err:  # noqa: BLE001
        show_error(err)
        return None
    st.session_state["last_job"] = job_id
    st.toast(f"Started {title or run.method} ({job_id})")
    if rerun:
        st.rerun()  # redraw at once so that the sidebar tray starts polling the new job
    return job_id
