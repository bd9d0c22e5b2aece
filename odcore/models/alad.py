"""ALAD: adversarially learned anomaly detection (Zenati et al., ICDM 2018).

A BiGAN (encoder ``E``, generator ``G``, joint discriminator ``D_xz``) with two
cycle-consistency discriminators: ``D_xx`` tells the real pair ``(x, x)`` from
``(x, G(E(x)))`` and ``D_zz`` tells ``(z, z)`` from ``(z, E(G(z)))``. The discriminators
ascend the sum of the three GAN objectives; ``E`` and ``G`` minimise the same cross-entropies
with flipped labels. Exponential-moving-average copies of every network (decay 0.999) are
updated after each step and used for scoring, ``embed`` and ``reconstruct``.

Anomaly scores (``anomaly_score``): ``"l1"`` ``||x - G(E(x))||_1``, ``"l2"`` ``||x - G(E(x))||_2``,
``"logits"`` ``softplus(-D_xx(x, G(E(x))))`` (the cross-entropy of calling the pair real; a
decreasing function of the ``D_xx`` logit), and ``"features"`` (default)
``||f_xx(x, x) - f_xx(x, G(E(x)))||_1`` with ``f_xx`` the last hidden layer of ``D_xx``.

Networks: MLPs with the paper's KDD sizes (input width taken from the data) for tabular rows;
for images (``input_shape``) ``E`` and ``G`` are the small convolutional nets of
:mod:`odcore.models.nets`, the ``x`` branch of ``D_xz`` and ``D_xx`` are convolutional
feature extractors (``D_xx`` sees ``x`` and ``x'`` stacked as channels).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from odcore.errors import InputError
from odcore.models import nets
from odcore.models.capabilities import Capabilities
from odcore.models.deep import INPUT_SHAPE, DeepDetector, size, widths
from odcore.models.params import Param

SCORES = ("l1", "l2", "logits", "features")
NET_NAMES = ("E", "G", "D_xz", "D_xx", "D_zz")


class DXZ(nn.Module):
    """Joint discriminator ``D_xz(x, z)``: x branch (128, batch norm), z branch (128, dropout 0.5),
    joined to 128 (dropout 0.5) and one logit."""

    def __init__(self, n_features: int, latent: int, width: int, input_shape):
        super().__init__()
        if input_shape is None:
            x_net: nn.Module = nn.Linear(n_features, width)
        else:
            shape = nets.check_image_shape(input_shape, n_features)
            x_net = nets.ConvEncoder(shape, width)
        self.x_branch = nn.Sequential(x_net, nn.BatchNorm1d(width), nn.LeakyReLU(0.2))
        self.z_branch = nn.Sequential(nn.Linear(latent, width), nn.LeakyReLU(0.2), nn.Dropout(0.5))
        self.joint = nn.Sequential(nn.Linear(2 * width, width), nn.LeakyReLU(0.2), nn.Dropout(0.5))
        self.out = nn.Linear(width, 1)

    def forward(self, x, z):
        h = self.joint(torch.cat([self.x_branch(x), self.z_branch(z)], dim=1))
        return self.out(h).squeeze(1)

class DXX(nn.Module):
    """Cycle discriminator ``D_xx(x, x')`` on the concatenated pair: 2d-128(dropout 0.2)-1."""

    def __init__(self, n_features: int, width: int, input_shape):
        super().__init__()
        if input_shape is None:
            body: nn.Module = nn.Linear(2 * n_features, width)
        else:
            c, h, w = nets.check_image_shape(input_shape, n_features)
            # flat rows [x, x'] viewed as (2C, H, W): x and x' stacked as channels
            body = nets.ConvEncoder((2 * c, h, w), width)
        self.body = nn.Sequential(body, nn.LeakyReLU(0.2), nn.Dropout(0.2))
        self.out = nn.Linear(width, 1)

    def features(self, x, x2):
        """``f_xx``: the last hidden layer (n, width)."""
        return self.body(torch.cat([x, x2], dim=1))

    def forward(self, x, x2):
        return self.out(self.features(x, x2)).squeeze(1)

class DZZ(nn.Module):
    """Cycle discriminator ``D_zz(z, z')`` on the concatenated pair: 2k-32-1 (dropout 0.2) by default
    (paper, KDD: 64-32-1 with k = 32)."""

    def __init__(self, latent: int, hidden):
        super().__init__()
        self.net = nets.mlp([2 * latent, *hidden, 1], act="leaky_relu", dropout=0.2)

    def forward(self, z, z2):
        return self.net(torch.cat([z, z2], dim=1)).squeeze(1)


def _spectral(module):
    """Spectral normalisation on every linear and convolutional layer of ``module``."""
    from torch import nn
    from torch.nn.utils.parametrizations import spectral_norm

    for name, child in list(module.named_children()):
        if isinstance(child, (nn.Linear, nn.Conv2d)):
            setattr(module, name, spectral_norm(child))
        else:
            _spectral(child)
    return module


class ALAD(DeepDetector):
    """Adversarially learned anomaly detection with EMA weights and early stopping.

    Parameters: ``latent`` size; ``enc_hidden`` / ``gen_hidden`` MLP widths (paper, KDD:
    121-64-32 and 32-64-128-121); ``disc_width`` (128) and ``dzz_hidden`` ((32,): 2k-32-1);
    ``input_shape`` for image rows; ``anomaly_score`` ("l1", "l2", "logits", "features");
    ``spectral_norm`` on the discriminators; ``ema_decay``; early stopping (the shared loop's, on by
    default here: ``validation_share`` 0.1, ``patience``) on ``stop_on`` ("reconstruction": mean L1
    reconstruction error of the held-out rows, or "score": mean of the selected anomaly score), both
    computed with the EMA networks; the best EMA weights are restored at the end. Plus the common
    training parameters (Adam with beta1 = 0.5).

    Attributes: ``best_epoch_`` (epoch whose EMA weights are used), ``stopped_epoch_``.
    """

    params = (
        size("latent", 32, "size of the latent code z", paper="32"),
        widths("enc_hidden", (64,), "hidden widths of the encoder MLP (LeakyReLU 0.2)", paper="64 (KDD)"),
        widths("gen_hidden", (64, 128), "hidden widths of the generator MLP (ReLU)", paper="64, 128 (KDD)"),
        size("disc_width", 128, "width of the discriminators' layers", paper="128"),
        widths("dzz_hidden", (32,), "hidden widths of D_zz (on the 2k inputs of the pair)", paper="32 (KDD)"),
        INPUT_SHAPE,
        Param("anomaly_score", "features", "anomaly score: 'features' (paper default), 'l1', 'l2' or 'logits'",
              kind="str",
              choices=SCORES, paper="features", group="scoring"),
        Param("spectral_norm", False, "spectral normalisation on the discriminators", kind="bool",
              paper="images only"),
        Param("ema_decay", 0.999, "decay of the moving average of the weights used for scoring", low=0.0, high=1.0,
              high_open=True, paper="0.999", group="training"),
        Param("stop_on", "reconstruction", "validation criterion: 'reconstruction' (mean L1 error) or 'score' (mean "
              "anomaly score)", kind="str", choices=("reconstruction", "score"), group="training"),
    )
    param_overrides = {
        "contamination": 0.2,
        "validation_share": 0.1,
        "batch_size": {"default": 256, "help": "rows per step (the paper's 50 takes 5x the steps: a 10k-row table "
                                               "then trains for minutes on 2 cores; 256 with lr 1e-3 also measured "
                                               "better on KDD99, BENCHMARKS.md ALAD round 2)", "paper": "50"},
        "lr": {"default": 1e-3, "help": "Adam learning rate for both optimizers (beta1 0.5; the paper's 1e-5 with "
                                        "batch 256 had not converged after 40 epochs on KDD99)", "paper": "1e-5"},
    }
    capability = Capabilities(latent=True, decoders=("inlier",))
    _saved_attrs = ("best_epoch_", "stopped_epoch_")

    def _build(self, n_features: int) -> dict[str, Any]:
        k, width, shape = int(self.latent), int(self.disc_width), self.input_shape
        if shape is None:
            E = nets.mlp([n_features, *self.enc_hidden, k], act="leaky_relu")
            G = nets.mlp([k, *self.gen_hidden, n_features], act="relu")
        else:
            E = nets.encoder(n_features, k, input_shape=shape)
            G = nets.decoder(n_features, k, input_shape=shape, act="relu")
        raw = {"E": E, "G": G, "D_xz": DXZ(n_features, k, width, shape), "D_xx": DXX(n_features, width, shape),
               "D_zz": DZZ(k, tuple(self.dzz_hidden))}
        if self.spectral_norm:
            for name in ("D_xz", "D_xx", "D_zz"):
                _spectral(raw[name])
        out = dict(raw)
        for name in NET_NAMES:  # the moving-average copies, used for scoring
            ema = copy.deepcopy(raw[name])
            for p in ema.parameters():
                p.requires_grad_(False)
            out["ema_" + name] = ema
        return out

    def _optimizers(self) -> list:
        import torch

        def params(names):
            return [p for n in names for p in self.nets_[n].parameters()]

        betas = (0.5, 0.999)
        self._eg_params = params(("E", "G"))
        return [torch.optim.Adam(params(("D_xz", "D_xx", "D_zz")), lr=self.lr, betas=betas,
                                 weight_decay=self.weight_decay),
                torch.optim.Adam(self._eg_params, lr=self.lr, betas=betas, weight_decay=self.weight_decay)]

    # ------------------------------------------------------------------ training
    #: early stopping (the shared loop's) keeps the best epoch's moving-average networks, used for scoring
    _best_nets = tuple("ema_" + n for n in NET_NAMES)

    def _prepare(self, X, y, X_pos) -> None:
        super()._prepare(X, y, X_pos)
        self._y = None  # unsupervised: labels only feed the loop's monitoring
        self._ema_steps = 0

    def _train_step(self, batch, epoch: int) -> dict[str, Any]:
        import torch
        import torch.nn.functional as F

        x, _ = batch
        E, G, Dxz, Dxx, Dzz = (self.nets_[n] for n in NET_NAMES)
        z = self._randn(x.shape[0], int(self.latent))

        def bce(logits, label: float):
            return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label))

        # discriminators: real (x, E(x)), (x, x), (z, z) vs fake (G(z), z), (x, G(E(x))), (z, E(G(z)))
        with torch.no_grad():
            ex, gz = E(x), G(z)
            rec_x, rec_z = G(ex), E(gz)
        loss_d = (bce(Dxz(x, ex), 1.0) + bce(Dxz(gz, z), 0.0)
                  + bce(Dxx(x, x), 1.0) + bce(Dxx(x, rec_x), 0.0)
                  + bce(Dzz(z, z), 1.0) + bce(Dzz(z, rec_z), 0.0))
        opt_d, opt_eg = self.optimizers_
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()

        # encoder and generator: the same objectives with flipped labels
        ex, gz = E(x), G(z)
        rec_x, rec_z = G(ex), E(gz)
        loss_eg = (bce(Dxz(x, ex), 0.0) + bce(Dxz(gz, z), 1.0)
                   + bce(Dxx(x, x), 0.0) + bce(Dxx(x, rec_x), 1.0)
                   + bce(Dzz(z, z), 0.0) + bce(Dzz(z, rec_z), 1.0))
        opt_eg.zero_grad(set_to_none=True)
        loss_eg.backward(inputs=self._eg_params)
        opt_eg.step()
        self._update_ema()
        return {"loss_d": loss_d.detach(), "loss_eg": loss_eg.detach()}

    def _update_ema(self) -> None:
        """``ema <- d * ema + (1 - d) * raw`` for every parameter; buffers are copied.

        The decay is ``min(ema_decay, (1 + t) / (10 + t))`` at step ``t`` (the usual warm-up, so
        that short runs are not scored with weights still close to the initialisation).
        """
        import torch

        t = self._ema_steps
        d = min(float(self.ema_decay), (1.0 + t) / (10.0 + t))
        self._ema_steps += 1
        with torch.no_grad():
            for name in NET_NAMES:
                raw, ema = self.nets_[name], self.nets_["ema_" + name]
                for pe, pr in zip(ema.parameters(), raw.parameters()):
                    pe.lerp_(pr, 1.0 - d)
                for be, br in zip(ema.buffers(), raw.buffers()):
                    be.copy_(br)

    def _validation_loss(self, X_val: np.ndarray) -> float:
        """Unsupervised validation criterion on the held-out training rows (EMA networks, eval mode):
        ``stop_on="reconstruction"`` the mean L1 reconstruction error, ``"score"`` the mean anomaly score."""
        import torch

        if self.stop_on == "score":
            return float(self._score(X_val).mean())
        self._train_mode(False)
        total, bs = 0.0, int(self.score_batch_size)
        with torch.no_grad():
            for i in range(0, X_val.shape[0], bs):
                xb = self._tensor(X_val[i:i + bs])
                total += float(self._l1(xb, self._ema_rec(xb)).sum())
        return total / X_val.shape[0]

    # ------------------------------------------------------------------ scoring
    def _ema_rec(self, xb):
        return self.nets_["ema_G"](self.nets_["ema_E"](xb))

    @staticmethod
    def _l1(x, rec):
        return (x - rec).abs().flatten(1).sum(dim=1)

    def score_with(self, xb, kind: str, *, ema: bool = True):
        """Anomaly score ``kind`` of a tensor batch with the EMA (default) or the raw networks.

        Call in eval mode and under ``torch.no_grad()``; :meth:`decision_function` does both.
        """
        import torch.nn.functional as F

        p = "ema_" if ema else ""
        E, G, Dxx = self.nets_[p + "E"], self.nets_[p + "G"], self.nets_[p + "D_xx"]
        rec = G(E(xb))
        if kind == "l1":
            return self._l1(xb, rec)
        if kind == "l2":
            return (xb - rec).flatten(1).norm(dim=1)
        if kind == "logits":
            return F.softplus(-Dxx(xb, rec))  # cross-entropy of calling (x, G(E(x))) real
        if kind == "features":
            return (Dxx.features(xb, xb) - Dxx.features(xb, rec)).abs().sum(dim=1)
        raise InputError(f"anomaly_score must be one of {SCORES}, got {kind!r}")

    def _score_batch(self, xb):
        return self.score_with(xb, self.anomaly_score)

    def scores(self, X, kind: str | None = None) -> np.ndarray:
        """Anomaly scores of ``X`` with the EMA networks for ``kind`` (default: the ``anomaly_score`` parameter)."""
        kind = kind or self.anomaly_score
        return self._apply_batched(X, lambda xb: self.score_with(xb, kind)).astype(np.float64)

    def embed(self, X) -> np.ndarray:
        """Latent codes ``E(x)`` of the EMA encoder (n, latent)."""
        return self._apply_batched(X, self.nets_["ema_E"])

    def reconstruct(self, X, decoder: str = "inlier") -> dict[str, np.ndarray]:
        """``G(E(x))`` with the EMA networks and the per-feature squared errors."""
        self._check_decoder(decoder)
        rec = self._apply_batched(X, self._ema_rec)
        X = np.asarray(X, dtype=np.float32).reshape(rec.shape)
        return {"reconstruction": rec, "errors": (rec - X) ** 2}
