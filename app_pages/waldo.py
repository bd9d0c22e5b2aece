"""WALDO decoders: the paper's figures (shipped teaching runs, retrain live) and the same views of your runs."""

from pathlib import Path

import numpy as np
import streamlit as st

from odcore import embed, plots, recipes
from ui import figures, runs, state, widgets

widgets.intro("WALDO decoders", "WALDO (Rizzo, Pang, Chen, Chawla) shares one encoder between an inlier and an "
              "outlier decoder and lets each unlabelled row go to the decoder that reconstructs it better. Passing "
              "an inlier through the outlier decoder (and vice versa) shows what the model thinks makes a point an "
              "outlier (Fig. 1b); the labelled inliers' codes are pulled onto the prior, so outliers encode "
              "farther out (Fig. 2a); the advantage lets the outlier decoder start learning (Fig. 2b); sampling "
              "each decoder's latent cloud generates new inliers and outliers (Fig. 4); and the two-decoder models "
              "keep a higher average precision than WAE-GAN (Fig. 5).")

name = st.radio("Paper figure", recipes.names(Path(__file__).stem), format_func=lambda n: recipes.get(n).label,
                horizontal=True, key="waldo_figure")
figures.recipe_panel(name)

st.divider()
st.header("Your runs")
rid = widgets.run_picker(key="waldo_run", need="generate")  # the decoder-and-generation family
if rid is None:
    st.stop()


@st.cache_resource(show_spinner="Decoding ...", max_entries=8)
def run_figures(run_id: str) -> dict:
    """Every figure of this page that depends only on the run (built once, read-only afterwards)."""
    ds, split = runs.data_split(run_id)
    model = runs.model(run_id)
    caps = model.capabilities()
    df = runs.scores(run_id)
    y = df["label"].to_numpy() if "label" in df else df["decoder"].to_numpy()
    X = runs.test_rows(run_id, df["row_id"].to_numpy())

    orig = split.inverse_transform  # standardised rows back in the data's units

    def generated(n: int, kind: str):
        """Samples from the fitted latent cloud of ``kind``; from the prior when that cloud is empty."""
        from odcore.errors import InputError

        try:
            return model.generate(n, kind=kind, source="fitted", random_state=0), "fitted cloud"
        except InputError:
            return model.generate(n, kind=kind, source="prior", random_state=0), "prior samples: no outlier cloud yet"

    out: dict = {"image": ds.kind == "image" and ds.image_shape is not None}
    rng = np.random.default_rng(0)
    inl = rng.permutation(np.flatnonzero(y == 0))[:8]
    outl = rng.permutation(np.flatnonzero(y == 1))[:8]
    if out["image"]:
        out["swaps"] = []
        for name, pos in (("real inliers", inl), ("real outliers", outl)):
            if len(pos):
                xb = X[pos]
                rows = {f"{name}: input": orig(xb)}
                for d in caps.decoders:  # both decoders: the swap; one decoder (WAE-GAN): its reconstruction
                    rows[f"{d} decoder"] = orig(model.reconstruct(xb, decoder=d)["reconstruction"])
                out["swaps"].append(plots.image_rows(rows, ds.image_shape, ncols=8))
        gen = {}
        for k in caps.generate:
            rows_k, src = generated(8, k)
            gen[f"generated {k}s ({src})"] = orig(rows_k)
        out["generated"] = plots.image_rows(gen, ds.image_shape, ncols=8)
    else:
        take = rng.permutation(len(X))[:2000]
        parts, groups = [X[take]], [np.where(y[take] == 1, "real outlier", "real inlier")]
        for k in caps.generate:
            g, _ = generated(300, k)
            parts.append(g)
            groups.append([f"generated {k}"] * len(g))
        out["Z"] = np.vstack(parts).astype(np.float32)
        out["group"] = np.concatenate(groups)
    if caps.prior_distance:
        out["prior"] = plots.score_histograms(model.prior_distance(X), y, title=None,
                                              x_title="||Q(x)|| (distance of the code from 0)")
    return out


@st.cache_resource(show_spinner=False, max_entries=8)
def map_figure(run_id: str, tsne_ready: bool):
    """Real vs generated rows in 2-D: the cached t-SNE when ready, PCA until then."""
    f = run_figures(run_id)
    xy = embed.cached(f["Z"], "tsne", state.store().get(run_id).cache_dir) if tsne_ready else None
    xy = embed.pca(f["Z"]) if xy is None else xy
    return plots.scatter_map(xy, np.arange(len(f["Z"])), f["group"], color_name="group", height=480, colours={
        "real inlier": plots.INLIER_COLOUR, "real outlier": plots.OUTLIER_COLOUR, "generated inlier": "#9ecae9",
        "generated outlier": "#f58518"})


figs = run_figures(rid)
if figs["image"]:
    st.subheader("Decoder swap (Fig. 1b)")
    for i, fig in enumerate(figs["swaps"]):
        st.plotly_chart(fig, key=f"swap-{i}")
    st.subheader("Generated rows")
    st.plotly_chart(figs["generated"], key="waldo_gen")
else:
    st.subheader("Real and generated rows in t-SNE (Fig. 4)")
    Z, group = figs["Z"], figs["group"]
    cache = state.store().get(rid).cache_dir
    xy = embed.cached(Z, "tsne", cache)
    if xy is None:
        key = f"waldo-tsne-{rid}"
        job = widgets.guarded(lambda: state.registry().get(st.session_state[key])) if key in st.session_state else None
        if job is None or job.state in ("failed", "cancelled"):
            if st.button("Compute t-SNE of real and generated rows", key="waldo_tsne"):
                st.session_state[key] = state.registry().submit_task(
                    lambda progress, cancel, Z=Z: embed.embed(Z, "tsne", cache_dir=cache, progress=progress,
                                                              cancel=cancel),
                    owner=state.owner(), title=f"t-SNE real vs generated {rid}")
                st.rerun()
        else:
            st.info(f"t-SNE running ({100 * job.progress:.0f}%); PCA meanwhile.")
        st.caption("Showing PCA until the t-SNE is computed.")
    st.plotly_chart(map_figure(rid, xy is not None), key="waldo_map")

if "prior" in figs:
    st.subheader("Distance from the prior mean (Fig. 2a)")
    st.plotly_chart(figs["prior"], key="waldo_prior")

st.subheader("Average precision per epoch (Fig. 5)")
same = [r for r in runs.finished_runs() if "generate" in runs.capabilities(runs.run_id_of(r))
        and r.get("data") == runs.config(rid).get("spec", {}).get("data")]
hist = {f"{r['method']} · {runs.run_id_of(r)}": runs.history(runs.run_id_of(r)) for r in same[:12]}
if any(h and "val_auprc" in h[-1] for h in hist.values()):
    st.plotly_chart(plots.compare_curves(hist, "val_auprc", title="test AUPRC per epoch"), key="waldo_ap")
else:
    st.caption("No per-epoch AUPRC recorded for these runs (it needs labels); Fig. 5 above shows the paper's.")
