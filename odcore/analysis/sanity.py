"""Plain-language warnings about a run: what in its scores or its loss curve looks wrong."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from odcore import metrics


def sanity_warnings(scores: Any = None, y: Any = None, history: Sequence[Mapping[str, Any]] | None = None,
                    method: str | None = None) -> list[str]:
    """Plain-language warnings about a run: constant scores, AUROC below 0.5, a loss that never
    moved, and Deep SVDD hypersphere collapse (all distances near zero)."""
    out: list[str] = []
    if scores is not None:
        s = np.asarray(scores, dtype=np.float64).ravel()
        if s.size > 1 and np.isfinite(s).all():
            spread = float(s.max() - s.min())
            scale = max(float(np.abs(s).max()), 1e-12)
            if spread <= 1e-9 * scale or spread < 1e-12:
                out.append("The scores are (nearly) constant: the model does not rank the rows. "
                           "Train longer, change the learning rate or check the data.")
            elif method == "deep-svdd" and float(np.median(s)) < 1e-6:
                out.append("Deep SVDD looks collapsed: almost every distance to the centre is zero "
                           "(hypersphere collapse). Use the bias-free network, pretraining or fewer epochs.")
            if y is not None:
                yy = np.asarray(y).ravel()
                if yy.shape == s.shape and 0 < yy.sum() < yy.size:
                    a = metrics.auroc(yy, s)
                    if a < 0.5:
                        out.append(f"AUROC is {a:.3f}, below chance (0.5): the ranking is inverted "
                                   "or the model learned the outliers as normal.")
    if history:
        losses = [h.get("loss") for h in history if isinstance(h.get("loss"), (int, float))]
        if len(losses) >= 3:
            first, last = float(losses[0]), float(losses[-1])
            if abs(first - last) <= 1e-3 * max(abs(first), 1e-12):
                out.append(f"The loss never moved ({first:.4g} -> {last:.4g} over {len(losses)} epochs): "
                           "raise the learning rate or check that the inputs are standardised.")
    return out
