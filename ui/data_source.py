"""The data-source choice of the Data page: a built-in, a file from the data folders, a path, an upload.

What the browser may read is the data roots policy (:mod:`odcore.data.access`): the picker lists
the files inside the roots, the path field (switched off by the setting ``data.path_field``)
accepts only paths inside them, and uploads are read from the uploads folder. Every load runs
off the script thread within the limits and the load timeout (:func:`ui.state.off_thread`); a
bad file gives one message (:func:`ui.widgets.show_error`).
"""

from __future__ import annotations

import json

import streamlit as st

from ui import state, tables, widgets

DELIMITERS = {"auto": None, "comma ,": ",", "semicolon ;": ";", "tab": "\t", "bar |": "|"}
DECIMALS = {"auto": None, "point 1.5": ".", "comma 1,5": ","}
BUILTIN, FOLDERS, PATH, UPLOAD = "Built-in", "Data folders", "File path", "Upload"


@st.cache_data(show_spinner=False, ttl=30)
def _listing() -> dict[str, str]:
    """label -> real path of the files in the data roots (refreshed every 30 s)."""
    from odcore.data import access

    return {label: str(p) for label, p in access.listing()}


def _builtins() -> list[str]:
    import odcore.data

    return list(odcore.data.builtin_names())


def _formats() -> tuple[list[str], dict[str, str], str]:
    """The format choices ("auto" first), their labels and the generic formats' names: odcore's one list
    (odcore.data.loaders.FORMATS)."""
    from odcore.data.loaders import FORMATS, generic_labels

    labels = {"auto": "auto (detected)", **{k: f"{k}: {f.label}" for k, f in FORMATS.items()}}
    return list(labels), labels, generic_labels()


def path_field_on() -> bool:
    """Whether the free path field is shown (setting ``data.path_field``)."""
    from odcore import settings

    return bool(settings.get("data.path_field"))


def render() -> None:
    """Draw the source choice and the Load button; on Load, set the session's dataset or show the message."""
    kinds = [BUILTIN, FOLDERS] + ([PATH] if widgets.guarded(path_field_on) else []) + [UPLOAD]
    source = st.radio("Source", kinds, horizontal=True, key="data_source")
    options: dict = {}
    name = upload = None
    formats, format_labels, generic = _formats()
    with st.form("load_form", border=False):
        if source == BUILTIN:
            name = st.selectbox("Built-in dataset", widgets.guarded(_builtins) or [], key="data_builtin")
        elif source == FOLDERS:
            files = widgets.guarded(_listing) or {}
            name = st.selectbox("File in the data folders", list(files), key="data_pick",
                                placeholder="no data files in the data folders" if not files else "Choose a file")
            name = files.get(name) if name else None
        elif source == PATH:
            name = st.text_input(f"Path to a file inside the data folders ({generic})", key="data_path",
                                 help="Relative paths are looked up in the data folders (odds/thyroid.mat); paths "
                                      "outside them are refused.")
        else:
            upload = st.file_uploader(f"Upload a file ({generic})", key="data_upload")
        if source != BUILTIN:
            c1, c2, c3, c4 = st.columns(4)
            fmt = c1.selectbox("Format", formats, key="data_format", format_func=format_labels.get)
            label = c2.text_input("Label column (optional; 1 = outlier)", key="data_label")
            sep = c3.selectbox("Delimiter (CSV)", list(DELIMITERS), key="data_sep")
            dec = c4.selectbox("Decimal mark (CSV)", list(DECIMALS), key="data_decimal")
            if fmt != "auto":
                options["format"] = fmt
            if label.strip():
                options["label_column"] = label.strip()
            options["roles"] = "auto"  # a CSV / Parquet table: a role for every column (ui.roles edits them)
            if DELIMITERS[sep] is not None:
                options["sep"] = DELIMITERS[sep]
            if DECIMALS[dec] is not None:
                options["decimal"] = DECIMALS[dec]
        submitted = st.form_submit_button("Load", type="primary")
    if submitted:
        failure = None
        with st.spinner("Loading ..."):  # what is drawn inside the spinner goes with it: the message comes after
            try:
                load(source, name, upload, options)
            except Exception as err:  # noqa: BLE001 - one message, never a traceback
                failure = err
        if failure is not None:
            widgets.show_error(failure)
            state.set_dataset(None, None)  # no earlier dataset's preview under the message: nothing is loaded


def load(source: str, name: str | None, upload, options: dict) -> None:
    """Load the chosen source (raises InputError with the message for the page)."""
    from odcore.data import access
    from odcore.errors import InputError

    if source == BUILTIN:
        if not name:
            raise InputError("Choose a built-in dataset first.")
        state.set_dataset(state.load_dataset(name, "{}"), name)
        tables.remember_source(name, {})
    elif source in (FOLDERS, PATH):
        if not (name or "").strip():
            raise InputError("Choose a file first." if source == FOLDERS else "Type the path of a file first.")
        real = str(access.resolve(name.strip()))
        ds = state.load_dataset(real, json.dumps(options, sort_keys=True))
        state.set_dataset(ds, real, options)
        tables.remember_source(real, options)
    else:
        if upload is None:
            raise InputError("Choose a file to upload first.")
        ds = state.load_upload(upload.name, upload.getvalue(), options)
        state.set_dataset(ds, ds, options)  # the RunSpec takes the Dataset itself (stored by hash)
        tables.remember_upload(upload.name, upload.getvalue(), options)  # kept: pages, reloads, restarts
