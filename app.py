"""Outlier Lab: a browser lab for deep outlier detection (entry point: ``streamlit run app.py``).

Start-up imports only Streamlit and the light helpers; torch, umap and openTSNE load with the
first page that needs them.
"""

import streamlit as st

from ui import tray

st.set_page_config(page_title="Outlier Lab", page_icon="🔎", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/data.py", title="Data", icon="📄"),
    st.Page("pages/train.py", title="Train", icon="🏋️"),
    st.Page("pages/scores.py", title="Scores", icon="📊"),
    st.Page("pages/latent.py", title="Latent map", icon="🗺️"),
    st.Page("pages/boundary.py", title="DROCC boundary lab", icon="🌊"),
    st.Page("pages/waldo.py", title="WALDO decoders", icon="🎭"),
    st.Page("pages/flagged.py", title="Flagged rows", icon="🚩"),
    st.Page("pages/compare.py", title="Compare", icon="⚖️"),
]

page = st.navigation(PAGES)
tray.render()
page.run()
