"""The Data page's roles editor: the engine's proposed role for every column of a table, editable.

The proposal and its record come from :mod:`odcore.data.table` (``Dataset.table``); this module
only draws them and loads the table again with the analyst's choices, through the same loader
options the CLI takes (``--data-option roles=...``).
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from ui import state, tables, widgets


def _reload(options: dict) -> None:
    """Load the session's table again with ``options`` (its base options kept) and make it the session's data."""
    from odcore.data import table

    spec = st.session_state.get(state.DATA_SPEC)
    base = {k: v for k, v in (st.session_state.get(state.DATA_OPTIONS) or {}).items() if k not in table.OPTIONS}
    new = {**base, **options}
    if isinstance(spec, str):
        ds = state.load_dataset(spec, json.dumps(new, sort_keys=True))
        state.set_dataset(ds, spec, new)
        tables.remember_source(spec, new)
        return
    name, data = tables.current_upload()  # the upload kept in the run store (the widget forgets it between pages)
    ds = state.load_upload(name, data, new)
    state.set_dataset(ds, ds, new)
    tables.remember_upload(name, data, new)


def editor(ds) -> None:
    """The roles table of a prepared table (``ds.table``), its window and scaling, and "Apply roles"."""
    from odcore.data import table

    if ds is None or not getattr(ds, "table", None):
        return
    prep = table.TablePrep.from_dict(ds.table)
    st.subheader("Data roles")
    st.caption("Every column got a role from its type, its distinct values and its name. Change a role, how a "
               "feature is encoded or what happens to blank cells, then apply: the table is read again with your "
               "choices (the same options as `--data-option roles=... missing=... window=... scaling=...`).")
    rows = pd.DataFrame(table.editor_rows(prep), columns=list(table.EDITOR_COLUMNS))
    n_in = int((prep.fitted or {}).get("rows_in", ds.n_rows))
    edited = st.data_editor(
        rows, hide_index=True, key=f"roles-{ds.content_hash()}", width="stretch",
        disabled=["column", "type", "blanks", "distinct", "example", "why"],
        column_config={
            "role": st.column_config.SelectboxColumn("role", options=list(table.ROLES), required=True,
                                                     help="; ".join(f"{k}: {v}" for k, v in table.ROLES.items())),
            "encoding": st.column_config.SelectboxColumn("as", options=[table.NOT_APPLICABLE, *table.ENCODINGS],
                                                         help="features: " + "; ".join(
                                                             f"{k}: {v}" for k, v in table.ENCODINGS.items())),
            "if blank": st.column_config.SelectboxColumn("if blank", options=[table.NOT_APPLICABLE, *table.MISSING],
                                                         help="; ".join(f"{k}: {v}" for k, v in table.MISSING.items())),
            "unit": st.column_config.TextColumn("unit", help="how a measure's values are written: a currency symbol "
                                                "($, €, £: $3.77M), units, % (values in percent), share (0-1), °"),
            "blanks": st.column_config.NumberColumn("blanks", format="%d"),
            "why": st.column_config.TextColumn("why", width="large"),
        })
    for line in table.impact(edited.to_dict("records"), n_in):
        st.caption(widgets.plain(line, 400))
    c1, c2, c3, c4 = st.columns([2, 1, 2, 2])
    windows = list(table.WINDOWS)
    window = c1.selectbox("Rows for the model", windows, index=windows.index(prep.window), key="roles_window",
                          format_func=lambda w: table.WINDOWS[w])
    weeks = c2.number_input("weeks per window", 1, 52, int(prep.window_weeks), key="roles_weeks",
                            disabled=window != "weeks")
    scalings = list(table.SCALINGS)
    roles_now = [r.get("role") for r in edited.to_dict("records")]
    series_rows = "measure" in roles_now and "time" in roles_now
    if series_rows and "feature" not in roles_now:  # nothing left for the control to scale: say why it is gone
        scaling = prep.scaling
        c3.caption("Scaling: series rows are each measure's deviation from its series' expectation over that "
                   "series' own spread, already on each series' own scale (per-series scaling is for feature "
                   "columns).")
    else:
        scaling = c3.radio("Scaling of the feature columns" if series_rows else "Scaling", scalings,
                           index=scalings.index(prep.scaling), key="roles_scaling",
                           format_func=lambda s: {"global": "global",
                                                  "series": "per series (each group's own level)"}[s],
                           help="; ".join(f"{k}: {v}" for k, v in table.SCALINGS.items()))
    wide = c4.checkbox("one series per numeric column (a wide table, e.g. one column per product)",
                       value=bool(prep.columns_are_series), key="roles_wide", disabled=window == "rows")
    fmt = (prep.fitted or {}).get("time_format") or prep.time_format or ""
    time_format = st.text_input("Date format of the time column (detected; strftime codes such as %d/%m/%Y)",
                                value=fmt if fmt != "datetime" else "", key="roles_time_format",
                                disabled=not prep.time_column)
    st.caption(f"{n_in:,} rows in the file, {ds.n_rows:,} model rows now · " + widgets.plain(prep.summary(), 600))
    if st.button("Apply roles", type="primary", key="roles_apply"):
        def apply() -> None:
            opts = table.options_from_rows(edited.to_dict("records"), window=window, window_weeks=int(weeks),
                                           scaling=scaling, columns_are_series=bool(wide) and window != "rows",
                                           time_format=time_format.strip() or None)
            _reload(opts)
            st.rerun()

        try:
            apply()
        except Exception as err:  # noqa: BLE001 - st.rerun raises its own exception, which must pass
            if type(err).__name__ in ("RerunException", "StopException"):
                raise
            widgets.show_error(err)

