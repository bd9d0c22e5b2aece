"""Data: pick a built-in, a file by path or an upload; validation messages; preview; 2-D PCA."""

import json

import streamlit as st

from odcore import embed, plots
from ui import state, widgets

widgets.intro("Data", "Every experiment starts from a dataset: the built-ins need no network (the DROCC sine "
              "wave, the OC-NN Gaussian set, scikit-learn's digits and breast cancer, a synthetic retail panel "
              "after the WALDO case study). Look for the label share and the problems found below; the PCA "
              "scatter shows whether outliers already stand apart in two linear directions.")

FORMATS = ["auto", "csv", "parquet", "npz", "mat", "kdd99", "mnist", "pharma"]


def _builtin_names() -> list[str]:
    import odcore.data

    return list(odcore.data.builtin_names())


source = st.radio("Source", ["Built-in", "File path", "Upload"], horizontal=True, key="data_source")
options: dict = {}
with st.form("load_form", border=False):
    if source == "Built-in":
        name = st.selectbox("Built-in dataset", widgets.guarded(_builtin_names) or [], key="data_builtin")
    elif source == "File path":
        name = st.text_input("Path to a file (CSV, Parquet, .npz, .mat, KDD Cup 99, MNIST IDX)", key="data_path")
    else:
        upload = st.file_uploader("Upload a file", type=["csv", "parquet", "npz", "mat", "gz", "txt"],
                                  key="data_upload")
    if source != "Built-in":
        c1, c2 = st.columns(2)
        fmt = c1.selectbox("Format", FORMATS, key="data_format")
        label = c2.text_input("Label column (CSV/Parquet, optional; 1 = outlier)", key="data_label")
        if fmt != "auto":
            options["format"] = fmt
        if label.strip():
            options["label_column"] = label.strip()
    submitted = st.form_submit_button("Load", type="primary")

if submitted:
    try:
        if source == "Built-in":
            ds = state.load_dataset(name, "{}")
            state.set_dataset(ds, name)
        elif source == "File path":
            if not name.strip():
                st.error("Type the path of a file first.")
                st.stop()
            ds = state.load_dataset(name.strip(), json.dumps(options, sort_keys=True))
            state.set_dataset(ds, name.strip(), options)
        else:
            if upload is None:
                st.error("Choose a file to upload first.")
                st.stop()
            import odcore.data

            ds = odcore.data.load_bytes(upload.name, upload.getvalue(), **options)
            state.set_dataset(ds, ds, options)  # the RunSpec takes the Dataset itself (stored by hash)
    except Exception as err:  # noqa: BLE001 - a message, never a traceback
        widgets.show_error(err)

ds = state.dataset()
if ds is None:
    st.info("Load a dataset to see its preview.")
    st.stop()

st.subheader(f"{ds.name}")
c = st.columns(4)
c[0].metric("rows", f"{ds.n_rows:,}")
c[1].metric("features", ds.n_features)
c[2].metric("kind", ds.kind if ds.image_shape is None else f"image {tuple(ds.image_shape)}")
c[3].metric("outlier share", "unlabelled" if ds.y is None else f"{100 * ds.outlier_share:.2f}%")
if ds.notes:
    st.caption(ds.notes)
desc = widgets.guarded(lambda: __import__("odcore.data", fromlist=["describe"]).describe(ds)) or {}
for p in desc.get("problems", []) or []:
    st.warning(str(p))

st.dataframe(ds.frame(200), height=260)

idx = embed.downsample(ds.n_rows, 20_000, keep=None if ds.y is None else ds.y == 1)
xy = embed.pca(ds.X[idx], 2) if ds.n_features > 2 else ds.X[idx]
colour = None if ds.y is None else ds.y[idx]
fig = plots.scatter_map(xy, idx, colour, color_name="label", title="First two principal components"
                        if ds.n_features > 2 else "The two features", height=460)
st.plotly_chart(fig, key="data_pca")
if len(idx) < ds.n_rows:
    st.caption(f"Drawing {len(idx):,} of {ds.n_rows:,} rows (every outlier kept).")
