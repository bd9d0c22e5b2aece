"""DROCC boundary lab: the sine wave, four detectors' decision maps side by side, adversarial points."""

import streamlit as st

from odcore import plots
from ui import state, widgets

widgets.intro("DROCC boundary lab", "DROCC (Goyal et al., ICML 2020) assumes normal data lie on a low-dimensional "
              "manifold and trains a classifier against adversarial points searched on a shell of radius r to "
              "gamma·r around each training point (orange crosses). Look at the gaps between the arcs of the wave: "
              "DROCC calls them anomalous, while OC-SVM encloses the whole wave in one blob (the paper shows Deep "
              "SVDD doing the same; our small bias-free network bends more). On the "
              "noisy 10-D variant plain DROCC struggles and DROCC-LF, which learns which features matter, does "
              "better (paper Fig. 1).")

PAPER = {"variant": "2-D sine wave", "radius": 0.2, "gamma": 2.0, "mu": 1.0, "steps": 5, "epochs": 30}


def _lab_task(progress, cancel, *, settings: dict):
    from odcore.recipes.boundary import boundary_lab

    return boundary_lab(progress=progress, cancel=cancel, **settings)


def _reproduce() -> None:
    for k, v in PAPER.items():
        st.session_state[f"lab_{k}"] = v


with st.form("lab_form"):
    c1, c2, c3 = st.columns(3)
    variant = c1.radio("Data", ["2-D sine wave", "noisy 10-D sine wave"], key="lab_variant")
    radius = c2.slider("r (shell radius)", 0.05, 1.0, 0.2, 0.05, key="lab_radius")
    gamma = c3.slider("gamma (outer radius = gamma·r)", 1.0, 4.0, 2.0, 0.25, key="lab_gamma")
    c4, c5, c6 = st.columns(3)
    mu = c4.slider("mu (weight of the adversarial loss)", 0.1, 2.0, 1.0, 0.1, key="lab_mu")
    steps = c5.slider("ascent steps per batch", 1, 50, 5, key="lab_steps",
                      help="the paper uses 50; 5 keeps a redraw well under 20 s on 2 CPU cores")
    epochs = c6.slider("epochs (5 of them cross-entropy only)", 6, 60, 30, key="lab_epochs")
    go = st.form_submit_button("Redraw boundary", type="primary")
st.button("Reproduce figure (paper Fig. 1 settings, fewer ascent steps)", on_click=_reproduce, key="lab_repro")

settings = dict(noisy=variant.startswith("noisy"), radius=radius, gamma=gamma, mu=mu, ascent_steps=steps,
                epochs=epochs)
if go:
    from functools import partial

    task = partial(_lab_task, settings=dict(settings))
    st.session_state["lab_job"] = state.registry().submit_task(task, owner=state.owner(), title="DROCC boundary lab")
    st.rerun()  # the sidebar tray picks the job up and polls


def _show() -> None:
    job_id = st.session_state.get("lab_job")
    if not job_id:
        st.info("Press **Redraw boundary** to train the four detectors on the wave.")
        return
    job = widgets.guarded(lambda: state.registry().get(job_id))
    if job is None:
        return
    if job.active:
        st.progress(float(job.progress or 0.0), text=f"training ... {job.elapsed:.0f} s")
        return
    if job.state == "failed":
        st.error(job.error)
        return
    if job.state != "done" or job.result is None:
        st.warning(f"The last redraw was {job.state}.")
        return
    res = job.result
    panels = [{**p, "title": f"{p['title']} · AUROC {p['auroc']:.2f}" if p["auroc"] == p["auroc"] else p["title"],
               "xs": res["xs"], "ys": res["ys"], "points": res["points"]} for p in res["panels"]]
    st.plotly_chart(plots.boundary_panels(panels), key="lab_fig")
    for p in res["panels"]:
        if p.get("error"):
            st.warning(f"{p['title']}: {p['error']}")
    st.caption("Colour: each detector's anomaly score over the grid as a rank (blue = normal, red = anomalous). "
               "AUROC on 600 labelled points on and off the wave. Seconds: " +
               ", ".join(f"{p['title']} {p['seconds']:.1f}" for p in res["panels"]) +
               (" · noise coordinates fixed at 0 in the grid." if res["noisy"] else ""))


busy = False
if st.session_state.get("lab_job"):
    j = widgets.guarded(lambda: state.registry().get(st.session_state["lab_job"]))
    busy = bool(j and j.active)
st.fragment(run_every=1.0 if busy else None)(_show)()
