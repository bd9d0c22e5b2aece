"""DROCC boundary lab: DROCC, DROCC-LF, OC-SVM and Deep SVDD on the sine wave (2-D and noisy 10-D), as recipes."""

import streamlit as st

from odcore import recipes
from ui import figures, widgets

widgets.intro("DROCC boundary lab", "DROCC (Goyal et al., ICML 2020) assumes normal data lie on a low-dimensional "
              "manifold and trains a classifier against adversarial points searched on a shell of radius r to "
              "gamma·r around each training point (orange crosses). On the 2-D wave it calls the gaps between the "
              "arcs anomalous, where OC-SVM and Deep SVDD enclose the wave (Fig. 1a-b). On the noisy 10-D variant a "
              "Euclidean shell mostly moves points along the noise; DROCC-LF learns which coordinates matter from "
              "a few labelled negatives (Fig. 1c-d). Move r, gamma, mu, the ascent steps or the epochs under "
              "**Retrain live**: each setting is trained once in the background and kept.")

name = st.radio("Paper figure", recipes.names("boundary"), format_func=lambda n: recipes.get(n).label,
                horizontal=True, key="lab_figure")
figures.recipe_panel(name)
