"""Flagged rows: weekly rows ranked by score, filters, per-day explanation, CSV export (for analysts)."""

import json

import numpy as np
import pandas as pd
import streamlit as st

from odcore import plots
from odcore.analysis import analyst, thresholds
from ui import details, runs, state, widgets

widgets.intro("Flagged rows", "For analysts: every week of every market (or drug category) ranked by the model's "
              "score — for WALDO the inlier-decoder reconstruction error, as in the paper's retail case study "
              "(Fig. 3). Select a row to see its seven daily values against each decoder's reconstruction and which "
              "days deviate; the threshold is shared with the Scores page; export what is flagged as CSV.")


def _pharma_path() -> str:
    import odcore.data

    return str(odcore.data.shared_data_dir() / "retail_pharma" / "salesdaily.csv")


source = st.radio("Weekly rows", ["Synthetic retail panel", "Pharmacy file by path", "Upload a CSV of weekly rows"],
                  horizontal=True, key="flag_source")
ds, spec_data, data_options = None, None, {}
try:
    if source.startswith("Synthetic"):
        spec_data = "retail-synthetic"
        ds = state.load_dataset(spec_data)
    elif source.startswith("Pharmacy"):
        path = st.text_input("Path to salesdaily.csv", value=_pharma_path(), key="flag_path")
        spec_data, data_options = path, {"format": "pharma"}
        ds = state.load_dataset(path, json.dumps(data_options))
    else:
        up = st.file_uploader("CSV with 7 numeric day columns (and optional market / week columns)", type=["csv"],
                              key="flag_upload")
        if up is not None:
            import odcore.data

            ds = odcore.data.load_bytes(up.name, up.getvalue())
            spec_data = ds
except Exception as err:  # noqa: BLE001 - the data layer's message, no traceback
    widgets.show_error(err)
if ds is None:
    st.stop()
st.caption(f"{ds.name}: {ds.n_rows:,} weekly rows x {ds.n_features} values · "
           + ("unlabelled" if ds.y is None else f"{100 * ds.outlier_share:.2f}% labelled outliers"))

h = ds.content_hash()
mine = [r for r in runs.finished_runs() if runs.config(runs.run_id_of(r)).get("dataset", {}).get("hash") == h]
with st.expander("Train a model on these rows", expanded=not mine):
    c1, c2 = st.columns(2)
    from odcore.models import registry
    from odcore.recipes import presets

    # every detector that can learn from these rows: the unsupervised and one-class ones on all rows, the
    # positive-unlabelled ones (WALDO) when labels say which rows are known inliers
    settings = {"unsupervised": "all", "one-class": "all", **({"pu": "pu"} if ds.y is not None else {})}
    choices = [m for m in registry.available() if registry.info(m).setting in settings]
    method = c1.selectbox("Method", choices, key="flag_method", format_func=lambda m: registry.info(m).title,
                          index=next((choices.index(m) for m in presets.FLAGGED_DEFAULT_METHODS if m in choices), 0))
    epochs = c2.number_input("epochs", 1, 500, 20, key="flag_epochs")
    if st.button("Train", key="flag_train"):
        from odcore.runs.spec import RunSpec

        protocol = settings[registry.info(method).setting]
        params = {"epochs": int(epochs)} if "epochs" in registry.defaults(method) else {}
        widgets.start_job(RunSpec(data=spec_data, method=method, protocol=protocol, data_options=data_options,
                                  params=params), title=f"{method} on {ds.name}")
if not mine:
    st.info("No finished run on these rows yet: train one above (it appears here when done).")
    st.stop()
labels = {runs.run_id_of(r): runs.run_label(r) for r in mine}
rid = st.selectbox("Run", list(labels), format_func=labels.get, key="flag_run")
st.session_state[state.RUN] = rid


@st.cache_data(show_spinner="Scoring every row ...", max_entries=8)
def score_all(run_id: str) -> tuple[np.ndarray, np.ndarray | None]:
    from odcore.runs.execution import score_rows

    data, split = runs.data_split(run_id)
    scored = score_rows(runs.model(run_id), split.transform(data.X))
    return scored["score"], scored.get("decoder")


@st.cache_data(show_spinner=False, max_entries=4)
def base_frame(run_id: str, _ds, data_hash: str) -> pd.DataFrame:
    """The analyst table without the threshold-dependent column (built once per run)."""
    scores, decoder = score_all(run_id)
    frame = _ds.meta.reset_index(drop=True).copy() if _ds.meta is not None else pd.DataFrame(index=range(_ds.n_rows))
    frame.insert(0, "row_id", np.arange(_ds.n_rows))
    frame[list(_ds.feature_names)] = _ds.X
    frame["score"] = scores
    if decoder is not None:
        frame["decoder"] = np.where(decoder == 1, "outlier", "inlier")
    if _ds.y is not None:
        frame["label"] = _ds.y
    return frame


model = runs.model(rid)
frame = base_frame(rid, ds, h).copy()
scores = frame["score"].to_numpy()
lo, hi, step = thresholds.slider_range(scores)
key = f"fthr-{rid}"
if key not in st.session_state:
    st.session_state[key] = min(max(state.threshold(rid, float(getattr(model, "threshold_", hi))), lo), hi)
thr = st.slider("Threshold (flag score > threshold; shared with Scores)", lo, hi, step=step, key=key, format="%.4g")
state.set_threshold(rid, thr)
frame["flagged"] = frame["score"] > thr

group_col = next((c for c in ("market", "category") if c in frame), None)
date_col = next((c for c in ("week_start", "date") if c in frame), None)
c1, c2, c3 = st.columns(3)
srange = c1.slider("score range", lo, hi, (lo, hi), step=step, key=f"frange-{rid}", format="%.3g")
groups = c2.multiselect(group_col, sorted(frame[group_col].astype(str).unique()), key="flag_groups") \
    if group_col else []
flagged_only = c3.checkbox("flagged rows only", value=True, key="flag_only")
dates = None
if date_col:
    d = pd.to_datetime(frame[date_col])
    dates = st.slider("weeks", d.min().to_pydatetime(), d.max().to_pydatetime(),
                      (d.min().to_pydatetime(), d.max().to_pydatetime()), key="flag_dates", format="YYYY-MM-DD")
view = analyst.filter_rows(frame, score_range=srange, column_values={group_col: groups} if group_col else None,
                             date_column=date_col, date_range=dates, flagged_only=flagged_only)
view = view.sort_values("score", ascending=False)
st.markdown(f"**{int(frame['flagged'].sum()):,}** of {len(frame):,} rows flagged · {len(view):,} shown")
event = st.dataframe(view, hide_index=True, on_select="rerun", selection_mode="single-row", key="flag_table",
                     height=320, column_config={"score": st.column_config.NumberColumn(format="%.4g"),
                                                **({date_col: st.column_config.DateColumn(format="YYYY-MM-DD")}
                                                   if date_col else {})})
flagged_rows = frame[frame["flagged"]]
st.download_button("Download flagged rows (CSV)", lambda: flagged_rows.to_csv(index=False).encode(),
                   file_name=f"flagged-{rid}.csv", mime="text/csv", key="flag_download")  # built on click

picked = list(event.selection.rows) if event is not None else []
if not picked:
    st.caption("Select a row in the table to see its days against the reconstruction.")
    st.stop()
row_id = int(view.iloc[picked[0]]["row_id"])
_, split = runs.data_split(rid)
x = split.transform(ds.X[row_id:row_id + 1])
values = ds.X[row_id]
names = [n.capitalize() for n in ds.feature_names]
if model.capabilities().decoders:
    recs = {k: split.inverse_transform(v)[0] for k, v in details.reconstructions(model, x).items()}
else:  # no decoder: compare with the typical (median) week of the unflagged rows
    recs = {"median unflagged week": np.median(ds.X[~frame["flagged"].to_numpy()], axis=0)}
meta = frame.iloc[row_id]
title = " · ".join(str(meta[c]) for c in (group_col, date_col) if c) or f"row {row_id}"
st.plotly_chart(plots.row_profile(values, recs, names, title=title), key="flag_profile")
first = next(iter(recs))
st.markdown(f"**Row {row_id}** (score {meta['score']:.4g}): " + analyst.explain_row(values, recs[first], names))
