"""Data: pick a built-in, a file from the data folders, a path or an upload; validation messages; preview; 2-D PCA."""

import numpy as np
import streamlit as st

from odcore import embed, plots
from ui import data_source, roles, tables, widgets

widgets.intro("Data", "Every experiment starts from a dataset: the built-ins need no network (the DROCC sine "
              "wave, the OC-NN Gaussian set, scikit-learn's digits and breast cancer, a synthetic retail panel "
              "after the WALDO case study). Look for the label share and the problems found below; the PCA "
              "scatter shows whether outliers already stand apart in two linear directions.")

data_source.render()  # built-in / data folders / file path / upload, loaded off the script thread

ds = tables.dataset()
if ds is None:
    st.info("Load a dataset to see its preview.")
    st.stop()

st.subheader(widgets.plain(ds.name, 120))
c = st.columns(4)
c[0].metric("rows", f"{ds.n_rows:,}")
c[1].metric("features", ds.n_features)
c[2].metric("kind", ds.kind if ds.image_shape is None else f"image {tuple(ds.image_shape)}")
c[3].metric("outlier share", "unlabelled" if ds.y is None else f"{100 * ds.outlier_share:.2f}%")
if ds.notes:
    st.caption(widgets.plain(ds.notes, 2000))
roles.editor(ds)  # a table: the proposed role of every column, editable
desc = widgets.guarded(lambda: __import__("odcore.data", fromlist=["describe"]).describe(ds)) or {}
for p in desc.get("problems", []) or []:
    st.warning(widgets.plain(p, 2000))

st.dataframe(widgets.day_dates(ds.frame(200)), height=260)  # weekly dates without "00:00:00"

idx = embed.downsample(ds.n_rows, 20_000, keep=None if ds.y is None else ds.y == 1)
if ds.n_features > 2:
    from odcore.data.scaling import Standardizer

    xy = embed.pca(Standardizer.fit(ds.X[idx]).transform(ds.X[idx]), 2)  # z-scores: no column wins by its units
elif ds.n_features == 2:
    xy = ds.X[idx]
else:  # one feature: its values along x
    xy = np.column_stack([ds.X[idx, 0], np.zeros(len(idx), dtype=ds.X.dtype)])
colour = None if ds.y is None else ds.y[idx]
fig = plots.scatter_map(xy, idx, colour, color_name="label", title="First two principal components (standardised)"
                        if ds.n_features > 2 else "The two features" if ds.n_features == 2 else "The one feature",
                        height=460)
st.plotly_chart(fig, key="data_pca")
if len(idx) < ds.n_rows:
    st.caption(f"Drawing {len(idx):,} of {ds.n_rows:,} rows (every outlier kept).")
