"""Scores: histograms normal vs anomalous and the threshold workbench (no retraining)."""

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
df = widgets.guarded(lambda: runs.scores(rid))
if df is None or len(df) == 0:
    st.warning("This run has no scores.")
    st.stop()
s = df["score"].to_numpy()
y = df["label"].to_numpy() if "label" in df and df["label"].notna().all() else None


@st.cache_data(show_spinner=False, max_entries=16)
def _warnings(run_id: str) -> list[str]:
    return sanity.sanity_warnings(s, y, runs.history(run_id), runs.method_of(run_id))


widgets.warnings(_warnings(rid))

lo, hi, step = thresholds.slider_range(s)
model_thr = (runs.config(rid).get("state") or {}).get("threshold_")
default = thresholds.threshold_for(s, "contamination", float(y.mean()) if y is not None and 0 < y.mean() < 1
                                  else 0.1)
key = f"thr-{rid}"
if key not in st.session_state:
    st.session_state[key] = min(max(state.threshold(rid, default), lo), hi)


def _preset() -> None:
    preset, value = st.session_state["scores_preset"], float(st.session_state["scores_preset_value"])
    try:
        t = thresholds.threshold_for(s, preset, value / 100.0 if preset in ("contamination", "fpr") else value, y)
    except Exception as err:  # noqa: BLE001
        st.session_state["scores_preset_error"] = str(err)
        return
    st.session_state.pop("scores_preset_error", None)
    st.session_state[key] = min(max(t, lo), hi)


c1, c2, c3 = st.columns([2, 1, 1])
c1.selectbox("Threshold preset", list(thresholds.PRESETS), key="scores_preset",
             format_func=lambda p: f"{p}: {thresholds.PRESETS[p]}")
c2.number_input("value (% for share and FPR)", value=10.0, key="scores_preset_value", format="%g")
c3.button("Apply preset", on_click=_preset, key="scores_apply")
if st.session_state.get("scores_preset_error"):
    st.error(st.session_state["scores_preset_error"])
thr = st.slider("Threshold (flag score > threshold)", lo, hi, step=step, key=key, format="%.4g")
state.set_threshold(rid, thr)

m = thresholds.at_threshold(s, thr, y)
cols = st.columns(6)
cols[0].metric("flagged", f"{m['flagged']:,} / {m['n']:,}", f"{100 * m['share']:.1f}%", delta_color="off")
if y is not None:
    for c, k in zip(cols[1:], ("precision", "recall", "f1", "auroc", "auprc")):
        v = m[k]
        c.metric(k, "-" if v != v else f"{v:.3f}")
    st.caption(f"tp {m['tp']} · fp {m['fp']} · tn {m['tn']} · fn {m['fn']} · false-positive rate "
               f"{m['fpr']:.3f} · precision at 10: {m['precision_at_10']:.2f}")
else:
    cols[1].caption("No labels in this run: only counts are shown.")

st.plotly_chart(plots.score_histograms(s, y, threshold=thr), key="scores_hist")
if y is not None and 0 < y.sum() < y.size:
    st.plotly_chart(plots.roc_pr(y, s, threshold=thr), key="scores_rocpr")  # ~10 ms: curves + one marker
if model_thr is not None:
    st.caption(f"The model's own threshold from its contamination parameter: {float(model_thr):.4g}.")
