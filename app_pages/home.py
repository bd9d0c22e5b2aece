"""Home: what the lab is and where to start."""

import streamlit as st

st.title("Outlier Lab")
st.markdown(
    "Outlier Lab trains deep outlier detectors — **WALDO** (a Wasserstein autoencoder with an inlier and an "
    "outlier decoder), **DROCC / DROCC-LF** (adversarial one-class classifiers), **ALAD**, **OC-NN** and "
    "**Deep SVDD** — next to classical baselines (Isolation Forest, LOF, OC-SVM, k-NN, PCA), and shows *why* a "
    "point is called an outlier: latent maps, score histograms, decision boundaries and decoder reconstructions.")

st.subheader("Where to start")
c1, c2, c3 = st.columns(3)
with c1:
    st.markdown("**1 · Data**  \nPick a built-in set (the DROCC sine wave, digits, the retail panel), a file by "
                "path or an upload. Bad files get a message that says how to fix them.")
    st.page_link("app_pages/data.py", label="Open Data", icon=":material/table_view:")
with c2:
    st.markdown("**2 · Train**  \nChoose a protocol and a method; the papers' defaults are filled in. Training "
                "runs in the background: watch the curves here or in the sidebar tray.")
    st.page_link("app_pages/train.py", label="Open Train", icon=":material/model_training:")
with c3:
    st.markdown("**3 · Look**  \nScores and a threshold workbench, the latent map, WALDO's decoders, and flagged "
                "rows for analysts with a CSV export.")
    st.page_link("app_pages/scores.py", label="Open Scores", icon=":material/bar_chart:")

st.subheader("Paper figures you can reproduce")
st.markdown("Each page below has a **Reproduce figure** button: it shows the figure at once from a small teaching "
            "run shipped with the lab and its verdict — :green-background[reproduced] with the paper's own variant, "
            ":orange-background[only with our extension], or :red-background[not reproduced] — and lets you "
            "retrain it live with other settings. `python -m bench.figures NAME` runs the full budget.")

#: cell colours of the verdicts (the same colours as the verdict boxes on the figures' pages)
CELL = {"green": "background-color: #d5f0dc", "orange": "background-color: #ffe4c2",
        "red": "background-color: #fbd3d3"}


@st.cache_data(show_spinner=False)
def _figures() -> tuple[list[dict], list[str]]:
    """One row per figure recipe with its shipped run's verdict (framework.verdict), and each row's cell style."""
    from odcore import recipes
    from odcore.recipes import framework
    from ui import pages

    rows, styles = [], []
    for name, r in recipes.all_recipes().items():
        ship = framework.shipped(name)
        rows.append({"paper": r.paper or "all", "figure": r.figure, "what": r.title, "page": pages.title(r.page),
                     "verdict (teaching run)": ship.verdict.label if ship else "not shipped",
                     "teaching budget": r.training.budget("teaching").what})
        styles.append(CELL[ship.verdict.colour] if ship else "")
    return rows, styles


def _table():
    import pandas as pd

    rows, styles = _figures()
    col = "verdict (teaching run)"
    return pd.DataFrame(rows).style.apply(lambda s: styles if s.name == col else [""] * len(s), axis=0)


st.dataframe(_table(), hide_index=True, width="stretch")
st.markdown("- WALDO Fig. 3: the retail case study ranked by inlier-decoder error — **Flagged rows**.")
st.caption("Everything also runs headless: `python -m odcore datasets | train | score | runs | bench`.")
