"""Figure builders: pure functions of arrays, row ids in customdata, one figure per call."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from odcore import plots


def test_scatter_map_keeps_row_ids_per_trace():
    xy = np.random.default_rng(0).normal(size=(30, 2))
    ids = np.arange(100, 130)
    colour = np.r_[np.zeros(25, int), np.ones(5, int)]
    fig = plots.scatter_map(xy, ids, colour, color_name="label")
    assert all(isinstance(t, go.Scattergl) for t in fig.data)
    got = sorted(int(c) for t in fig.data for c in t.customdata)
    assert got == ids.tolist()  # every row appears once, across the split traces
    outliers = [t for t in fig.data if t.name == "outlier"][0]
    assert sorted(outliers.customdata.tolist()) == ids[25:].tolist()


def test_scatter_map_continuous_and_highlight():
    xy = np.zeros((10, 2))
    fig = plots.scatter_map(xy, np.arange(10), np.linspace(0, 1, 10), color_kind="continuous", highlight=[3])
    assert len(fig.data) == 2 and fig.data[1].name == "selected" and list(fig.data[1].customdata) == [3]


def test_histograms_and_curves():
    s = np.r_[np.zeros(10), np.ones(10)]
    y = np.r_[np.zeros(10, int), np.ones(10, int)]
    assert len(plots.score_histograms(s, y, threshold=0.5).data) == 2
    assert len(plots.score_histograms(s).data) == 1
    fig = plots.roc_pr(y, s + np.linspace(0, 0.1, 20), threshold=0.5)
    assert {t.name for t in fig.data} >= {"ROC", "PR", "threshold"}
    hist = [{"epoch": 1, "loss": 2.0, "val_auroc": 0.6, "lr": 1e-3}, {"epoch": 2, "loss": 1.0, "val_auroc": 0.8}]
    names = [t.name for t in plots.history_curves(hist).data]
    assert names == ["loss", "val_auroc"]
    assert len(plots.compare_curves({"a": hist, "b": hist}, "val_auroc").data) == 2


def test_montage_tiles_images():
    imgs = np.arange(3 * 4, dtype=float).reshape(3, 4) / 12  # three 2x2 grey images
    m = plots.montage(imgs, (1, 2, 2), ncols=2, pad=1)
    assert m.shape == (5, 5)
    assert m[0, 0] == pytest.approx(imgs[0, 0]) and m[3, 0] == pytest.approx(imgs[2, 0])
    assert m[3, 3] == 1.0  # the empty cell stays white
    fig = plots.image_rows({"input": imgs, "recon": imgs}, (1, 2, 2))
    assert len(fig.data) == 2


def test_boundary_panels_and_profile():
    xs = ys = np.linspace(-1, 1, 5)
    panel = {"title": "t", "xs": xs, "ys": ys, "z": np.arange(25.0).reshape(5, 5),
             "points": np.zeros((3, 2)), "adversarial": np.ones((2, 2))}
    fig = plots.boundary_panels([panel, {**panel, "adversarial": None}], cols=2)
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(heat) == 2 and np.asarray(heat[0].z).max() == 1.0
    prof = plots.row_profile(np.arange(7.0), {"inlier decoder": np.ones(7)}, list("MTWTFSS"))
    assert len(prof.data) == 3
