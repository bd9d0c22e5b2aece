"""The DROCC boundary lab: four detectors on the DROCC sine wave, scored on a grid (DROCC Fig. 1)."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from odcore import metrics

LAB_METHODS = ("drocc", "drocc-lf", "ocsvm", "deep-svdd")


def boundary_lab(*, noisy: bool = False, radius: float = 0.2, gamma: float = 2.0, mu: float = 1.0,
                 ascent_steps: int = 5, epochs: int = 30, warmup: int = 5, resolution: int = 60,
                 n_negatives: int = 64, seed: int = 0, methods: Sequence[str] = LAB_METHODS,
                 threads: int | None = 1, progress: Callable[[float], Any] | None = None,
                 cancel: threading.Event | None = None) -> dict[str, Any]:
    """Retrain DROCC, DROCC-LF, OC-SVM and Deep SVDD on the DROCC sine wave (Fig. 1) and score a grid.

    The wave is used in its own coordinates (no standardisation) so that ``radius`` reads in the
    units of the figure. DROCC-LF also gets ``n_negatives`` labelled points off the wave (its
    "limited negatives"). For the noisy 10-D variant the grid varies the first two coordinates and
    fixes the noise coordinates at 0 (their mean). Returns ``{"xs", "ys", "points", "panels":
    [{"method", "title", "z", "adversarial", "auroc", "seconds", "error"}], "test_auroc"}`` where
    ``auroc`` is measured on labelled points on and off the wave (off = at least 0.2 away).

    ``threads``: torch threads while training (restored afterwards). These networks are tiny: one
    thread took 4.5 s for all four detectors where two threads took 118 s on a loaded 2-core machine.
    """
    import torch

    prev = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        return _boundary_lab(noisy=noisy, radius=radius, gamma=gamma, mu=mu, ascent_steps=ascent_steps,
                             epochs=epochs, warmup=warmup, resolution=resolution, n_negatives=n_negatives,
                             seed=seed, methods=methods, progress=progress, cancel=cancel)
    finally:
        torch.set_num_threads(prev)


def _boundary_lab(*, noisy, radius, gamma, mu, ascent_steps, epochs, warmup, resolution, n_negatives, seed,
                  methods, progress, cancel) -> dict[str, Any]:
    import time

    from odcore.data import builtins
    from odcore.models import registry

    ds = builtins.sine_noisy(seed=seed) if noisy else builtins.sine()
    X = ds.X
    d = X.shape[1]
    grid2, xs, ys = builtins.sine_grid(resolution)
    grid = np.zeros((grid2.shape[0], d), dtype=np.float32)
    grid[:, :2] = grid2
    Xt, yt = builtins.sine_test_points(600, seed=seed + 1, noisy=noisy)
    Xn, yn = builtins.sine_test_points(2 * n_negatives, seed=seed + 2, noisy=noisy)
    neg = Xn[yn == 1][:n_negatives]
    common = {"epochs": int(epochs), "batch_size": 256, "random_state": int(seed), "device": "cpu"}
    params = {
        "drocc": {**common, "radius": float(radius), "gamma": float(gamma), "mu": float(mu),
                  "ascent_num_steps": int(ascent_steps), "only_ce_epochs": int(warmup), "ascent_step_size": 0.01,
                  "project_every": max(1, min(10, int(ascent_steps))), "hidden": (64, 64)},
        "ocsvm": {"nu": 0.1, "gamma": "scale"},
        "deep-svdd": {**common},
    }
    params["drocc-lf"] = dict(params["drocc"])
    titles = {"drocc": "DROCC", "drocc-lf": "DROCC-LF", "ocsvm": "OC-SVM", "deep-svdd": "Deep SVDD"}
    panels = []
    for i, m in enumerate(methods):
        if cancel is not None and cancel.is_set():
            break
        t0 = time.perf_counter()
        panel: dict[str, Any] = {"method": m, "title": titles.get(m, m), "adversarial": None}
        try:
            valid = registry.defaults(m)
            model = registry.create(m, **{k: v for k, v in params.get(m, {}).items() if k in valid})
            if model.uses_labels:  # DROCC-LF: the limited negatives are labelled 1
                model.fit(np.vstack([X, neg]), np.r_[np.zeros(len(X), np.int64), np.ones(len(neg), np.int64)],
                          cancel=cancel)
            else:
                model.fit(X, cancel=cancel)
            panel["z"] = model.decision_function(grid).reshape(len(ys), len(xs))
            panel["auroc"] = metrics.auroc(yt, model.decision_function(Xt))
            adv = model.adversarial_points_ if model.capabilities().adversarial else None
            if adv is not None and len(adv):
                panel["adversarial"] = np.asarray(adv)[:600, :2]
        except Exception as err:  # noqa: BLE001 - one failing method must not hide the others
            panel["error"] = f"{type(err).__name__}: {err}"
            panel["z"] = np.zeros((len(ys), len(xs)))
            panel["auroc"] = math.nan
        panel["seconds"] = time.perf_counter() - t0
        panels.append(panel)
        if progress is not None:
            progress((i + 1) / len(methods))
    return {"xs": xs, "ys": ys, "points": X[:, :2], "panels": panels, "noisy": noisy}
