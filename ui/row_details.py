"""Details of one row of a run (the Latent page's selected point): its values or image, each decoder's
reconstruction, per-feature errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from odcore import plots
from odcore.analysis import analyst
from ui import runs, widgets


def reconstructions(model, x: np.ndarray) -> dict[str, np.ndarray]:
    """Each decoder's reconstruction of ``x`` (the model's declared decoders; none for most detectors)."""
    decoders = model.capabilities().decoders
    label = (lambda d: f"{d} decoder") if len(decoders) > 1 else (lambda d: "reconstruction")
    return {label(d): np.asarray(model.reconstruct(x, decoder=d)["reconstruction"]) for d in decoders}


def row_details(run_id: str, row_id: int) -> None:
    ds, split = runs.data_split(run_id)
    df = runs.scores(run_id)
    row = df[df["row_id"] == row_id].iloc[0]
    st.subheader(f"Row {row_id}")
    bits = [f"score **{row['score']:.4g}**"]
    if "label" in row:
        bits.append(f"true label **{'outlier' if row['label'] == 1 else 'inlier'}**")
    if "decoder" in row:
        bits.append(f"winning decoder **{'outlier' if row['decoder'] == 1 else 'inlier'}**")
    st.markdown(" · ".join(bits))
    x = runs.test_rows(run_id, [row_id])
    model = runs.model(run_id)
    recs = widgets.guarded(lambda: reconstructions(model, x)) or {}
    if ds.kind == "image" and ds.image_shape is not None:
        imgs = {"input": split.inverse_transform(x)}
        imgs.update({k: split.inverse_transform(v) for k, v in recs.items()})
        st.plotly_chart(plots.image_rows(imgs, ds.image_shape, ncols=1), key=f"img-{run_id}-{row_id}")
        return
    names = list(ds.feature_names)
    values = split.inverse_transform(x)[0]
    recs_o = {k: split.inverse_transform(v)[0] for k, v in recs.items()}
    if not recs_o:
        st.dataframe(pd.DataFrame([values], columns=names))
        return
    if len(names) <= 40:  # wider rows: the error table below is easier to read than a profile
        st.plotly_chart(plots.row_profile(values, recs_o, names), key=f"profile-{run_id}-{row_id}")
    first = next(iter(recs_o))
    st.markdown(widgets.plain(analyst.explain_row(values, recs_o[first], names), 800))  # names are the user's
    errs = analyst.per_feature_errors(values, recs_o)
    table = pd.DataFrame({"feature": names, "value": values, **{f"{k} error": v for k, v in errs.items()}})
    st.dataframe(table.sort_values(f"{first} error", ascending=False).head(20), hide_index=True)
