"""Plain-language warnings about a run: what in its scores or its loss curve looks wrong."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from odcore import metrics


def sanity_warnings(scores: Any = None, y: Any = None, history: Sequence[Mapping[str, Any]] | None = None,
                    method: str | None = None) -> list[str]:
    """Plain-language warnings about a run: constant scores, AUROC below 0.5, a loss that never
    moved, and what the detector itself knows can go wrong (``diagnose``: Deep SVDD's hypersphere
    collapse, all distances near zero)."""
    out: list[str] = []
    if scores is not None:
        s = np.asarray(scores, dtype=np.float64).ravel()
        if s.size > 1 and np.isfinite(s).all():
            spread = float(s.max() - s.min())
            scale = max(float(np.abs(s).max()), 1e-12)
            if spread <= 1e-9 * scale or spread < 1e-12:
                out.append("The scores are (nearly) constant: the model does not rank the rows. "
                           "Train longer, change the learning rate or check the data.")
            elif method:
                out += _detector_diagnosis(method, s)
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


def _detector_diagnosis(method: str, scores: np.ndarray) -> list[str]:
    """The detector class's own warnings about its scores (``BaseDetector.diagnose``)."""
    from odcore.models import registry

    try:
        return list(registry.get_class(method).diagnose(scores))
    except Exception:  # noqa: BLE001 - an unknown or unavailable method has nothing to add
        return []
