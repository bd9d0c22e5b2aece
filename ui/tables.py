"""The session's current table, kept in the run store (:mod:`odcore.runs.tables`) so that it survives a change of
page, a reload and a server restart: an upload's bytes are kept once (content-addressed) with the loader options
the analyst chose; a built-in or a file is remembered by its name or path. No Streamlit widget here is drawn:
the pages ask :func:`dataset` for the session's table, which calls :func:`restore` the first time. (This module
imports :mod:`ui.state`, never the other way round.)"""

from __future__ import annotations

import json
import logging

import streamlit as st

from ui import state

RESTORED = "_table_restored"  # session state: the session's table was looked up once (found or not)
log = logging.getLogger("outlier_lab")


def tag() -> str:
    """This session's tag in the store (derived from its token; the token itself is never written)."""
    from odcore.runs.marks import author_tag

    return author_tag(state.owner())


def _tables():
    from odcore.runs.tables import TableStore

    return TableStore(state.store())


def remember_upload(filename: str, data: bytes, options: dict) -> None:
    """Keep an upload's bytes and make it the session's current table (a store that cannot be written only
    means the table is not kept: the load itself succeeded)."""
    try:
        t = _tables()
        rec = t.save(filename, data)
        t.set_current(tag(), sha=rec["sha"], options=options)
    except Exception as exc:  # noqa: BLE001 - the table is loaded; keeping it is a bonus that must not fail the load
        log.warning("the upload %s could not be kept in the run store: %s", filename, exc)


def remember_source(source: str, options: dict) -> None:
    """Make a built-in or a file the session's current table."""
    try:
        _tables().set_current(tag(), source=source, options=options)
    except Exception as exc:  # noqa: BLE001
        log.warning("the current table %s could not be remembered: %s", source, exc)


def current_upload() -> tuple[str, bytes]:
    """The name and bytes of the session's current upload (raises InputError when it has none kept)."""
    from odcore.errors import InputError

    cur = _tables().session(tag())["current"]
    if not cur or cur.get("kind") != "upload":
        raise InputError("the uploaded file was not kept (the run store could not be written); upload it again, "
                         "then apply the roles")
    rec, data = _tables().read(cur["sha"])
    return rec["name"], data


def dataset():
    """The session's dataset, or None. The first time a session asks, its current table comes back from the run
    store (after a reload or a server restart)."""
    if state.DATASET not in st.session_state:
        restore()
    return st.session_state.get(state.DATASET)


def restore() -> None:
    """Load the session's current table from the store into the session (once per session; a table that
    cannot be loaded any more is left out with a note in the log)."""
    if st.session_state.get(RESTORED):
        return
    st.session_state[RESTORED] = True
    try:
        cur = _tables().session(tag())["current"]
        if not cur:
            return
        options = dict(cur.get("options") or {})
        if cur["kind"] == "upload":
            rec, data = _tables().read(cur["sha"])
            ds = state.load_upload(rec["name"], data, options)
            state.set_dataset(ds, ds, options)
        else:
            ds = state.load_dataset(cur["source"], json.dumps(options, sort_keys=True))
            state.set_dataset(ds, cur["source"], options)
    except Exception as exc:  # noqa: BLE001 - a table that cannot come back is not an error of the page
        log.warning("the session's current table could not be restored: %s", exc)
