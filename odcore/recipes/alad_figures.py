"""ALAD's score ablation as a recipe: the four anomaly scores of one fitted ALAD on KDD Cup 99.

ALAD (Zenati et al., ICDM 2018) scores a row by how far its reconstruction ``G(E(x))`` is from it, measured
four ways: L1 and L2 in the input space, the ``D_xx`` logit, and the default "features" score (L1 distance
between the last hidden layer of ``D_xx`` on ``(x, x)`` and on ``(x, G(E(x)))``). The paper's point: the
learned feature-space distance ranks anomalies better than raw reconstruction errors. Protocol: ALAD's
KDD Cup 99 split (fit on the training half's attacks, ``normal.`` traffic is the anomaly; flag the top 20%).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from odcore import metrics, plots
from odcore.recipes.framework import NOT_REPRODUCED, Budget, Check, Fits, Knob, Member, Recipe, Training

SCORES = ("features", "logits", "l1", "l2")
PAPER_F1 = {"features": 0.9501}

KDD = Training(
    name="alad-kdd", fold="kdd-alad", options={"rows": 20000},
    members=(Member("ALAD", "alad", {"lr": 1e-3, "batch_size": 256}),),
    budgets={
        "teaching": Budget("teaching", seeds=(0,), params={"epochs": 15}, seconds=25.0,
                           what="15 epochs at lr 1e-3, batch 256 (ALAD's early stopping keeps the best epoch), seed 0, "
                                "on a 20,000-row sample of the 10% file (8,100 training rows)"),
        "full": Budget("full", seeds=(0, 1, 2), params={"epochs": 40}, options={"rows": 50000}, seconds=3 * 200.0,
                       what="40 epochs at lr 1e-3 on 50,000 sampled rows (20,000 training rows; the paper: lr 1e-5 "
                            "at batch 50 on all rows), 3 seeds"),
    },
    knobs=(Knob("epochs", "epochs", "param", 2, 80, 1), Knob("rows", "rows sampled from the 10% file", "option",
                                                             5000, 100000, 5000),
           Knob("seed", "seed", "seed", 0, 9, 1)),
)


def ablation_data(fits: Fits, options: Mapping[str, Any]) -> dict:
    """F1 at the top 20%, AUROC and AUPRC of each score (mean over seeds)."""
    rows = {k: {"f1": [], "auroc": [], "auprc": []} for k in SCORES}
    for s in fits.settings["seeds"]:
        fold, model = fits.fold(s), fits.model("ALAD", s)
        for k in SCORES:
            sc = model.scores(fold.X_test, k)
            rows[k]["f1"].append(metrics.f1_at_top(fold.y_test, sc, 0.2))
            rows[k]["auroc"].append(metrics.auroc(fold.y_test, sc))
            rows[k]["auprc"].append(metrics.auprc(fold.y_test, sc))
    mean = {k: {m: float(np.mean(v)) for m, v in r.items()} for k, r in rows.items()}
    return {"scores": list(SCORES), "f1": [mean[k]["f1"] for k in SCORES],
            "auroc": [mean[k]["auroc"] for k in SCORES], "auprc": [mean[k]["auprc"] for k in SCORES],
            "paper_f1": PAPER_F1, "per_seed": rows}


#: how much more F1 the feature score must reach than the better raw error for the paper's gain to show
GAIN = 0.03


def ablation_check(data: Mapping[str, Any]) -> Check:
    """The paper's idea: the feature-matching score flags clearly more anomalies than the better of the L1 / L2
    reconstruction errors (F1 at the top 20% higher by more than :data:`GAIN`). At the teaching budget it
    does not (``expect`` not reproduced; the features tie with the raw errors, see ``finding``)."""
    f1 = dict(zip(data["scores"], data["f1"]))
    gap = f1["features"] - max(f1["l1"], f1["l2"])
    return Check(gap > GAIN, "F1 at the top 20%: " + ", ".join(f"{k} {v:.3f}" for k, v in f1.items())
                 + f" (features minus the better reconstruction error: {gap:+.3f})", {**f1, "gap": gap})


RECIPES = (
    Recipe("alad-scores", "ALAD", "score ablation", "four anomaly scores of one model", "scores", KDD,
           ablation_data, plots.score_ablation, ablation_check,
           caption="Same model, four ways to compare a row with its reconstruction: the paper says the feature-space "
                   "distance flags more of the anomalous traffic than the raw L1 / L2 errors, but here the bars "
                   "of the features, L1 and L2 stand about equally high.",
           expect=NOT_REPRODUCED,
           finding="Not reproduced at the budgets a 2-core CPU allows: the feature-matching score flags about as "
                   "many anomalies as the plain L1 / L2 errors (F1 0.87 each; 0.875 / 0.870 / 0.874 with 20,000 "
                   "training rows), short of the paper's 0.95, and the logit score swings the most between runs."),
)
