"""OC-NN's figures as recipes: histograms of the decision score ``S = y_hat - r``, normal vs anomalous
(the paper's Fig. 3 on the synthetic Gaussian set, Fig. 4 on MNIST; Fig. 5, CIFAR-10 dogs vs cats, is not
drawn: CIFAR-10 is not among the shared datasets).

Each figure shows OC-NN with the exact objective twice: with one of the paper's activations (sigmoid) and
with the bounded radial activation ``g(t) = exp(-t^2)`` (our documented extension, the network analogue
of the OC-SVM's RBF kernel). Without a bias, ``<w, g(V x)>`` with a linear, ReLU or sigmoid ``g`` grows (or
is odd) along every ray from the origin, and minimising ``0.5||w||^2 + 0.5||V||^2`` lifts rows of large norm
above ``r``; the synthetic anomalies differ from the normals only by their larger norm, so the paper's
activations rank them as the most normal rows, while a radial ``g`` can put far-away rows below ``r``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from odcore import metrics, plots
from odcore.recipes.framework import (
    EXTENSION,
    EXTENSION_VARIANT,
    NOT_REPRODUCED,
    PAPER_VARIANT,
    Budget,
    Check,
    Fits,
    Knob,
    Member,
    Recipe,
    Training,
)

_PAPER = "OC-NN"
WHY = ("With the paper's activations <w, g(Vx)> grows with the norm of x, so the exact objective ranks the "
       "wide N(0, 10²) anomalies as the most normal rows; a bounded radial activation, like the OC-SVM's RBF "
       "kernel, can put far-away rows below r.")
_SIG, _RAD = "sigmoid (paper)", "radial exp(-t²) (extension)"


def _members(hidden: int) -> tuple[Member, ...]:
    return (Member(_SIG, "ocnn", {"activation": "sigmoid", "hidden": hidden, "nu": 0.1}),
            Member(_RAD, "ocnn", {"activation": "radial", "hidden": hidden, "nu": 0.1}))



GAUSSIAN = Training(
    name="ocnn-gaussian", fold="gaussian", options={"dim": 512}, members=_members(128),
    budgets={
        "teaching": Budget("teaching", seeds=(0,), params={"epochs": 100, "batch_size": 200, "lr": 1e-3},
                           seconds=6.0, what="100 epochs at lr 1e-3, full batch, seed 0 (data and weights)"),
        "full": Budget("full", seeds=(0, 1, 2), params={"epochs": 100, "batch_size": 200, "lr": 1e-3},
                       seconds=12.0, what="the same over 3 seeds"),
    },
    knobs=(Knob("epochs", "epochs", "param", 10, 300, 10), Knob("nu", "nu (share of rows below r)", "param",
                                                                0.02, 0.5, 0.02),
           Knob("seed", "seed", "seed", 0, 9, 1)),
)

MNIST = Training(
    name="ocnn-mnist", fold="mnist-one-class", options={"source": "t10k", "normal": 4, "n_anomalies": 265},
    members=_members(32),
    budgets={
        "teaching": Budget("teaching", seeds=(0,), params={"epochs": 100, "batch_size": 128, "lr": 1e-3},
                           seconds=10.0, what="raw pixels, 100 epochs at lr 1e-3, seed 0; the 982 fours of t10k and "
                                              "265 other digits, fitted and scored together"),
        "full": Budget("full", seeds=(0, 1, 2), params={"epochs": 100, "batch_size": 128, "lr": 1e-3},
                       member_params={k: {"pretrain": "autoencoder", "pretrain_epochs": 30, "pretrain_latent": 32,
                                          "input_shape": (1, 28, 28)} for k in (_SIG, _RAD)},
                       seconds=3 * 120.0, what="the paper's features: a frozen convolutional autoencoder encoder "
                                               "(30 epochs) under OC-NN, 3 seeds"),
    },
    knobs=(Knob("epochs", "epochs", "param", 10, 300, 10), Knob("seed", "seed", "seed", 0, 9, 1)),
)


def histogram_data(fits: Fits, options: Mapping[str, Any]) -> dict:
    """The decision score ``S = y_hat - r`` of every row, per model (first seed), with its AUROC (anomaly
    score ``r - y_hat``; mean over seeds) and the mean S of each class."""
    panels = []
    for key in fits.settings["members"]:
        fold, model = fits.fold(), fits.model(key)
        S = model.decision_score(fold.X_test)
        au = [metrics.auroc(fits.fold(s).y_test, fits.model(key, s).decision_function(fits.fold(s).X_test))
              for s in fits.settings["seeds"]]
        y = fold.y_test
        panels.append({"title": f"{key}: AUROC {np.mean(au):.2f}", "key": key, "score": np.round(S, 5).tolist(),
                       "label": y.astype(int).tolist(), "auroc": float(np.mean(au)),
                       "auroc_seeds": [float(a) for a in au], "mean_normal": float(S[y == 0].mean()),
                       "mean_anomalous": float(S[y == 1].mean())})
    return {"panels": panels}


#: the AUROC at which a histogram pair reads as separated (anomalies clearly left of the normals); 0.65 is two
#: overlapping humps, which a reader cannot tell from chance by eye
SEPARATED = 0.9


def _separates(q: Mapping[str, Any]) -> bool:
    return q["auroc"] >= SEPARATED and q["mean_anomalous"] < q["mean_normal"]


def _line(q: Mapping[str, Any], normal: str, anomalous: str) -> str:
    return (f"{q['key']}: AUROC {q['auroc']:.3f}, mean S {q['mean_anomalous']:.3g} ({anomalous}) vs "
            f"{q['mean_normal']:.3g} ({normal})")


def separation_check(data: Mapping[str, Any], normal: str = "normals", anomalous: str = "anomalies") -> Check:
    """The idea of OC-NN's histograms: the anomalies' decision scores lie clearly below the normals' (AUROC of
    ``r - y_hat`` >= :data:`SEPARATED` and a lower mean S). Shown by the paper's sigmoid: ``variant`` paper;
    only by the radial extension: ``variant`` extension; by neither: not shown."""
    p = {q["key"]: q for q in data["panels"]}
    sig, rad = p[_SIG], p[_RAD]
    summary = "; ".join(_line(q, normal, anomalous) for q in (sig, rad))
    values = {"radial_auroc": rad["auroc"], "sigmoid_auroc": sig["auroc"]}
    if _separates(sig):
        return Check(True, summary, values, PAPER_VARIANT)
    return Check(_separates(rad), summary, values, EXTENSION_VARIANT)


def gaussian_check(data: Mapping[str, Any]) -> Check:
    """:func:`separation_check` on the Gaussian set: the radial extension separates (AUROC 1.00), the paper's
    sigmoid ranks the anomalies as the most normal rows (AUROC 0.00): shown only with our extension."""
    return separation_check(data)


def mnist_check(data: Mapping[str, Any]) -> Check:
    """:func:`separation_check` on MNIST (fours normal): at the teaching budget the sigmoid reaches AUROC 0.65
    (overlapping humps) and the radial extension 0.5: not reproduced."""
    return separation_check(data, "fours", "other digits")


RECIPES = (
    Recipe("ocnn-fig3", _PAPER, "Fig. 3", "decision scores on the synthetic Gaussian set", "scores", GAUSSIAN,
           histogram_data, plots.decision_histograms, gaussian_check,
           caption="Rows left of the dashed line (S < 0) are called anomalous: with the paper's sigmoid the red "
                   "anomalies sit far to the right (called the most normal rows), and only our radial extension "
                   "puts them left of the line.",
           expect=EXTENSION, finding=WHY),
    Recipe("ocnn-fig4", _PAPER, "Fig. 4", "decision scores on MNIST (digit 4 normal)", "scores", MNIST,
           histogram_data, plots.decision_histograms, mnist_check,
           caption="The paper shows the other digits (red) left of the fours (blue); here the two humps overlap "
                   "for both activations, so a threshold cannot tell them apart well.",
           expect=NOT_REPRODUCED,
           finding="Not reproduced at the teaching budget: on raw pixels the paper's sigmoid separates the other "
                   "digits from the fours only weakly (AUROC about 0.65, overlapping histograms) and the radial "
                   "extension not at all (about 0.5); with autoencoder features (full budget) the sigmoid reached "
                   "0.58."),
)
