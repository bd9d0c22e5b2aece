"""Flagged rows: every row (store-week) of a table ranked by score, explained in the analyst's terms, traceable to
the file, exported."""

import json

import streamlit as st

from ui import flagged, marks, runs, state, tables, widgets

widgets.intro("Flagged rows", "For analysts: the store-weeks (or days, months) that broke their own pattern. Each "
              "series learns what every period was expected to be (its level, trend, season, holidays and what the "
              "other series did that week); the model ranks how far each row strayed, and says it in money and dates. "
              "Select a row to see its series around it; export the ranking; score new weeks with the run.")

SOURCES = ["The table on the Data page", "Your runs on any table", "Weekly store sales (synthetic, Walmart-like)",
           "Synthetic retail panel", "Pharmacy daily sales (8 drug categories)"]
source = st.radio("Rows", SOURCES, horizontal=True, key="flag_source")
ds = spec_data = None
data_options: dict = {}
if source == SOURCES[0]:
    ds, spec_data = tables.dataset(), st.session_state.get(state.DATA_SPEC)
    data_options = dict(st.session_state.get(state.DATA_OPTIONS) or {})
    if ds is None or ds.kind == "image":
        st.info("Load a table on the **Data** page first (an upload or a file: its columns get roles there).")
        st.stop()
elif source == SOURCES[1]:  # every run of this session on a table, after a reload or a restart too
    ds, spec_data, data_options = marks.pick_table_run() or (None, None, {})
elif source == SOURCES[2]:
    ds = widgets.guarded(flagged.store_sales_rows)
    spec_data = ds
elif source == SOURCES[3]:
    scaling = st.radio("Scaling", ["series", "global"], horizontal=True, key="flag_retail_scaling",
                       format_func=lambda s: {"series": "per market (each market's own level)", "global": "global"}[s])
    ds = widgets.guarded(lambda: flagged.retail_rows(scaling))
    spec_data = ds if scaling == "series" else "retail-synthetic"  # a prepared table is stored with its runs
else:
    import odcore.data

    spec_data = str(odcore.data.shared_data_dir() / "retail_pharma" / "salesdaily.csv")
    data_options = odcore.data.parse_options(spec_data, {"format": "csv", "roles": "auto"})  # each category a measure
    ds = widgets.guarded(lambda: state.load_dataset(spec_data, json.dumps(data_options, sort_keys=True)))
if ds is None:
    st.stop()
st.caption(widgets.plain(f"{ds.name}: {ds.n_rows:,} rows x {ds.n_features} features · "
                         + ("unlabelled" if ds.y is None else f"{100 * ds.outlier_share:.2f}% labelled outliers"), 300))

h = ds.content_hash()
mine = [r for r in runs.finished_runs() if runs.config(runs.run_id_of(r)).get("dataset", {}).get("hash") == h]
with st.expander("Train a model on these rows", expanded=not mine):
    flagged.train_form(ds, spec_data, data_options)
if not mine:
    st.info("No finished run on these rows yet: train one above (it appears here when done).")
    st.stop()
labels = {runs.run_id_of(r): runs.run_label(r) for r in mine}
marks.follow_retrained(labels)  # a retraining that just finished: show its run
rid = st.selectbox("Run", list(labels), format_func=labels.get, key="flag_run")
st.session_state[state.RUN] = rid
marks.moved_panel(rid)  # a run trained with marks: what left the flags, what entered, why

frame, info = flagged.analyst_frame(rid)
view = flagged.flagged_view(rid, marks.annotate(frame, rid, info["keys"]), info)
picked = flagged.flagged_table(rid, view, info)
marks.mark_controls(rid, picked["row"].tolist(), key="flag-marks")
marks.marks_panel(rid)
if not len(picked):
    st.caption("Select rows in the table to mark them, and one to see it against what the model expected.")
else:
    flagged.flagged_row(rid, frame, picked.iloc[-1], info)
with st.expander("Score a new file with this run (same roles, windows, scaling and blanks policy)"):
    flagged.score_new_file(rid)
