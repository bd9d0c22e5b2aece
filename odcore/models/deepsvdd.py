"""Deep SVDD: deep support vector data description (Ruff et al., ICML 2018).

A bias-free network ``phi`` maps the data into a space where the normal rows lie close to a
fixed centre ``c``:

- one-class (paper Eq. 4):        ``min mean_i ||phi(x_i) - c||^2``            (+ weight decay)
- soft-boundary (paper Eq. 3):    ``min R^2 + (1/nu) mean_i max(0, ||phi(x_i) - c||^2 - R^2)``

``c`` is the mean network output over the training data (after the optional autoencoder
pretraining), with entries ``|c_i| < eps`` pushed to ``+-eps`` so that a trivial all-zero
solution is not at hand; it is then fixed. For soft-boundary, ``R`` is the ``(1 - nu)``-quantile
of the distances ``||phi(x) - c||`` of the epoch, set after each epoch from ``warm_up_epochs`` on.
Every layer is bias-free and batch norm has no affine parameters (a bias would let the network
map everything onto ``c``: hypersphere collapse).

Anomaly score: ``||phi(x) - c||^2`` (minus ``R^2`` for soft-boundary).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from odcore.models import nets
from odcore.models.capabilities import Capabilities
from odcore.models.deep import INPUT_SHAPE, DeepDetector, Phase, batch_bounds, net_program, size, widths
from odcore.models.params import Param

OBJECTIVES = ("one-class", "soft-boundary")


def _bias_free_conv_decoder(shape, rep_dim: int, width: int = 32):
    """Bias-free mirror of :class:`odcore.models.nets.ConvEncoder` for autoencoder pretraining.

    (n, rep_dim) -> (n, 2w, H/4, W/4) -> (n, w, H/2, W/2) -> (n, C, H, W) -> (n, C*H*W)
    """
    from torch import nn

    c, h, w = shape

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(rep_dim, 2 * width * (h // 4) * (w // 4), bias=False)
            self.body = nn.Sequential(
                nn.BatchNorm2d(2 * width, affine=False, eps=1e-4), nn.LeakyReLU(0.2),
                nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width, affine=False, eps=1e-4), nn.LeakyReLU(0.2),
                nn.ConvTranspose2d(width, c, 4, 2, 1, bias=False), nn.Sigmoid(), nn.Flatten(),
            )

        def forward(self, z):
            return self.body(self.fc(z).view(z.shape[0], 2 * width, h // 4, w // 4))

    return Decoder()


class DeepSVDD(DeepDetector):
    """Deep SVDD, one-class or soft-boundary, on the shared training loop.

    Parameters
    ----------
    objective : "one-class" or "soft-boundary".
    nu : soft-boundary trade-off (share of rows allowed outside the sphere), in (0, 1].
    rep_dim : output size of ``phi``.
    hidden : hidden widths of the bias-free MLP for tabular data (Deep SAD's ODDS net:
        128-64, representation 32).
    input_shape : (C, H, W) for image rows (bias-free conv encoder), None for tabular.
    pretrain_epochs : epochs of bias-free autoencoder pretraining before ``c`` is set (0 = none).
    warm_up_epochs : soft-boundary epochs before ``R`` is first updated.
    eps : entries of ``c`` closer to 0 than this are pushed to ``+-eps``.

    Attributes: ``c_`` (centre, numpy), ``R_`` (radius, 0 for one-class), ``pretrain_history_``.
    """

    params = (
        Param("objective", "one-class", "'one-class' (mean distance to c) or 'soft-boundary' (R^2 + hinge / nu)",
              kind="str", choices=OBJECTIVES),
        Param("nu", 0.1, "soft-boundary: share of training rows allowed outside the sphere", low=0.0, high=1.0,
              low_open=True),
        size("rep_dim", 32, "size of the output representation phi(x)", paper="32 (ODDS nets of Deep SAD)"),
        widths("hidden", (128, 64), "hidden widths of the bias-free MLP (tabular data)", paper="128-64"),
        INPUT_SHAPE,
        Param("pretrain_epochs", 0, "epochs of bias-free autoencoder pretraining before the centre is fixed (0 = none)",
              kind="int", low=0, high=100_000, group="training"),
        Param("warm_up_epochs", 10, "soft-boundary: epochs before the radius R is first set", kind="int", low=0,
              high=100_000, group="training"),
        Param("eps", 0.1, "centre entries with |c_i| < eps are pushed to +-eps", low=0.0, high=1e3),
    )
    param_overrides = {"batch_size": 200, "lr": 1e-4, "weight_decay": 1e-6}
    capability = Capabilities(latent=True, boundary=True, latent_name="representation phi(x)")
    _saved_attrs = ("c_", "R_")

    @classmethod
    def diagnose(cls, scores: np.ndarray) -> list[str]:
        """Hypersphere collapse: almost every distance to the centre is zero."""
        if np.size(scores) > 1 and float(np.median(scores)) < 1e-6:
            return ["Deep SVDD looks collapsed: almost every distance to the centre is zero (hypersphere "
                    "collapse). Use the bias-free network, pretraining or fewer epochs."]
        return []

    # ------------------------------------------------------------------ networks
    def _build(self, n_features: int) -> dict[str, Any]:
        hidden = tuple(int(v) for v in (self.hidden or ()))
        rep = int(self.rep_dim)
        out = {"phi": nets.encoder(n_features, rep, hidden=hidden, input_shape=self.input_shape,
                                   act="leaky_relu", bias=False, batchnorm=True)}
        if int(self.pretrain_epochs) > 0:
            if self.input_shape is not None:
                shape = nets.check_image_shape(self.input_shape, n_features)
                out["decoder"] = _bias_free_conv_decoder(shape, rep)
            else:
                out["decoder"] = nets.mlp([rep, *hidden[::-1], n_features], act="leaky_relu",
                                          bias=False, batchnorm=True)
        return out

    def _optimizers(self) -> list:
        import torch

        return [torch.optim.Adam(self.nets_["phi"].parameters(), lr=self.lr, weight_decay=self.weight_decay)]

    # ------------------------------------------------------------------ pretraining and centre
    def _phases(self) -> list[Phase]:
        """Bias-free autoencoder pretraining (``pretrain_epochs``), then Deep SVDD's objective with the
        centre fixed at the start of the second phase."""
        return [self._pretrain_phase(int(self.pretrain_epochs), "phi", "decoder", lr=self.lr,
                                     weight_decay=self.weight_decay),
                Phase("train", int(self.epochs), self._train_step, start=self._start_train,
                      end=self._on_epoch_end)]

    def _start_train(self) -> None:
        self._c = self._init_center()
        self.c_ = self._c.cpu().numpy().astype(np.float32)

    def _init_center(self):
        """``c`` = mean of ``phi(x)`` over the training data (training mode, as during the
        optimisation), with ``|c_i| < eps`` pushed to ``+-eps`` (sign of ``c_i``, + for 0)."""
        import torch

        phi = self.nets_["phi"]
        phi.train()
        total = torch.zeros(int(self.rep_dim), device=self._X.device)
        with torch.no_grad():
            for a, b in batch_bounds(self._X.shape[0], int(self.batch_size)):
                total += phi(self._X[a:b]).sum(dim=0)
        c = total / self._X.shape[0]
        eps = float(self.eps)
        small = c.abs() < eps
        c = torch.where(small & (c < 0), torch.full_like(c, -eps), c)
        c = torch.where(small & (c >= 0), torch.full_like(c, eps), c)
        return c

    def _prepare(self, X, y, X_pos) -> None:
        super()._prepare(X, y, X_pos)
        self.R_ = 0.0
        self._dists: list = []

    # ------------------------------------------------------------------ objective
    def _loss(self, dist, R: float):
        """Eq. 4 (one-class) or Eq. 3 (soft-boundary) on squared distances ``dist`` (n,)."""
        import torch

        if self.objective == "soft-boundary":
            return R * R + (1.0 / float(self.nu)) * torch.clamp(dist - R * R, min=0).mean()
        return dist.mean()

    def _train_step(self, batch, epoch: int) -> dict[str, Any]:
        x, _ = batch
        z = self.nets_["phi"](x)
        dist = ((z - self._c) ** 2).sum(dim=1)
        loss = self._loss(dist, float(self.R_))
        opt = self.optimizers_[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if self.objective == "soft-boundary":
            self._dists.append(dist.detach())
        return {"loss": loss.detach()}

    def _on_epoch_end(self, epoch: int) -> dict[str, Any]:
        import torch

        if self.objective == "soft-boundary":
            if epoch >= int(self.warm_up_epochs) and self._dists:
                d = torch.cat(self._dists).sqrt()
                self.R_ = float(torch.quantile(d.double(), 1.0 - float(self.nu)))
            self._dists = []
        return {"R": float(self.R_)}

    def _score_batch(self, xb):
        dist = ((self.nets_["phi"](xb) - self._c) ** 2).sum(dim=1)
        if self.objective == "soft-boundary":
            return dist - float(self.R_) ** 2
        return dist

    def _score_program(self) -> dict[str, Any] | None:
        """``||phi(x) - c||^2`` (minus ``R^2`` for the soft boundary) as a program (odcore.program)."""
        if type(self)._score_batch is not DeepSVDD._score_batch:
            return None
        offset = -float(self.R_) ** 2 if self.objective == "soft-boundary" else 0.0
        return net_program(self, ("phi",), {"op": "sq_dist", "center": "attr.c_", "offset": offset})

    # ------------------------------------------------------------------ capabilities
    def embed(self, X) -> np.ndarray:
        """The representation ``phi(x)`` (n, rep_dim), eval mode."""
        return self._apply_batched(X, self.nets_["phi"])

    def objective_value(self, X) -> float:
        """The training objective (Eq. 3 or 4, without weight decay) on ``X`` in eval mode."""
        import torch

        dist = torch.from_numpy(((self.embed(X) - self.c_) ** 2).sum(axis=1).astype(np.float64))
        return float(self._loss(dist, float(self.R_)))

    def _restore_tensors(self, tensors: dict[str, Any]) -> None:
        import torch

        super()._restore_tensors(tensors)
        self._c = torch.as_tensor(np.asarray(self.c_, dtype=np.float32)).to(self.device_)
