"""Scores: histograms normal vs anomalous and the threshold workbench (no retraining)."""

import time

import streamlit as st

from odcore import plots, recipes
from odcore.analysis import sanity, thresholds
from ui import figures, runs, state, widgets

widgets.intro("Scores", "Every detector outputs an anomaly score (higher = more anomalous); where the score "
              "distributions of normal and anomalous rows overlap, no threshold can separate them (the OC-NN "
              "paper's Figs. 3-4), and one model can be scored several ways (ALAD's score ablation). Move the "
              "threshold to trade missed outliers against false alarms; the counts and metrics update without "
              "retraining, and Flagged rows uses the same threshold.")

with st.expander("Paper figures: OC-NN Figs. 3-4 and ALAD's score ablation", expanded=True):
    name = st.radio("Paper figure", recipes.names("scores"), format_func=lambda n: recipes.get(n).label,
                    horizontal=True, key="scores_figure")
    figures.recipe_panel(name)

st.header("Your runs")
rid = widgets.run_picker(key="scores_run")
if rid is None:
    st.stop()
view = widgets.guarded(lambda: runs.score_view(rid))  # the run's scores as arrays, read once per run
if view is None or view.n == 0:
    st.warning("This run has no scores.")
    st.stop()


@st.cache_data(show_spinner=False, max_entries=16)
def _warnings(run_id: str) -> list[str]:
    return sanity.sanity_warnings(view.scores, view.labels, runs.history(run_id), runs.method_of(run_id))


widgets.warnings(_warnings(rid))
lo, hi, step = thresholds.slider_range(view.scores)
key = f"thr-{rid}"
if key not in st.session_state:  # the threshold and the preset fields start in agreement
    st.session_state[key] = min(max(state.threshold(rid, view.default_threshold), lo), hi)
    st.session_state["scores_preset"] = "contamination"
    st.session_state["scores_preset_value"] = round(100 * view.at(st.session_state[key])["share"], 1)


def _preset() -> None:
    preset, value = st.session_state["scores_preset"], float(st.session_state["scores_preset_value"])
    try:
        t = thresholds.threshold_for(view.scores, preset, value / 100.0 if preset in ("contamination", "fpr")
                                     else value, view.labels)
    except Exception as err:  # noqa: BLE001
        st.session_state["scores_preset_error"] = str(err)
        return
    st.session_state.pop("scores_preset_error", None)
    st.session_state[key] = min(max(t, lo), hi)


@st.fragment  # a slider move or a preset reruns this part only: the page above stays as it is
def workbench() -> None:
    t0, c0 = time.perf_counter(), time.thread_time()
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    c1.selectbox("Threshold preset", list(thresholds.PRESETS), key="scores_preset",
                 format_func=lambda p: f"{p}: {thresholds.PRESETS[p]}")
    c2.number_input("value (% for share and FPR)", key="scores_preset_value", format="%g")
    c3.button("Apply preset", on_click=_preset, key="scores_apply")
    if st.session_state.get("scores_preset_error"):
        st.error(st.session_state["scores_preset_error"])
    thr = st.slider("Threshold (flag score > threshold)", lo, hi, step=step, key=key, format="%.4g")
    state.set_threshold(rid, thr)
    m = view.at(thr)
    cols = st.columns([2, 1, 1, 1, 1, 1])  # the flagged count is the widest: "1,619 / 1,672"
    cols[0].metric("flagged", f"{m['flagged']:,} / {m['n']:,}", f"{100 * m['share']:.1f}%", delta_color="off")
    if view.labels is not None:
        for c, k in zip(cols[1:], ("precision", "recall", "f1", "auroc", "auprc")):
            v = m[k]
            c.metric(k, "-" if v != v else f"{v:.3f}")
        st.caption(f"tp {m['tp']:,} · fp {m['fp']:,} · tn {m['tn']:,} · fn {m['fn']:,} · false-positive rate "
                   f"{m['fpr']:.3f} · precision at 10: {m['precision_at_10']:.2f}")
    else:
        cols[1].caption("No labels in this run: only counts are shown.")
    st.plotly_chart(plots.score_histograms(view.scores, view.labels, threshold=thr), key="scores_hist")  # 100 bars
    if view.has_both_classes:
        st.plotly_chart(plots.roc_pr(view.labels, view.scores, threshold=thr), key="scores_rocpr")
    state.log_script_time(state.owner(), "Scores workbench", time.perf_counter() - t0)  # bench.app_speed --slider
    state.log_script_time(state.owner(), "Scores workbench cpu", time.thread_time() - c0)


workbench()
model_thr = (runs.config(rid).get("state") or {}).get("threshold_")
if model_thr is not None:
    st.caption(f"The model's own threshold from its contamination parameter: {float(model_thr):.4g}.")
