"""Deep SAD: deep semi-supervised anomaly detection (Ruff et al., ICLR 2020).

Deep SVDD (:mod:`odcore.models.deepsvdd`) learns a bias-free map ``phi`` under which normal rows lie close
to a fixed centre ``c``. Deep SAD adds the rows someone has labelled: labelled normals are pulled towards
``c`` like the unlabelled rows, labelled anomalies are pushed away through the *inverse* squared
distance (paper Eq. 4)::

    min_W  1/(n+m) sum_i ||phi(x_i) - c||^2  +  eta/(n+m) sum_j (||phi(x~_j) - c||^2)^{y~_j}   (+ weight decay)

over ``n`` unlabelled rows ``x_i`` and ``m`` labelled rows ``x~_j`` with ``y~_j = +1`` (normal) or
``y~_j = -1`` (anomaly). As in the authors' code, ``(d + 1e-6)^{-1}`` keeps the inverse finite. With no
labelled row it is Deep SVDD's one-class objective (Eq. 4 of Ruff et al. 2018).

In this project the labels come from the analyst's marks (:mod:`odcore.data.marks`): rows marked
*confirmed* are ``fit(X, y)``'s ``y == 1`` rows (the labelled anomalies), rows marked *expected* come as
``X_pos`` (the labelled normals). The centre ``c`` is the mean of ``phi`` over the rows not labelled
anomalous (the normal data's centre), fixed when training starts. Anomaly score: ``||phi(x) - c||^2``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from odcore.models.deepsvdd import DeepSVDD
from odcore.models.params import Param

#: keeps the inverse distance of a labelled anomaly finite (the authors' ``eps``)
INVERSE_EPS = 1e-6


def semi_supervised_rows(X: Any, y: Any = None, X_pos: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """The rows ``X`` then ``X_pos`` and each row's target ``y~`` of Eq. 4: 0 unlabelled, -1 a labelled anomaly
    (``y == 1`` among ``X``), +1 a labelled normal (every ``X_pos`` row)."""
    rows = np.asarray(X) if X_pos is None else np.vstack([X, X_pos])
    target = np.zeros(len(rows), dtype=np.int64)
    if y is not None:
        target[:len(X)][np.asarray(y) == 1] = -1
    if X_pos is not None:
        target[len(X):] = 1
    return rows, target


class DeepSAD(DeepSVDD):
    """Deep SAD on the shared training loop: Deep SVDD's bias-free network and centre, plus the labelled rows.

    ``fit(X, y, X_pos=...)``: ``y == 1`` marks labelled anomalies among ``X`` (``y == 0``: unlabelled);
    ``X_pos`` holds labelled normal rows (optional). Parameters as Deep SVDD's, plus ``eta`` (the weight of
    the labelled rows; the paper's default 1). The objective is one-class (the paper extends Eq. 4 of Deep
    SVDD, not its soft-boundary form).
    """

    uses_labels = True
    #: takes labelled normal rows as ``X_pos`` when it has them (they are optional, unlike WALDO's)
    uses_positives = True
    params = (
        Param("eta", 1.0, "weight of the labelled rows against the unlabelled ones (eta > 1 stresses the labels)",
              low=0.0, high=1e6, low_open=True, paper="1"),
    )
    param_overrides = {"objective": {"choices": ("one-class",),
                                     "help": "Deep SAD extends the one-class objective (Ruff et al. 2020, Eq. 4)"}}

    def _prepare(self, X, y, X_pos) -> None:
        """Training rows = ``X`` then ``X_pos``; ``self._y`` holds each row's semi-supervised target
        ``y~``: 0 unlabelled, -1 labelled anomaly (``y == 1``), +1 labelled normal (the ``X_pos`` rows)."""
        rows, target = semi_supervised_rows(X, y, X_pos)
        super()._prepare(rows, target, None)
        self.n_labelled_ = {"normal": int((target == 1).sum()), "anomalous": int((target == -1).sum())}

    def _init_center(self):
        """``c`` = the mean of ``phi`` over the rows not labelled anomalous (Deep SVDD's rule on the normal
        data; over every row when fewer than two are left), entries with ``|c_i| < eps`` pushed to ``+-eps``."""
        X_all = self._X
        keep = self._y != -1
        if int(keep.sum()) < 2:  # batch norm cannot normalise one row in training mode: all rows then
            return super()._init_center()
        try:
            self._X = X_all[keep]
            return super()._init_center()
        finally:
            self._X = X_all

    def _loss_terms(self, dist, target):
        """Per-row terms of Eq. 4: ``d`` for unlabelled rows, ``eta * (d + eps)^{y~}`` for labelled ones."""
        import torch

        labelled = float(self.eta) * (dist + INVERSE_EPS) ** target.to(dist.dtype)
        return torch.where(target == 0, dist, labelled)

    def _train_step(self, batch, epoch: int) -> dict[str, Any]:
        x, target = batch
        z = self.nets_["phi"](x)
        dist = ((z - self._c) ** 2).sum(dim=1)
        loss = self._loss_terms(dist, target).mean()
        opt = self.optimizers_[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.detach()}

    def objective_value(self, X, y=None, X_pos=None) -> float:
        """Eq. 4 (without weight decay) on ``X`` (``y == 1``: labelled anomalies) and ``X_pos`` (labelled
        normals), in eval mode."""
        import torch

        rows, target = semi_supervised_rows(X, y, X_pos)
        dist = torch.from_numpy(((self.embed(rows) - self.c_) ** 2).sum(axis=1).astype(np.float64))
        return float(self._loss_terms(dist, torch.from_numpy(target)).mean())
