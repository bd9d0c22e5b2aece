"""One latent map per deep detector, as a recipe: every deep detector with latent codes trained on the
same digits and its codes of the same rows drawn by PCA.

Data: scikit-learn's 8x8 digits in WALDO's positive-unlabelled setting (digit 0 the inliers, a labelled
sample of zeros and a mixture of the other zeros with as many other digits). Each detector gets what its
setting uses (:func:`odcore.recipes.framework.fit_member`): WALDO, CoRa and WAE-GAN the labelled zeros and
the mixture, the one-class detectors (OC-NN, Deep SVDD) the labelled zeros, the unsupervised ones (ALAD, the
autoencoder) the mixture, Deep SAD the mixture unlabelled and the zeros labelled normal (with no labelled
anomaly its Eq. 4 pulls the whole mixture in; eta 10 weights the labelled zeros enough for the outliers to
stand apart: separation 0.75 against 0.60 at the paper's eta 1); all are mapped on the mixture.
:data:`DETECTORS` lists the members: a test keeps it in step with the registry (a new deep detector with
latent codes must get a map).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from odcore import metrics, plots
from odcore.recipes.framework import Budget, Check, Fits, Knob, Member, Recipe, Training

_MLP = {"input_shape": None}  # MLPs on the 64 pixels: convolutional nets on 8x8 images cost time and show nothing more
DETECTORS = (Member("WALDO", "waldo", {"latent": 8, "lam": 0.5, **_MLP}),
             Member("CoRa", "cora", {"latent": 8, **_MLP}),
             Member("WAE-GAN", "wae-gan", {"latent": 8, "lam": 0.5, **_MLP}),
             Member("ALAD", "alad", {"latent": 8, "lr": 1e-3, "batch_size": 32, **_MLP}),
             Member("OC-NN", "ocnn", {"activation": "radial", "hidden": 32}),
             Member("Deep SVDD", "deep-svdd", {"rep_dim": 8, "hidden": (64, 32), "lr": 1e-3, **_MLP}),
             Member("Deep SAD", "deep-sad", {"rep_dim": 8, "hidden": (64, 32), "lr": 1e-3, "eta": 10.0, **_MLP}),
             Member("Autoencoder", "autoencoder", {"latent": 8, **_MLP}))

DIGITS = Training(
    name="latent-digits", fold="digits-pu", options={"inlier": 0, "nu": 0.5, "n_pos": 90},
    members=DETECTORS,
    budgets={
        "teaching": Budget("teaching", seeds=(0,), params={"epochs": 60, "lr": 1e-3, "batch_size": 32},
                           member_params={"ALAD": {"lr": 1e-3}}, seconds=10.0,
                           what="60 epochs at lr 1e-3, batch 32, seed 0; 90 labelled zeros, a mixture of 88 zeros "
                                "and 88 other digits"),
        "full": Budget("full", seeds=(0,), params={"epochs": 300, "lr": 1e-3, "batch_size": 32}, seconds=150.0,
                       what="300 epochs, seed 0"),
    },
    knobs=(Knob("epochs", "epochs", "param", 5, 300, 5), Knob("seed", "seed", "seed", 0, 9, 1)),
)


def maps_data(fits: Fits, options: Mapping[str, Any]) -> dict:
    """PCA of each detector's codes of the mixture, scaled by the inliers' spread; how well the distance from
    the inliers' centre in that map separates the outliers (AUROC)."""
    from odcore import embed

    fold = fits.fold()
    y = fold.y_test
    panels = []
    for key in fits.settings["members"]:
        model = fits.model(key)
        Z = np.asarray(model.embed(fold.X_test), dtype=np.float64)
        xy = embed.pca(Z) if Z.shape[1] > 2 else Z[:, :2]
        xy = xy - xy[y == 0].mean(axis=0)
        xy = xy / (xy[y == 0].std() or 1.0)
        sep = metrics.auroc(y, np.linalg.norm(xy, axis=1))
        panels.append({"title": f"{key} · separation {sep:.2f}", "key": key, "xy": np.round(xy, 3).tolist(),
                       "label": y.astype(int).tolist(), "separation": float(sep),
                       "latent": model.capabilities().latent_name})
    return {"panels": panels}


def maps_check(data: Mapping[str, Any]) -> Check:
    """In every detector's map the outliers lie farther from the inliers' centre than the inliers (AUROC of
    that distance >= 0.7)."""
    sep = {p["key"]: p["separation"] for p in data["panels"]}
    return Check(all(v >= 0.7 for v in sep.values()), "separation AUROC in the map: " + ", ".join(
        f"{k} {v:.2f}" for k, v in sep.items()), sep)


RECIPES = (
    Recipe("latent-maps", "", "Latent maps", "one per deep detector", "latent", DIGITS,
           maps_data, plots.latent_maps, maps_check,
           caption="Each panel is one detector's codes of the same rows (PCA, centred and scaled to one range): "
                   "where a detector works, the red outliers sit away from the blue cloud of zeros."),
)
