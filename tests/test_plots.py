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
    assert len(plots.compare_curves({"a": hist, "b": hist}, "val_auroc").data) == 2


def _panel_titles(fig) -> list[str]:
    return [a.text for a in fig.layout.annotations]


def test_training_curves_plot_no_counter_and_one_panel_per_quantity():
    """Regression (issue 23): the Train page drew ``phase_epoch`` (0 to N) as a loss and flattened every real
    loss; WALDO's twelve series shared two axes. Counters (by name, or all-integer fields such as DROCC's
    gradient evaluations) get no trace; each quantity gets its own panel on one shared epoch axis."""
    hist = [{"epoch": e, "epochs": 6, "phase": "train", "phase_epoch": e, "loss": 10.0 / e, "loss_rec_p": 1.0 / e,
             "grad_evals": 50 * e, "best_epoch": 1, "lr": 1e-3, "seconds": 0.1, "val_auroc": 0.5 + e / 20}
            for e in range(1, 7)]
    fig = plots.training_curves(hist)
    assert _panel_titles(fig) == ["loss", "loss_rec_p", "test AUROC"]
    plotted = [list(t.y) for t in fig.data]
    assert len(fig.data) == 3
    assert [1, 2, 3, 4, 5, 6] not in plotted and [50, 100, 150, 200, 250, 300] not in plotted  # no counter
    assert plotted[0] == [10.0 / e for e in range(1, 7)]
    # each trace on its own axes, all panels on one epoch axis
    assert len({(t.xaxis, t.yaxis) for t in fig.data}) == 3
    xaxes = [k for k in fig.layout.to_plotly_json() if k.startswith("xaxis")]
    assert all(fig.layout[k].matches in (None, "x") for k in xaxes) and any(fig.layout[k].matches == "x" for k in xaxes)
    assert plots.curve_quantities(hist) == ["loss", "loss_rec_p", "val_auroc"]


def test_training_curves_split_a_loss_that_two_phases_share():
    """Deep SVDD logs its autoencoder pretraining and its hypersphere training both as ``loss``: one panel per
    phase (one scale never holds two losses), the phases in their own colours, the metric on one panel."""
    hist = [{"epoch": e, "phase": "pretrain" if e <= 3 else "train", "loss": 100.0 if e <= 3 else 0.01,
             **({"val_auroc": 0.7} if e > 3 else {})} for e in range(1, 7)]
    fig = plots.training_curves(hist, title=None)
    assert _panel_titles(fig) == ["loss · pretrain", "loss · train", "test AUROC"]
    assert {t.name for t in fig.data} == {"pretrain", "train"}
    assert fig.data[0].line.color != fig.data[1].line.color
    assert len(plots.training_curves([], title=None).data) == 0


def test_montage_tiles_images_with_light_gaps():
    imgs = np.arange(3 * 4, dtype=float).reshape(3, 4) / 12  # three 2x2 grey images
    m = plots.montage(imgs, (1, 2, 2), ncols=2, pad=1)
    assert m.shape == (5, 5)
    assert m[0, 0] == pytest.approx(imgs[0, 0]) and m[3, 0] == pytest.approx(imgs[2, 0])
    # gaps and the empty cell are NaN (drawn in the light gap colour), never a grey level a stroke could have
    assert np.isnan(m[2, :]).all() and np.isnan(m[:, 2]).all() and np.isnan(m[3:, 3:]).all()


def test_image_rows_keep_aspect_fixed_grey_scale_and_label_each_band():
    imgs = np.random.default_rng(0).uniform(0.2, 0.4, size=(4, 28 * 28))  # dim images: no auto-contrast
    fig = plots.image_rows({"inputs": imgs, "→ inlier decoder": imgs}, (1, 28, 28), ncols=4)
    (heat,) = fig.data
    assert (heat.zmin, heat.zmax) == (0.0, 1.0) and heat.showscale is False
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis.scaleratio == 1  # square pixels
    assert list(fig.layout.yaxis.ticktext) == ["inputs", "→ inlier decoder"]
    z = np.asarray(heat.z, dtype=float)
    assert np.isnan(z).any() and fig.layout.plot_bgcolor == plots.GAP_COLOUR  # gaps show the light colour
    assert fig.layout.width > 4 * 28 and fig.layout.height > 2 * 28  # sized by the tiles, not stretched


def test_legends_sit_above_the_plot_area():
    """Legends never cover data or axis titles: they sit above the plot (y >= 1)."""
    s = np.r_[np.zeros(10), np.ones(10)]
    y = np.r_[np.zeros(10, int), np.ones(10, int)]
    for fig in (plots.score_histograms(s, y), plots.ap_per_epoch({"curves": {"a": {
            "epoch": [1, 2], "mean": [0.1, 0.2], "low": [0.1, 0.2], "high": [0.1, 0.2]}}})):
        assert fig.layout.legend.y >= 1.0 and fig.layout.legend.yanchor == "bottom"


def test_boundary_panels_share_axes_and_drop_points_outside_the_grid():
    xs = ys = np.linspace(-1, 1, 5)
    panel = {"title": "t", "xs": xs, "ys": ys, "z": np.arange(25.0).reshape(5, 5),
             "points": np.zeros((3, 2)), "adversarial": np.array([[0.5, 0.5], [9.0, 9.0]])}
    fig = plots.boundary_panels([panel, {**panel, "adversarial": None}], cols=2)
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(heat) == 2 and np.asarray(heat[0].z).max() == 1.0
    adv = [t for t in fig.data if t.name == "generated negatives"][0]
    assert list(adv.x) == [0.5]  # the far point would have stretched this panel's axes
    assert fig.layout.xaxis.range == fig.layout.xaxis2.range == (-1.0, 1.0)
    assert fig.layout.yaxis.range == fig.layout.yaxis2.range == (-1.0, 1.0)


def test_row_profile():
    prof = plots.row_profile(np.arange(7.0), {"inlier decoder": np.ones(7)}, list("MTWTFSS"))
    assert len(prof.data) == 3


def test_latent_maps_share_one_axis_range():
    rng = np.random.default_rng(0)
    panels = [{"title": f"m{i}", "xy": rng.normal(scale=1 + 3 * i, size=(20, 2)), "label": [0] * 10 + [1] * 10}
              for i in range(3)]
    fig = plots.latent_maps({"panels": panels}, cols=3)
    ranges = {tuple(fig.layout[f"xaxis{'' if i == 0 else i + 1}"].range) for i in range(3)}
    assert len(ranges) == 1


def test_decoder_swap_labels_each_decoder_with_its_error():
    im = np.zeros((2, 4))
    tiles = {g: {"input": im, "inlier": im, "outlier": im} for g in ("inliers", "outliers")}
    data = {"shape": [1, 2, 2], "tiles": tiles,
            "errors": {"inliers": {"inlier": 0.01, "outlier": 0.05}, "outliers": {"inlier": 0.07, "outlier": 0.02}}}
    labels = list(plots.decoder_swap(data).layout.yaxis.ticktext)
    assert labels == ["real inliers", "→ inlier decoder (MSE 0.010)", "→ outlier decoder (MSE 0.050)",
                      "real outliers", "→ inlier decoder (MSE 0.070)", "→ outlier decoder (MSE 0.020)"]


def test_roc_legend_sits_below_the_panel_titles():
    """The ROC / PR panels' titles sit on top: the legend goes below the axes (issue 23: it covered "ROC")."""
    y = np.r_[np.zeros(10, int), np.ones(10, int)]
    s = np.r_[np.zeros(10), np.ones(10)] + np.linspace(0, 0.1, 20)
    for fig in (plots.roc_pr(y, s, threshold=0.5), plots.compare_roc({"a": (y, s), "b": (y, -s)})):
        assert fig.layout.legend.y < 0 and fig.layout.legend.yanchor == "top"
    assert plots.score_histograms(s, y).layout.yaxis.title.text  # the histogram's y axis says what it counts
