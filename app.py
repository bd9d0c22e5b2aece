"""Outlier Lab: a browser lab for deep outlier detection (entry point: ``streamlit run app.py``).

Start-up imports only Streamlit and the light helpers; torch, umap and openTSNE load with the
first page that needs them.
"""

import streamlit as st

from ui import tray

st.set_page_config(page_title="Outlier Lab", page_icon=":material/search:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/data.py", title="Data", icon=":material/table_view:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/scores.py", title="Scores", icon=":material/bar_chart:"),
    st.Page("pages/latent.py", title="Latent map", icon=":material/scatter_plot:"),
    st.Page("pages/boundary.py", title="DROCC boundary lab", icon=":material/waves:"),
    st.Page("pages/waldo.py", title="WALDO decoders", icon=":material/compare:"),
    st.Page("pages/flagged.py", title="Flagged rows", icon=":material/flag:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/balance:"),
]

page = st.navigation(PAGES)
tray.render()
page.run()
