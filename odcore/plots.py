"""Plotly figure builders: pure functions of arrays and frames, no Streamlit, no torch.

Scatter plots are WebGL (``Scattergl``) and carry the dataset row id in ``customdata`` so that a
selection maps back to rows even when colours split the points into several traces.

Text never becomes markup: every builder returns its figure through :func:`text_only`, which makes each
text field (titles, axis titles and category labels, legends, hover text, annotations) literal with
:func:`odcore.markup.plotly`, so a column named ``<a href=...>`` is shown as typed. A line break a builder
wants is written ``\n``; hover templates are the builders' own and are left as they are.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas  # noqa: F401 - loaded fully before plotly looks for it: plotly's validators take a half-imported
import plotly.graph_objects as go  # pandas from sys.modules when another thread (the app's warm-up) imports it
from plotly.subplots import make_subplots

from odcore.markup import plotly as _literal

INLIER_COLOUR = "#4c78a8"
OUTLIER_COLOUR = "#e45756"
PALETTE = ["#4c78a8", "#e45756", "#54a24b", "#f58518", "#b279a2", "#72b7b2", "#eeca3b", "#9d755d",
           "#ff9da6", "#bab0ac"]
LABEL_NAMES = {0: "inlier", 1: "outlier"}


#: legends sit above the plot area, left-aligned, so that they never cover data or axis titles
LEGEND_TOP = dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0)
#: below the axes' titles: for figures whose panel titles sit where LEGEND_TOP would go (ROC / PR)
LEGEND_BELOW = dict(orientation="h", yanchor="top", y=-0.2, xanchor="left", x=0)
#: image tiles: a fixed grey scale (0 black, 1 white, as MNIST draws digits) and light gaps between tiles
GREY = [[0.0, "#000000"], [1.0, "#ffffff"]]
GAP_COLOUR = "#d9d9d9"
#: decision maps on a training-data scale: a cell's level is the share of training points that score lower, so
#: blue = as normal as the training data, white = their upper tail, red = beyond every training point
LEVELS = [[0.0, "#08306b"], [0.5, "#4292c6"], [0.85, "#c6dbef"], [0.95, "#ffffff"], [0.99, "#fcae91"],
          [1.0, "#cb181d"]]


# ---------------------------------------------------------------------------------- text never becomes markup
#: trace fields that hold text (category values in x / y become tick labels)
_TRACE_TEXT = ("name", "text", "hovertext", "x", "y", "labels", "legendgrouptitle.text", "colorbar.title.text",
               "marker.colorbar.title.text")
#: layout keys whose strings are shown
_LAYOUT_TEXT = ("text", "ticktext", "title")


def _literal_values(v: Any) -> Any:
    """``v`` with every string made literal (a string, a list or tuple, an array of text); other values as they are."""
    if isinstance(v, str):
        return _literal(v)
    if isinstance(v, np.ndarray):
        if v.dtype.kind not in "OUS":
            return v
        return np.asarray([_literal(x) if isinstance(x, str) else x for x in v.ravel().tolist()],
                          dtype=object).reshape(v.shape)
    if isinstance(v, (list, tuple)) and any(isinstance(x, str) for x in v):
        return [_literal(x) if isinstance(x, str) else x for x in v]
    return v


def _literal_layout(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (_literal_values(v) if k in _LAYOUT_TEXT and not isinstance(v, dict) else _literal_layout(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_literal_layout(x) for x in node]
    return node


_MISSING = object()


def _at(props: Any, path: str) -> Any:
    """The value at a dotted ``path`` of a figure part's own dict (``_MISSING`` when it is not set)."""
    for part in path.split("."):
        if not isinstance(props, dict) or part not in props:
            return _MISSING
        props = props[part]
    return props


def _changes_text(node: Any) -> bool:
    """Whether :func:`_literal_layout` would change any text of this layout dict."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in _LAYOUT_TEXT and not isinstance(v, dict):
                new = _literal_values(v)
                if new is not v and (isinstance(new, np.ndarray) or new != v):
                    return True
            elif _changes_text(v):
                return True
    elif isinstance(node, list):
        return any(_changes_text(x) for x in node)
    return False


def text_only(fig: go.Figure) -> go.Figure:
    """``fig`` with every text field literal (:func:`odcore.markup.plotly`): user names and values are shown as
    typed, never as links or markup; ``\n`` in the builders' own text becomes a line break.

    Reads the figure's own dicts (plotly's ``_props``: no copy, no validation) and writes only what changes: a
    figure whose text is already literal costs ~0.1 ms here, not the ~100 ms of re-validating its layout."""
    for trace in fig.data:
        props = getattr(trace, "_props", None) or {}
        for key in _TRACE_TEXT:
            v = _at(props, key)
            if v is _MISSING:
                continue
            new = _literal_values(v)
            if new is not v and (isinstance(new, np.ndarray) or new != v):
                trace[key] = new
    layout = getattr(fig.layout, "_props", None)
    if layout is None or _changes_text(layout):
        fig.layout = _literal_layout(fig.layout.to_plotly_json())
    return fig


_NESTING = threading.local()


def _builder(fn: Callable[..., go.Figure]) -> Callable[..., go.Figure]:
    """A figure builder whose figure goes through :func:`text_only` once (a builder calling another: at the end)."""

    @functools.wraps(fn)
    def build(*args: Any, **kwargs: Any) -> go.Figure:
        depth = getattr(_NESTING, "depth", 0)
        _NESTING.depth = depth + 1
        try:
            fig = fn(*args, **kwargs)
        finally:
            _NESTING.depth = depth
        return text_only(fig) if depth == 0 else fig

    return build



def _layout(fig: go.Figure, title: str | None = None, height: int = 420) -> go.Figure:
    # no per-figure template: validating one costs ~20 ms, and Streamlit applies its own theme
    fig.update_layout(title=dict(text=title, y=0.98, yanchor="top") if title else None, height=height,
                      margin=dict(l=50, r=20, t=80 if title else 40, b=50), legend=LEGEND_TOP)
    return fig


def _roc_pr_panels() -> dict:
    """The ROC (left) and precision-recall (right) panels with their axis titles."""
    layout = _two_panels(("ROC", "Precision-recall"))
    layout["xaxis"]["title"] = "false-positive rate"
    layout["yaxis"]["title"] = "true-positive rate"
    layout["xaxis2"]["title"] = "recall"
    layout["yaxis2"]["title"] = "precision"
    return layout


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


@_builder
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


@_builder
def score_histograms(scores: Any, y: Any = None, *, threshold: float | None = None, bins: int = 50,
                     title: str | None = "Decision scores", x_title: str = "anomaly score (higher = more anomalous)"
                     ) -> go.Figure:
    """Overlaid histograms of scores, normal vs anomalous when labels exist (OC-NN Figs. 3-5).

    Binned here (``bins`` bars a class, densities with labels): the figure carries 2 x ``bins`` numbers whatever
    the number of rows, so a redraw (a threshold move) costs the same for 1,000 rows as for 1,000,000."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    fig = go.Figure()
    lo, hi = (float(s.min()), float(s.max())) if s.size else (0.0, 1.0)
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
    centres, width = (edges[:-1] + edges[1:]) / 2, float(edges[1] - edges[0])
    if y is None:
        counts, _ = np.histogram(s, edges)
        fig.add_trace(go.Bar(x=centres, y=counts, width=width, name="all rows", marker_color=INLIER_COLOUR,
                             marker_line_width=0))
    else:
        yy = np.asarray(y).ravel()
        for value, name, colour in ((0, "normal", INLIER_COLOUR), (1, "anomalous", OUTLIER_COLOUR)):
            part = s[yy == value]
            counts, _ = np.histogram(part, edges)
            density = counts / max(part.size, 1) / width  # "probability density": each class's area is 1
            fig.add_trace(go.Bar(x=centres, y=density, width=width, name=f"{name} ({part.size})",
                                 marker_color=colour, opacity=0.6, marker_line_width=0))
    fig.update_layout(barmode="overlay", bargap=0)
    if threshold is not None:
        fig.update_layout(shapes=[dict(type="line", x0=float(threshold), x1=float(threshold), y0=0, y1=1,
                                       xref="x", yref="paper", line=dict(dash="dash", color="black"))],
                          annotations=[dict(x=float(threshold), y=1, xref="x", yref="paper", text=" threshold",
                                            showarrow=False, yanchor="top", xanchor="left")])
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title="rows" if y is None else "density (each class: area 1)")
    return _layout(fig, title, 380)


def _thin(x: np.ndarray, y: np.ndarray, most: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """At most ``most`` points of a curve, evenly spaced along it, its ends kept (a drawn curve needs no more)."""
    if x.size <= most:
        return x, y
    keep = np.unique(np.r_[np.linspace(0, x.size - 1, most).astype(np.int64), x.size - 1])
    return x[keep], y[keep]


@_builder
def roc_pr(y: Any, scores: Any, *, threshold: float | None = None) -> go.Figure:
    """ROC and precision-recall curves side by side, the threshold's operating point marked."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    yy = np.asarray(y).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    fpr, tpr = _thin(*roc_curve(yy, s)[:2])
    prec, rec = _thin(*precision_recall_curve(yy, s)[:2])
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
    layout = _roc_pr_panels()
    fig = _layout(go.Figure(traces, layout=layout), None, 400)
    return fig.update_layout(legend=LEGEND_BELOW, margin=dict(b=100))  # the panel titles sit on top


#: history fields that are bookkeeping, not curves: counters (epoch numbers, step counts) and settings
COUNTERS = frozenset({"epoch", "epochs", "phase_epoch", "best_epoch", "grad_evals", "steps", "step", "batches"})
_NOT_CURVES = COUNTERS | {"lr", "seconds", "phase"}
_METRIC_NAMES = {"auroc": "AUROC", "auprc": "AUPRC", "f1": "F1", "assign_f1": "assignment F1",
                 "criterion": "early-stopping criterion"}


def curve_quantities(history: Sequence[Mapping[str, Any]]) -> list[str]:
    """The history fields worth a curve, in first-seen order: real-valued losses and metrics. Counters are
    left out, by name (:data:`COUNTERS`) and by kind (a field whose every value is an integer counts
    something, e.g. ``phase_epoch`` or gradient evaluations), as are the learning rate and epoch seconds."""
    seen: dict[str, bool] = {}
    for h in history:
        for k, v in h.items():
            if k in _NOT_CURVES or isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                continue
            seen[k] = seen.get(k, False) or isinstance(v, (float, np.floating))
    return [k for k, real in seen.items() if real]


def _quantity_title(key: str) -> str:
    if key.startswith("val_"):
        return "test " + _METRIC_NAMES.get(key[4:], key[4:])
    return key


@_builder
def training_curves(history: Sequence[Mapping[str, Any]], *, title: str | None = "Training curves",
                    cols: int = 3, panel_height: int = 170) -> go.Figure:
    """Loss and metric curves of a fit: one small panel per quantity (:func:`curve_quantities`), every panel on
    the same epoch axis, each training phase (an autoencoder's pretraining, a warm-up, the main training) its
    own colour. A quantity that two phases log under one name (Deep SVDD's pretraining ``loss`` and its
    hypersphere ``loss``) gets a panel per phase, so one scale never mixes two losses."""
    phases = list(dict.fromkeys(str(h.get("phase", "train")) for h in history))
    quantities = curve_quantities(history)
    panels: list[tuple[str, str | None]] = []  # (quantity, phase or None = all phases)
    for q in quantities:
        in_phases = [p for p in phases if any(h.get(q) is not None and str(h.get("phase", "train")) == p
                                              for h in history)]
        if len(in_phases) > 1 and not q.startswith("val_"):
            panels += [(q, p) for p in in_phases]
        else:
            panels.append((q, None))
    if not panels:
        return _layout(go.Figure(), title, 200)
    cols = max(1, min(cols, len(panels)))
    rows = -(-len(panels) // cols)
    names = [_quantity_title(q) + (f" · {p}" if p is not None else "") for q, p in panels]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names, shared_xaxes="all",
                        vertical_spacing=min(0.5 / rows, 0.12), horizontal_spacing=0.07)
    colour = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(phases)}
    shown: set[str] = set()
    for i, (q, only) in enumerate(panels):
        r, c = i // cols + 1, i % cols + 1
        for p in ([only] if only is not None else phases):
            pts = [(h.get("epoch", j + 1), h[q]) for j, h in enumerate(history)
                   if str(h.get("phase", "train")) == p and h.get(q) is not None]
            if not pts:
                continue
            x, y = zip(*pts)
            fig.add_trace(go.Scatter(x=list(x), y=list(y), mode="lines+markers" if len(pts) < 30 else "lines",
                                     name=p, legendgroup=p, showlegend=len(phases) > 1 and p not in shown,
                                     line=dict(color=colour[p], width=1.8), marker=dict(size=4)), row=r, col=c)
            shown.add(p)
        if q.startswith("val_"):
            fig.update_yaxes(range=[0, 1.02], row=r, col=c)
    fig.update_xaxes(showticklabels=True)  # every small panel keeps its epoch ticks (shared range, not shared labels)
    for i in range(max(0, len(panels) - cols), len(panels)):  # the lowest panel of each column names the axis
        fig.update_xaxes(title_text="epoch", row=i // cols + 1, col=i % cols + 1)
    fig.update_annotations(font_size=12)
    fig = _layout(fig, title, max(220, rows * panel_height + (80 if title else 40)))
    fig.update_layout(margin=dict(l=45, r=15, t=80 if title else 50, b=45))
    return fig


@_builder
def compare_curves(histories: Mapping[str, Sequence[Mapping[str, Any]]], key: str, *,
                   title: str | None = None, finals: Mapping[str, float] | None = None) -> go.Figure:
    """The same history field for several runs (e.g. average precision per epoch, WALDO Fig. 5). ``finals``:
    runs without epochs (classical detectors) drawn as a dotted level at their final value, across the x range."""
    fig = go.Figure()
    last = 1
    for name, hist in histories.items():
        pts = [(h.get("epoch", i + 1), h.get(key)) for i, h in enumerate(hist) if h.get(key) is not None]
        if pts:
            x, y = zip(*pts)
            last = max(last, *[v for v in x if isinstance(v, (int, float))])
            fig.add_trace(go.Scatter(x=list(x), y=list(y), mode="lines", name=name))
    for name, value in (finals or {}).items():
        fig.add_trace(go.Scatter(x=[1, last], y=[float(value)] * 2, mode="lines", line=dict(dash="dot"),
                                 name=f"{name} (no epochs: final value)"))
    fig.update_layout(xaxis_title="epoch", yaxis_title=key)
    return _layout(fig, title or key, 380)


@_builder
def compare_roc(curves: Mapping[str, tuple[Any, Any]], *, title: str | None = None) -> go.Figure:
    """ROC and precision-recall curves of several runs on one test set (``{name: (y, scores)}``), one colour per run
    in both panels."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    traces = [go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line=dict(dash="dot", color="grey"))]
    for i, (name, (y, scores)) in enumerate(curves.items()):
        yy, s = np.asarray(y).ravel(), np.asarray(scores, dtype=np.float64).ravel()
        if not 0 < yy.sum() < yy.size:
            continue
        fpr, tpr = _thin(*roc_curve(yy, s)[:2])
        prec, rec = _thin(*precision_recall_curve(yy, s)[:2])
        colour = PALETTE[i % len(PALETTE)]
        traces += [go.Scatter(x=fpr, y=tpr, mode="lines", name=name, legendgroup=name, line_color=colour),
                   go.Scatter(x=rec, y=prec, mode="lines", name=name, legendgroup=name, showlegend=False,
                              line_color=colour, xaxis="x2", yaxis="y2")]
    layout = _roc_pr_panels()
    fig = _layout(go.Figure(traces, layout=layout), title, 420)
    return fig.update_layout(legend=LEGEND_BELOW, margin=dict(b=110))


@_builder
def boundary_panels(panels: Sequence[Mapping[str, Any]], *, cols: int = 4, height: int = 360) -> go.Figure:
    """Heat maps of decision scores over a 2-D grid, side by side, on the same axis ranges.

    Each panel: ``title``, ``xs`` (gx,), ``ys`` (gy,), ``z`` (gy, gx) anomaly scores, ``points``
    (n, 2) training data, optional ``adversarial`` (m, 2) and ``negatives`` (k, 2). With
    ``calibrated`` the ``z`` are already levels in [0, 1] (the share of training points scoring
    lower, see :data:`LEVELS`); otherwise scores are rank-normalised per panel so that detectors on
    different scales compare. Points outside the grid are left out, so every panel keeps the grid's
    range, and cells are square.
    """
    rows = (len(panels) + cols - 1) // cols
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[p["title"] for p in panels],
                        horizontal_spacing=0.03, vertical_spacing=0.12)
    shown: set[str] = set()
    x_range = y_range = None
    for i, p in enumerate(panels):
        r, c = i // cols + 1, i % cols + 1
        xs, ys = np.asarray(p["xs"], dtype=np.float64), np.asarray(p["ys"], dtype=np.float64)
        x_range, y_range = [float(xs.min()), float(xs.max())], [float(ys.min()), float(ys.max())]
        z = np.asarray(p["z"], dtype=np.float64)
        if p.get("calibrated"):
            level, scale, bar = z, LEVELS, "share of\ntraining points\nscoring lower"
        else:
            level = z.ravel().argsort().argsort().reshape(z.shape) / max(z.size - 1, 1)
            scale, bar = "RdBu_r", "anomaly\nrank"
        fig.add_trace(go.Heatmap(x=xs, y=ys, z=level, colorscale=scale, zmin=0, zmax=1,
                                 showscale=i == len(panels) - 1, colorbar=dict(title=bar),
                                 hovertemplate="x1=%{x:.2f}<br>x2=%{y:.2f}<br>level=%{z:.2f}<extra></extra>"), r, c)
        for key, name, marker in (("points", "training data (the wave)", dict(size=3, color="black")),
                                  ("negatives", "labelled negatives (DROCC-LF)",
                                   dict(size=5, color="#54a24b", symbol="diamond", opacity=0.8)),
                                  ("adversarial", "generated negatives",
                                   dict(size=4, color="#f58518", symbol="x", opacity=0.7))):
            pts = p.get(key)
            if pts is None or not len(pts):
                continue
            pts = np.asarray(pts, dtype=np.float64)
            inside = ((pts[:, 0] >= x_range[0]) & (pts[:, 0] <= x_range[1]) & (pts[:, 1] >= y_range[0])
                      & (pts[:, 1] <= y_range[1]))
            pts = pts[inside]
            fig.add_trace(go.Scatter(x=pts[:, 0], y=pts[:, 1], mode="markers", name=name, legendgroup=key,
                                     showlegend=key not in shown, marker=marker, hoverinfo="skip"), r, c)
            shown.add(key)
    fig.update_xaxes(range=x_range, constrain="domain")
    fig.update_yaxes(range=y_range, constrain="domain")
    for i in range(len(panels)):  # square cells: each panel's y axis keeps the scale of its x axis
        fig.layout[f"yaxis{'' if i == 0 else i + 1}"].scaleanchor = f"x{'' if i == 0 else i + 1}"
    fig.update_layout(height=height * rows, margin=dict(l=40, r=20, t=70, b=30), legend=dict(LEGEND_TOP, y=1.08))
    return fig


def montage(images: Any, shape: Sequence[int], *, ncols: int = 10, pad: int = 1, fill: float = np.nan) -> np.ndarray:
    """Tile flattened images (n, C*H*W) into one (rows*H, cols*W) grey or RGB array with values in [0, 1].

    Gaps between tiles and empty cells hold ``fill`` (NaN: drawn in the light gap colour by
    :func:`image_rows`, so that a separator never reads as a stroke of a digit)."""
    imgs = np.asarray(images, dtype=np.float64)
    c, h, w = (list(shape) + [1, 1, 1])[:3] if len(shape) == 3 else (1, *shape)
    n = imgs.shape[0]
    ncols = max(1, min(ncols, n))
    nrows = (n + ncols - 1) // ncols
    imgs = np.clip(imgs.reshape(n, c, h, w), 0, 1)
    out = np.full((c, nrows * (h + pad) - pad, ncols * (w + pad) - pad), fill, dtype=np.float64)
    for i in range(n):
        r, q = divmod(i, ncols)
        out[:, r * (h + pad):r * (h + pad) + h, q * (w + pad):q * (w + pad) + w] = imgs[i]
    return out[0] if c == 1 else np.moveaxis(out, 0, -1)


def _mosaic(rows: Mapping[str, Any], shape: Sequence[int], ncols: int) -> tuple[np.ndarray, list[float], list[str]]:
    """Bands of tiles stacked vertically with a wider gap between bands; the centre row of each band."""
    c, h, w = (list(shape) + [1, 1, 1])[:3] if len(shape) == 3 else (1, *shape)
    bands, centres, names, top = [], [], [], 0
    band_gap = max(2, h // 6)
    width = None
    for name, imgs in rows.items():
        m = montage(imgs, shape, ncols=ncols)
        width = m.shape[1] if width is None else max(width, m.shape[1])
        bands.append(m)
        centres.append(top + (m.shape[0] - 1) / 2)
        names.append(name)
        top += m.shape[0] + band_gap
    out = []
    for i, m in enumerate(bands):
        if m.shape[1] < width:
            extra = np.full((m.shape[0], width - m.shape[1], *m.shape[2:]), np.nan)
            m = np.concatenate([m, extra], axis=1)
        out.append(m)
        if i < len(bands) - 1:
            out.append(np.full((band_gap, width, *m.shape[2:]), np.nan))
    return np.concatenate(out, axis=0), centres, names


@_builder
def image_rows(rows: Mapping[str, Any], shape: Sequence[int], *, title: str | None = None, ncols: int = 10,
               tile_px: int = 44, label_px: int = 210) -> go.Figure:
    """Rows of image tiles, one labelled band per entry (e.g. input | inlier decoder | outlier decoder).

    Tiles keep the images' aspect ratio, share one fixed grey scale (0 black, 1 white) and are
    separated by thin light gaps; each band is labelled on the left."""
    mosaic, centres, names = _mosaic(rows, shape, ncols)
    c = (list(shape) + [1])[0] if len(shape) == 3 else 1
    h = (list(shape) + [1, 1, 1])[1] if len(shape) == 3 else shape[0]
    fig = go.Figure()
    if mosaic.ndim == 2:
        fig.add_trace(go.Heatmap(z=mosaic, colorscale=GREY, zmin=0.0, zmax=1.0, showscale=False, hoverinfo="skip"))
    else:  # RGB: gaps in the light colour
        rgb = np.where(np.isnan(mosaic), 217 / 255, mosaic)
        fig.add_trace(go.Image(z=(rgb * 255).astype(np.uint8), hoverinfo="skip"))
    scale = tile_px / max(h, 1)
    height = int(mosaic.shape[0] * scale) + (60 if title else 20)
    width = int(mosaic.shape[1] * scale) + label_px + 20
    fig.update_xaxes(visible=False, range=[-0.5, mosaic.shape[1] - 0.5], constrain="domain")
    fig.update_yaxes(autorange="reversed" if c == 1 and mosaic.ndim == 2 else None, scaleanchor="x", scaleratio=1,
                     constrain="domain", tickmode="array", tickvals=centres, ticktext=names, showgrid=False,
                     zeroline=False, ticks="", showline=False)
    fig.update_layout(title=dict(text=title, y=0.98, yanchor="top") if title else None, height=height,
                      width=width, plot_bgcolor=GAP_COLOUR, paper_bgcolor="white",
                      margin=dict(l=label_px, r=10, t=50 if title else 10, b=10))
    return fig

@_builder
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


@_builder
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


# ----------------------------------------------------------------------------------------- paper figures
# Builders of the figure recipes (odcore.recipes): each takes the recipe's figure data, a dict of plain
# numbers and lists, and returns one figure.

@_builder
def decoder_swap(data: Mapping[str, Any]) -> go.Figure:
    """WALDO Fig. 1b: real inliers and real outliers, each through the inlier and the outlier decoder.

    ``data``: ``shape``, ``tiles`` {"inliers" | "outliers": {"input" | "inlier" | "outlier": images}},
    ``errors`` {"inliers" | "outliers": {"inlier" | "outlier": mean squared error}}.
    """
    rows: dict[str, Any] = {}
    for group, name in (("inliers", "real inliers"), ("outliers", "real outliers")):
        t, e = data["tiles"][group], data["errors"][group]
        rows[name] = t["input"]
        for dec in ("inlier", "outlier"):
            if dec in t:
                rows[f"→ {dec} decoder (MSE {e[dec]:.3f})"] = t[dec]
    return image_rows(rows, data["shape"], ncols=len(data["tiles"]["inliers"]["input"]))


@_builder
def prior_distance(data: Mapping[str, Any]) -> go.Figure:
    """WALDO Fig. 2a: distance of each code from the prior mean, inliers vs outliers, with the norm a
    prior sample has on average (``sigma * sqrt(latent)``)."""
    d, y = np.asarray(data["distance"], dtype=np.float64), np.asarray(data["label"])
    fig = score_histograms(d, y, title=None, x_title="||Q(x)||: distance of the code from the prior mean 0")
    fig.data[0].name = f"inliers ({int((y == 0).sum())})"
    fig.data[1].name = f"outliers ({int((y == 1).sum())})"
    fig.add_vline(x=float(data["prior_norm"]), line_dash="dot", line_color="black",
                  annotation_text="typical ||z|| under the prior", annotation_position="top right")
    fig.update_yaxes(title="density")
    return fig


@_builder
def f1_against_nu(data: Mapping[str, Any]) -> go.Figure:
    """WALDO Fig. 2b: F1 against the outlier share nu, with and without the advantage (mean and std over
    seeds). ``data``: ``nus``, ``curves`` {label: {"mean": [...], "std": [...]}}, ``metric``."""
    fig = go.Figure()
    for i, (label, c) in enumerate(data["curves"].items()):
        fig.add_trace(go.Scatter(x=[str(v) for v in data["nus"]], y=c["mean"], name=label, mode="lines+markers",
                                 line=dict(color=PALETTE[i], dash="solid" if i == 0 else "dash"),
                                 error_y=dict(type="data", array=c.get("std") or [0] * len(c["mean"]), visible=True)))
    fig.update_xaxes(title="nu: share of outliers in the unlabelled mixture", type="category")
    fig.update_yaxes(title=data.get("metric", "F1"), range=[0, 1.02])
    return _layout(fig, None, 380)


@_builder
def real_vs_generated(data: Mapping[str, Any]) -> go.Figure:
    """WALDO Fig. 4: real and generated inliers and outliers in one t-SNE map, and (for images) some of the
    generated rows. ``data``: ``xy`` (n, 2), ``group`` (n,), optional ``shape`` and ``tiles``."""
    xy, group = np.asarray(data["xy"], dtype=np.float64), np.asarray(data["group"], dtype=object)
    colours = {"real inlier": INLIER_COLOUR, "real outlier": OUTLIER_COLOUR, "generated inlier": "#9ecae9",
               "generated outlier": "#f58518"}
    symbols = {"real inlier": "circle", "real outlier": "circle", "generated inlier": "x", "generated outlier": "x"}
    fig = go.Figure()
    for g in colours:
        m = group == g
        if m.any():
            fig.add_trace(go.Scatter(x=xy[m, 0], y=xy[m, 1], mode="markers", name=f"{g} ({int(m.sum())})",
                                     marker=dict(size=6, color=colours[g], symbol=symbols[g], opacity=0.8),
                                     hoverinfo="skip"))
    fig.update_xaxes(title=f"{data.get('projection', 't-SNE')} 1", showticklabels=False)
    fig.update_yaxes(title=f"{data.get('projection', 't-SNE')} 2", showticklabels=False, scaleanchor="x")
    return _layout(fig, None, 520)


@_builder
def generated_tiles(data: Mapping[str, Any]) -> go.Figure:
    """Generated images of WALDO Fig. 4 (inliers from G_i, outliers from G_o) beside real ones."""
    return image_rows(data["tiles"], data["shape"], ncols=len(next(iter(data["tiles"].values()))))


@_builder
def ap_per_epoch(data: Mapping[str, Any]) -> go.Figure:
    """WALDO Fig. 5: average precision per epoch of several methods (mean line, band = min..max over seeds).
    ``data``: ``curves`` {label: {"epoch": [...], "mean": [...], "low": [...], "high": [...]}}."""
    fig = go.Figure()
    for i, (label, c) in enumerate(data["curves"].items()):
        colour = PALETTE[i % len(PALETTE)]
        x = list(c["epoch"])
        if c.get("low") is not None and c["low"] != c["mean"]:
            fig.add_trace(go.Scatter(x=x + x[::-1], y=list(c["high"]) + list(c["low"])[::-1], fill="toself",
                                     line=dict(width=0), fillcolor=colour, opacity=0.15, showlegend=False,
                                     hoverinfo="skip", legendgroup=label))
        fig.add_trace(go.Scatter(x=x, y=c["mean"], mode="lines", name=label, line=dict(color=colour, width=2.5),
                                 legendgroup=label))
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title="average precision on the mixture", range=[0, 1.02])
    return _layout(fig, None, 400)


@_builder
def boundary_maps(data: Mapping[str, Any]) -> go.Figure:
    """DROCC Fig. 1: the detectors' decision maps on the sine wave with their AUROC on the judge points."""
    panels = [{**p, "title": f"{p['title']} · AUROC {p['auroc']:.2f}", "xs": data["xs"], "ys": data["ys"],
               "points": data["points"]} for p in data["panels"]]
    return boundary_panels(panels, cols=len(panels), height=300)


@_builder
def decision_histograms(data: Mapping[str, Any]) -> go.Figure:
    """OC-NN Figs. 3-5: the decision score ``S = y_hat - r`` of normal and anomalous rows, one panel per
    model, with S = 0 marked (below 0 = called anomalous). ``data``: ``panels`` [{"title", "score", "label"}]."""
    panels = data["panels"]
    fig = make_subplots(rows=len(panels), cols=1, subplot_titles=[p["title"] for p in panels],
                        vertical_spacing=0.18)
    for i, p in enumerate(panels):
        s, y = np.asarray(p["score"], dtype=np.float64), np.asarray(p["label"])
        lo, hi = float(s.min()), float(s.max())
        size = (hi - lo) / 40 if hi > lo else 1.0
        for value, name, colour in ((0, "normal", INLIER_COLOUR), (1, "anomalous", OUTLIER_COLOUR)):
            fig.add_trace(go.Histogram(x=s[y == value], name=f"{name}", marker_color=colour, opacity=0.65,
                                       xbins=dict(start=lo, end=hi + size, size=size), histnorm="probability",
                                       legendgroup=name, showlegend=i == 0), i + 1, 1)
        fig.add_vline(x=0.0, line_dash="dash", line_color="black", row=i + 1, col=1)
        fig.update_xaxes(title="decision score S = y_hat - r (negative = called anomalous)", row=i + 1, col=1)
        fig.update_yaxes(title="share of rows", row=i + 1, col=1)
    fig.update_layout(barmode="overlay")
    return _layout(fig, None, 330 * len(panels))


@_builder
def score_ablation(data: Mapping[str, Any]) -> go.Figure:
    """ALAD's score ablation: F1 at the top 20% and AUROC of each anomaly score of the same fitted model,
    with the paper's F1 where it gives one. ``data``: ``scores``, ``f1``, ``auroc``, optional ``paper_f1``."""
    names = list(data["scores"])
    fig = go.Figure([go.Bar(x=names, y=data["f1"], name="F1, top 20% flagged", marker_color=INLIER_COLOUR),
                     go.Bar(x=names, y=data["auroc"], name="AUROC", marker_color="#9ecae9")])
    paper = data.get("paper_f1") or {}
    if paper:
        fig.add_trace(go.Scatter(x=list(paper), y=list(paper.values()), mode="markers", name="paper F1",
                                 marker=dict(symbol="diamond", size=13, color="black")))
    lo = min([*data["f1"], *data["auroc"], *paper.values()])
    fig.update_layout(barmode="group")
    fig.update_yaxes(range=[max(0.0, lo - 0.1), 1.0], title="on the test half")
    fig.update_xaxes(title="anomaly score of the same ALAD model")
    return _layout(fig, None, 380)


@_builder
def latent_maps(data: Mapping[str, Any], *, cols: int = 4) -> go.Figure:
    """One latent map per detector: the first two principal components of its codes of the same rows,
    inliers vs outliers, each centred and scaled to [-1, 1] so that all panels share one axis range.
    ``data``: ``panels`` [{"title", "xy", "label"}]."""
    panels = data["panels"]
    rows = (len(panels) + cols - 1) // cols
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[p["title"] for p in panels],
                        horizontal_spacing=0.04, vertical_spacing=0.1)
    for i, p in enumerate(panels):
        xy, y = np.asarray(p["xy"], dtype=np.float64), np.asarray(p["label"])
        if xy.size:  # centre the panel's extent and scale it to [-1, 1]: every panel fills the same range
            lo, hi = np.quantile(xy, 0.005, axis=0), np.quantile(xy, 0.995, axis=0)
            xy = (xy - (lo + hi) / 2) / (float(np.max(hi - lo)) / 2 or 1.0)
        for value, name, colour in ((0, "inlier", INLIER_COLOUR), (1, "outlier", OUTLIER_COLOUR)):
            m = y == value
            fig.add_trace(go.Scatter(x=xy[m, 0], y=xy[m, 1], mode="markers", name=name, legendgroup=name,
                                     showlegend=i == 0, hoverinfo="skip",
                                     marker=dict(size=4, color=colour, opacity=0.7)), i // cols + 1, i % cols + 1)
    fig.update_xaxes(range=[-1.15, 1.15], showticklabels=False, zeroline=False, showgrid=False, constrain="domain")
    fig.update_yaxes(range=[-1.15, 1.15], showticklabels=False, zeroline=False, showgrid=False, constrain="domain")
    for i in range(len(panels)):
        fig.layout[f"yaxis{'' if i == 0 else i + 1}"].scaleanchor = f"x{'' if i == 0 else i + 1}"
    fig.update_layout(height=260 * rows + 60, margin=dict(l=20, r=20, t=70, b=20), legend=dict(LEGEND_TOP, y=1.05))
    return fig


@_builder
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


@_builder
def series_around(data: Mapping[str, Any], *, measure: str, unit: str = "", title: str | None = None) -> go.Figure:
    """One series over time: the actual values (black), the expected value (dashed) inside its band (shaded), the
    selected period (red), the same period of other years (orange) and the filled cells (hollow) -- from
    :func:`odcore.analysis.analyst.series_around`."""
    d = np.asarray(data["dates"])
    lo, hi = np.asarray(data["low"], dtype=np.float64), np.asarray(data["high"], dtype=np.float64)
    y, e = np.asarray(data["actual"], dtype=np.float64), np.asarray(data["expected"], dtype=np.float64)
    at, same = int(data["at"]), np.asarray(data["same_slot"], dtype=int)
    filled = np.asarray(data["filled"], dtype=bool)
    money = unit not in ("", "units", "%", "share", "°")
    fig = go.Figure([
        go.Scatter(x=d, y=hi, mode="lines", line=dict(width=0), showlegend=False, hoverinfo="skip"),
        go.Scatter(x=d, y=lo, mode="lines", line=dict(width=0), fill="tonexty", fillcolor="rgba(76,120,168,0.18)",
                   name="expected band (95%)", hoverinfo="skip"),
        go.Scatter(x=d, y=e, mode="lines", name="expected", line=dict(color="#4c78a8", dash="dash")),
        go.Scatter(x=d, y=np.where(filled, np.nan, y), mode="lines+markers", name="actual",
                   line=dict(color="black", width=1.5), marker=dict(size=4)),
    ])
    if filled.any():
        fig.add_trace(go.Scatter(x=d[filled], y=e[filled], mode="markers", name="blank in the file (filled)",
                                 marker=dict(symbol="circle-open", size=9, color="#888")))
    if same.size:
        fig.add_trace(go.Scatter(x=d[same], y=y[same], mode="markers", name="same period, other years",
                                 marker=dict(color="#f58518", size=11, symbol="diamond")))
    fig.add_trace(go.Scatter(x=d[at:at + 1], y=y[at:at + 1], mode="markers", name="this row",
                             marker=dict(color="#e45756", size=15, line=dict(color="black", width=1))))
    fig = _layout(fig, title, 440)
    fig.update_layout(yaxis=dict(title=measure, tickformat=",.3s" if money else ",.4g",
                                 tickprefix=unit if money else ""), hovermode="x unified")
    return fig
