"""Latent map: the run's latent codes in 2-D (PCA instantly, t-SNE / UMAP as background jobs)."""

import streamlit as st

from odcore import embed, plots
from ui import figures, marks, row_details, runs, state, widgets
from ui.selection import selected_rows

widgets.intro("Latent map", "A detector's encoder maps each row to a latent code; if the model works, outliers "
              "sit apart from the inlier cloud (WALDO Fig. 4, OC-NN Fig. 1). PCA is instant; t-SNE (openTSNE) and "
              "UMAP run in the background and are cached per run and settings. Click a point to see its row or "
              "image and what each decoder makes of it.")

with st.expander("Paper figure: one latent map per deep detector", expanded=True):
    figures.recipe_panel("latent-maps")

st.header("Your runs")
rid = widgets.run_picker(key="latent_run", need="embed")
if rid is None:
    st.stop()
df = runs.scores(rid)
Z = widgets.guarded(lambda: runs.codes(rid))
if Z is None:
    st.stop()
cache_dir = state.store().get(rid).cache_dir
state.warm_up_umap()  # numba compiles UMAP's code (~60 s) in the background, once per process

c1, c2, c3 = st.columns(3)
method = c1.radio("Projection", list(embed.METHODS), format_func=embed.TITLES.get, horizontal=True,
                  key="latent_method")
colour_opts = [c for c in ("label", "score", "pred", "decoder") if c in df]
colour_by = c2.selectbox("Colour by", colour_opts, key="latent_colour")
settings = {}
if method == "tsne":
    settings["perplexity"] = c3.slider("perplexity", 5, 100, 30, key="latent_perp")
elif method == "umap":
    settings["n_neighbors"] = c3.slider("neighbours", 5, 100, 15, key="latent_nn")

keep = (df["label"] == 1).to_numpy() if "label" in df else (df["pred"] == 1).to_numpy()
idx = embed.downsample(len(df), 50_000, keep=keep)
xy = embed.cached(Z, method, cache_dir, **settings)
if xy is None:
    task_key = f"embed-{rid}-{method}-{sorted(settings.items())}"
    job_id = st.session_state.get(task_key)
    job = widgets.guarded(lambda: state.registry().get(job_id)) if job_id else None
    if job is None or job.state in ("failed", "cancelled"):
        if job is not None and job.state == "failed":
            st.error(job.error)
        if st.button(f"Compute {embed.TITLES[method]} of {len(Z):,} codes", type="primary", key="latent_go"):
            from functools import partial

            task = partial(embed.embed, Z.copy(), method, cache_dir=cache_dir, **settings)
            st.session_state[task_key] = state.registry().submit_task(
                lambda progress, cancel: task(progress=progress, cancel=cancel), owner=state.owner(),
                title=f"{embed.TITLES[method]} of {rid}")
            st.rerun()
    elif job.state == "done":
        st.rerun()
    else:
        st.info(f"{embed.TITLES[method]} is running in the background ({100 * job.progress:.0f}%); PCA meanwhile.")
    xy = embed.pca(Z)

colour = df[colour_by].to_numpy()
kind = "continuous" if colour_by == "score" else "categorical"
ids = df["row_id"].to_numpy()
hover = [f"row {r} · score {v:.4g}" for r, v in zip(ids, df["score"].to_numpy())]
sel = st.session_state.get("latent_selected", [])
fig = plots.scatter_map(xy[idx], ids[idx], colour[idx], color_kind=kind, color_name=colour_by,
                        hover=[hover[i] for i in idx], highlight=sel)
event = st.plotly_chart(fig, key="latent_map", on_select="rerun", selection_mode=("points", "box", "lasso"))
picked = selected_rows(event.selection.points if event else None)
if picked:
    st.session_state["latent_selected"] = picked  # a click, or a box / lasso around a group of rows
if len(idx) < len(df):
    st.caption(f"Drawing {len(idx):,} of {len(df):,} points (all outliers kept).")

sel = [int(r) for r in st.session_state.get("latent_selected", []) if int(r) in set(ids.tolist())]
marks.mark_controls(rid, sel, key="latent-marks")  # a table's rows: mark the selected group expected / confirmed
if sel:
    row_details.row_details(rid, sel[0])
else:
    st.caption("Click a point to see its details; draw a box or a lasso around a group to mark it.")
