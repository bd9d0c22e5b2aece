"""Plotly figure builders: pure functions of arrays and frames, no Streamlit, no torch.

Scatter plots are WebGL (``Scattergl``) and carry the dataset row id in ``customdata`` so that a
selection maps back to rows even when colours split the points into several traces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

INLIER_COLOUR = "#4c78a8"
OUTLIER_COLOUR = "#e45756"
PALETTE = ["#4c78a8", "#e45756", "#54a24b", "#f58518", "#b279a2", "#72b7b2", "#eeca3b", "#9d755d",
           "#ff9da6", "#bab0ac"]
LABEL_NAMES = {0: "inlier", 1: "outlier"}


def _layout(fig: go.Figure, title: str | None = None, height: int = 420) -> go.Figure:
    # no per-figure template: validating one costs ~20 ms, and Streamlit applies its own theme
    fig.update_layout(title=title, height=height, margin=dict(l=40, r=20, t=50 if title else 20, b=40),
                      legend=dict(orientation="h", y=-0.15))
    return fig


def _two_panels(titles: tuple[str, str], gap: float = 0.1) -> dict[str, Any]:
    """Layout of two side-by-side panels (axes x/y and x2/y2) without ``make_subplots`` (~20 ms)."""
    half = (1.0 - gap) / 2
    ann = [dict(text=t, x=c, y=1.0, xref="paper", yref="paper", xanchor="center", yanchor="bottom",
                showarrow=False, font=dict(size=14)) for t, c in zip(titles, (half / 2, 1 - half / 2))]
    return dict(xaxis=dict(domain=[0, half]), yaxis=dict(anchor="x"),
                xaxis2=dict(domain=[1 - half, 1], anchor="y2"), yaxis2=dict(anchor="x2"), annotations=ann)


def _categorical_colours(values: Sequence[Any]) -> dict[Any, str]:
    cats = list(dict.fromkeys(values))
    if set(cats) <= {0, 1, "inlier", "outlier"}:
        return {c: OUTLIER_COLOUR if c in (1, "outlier") else INLIER_COLOUR for c in cats}
    return {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(sorted(cats, key=str))}


def scatter_map(xy: Any, row_ids: Any, color: Any = None, *, color_kind: str = "categorical",
                color_name: str = "", hover: Sequence[str] | None = None, title: str | None = None,
                marker_size: int = 5, highlight: Sequence[int] = (), height: int = 520,
                colours: Mapping[Any, str] | None = None) -> go.Figure:
    """A 2-D WebGL scatter of ``xy`` (n, 2) with ``row_ids`` in ``customdata``.

    ``color_kind`` "categorical" draws one trace per value (legend; ``colours`` may fix a colour
    per value); "continuous" one trace with a colour bar. ``hover`` is one text per point. Rows in
    ``highlight`` get a ring on top.
    """
    xy = np.asarray(xy, dtype=np.float64)
    ids = np.asarray(row_ids).ravel()
    n = xy.shape[0]
    texts = np.asarray(hover if hover is not None else [f"row {i}" for i in ids], dtype=object)
    fig = go.Figure()
    if color is None:
        fig.add_trace(go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers", customdata=ids, text=texts,
                                   hovertemplate="%{text}<extra></extra>", name="rows",
                                   marker=dict(size=marker_size, color=INLIER_COLOUR, opacity=0.75)))
    elif color_kind == "continuous":
        c = np.asarray(color, dtype=np.float64).ravel()
        fig.add_trace(go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers", customdata=ids, text=texts,
                                   hovertemplate="%{text}<extra></extra>", name=color_name or "value",
                                   marker=dict(size=marker_size, color=c, colorscale="Viridis", opacity=0.8,
                                               colorbar=dict(title=color_name or ""))))
    else:
        c = np.asarray(color, dtype=object).ravel()
        colours = {**_categorical_colours(c.tolist()), **(colours or {})}
        # inliers first so that the rarer outliers are drawn on top
        for value in sorted(set(c.tolist()), key=lambda v: ("outlier" in str(v) or str(v) == "1", str(v))):
            m = c == value
            label = LABEL_NAMES.get(value, str(value)) if color_name in ("label", "predicted") else str(value)
            fig.add_trace(go.Scattergl(x=xy[m, 0], y=xy[m, 1], mode="markers", customdata=ids[m], text=texts[m],
                                       hovertemplate="%{text}<extra></extra>", name=label,
                                       marker=dict(size=marker_size, color=colours[value], opacity=0.8)))
    if len(highlight):
        pos = np.flatnonzero(np.isin(ids, np.asarray(highlight)))
        if pos.size:
            fig.add_trace(go.Scattergl(x=xy[pos, 0], y=xy[pos, 1], mode="markers", customdata=ids[pos],
                                       name="selected", hoverinfo="skip",
                                       marker=dict(size=marker_size * 3, color="rgba(0,0,0,0)",
                                                   line=dict(color="black", width=2))))
    fig.update_layout(dragmode="pan" if n > 20000 else "zoom", clickmode="event+select")
    return _layout(fig, title, height)


def score_histograms(scores: Any, y: Any = None, *, threshold: float | None = None, bins: int = 50,
                     title: str | None = "Decision scores", x_title: str = "anomaly score (higher = more anomalous)"
                     ) -> go.Figure:
    """Overlaid histograms of scores, normal vs anomalous when labels exist (OC-NN Figs. 3-5)."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    fig = go.Figure()
    lo, hi = (float(s.min()), float(s.max())) if s.size else (0.0, 1.0)
    size = (hi - lo) / bins if hi > lo else 1.0
    xbins = dict(start=lo, end=hi + size, size=size)
    if y is None:
        fig.add_trace(go.Histogram(x=s, name="all rows", marker_color=INLIER_COLOUR, xbins=xbins))
    else:
        yy = np.asarray(y).ravel()
        for value, name, colour in ((0, "normal", INLIER_COLOUR), (1, "anomalous", OUTLIER_COLOUR)):
            fig.add_trace(go.Histogram(x=s[yy == value], name=f"{name} ({int((yy == value).sum())})",
                                       marker_color=colour, opacity=0.6, xbins=xbins,
                                       histnorm="probability density"))
        fig.update_layout(barmode="overlay")
    if threshold is not None:
        fig.add_vline(x=float(threshold), line_dash="dash", line_color="black",
                      annotation_text="threshold", annotation_position="top")
    fig.update_xaxes(title=x_title)
    return _layout(fig, title, 380)


def roc_pr(y: Any, scores: Any, *, threshold: float | None = None) -> go.Figure:
    """ROC and precision-recall curves side by side, the threshold's operating point marked."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    yy = np.asarray(y).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    fpr, tpr, _ = roc_curve(yy, s)
    prec, rec, _ = precision_recall_curve(yy, s)
    traces = [go.Scatter(x=fpr, y=tpr, mode="lines", name="ROC", line_color=INLIER_COLOUR),
              go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line=dict(dash="dot", color="grey")),
              go.Scatter(x=rec, y=prec, mode="lines", name="PR", line_color=OUTLIER_COLOUR, xaxis="x2", yaxis="y2")]
    if threshold is not None and 0 < yy.sum() < yy.size:
        pred = s > threshold
        tp = float(np.sum(pred & (yy == 1)))
        fp = float(np.sum(pred & (yy == 0)))
        r = tp / max(yy.sum(), 1)
        p = tp / (tp + fp) if tp + fp else 1.0
        f = fp / max((yy == 0).sum(), 1)
        mark = dict(size=11, color="black")
        traces += [go.Scatter(x=[f], y=[r], mode="markers", name="threshold", marker=mark),
                   go.Scatter(x=[r], y=[p], mode="markers", name="threshold", showlegend=False, marker=mark,
                              xaxis="x2", yaxis="y2")]
    layout = _two_panels(("ROC", "Precision-recall"))
    layout["xaxis"]["title"] = "false-positive rate"
    layout["yaxis"]["title"] = "true-positive rate"
    layout["xaxis2"]["title"] = "recall"
    layout["yaxis2"]["title"] = "precision"
    fig = go.Figure(traces, layout=layout)
    return _layout(fig, None, 360)


def history_curves(history: Sequence[Mapping[str, Any]], keys: Sequence[str] | None = None, *,
                   title: str | None = "Training curves") -> go.Figure:
    """One line per numeric history field (losses, validation metrics) against the epoch."""
    skip = {"epoch", "epochs", "lr", "seconds"}
    if keys is None:
        keys = []
        for h in history:
            for k, v in h.items():
                if k not in skip and k not in keys and isinstance(v, (int, float)) and not isinstance(v, bool):
                    keys.append(k)
    fig = go.Figure()
    epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    for k in keys:
        vals = [h.get(k) for h in history]
        axis = "y2" if k.startswith("val_") else "y"
        fig.add_trace(go.Scatter(x=epochs, y=vals, mode="lines+markers", name=k, yaxis=axis))
    fig.update_layout(xaxis_title="epoch", yaxis_title="loss",
                      yaxis2=dict(title="validation metric", overlaying="y", side="right", range=[0, 1.02]))
    return _layout(fig, title, 360)


def compare_curves(histories: Mapping[str, Sequence[Mapping[str, Any]]], key: str, *,
                   title: str | None = None) -> go.Figure:
    """The same history field for several runs (e.g. average precision per epoch, WALDO Fig. 5)."""
    fig = go.Figure()
    for name, hist in histories.items():
        pts = [(h.get("epoch", i + 1), h.get(key)) for i, h in enumerate(hist) if h.get(key) is not None]
        if pts:
            x, y = zip(*pts)
            fig.add_trace(go.Scatter(x=list(x), y=list(y), mode="lines", name=name))
    fig.update_layout(xaxis_title="epoch", yaxis_title=key)
    return _layout(fig, title or key, 380)


def boundary_panels(panels: Sequence[Mapping[str, Any]], *, cols: int = 4, height: int = 360) -> go.Figure:
    """Heat maps of decision scores over a 2-D grid, side by side.

    Each panel: ``title``, ``xs`` (gx,), ``ys`` (gy,), ``z`` (gy, gx) anomaly scores, ``points``
    (n, 2) training data, optional ``adversarial`` (m, 2). Scores are rank-normalised per panel
    (0 = most normal, 1 = most anomalous) so that detectors on different scales compare.
    """
    rows = (len(panels) + cols - 1) // cols
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[p["title"] for p in panels],
                        horizontal_spacing=0.04, vertical_spacing=0.12)
    adv_legend = True
    for i, p in enumerate(panels):
        r, c = i // cols + 1, i % cols + 1
        z = np.asarray(p["z"], dtype=np.float64)
        ranks = z.ravel().argsort().argsort().reshape(z.shape) / max(z.size - 1, 1)
        fig.add_trace(go.Heatmap(x=p["xs"], y=p["ys"], z=ranks, colorscale="RdBu_r", zmin=0, zmax=1,
                                 showscale=i == len(panels) - 1, colorbar=dict(title="anomaly<br>rank"),
                                 hovertemplate="x1=%{x:.2f}<br>x2=%{y:.2f}<br>rank=%{z:.2f}<extra></extra>"), r, c)
        pts = np.asarray(p["points"])
        fig.add_trace(go.Scatter(x=pts[:, 0], y=pts[:, 1], mode="markers", name="training data",
                                 showlegend=i == 0, marker=dict(size=3, color="black")), r, c)
        adv = p.get("adversarial")
        if adv is not None and len(adv):
            adv = np.asarray(adv)
            fig.add_trace(go.Scatter(x=adv[:, 0], y=adv[:, 1], mode="markers", name="adversarial points",
                                     showlegend=adv_legend, marker=dict(size=4, color="#f58518", symbol="x")), r, c)
            adv_legend = False
    fig.update_layout(height=height * rows, margin=dict(l=30, r=20, t=40, b=30),
                      legend=dict(orientation="h", y=-0.08))
    return fig


def montage(images: Any, shape: Sequence[int], *, ncols: int = 10, pad: int = 1) -> np.ndarray:
    """Tile flattened images (n, C*H*W) into one (rows*H, cols*W) grey or RGB array in [0, 1]."""
    imgs = np.asarray(images, dtype=np.float64)
    c, h, w = (list(shape) + [1, 1, 1])[:3] if len(shape) == 3 else (1, *shape)
    n = imgs.shape[0]
    ncols = max(1, min(ncols, n))
    nrows = (n + ncols - 1) // ncols
    imgs = np.clip(imgs.reshape(n, c, h, w), 0, 1)
    out = np.ones((c, nrows * (h + pad) - pad, ncols * (w + pad) - pad))
    for i in range(n):
        r, q = divmod(i, ncols)
        out[:, r * (h + pad):r * (h + pad) + h, q * (w + pad):q * (w + pad) + w] = imgs[i]
    return out[0] if c == 1 else np.moveaxis(out, 0, -1)


def image_rows(rows: Mapping[str, Any], shape: Sequence[int], *, title: str | None = None,
               ncols: int = 10) -> go.Figure:
    """Rows of image montages, one per entry (e.g. input | inlier decoder | outlier decoder)."""
    names = list(rows)
    fig = make_subplots(rows=len(names), cols=1, subplot_titles=names, vertical_spacing=0.06)
    for i, name in enumerate(names):
        m = montage(rows[name], shape, ncols=ncols)
        if m.ndim == 2:
            fig.add_trace(go.Heatmap(z=m[::-1], colorscale="gray_r", showscale=False, hoverinfo="skip"), i + 1, 1)
        else:
            fig.add_trace(go.Image(z=(m * 255).astype(np.uint8)), i + 1, 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    return _layout(fig, title, 130 * len(names) + 60)


def row_profile(values: Any, reconstructions: Mapping[str, Any], names: Sequence[str], *,
                title: str | None = None) -> go.Figure:
    """A row's values against each decoder's reconstruction (lines) and the per-feature squared
    errors (bars), e.g. the 7 daily sales of a week."""
    v = np.asarray(values, dtype=np.float64).ravel()
    x = list(names)
    traces = [go.Scatter(x=x, y=v, mode="lines+markers", name="observed", line=dict(color="black", width=3))]
    for i, (name, rec) in enumerate(reconstructions.items()):
        r = np.asarray(rec, dtype=np.float64).ravel()
        colour = PALETTE[i % len(PALETTE)]
        traces.append(go.Scatter(x=x, y=r, mode="lines+markers", name=name, line=dict(color=colour, dash="dash")))
        traces.append(go.Bar(x=x, y=(v - r) ** 2, name=f"{name} error", marker_color=colour, showlegend=False,
                             xaxis="x2", yaxis="y2"))
    fig = go.Figure(traces, layout=_two_panels(("values vs reconstruction", "squared error per feature")))
    fig.update_layout(barmode="group")
    return _layout(fig, title, 360)


def metric_bars(frame, metric: str, *, by: str = "method", title: str | None = None) -> go.Figure:
    """Bars of one metric per group (runs or methods), with the paper's value as a marker when the
    frame has a ``paper`` column."""
    fig = go.Figure()
    fig.add_trace(go.Bar(x=frame[by].astype(str), y=frame[metric], name="ours", marker_color=INLIER_COLOUR))
    if "paper" in frame:
        fig.add_trace(go.Scatter(x=frame[by].astype(str), y=frame["paper"], mode="markers", name="paper",
                                 marker=dict(symbol="diamond", size=12, color="black")))
    fig.update_layout(yaxis_title=metric)
    return _layout(fig, title, 360)


def row_against(values: Any, references: Mapping[str, Any], share: Any, names: Sequence[str], *,
                share_name: str = "share of the row's deviation", title: str | None = None,
                lines: bool = True) -> go.Figure:
    """Each feature's share of a row's deviation (bars, %), so that the features that make the row an
    outlier stand out whatever their units; with ``lines`` (features in one unit, e.g. the seven days of
    a week) also the row's values against its references (reconstructions, the mean of its nearest
    normal rows) in a panel beside it."""
    x = [str(n) for n in names]
    sh = 100 * np.asarray(share, dtype=np.float64).ravel()
    bars = go.Bar(x=x, y=sh, name=share_name, marker_color="#e45756", showlegend=False,
                  text=[f"{s:.0f}%" if s >= 5 else "" for s in sh], textposition="outside", cliponaxis=False)
    if not lines:
        fig = go.Figure([bars])
        fig.update_layout(yaxis=dict(range=[0, 110], ticksuffix="%", title=share_name))
        return _layout(fig, title, 360)
    v = np.asarray(values, dtype=np.float64).ravel()
    traces = [go.Scatter(x=x, y=v, mode="lines+markers", name="this row", line=dict(color="black", width=3))]
    for i, (name, ref) in enumerate(references.items()):
        r = np.asarray(ref, dtype=np.float64).ravel()
        traces.append(go.Scatter(x=x, y=r, mode="lines+markers", name=name,
                                 line=dict(color=PALETTE[i % len(PALETTE)], dash="dash")))
    bars.update(xaxis="x2", yaxis="y2")
    fig = go.Figure([*traces, bars], layout=_two_panels(("values vs what is expected (data units)",
                                                         f"{share_name} (%)")))
    fig.update_layout(yaxis2=dict(anchor="x2", range=[0, 110], ticksuffix="%"))
    fig = _layout(fig, title, 440)
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.18, xanchor="left", x=0),
                      margin=dict(b=110))
    return fig
