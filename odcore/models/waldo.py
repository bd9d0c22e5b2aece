"""WALDO: a Wasserstein autoencoder with two decoders for positive-unlabelled outlier detection.

Reference: Rizzo, Pang, Chen, Chawla. *Probabilistic Outlier Detection and Generation*
(see ``shared/METHODS.md``, section WALDO, for the specification this module follows).

Setting: a labelled sample of inliers ``X^p`` (``fit(..., X_pos=...)``) and an unlabelled
mixture ``X^u`` (``fit(X)``) with an unknown share ``nu`` of outliers. A shared encoder ``Q``
feeds an inlier decoder ``G_i`` and an outlier decoder ``G_o`` (``G_o`` starts as an exact copy
of ``G_i``); a latent discriminator ``D`` pushes ``Q_Z`` towards the prior ``N(0, sigma^2 I)``
(WAE-GAN). Each step (METHODS.md, steps 1-5):

1. ``D`` ascends ``log D(z) + log(1 - D(Q(s)))``, ``z ~ N(0, sigma^2 I)``, ``s`` the positive
   batch by default (``disc_on``);
2. per-sample squared errors ``l_p = |G_i(Q(p)) - p|^2``, ``l_ui``, ``l_uo`` (mean over features);
3. advantage ``adv = min(l_uo) - min(l_p)`` (one scalar per batch, 0 when disabled);
4. hard assignment ``y = 1[l_uo < l_ui + adv]`` without gradient; positives always use ``G_i``;
5. ``Q, G_i, G_o`` minimise ``mean(y l_uo + (1 - y) l_ui) + mean(l_p) - lambda mean(log D(Q(s)))``.

Classes: :class:`WALDO` (all ablation flags), :class:`CoRa` (two decoders with the advantage,
no Wasserstein term: ``lam=0``) and :class:`WAEGAN` (one decoder, scored by reconstruction error).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from odcore.errors import InputError
from odcore.models import nets
from odcore.models.capabilities import Capabilities
from odcore.models.deep import INPUT_SHAPE, DeepDetector, batch_bounds, row_mse, size, widths
from odcore.models.params import Param

_DISC_ON = ("positive", "unlabelled", "all")
_SCORES = ("inlier", "latent", "ratio")
_OUT_ACTS = ("auto", "linear", "sigmoid", "tanh")


def _auto_hidden(n_features: int) -> tuple[int, ...]:
    """The paper's KDD width (64 hidden units for 121 features) scaled to the input width."""
    return (int(min(256, max(16, round(64 * n_features / 121)))),)


class WALDO(DeepDetector):
    """WALDO double-decoder Wasserstein autoencoder (positive-unlabelled detection and generation).

    Parameters
    ----------
    latent, sigma : latent size and the prior's standard deviation, ``P_Z = N(0, sigma^2 I)``.
    lam : weight ``lambda`` of the Wasserstein (discriminator) term; 0 disables the term and the
        discriminator step.
    advantage : use the per-batch advantage ``min(l_uo) - min(l_p)`` (False: CoRa-style contest).
        Without it the two decoders start identical, ``l_uo == l_ui`` and the strict contest
        assigns nothing, so the outlier decoder only ever trains if rounding differences between
        the two forward passes break the tie (see bench/results/waldo.md, Fig. 2b).
    disc_on : codes the discriminator sees as "fake": ``"positive"`` (paper), ``"unlabelled"``, ``"all"``.
    single_decoder : plain WAE-GAN: one decoder trained on positives and unlabelled rows alike.
    hidden : hidden widths of the encoder MLP (decoders mirror them); None scales the paper's
        KDD width (64 for 121 features) to the input width. Ignored for images (conv nets).
    disc_hidden, disc_dropout : discriminator MLP ``latent-32(LeakyReLU, dropout)-1`` by default.
    out_act : decoder output activation. ``"auto"`` = sigmoid when all training values lie in
        [0, 1] (images, one-hot tables), else linear. The paper's KDD decoder ends in Tanh, which
        cannot reproduce standardised features beyond +-1 (KDD has many): we deviate on purpose;
        pass ``"tanh"`` to get the paper's network.
    encoder_relu : end the encoder in ReLU, the authors' bug (non-negative codes against a
        Gaussian prior). Only for reproducing their code; default False.
    input_shape : (C, H, W) for image rows (convolutional nets), None for tabular rows.
    gen_cov : Gaussians fitted to the latent clouds for ``generate``: ``"full"`` or ``"diag"``.
    disc_lr : discriminator learning rate (None: ``lr``).
    anomaly_score : the ranking score. ``"inlier"`` (default, METHODS.md and the paper's retail study): the
        inlier decoder's reconstruction error ``|G_i(Q(x)) - x|^2 / d``. ``"latent"``: the squared
        Mahalanobis distance ``(Q(x) - m)^T S^-1 (Q(x) - m)`` of the code from the Gaussian ``N(m, S)``
        fitted to the encoded *labelled positives* (the same latent Gaussian as ``generate`` fits,
        restricted to known inliers; refreshed every epoch so per-epoch monitoring sees it). Why: on
        KDD99 at small nu with a short, fast schedule (5k + 5k rows, lr 1e-3, 200 steps) the inlier
        decoder keeps a high error on rare attack types, which the latent distance ranks as inliers
        (AUPRC 90.9 vs 69.2 at nu = 0.05). With the authors' protocol (~9,750 rows per set, lr 1e-4,
        401 epochs) the default ranking itself reaches 85.1 and ``"latent"`` adds 2 points (87.4):
        bench/results/waldo.md, "Round 3". Not the default: on the retail panel (7 features,
        latent 4) it is far worse (AP 0.08-0.11 vs 0.32-0.34), since there the outliers are encoded
        inside the positives' cloud and only the reconstruction shows them. ``"ratio"``:
        ``log l_i - log l_o``, the inlier decoder's error over the outlier decoder's (two decoders
        only). It ranks well only when the decoder contest settles near the true outlier share
        (``history_["outlier_share"]`` shows it without labels): 84.9-93.0 AUPRC on the 150k-row runs
        of round 2 that settled, but 46.1 at nu = 0.05 on the authors' protocol, where the outlier
        decoder keeps 20-30% of the mixture. Training is identical for all three; only the ranking
        differs.

    Outputs: ``decision_function`` = the ranking score (``anomaly_score``; by default the inlier-decoder
    error, as the paper's retail study); ``labels_`` = which decoder wins on the training
    (unlabelled) rows, threshold-free (``assign``); ``threshold_`` is still the contamination
    quantile of the training scores so that ``predict`` keeps the common contract.

    Fitted attributes besides the common ones: ``advantage_`` (mean advantage of the last epoch,
    used by ``assign``), ``out_act_``, and the latent Gaussians ``latent_mean_in_``,
    ``latent_cov_in_``, ``latent_mean_out_``, ``latent_cov_out_`` (the last two absent when no
    unlabelled row went to the outlier decoder), ``latent_mean_pos_`` and ``latent_prec_pos_``
    (mean and inverse covariance of the encoded positives, used by ``anomaly_score="latent"``).
    """

    needs_positives = True
    params = (
        size("latent", 32, "latent code size", paper="32 KDD, 20 MNIST, 10 Fashion-MNIST, 64 CIFAR-10"),
        Param("sigma", 1.0, "standard deviation of the Gaussian prior N(0, sigma^2 I)", low=0.0, high=1e3,
              low_open=True, paper="1; 0.5 Fashion-MNIST"),
        Param("lam", 0.1, "weight of the Wasserstein term; 0 turns the discriminator off", low=0.0, high=1e3,
              paper="0.1 KDD, 0.5 MNIST"),
        Param("advantage", True, "per-batch advantage min(l_uo) - min(l_p) in the decoder contest (off = CoRa-style)",
              kind="bool"),
        Param("disc_on", "positive", "codes the discriminator matches to the prior: 'positive' (paper), "
              "'unlabelled' or 'all'", kind="str", choices=_DISC_ON, paper="positive"),
        Param("single_decoder", False, "one decoder only (plain WAE-GAN, scored by reconstruction error)",
              kind="bool"),
        widths("hidden", None, "encoder MLP hidden widths (decoders mirror); None = paper's 64 for 121 features, "
               "scaled", optional=True, paper="64 (KDD)"),
        widths("disc_hidden", (32,), "discriminator hidden widths", paper="32"),
        Param("disc_dropout", 0.2, "dropout after each discriminator hidden layer", low=0.0, high=1.0,
              high_open=True),
        Param("out_act", "auto", "decoder output: 'auto' (sigmoid for data in [0,1], else linear), 'linear', "
              "'sigmoid', 'tanh'", kind="str", choices=_OUT_ACTS, paper="tanh (KDD)"),
        Param("encoder_relu", False, "end the encoder in ReLU (the authors' bug; only to reproduce their code)",
              kind="bool"),
        INPUT_SHAPE,
        Param("conv_arch", "small", "image networks: 'small' (two convolutions each way) or 'wae' (the authors' MNIST "
              "WAE nets: four convolutions with batch norm, 28x28 only)", kind="str", choices=nets.CONV_ARCHS,
              paper="wae (MNIST)"),
        Param("conv_width", None, "channels of the first convolution (None: 32 for 'small', 40 for 'wae')",
              kind="int", low=1, high=512, optional=True, paper="40 (MNIST)"),
        Param("gen_on", "same", "codes the encoder pushes towards the prior in the autoencoder step: 'same' (those the "
              "discriminator sees, METHODS.md), 'positive', 'unlabelled' or 'all' (the authors' MNIST script "
              "trains D on positives and pushes the unlabelled codes)", kind="str",
              choices=("same",) + _DISC_ON, paper="same (KDD), unlabelled (MNIST script)"),
        Param("gen_cov", "full", "latent Gaussians for generate(): 'full' covariance (with a small ridge) or 'diag'",
              kind="str", choices=("full", "diag")),
        Param("disc_lr", None, "discriminator learning rate (None = lr)", low=0.0, high=10.0, low_open=True,
              optional=True, group="training"),
        Param("anomaly_score", "inlier", "ranking score: 'inlier' (inlier-decoder error, paper), 'ratio' (log of "
              "inlier / outlier decoder error; good only when history outlier_share settles near the true share) or "
              "'latent' (Mahalanobis distance of the code from the encoded labelled positives)", kind="str",
              choices=_SCORES, group="scoring"),
    )
    param_overrides = {
        "epochs": {"default": 100, "help": "passes over the longer of the two sets", "paper": "about 400"},
        "batch_size": {"help": "rows per step in each of the positive and unlabelled batches", "paper": "3000 (KDD)"},
        "lr": {"default": 1e-4, "paper": "1e-4, KDD also 5e-4"},
    }
    capability = Capabilities(latent=True, decoders=("inlier", "outlier"), generate=("inlier", "outlier"),
                              assign=True, prior_distance=True)
    _saved_attrs = ("out_act_", "advantage_", "n_pos_", "latent_mean_in_", "latent_cov_in_",
                    "latent_mean_out_", "latent_cov_out_", "latent_mean_pos_", "latent_prec_pos_")

    def capabilities(self) -> Capabilities:
        """Two decoders (swap, assignment, outlier generation), or one for ``single_decoder`` (WAE-GAN)."""
        if self.single_decoder:
            return self.capability.with_(decoders=("inlier",), generate=("inlier",), assign=False)
        return self.capability

    # ------------------------------------------------------------------ validation
    def _check_extra(self) -> None:
        super()._check_extra()
        if self.anomaly_score == "ratio" and self.single_decoder:
            raise InputError("anomaly_score='ratio' compares the two decoders' errors, but single_decoder=True "
                             "(WAE-GAN) has one decoder: use anomaly_score='inlier' or 'latent'")

    # ------------------------------------------------------------------ networks
    @property
    def _two_decoders(self) -> bool:
        return not self.single_decoder

    def _build(self, n_features: int) -> dict[str, Any]:
        """Encoder ``Q``, inlier decoder ``G_i``, outlier decoder ``G_o`` (= copy of ``G_i``), ``D``."""
        hidden = tuple(self.hidden) if self.hidden else _auto_hidden(n_features)
        shape = tuple(self.input_shape) if self.input_shape else None
        out_act = getattr(self, "out_act_", None) or "linear"
        arch = dict(arch=self.conv_arch, width=self.conv_width)
        built = {
            "encoder": nets.encoder(n_features, int(self.latent), hidden=hidden, input_shape=shape,
                                    out_act="relu" if self.encoder_relu else None, **arch),
            "decoder_in": nets.decoder(n_features, int(self.latent), hidden=hidden[::-1], input_shape=shape,
                                       out_act=out_act, **arch),
            # D outputs a logit; sigmoid is applied inside the numerically stable BCE-with-logits
            "disc": nets.mlp([int(self.latent), *tuple(self.disc_hidden), 1], act="leaky_relu",
                             dropout=float(self.disc_dropout)),
        }
        if self._two_decoders:
            dec_out = nets.decoder(n_features, int(self.latent), hidden=hidden[::-1], input_shape=shape,
                                   out_act=out_act, **arch)
            nets.copy_weights(dec_out, built["decoder_in"])  # G_o starts as an exact copy of G_i
            built["decoder_out"] = dec_out
        return built

    def _optimizers(self) -> list:
        """Adam for the autoencoder (``Q``, decoders) first, then Adam for the discriminator."""
        import torch

        ae = [p for k, net in self.nets_.items() if k != "disc" for p in net.parameters()]
        self._opt_ae = torch.optim.Adam(ae, lr=self.lr, weight_decay=self.weight_decay)
        self._opt_d = torch.optim.Adam(self.nets_["disc"].parameters(),
                                       lr=self.lr if self.disc_lr is None else self.disc_lr)
        return [self._opt_ae, self._opt_d]

    # ------------------------------------------------------------------ data
    def _fit(self, X, y, *, X_pos, monitor, callbacks, cancel) -> None:
        both = np.concatenate([X, X_pos]) if X_pos is not None else X
        if self.out_act == "auto":
            self.out_act_ = "sigmoid" if float(both.min()) >= 0.0 and float(both.max()) <= 1.0 else "linear"
        else:
            self.out_act_ = self.out_act
        self.n_pos_ = int(X_pos.shape[0])
        super()._fit(X, y, X_pos=X_pos, monitor=monitor, callbacks=callbacks, cancel=cancel)
        self._fit_positive_gaussian()  # before the training rows are scored (anomaly_score="latent")
        self.advantage_ = float(self._last_adv) if self.advantage and self._two_decoders else 0.0
        self._X_pos_fit = X_pos  # for the latent Gaussians, fitted in _set_threshold
        # free the training copies (they may be large and live on the GPU)
        self._X = self._Xp = self._y = None

    def _prepare(self, X, y, X_pos) -> None:
        super()._prepare(X, y, X_pos)
        self._adv_sum = None
        self._adv_n = 0
        self._last_adv = 0.0

    def _index_stream(self, n: int, n_batches: int, bs: int) -> list:
        """``n_batches`` index batches of size ``min(bs, n)``: fresh permutations, cycled."""
        import torch

        bs = min(bs, n)
        need = n_batches * bs
        perms = [self._perm(n) for _ in range(-(-need // n))]
        flat = torch.cat(perms)[:need]
        return [flat[i * bs:(i + 1) * bs] for i in range(n_batches)]

    def _batches(self, epoch: int) -> Iterator[Any]:
        """Pairs (positive batch, unlabelled batch); both shuffled, the shorter set cycled.

        One epoch is one pass over the longer set; the shorter set is re-permuted each time it
        runs out (the authors' ``zip`` truncated the longer loader and left its contaminants,
        kept in the last unshuffled batches, unused).
        """
        bs = int(self.batch_size)
        n_u, n_p = self._X.shape[0], self._Xp.shape[0]
        bounds = batch_bounds(max(n_u, n_p), bs)  # no batch of one row (batch norm of the 'wae' nets)
        n_batches = len(bounds)
        if n_u >= n_p:
            perm_u = self._perm(n_u)
            idx_u = [perm_u[a:b] for a, b in bounds]
            idx_p = self._index_stream(n_p, n_batches, bs)
        else:
            perm_p = self._perm(n_p)
            idx_p = [perm_p[a:b] for a, b in bounds]
            idx_u = self._index_stream(n_u, n_batches, bs)
        for ip, iu in zip(idx_p, idx_u):
            yield self._Xp[ip], self._X[iu]

    # ------------------------------------------------------------------ one step
    def _disc_codes_source(self, p, u):
        if self.disc_on == "positive":
            return p
        if self.disc_on == "unlabelled":
            return u
        import torch

        return torch.cat([p, u])

    def _terms(self, p, u) -> dict[str, Any]:
        """Per-sample errors, advantage and assignment of METHODS.md steps 2-4 (with gradients).

        Returns ``l_p``, ``l_ui``, ``l_uo`` (per-sample mean squared errors), ``adv`` (scalar
        tensor, detached), ``y`` (0/1 float, detached; 1 = outlier decoder wins), and the codes.
        """
        import torch

        Q, Gi = self.nets_["encoder"], self.nets_["decoder_in"]
        zp, zu = Q(p), Q(u)
        l_p = row_mse(Gi(zp), p)
        l_ui = row_mse(Gi(zu), u)
        out = {"zp": zp, "zu": zu, "l_p": l_p, "l_ui": l_ui}
        if not self._two_decoders:
            out.update(l_uo=None, adv=torch.zeros((), device=p.device), y=torch.zeros_like(l_ui))
            return out
        l_uo = row_mse(self.nets_["decoder_out"](zu), u)
        with torch.no_grad():
            adv = (l_uo.min() - l_p.min()) if self.advantage else torch.zeros((), device=p.device)
            y = (l_uo < l_ui + adv).float()  # hard assignment, no gradient through it
        out.update(l_uo=l_uo, adv=adv, y=y)
        return out

    def _train_step(self, batch, epoch: int) -> dict[str, Any]:
        """One WALDO step: the discriminator step, then the autoencoder step (METHODS.md 1-5)."""
        import torch
        import torch.nn.functional as F

        p, u = batch
        Q, D = self.nets_["encoder"], self.nets_["disc"]
        lam = float(self.lam)
        stats: dict[str, Any] = {}
        # 1. discriminator: ascend log D(z) + log(1 - D(Q(s))) == descend the two BCE terms
        if lam > 0:
            s = self._disc_codes_source(p, u)
            with torch.no_grad():
                zs = Q(s)
            z = self._randn(zs.shape[0], zs.shape[1]) * float(self.sigma)
            d_real, d_fake = D(z), D(zs)
            loss_d = lam * (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                            + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
            self._opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self._opt_d.step()
            stats["loss_disc"] = loss_d.detach()
        # 2-4. reconstruction errors, advantage, hard assignment
        t = self._terms(p, u)
        if self._two_decoders:
            y = t["y"]
            rec_u = (y * t["l_uo"] + (1 - y) * t["l_ui"]).mean()
        else:  # plain WAE-GAN: one decoder for every row
            rec_u = t["l_ui"].mean()
        rec_p = t["l_p"].mean()
        loss = rec_u + rec_p
        # 5. Wasserstein term: -lambda * mean(log D(Q(s))) = lambda * BCE(D(Q(s)), 1)
        if lam > 0:
            which = self.disc_on if self.gen_on == "same" else self.gen_on
            if which == "positive":
                zs = t["zp"]
            elif which == "unlabelled":
                zs = t["zu"]
            else:
                zs = torch.cat([t["zp"], t["zu"]])
            d_q = D(zs)
            wass = F.binary_cross_entropy_with_logits(d_q, torch.ones_like(d_q))
            loss = loss + lam * wass
            stats["loss_wass"] = wass.detach()
        self._opt_ae.zero_grad(set_to_none=True)
        loss.backward()
        self._opt_ae.step()
        stats.update(loss=loss.detach(), loss_rec_p=rec_p.detach(), loss_rec_u=rec_u.detach())
        if self._two_decoders:
            stats.update(outlier_share=t["y"].mean(), advantage=t["adv"].detach())
            self._adv_sum = t["adv"] if self._adv_sum is None else self._adv_sum + t["adv"]
            self._adv_n += 1
        return stats

    def _fit_positive_gaussian(self) -> None:
        """``latent_mean_pos_``, ``latent_prec_pos_``: Gaussian of the encoded positives ``Q(X_pos)``.

        Full covariance with the small ridge of :meth:`_gaussian` (whatever ``gen_cov`` says), then
        inverted once; ``anomaly_score="latent"`` ranks by the squared Mahalanobis distance under it.
        """
        import torch

        Q = self.nets_["encoder"]
        was_training = Q.training
        self._train_mode(False)
        bs = int(self.score_batch_size)
        with torch.no_grad():
            Z = torch.cat([Q(self._Xp[i:i + bs]) for i in range(0, self._Xp.shape[0], bs)])
        self._train_mode(was_training)
        mean, cov = self._gaussian(Z.double().cpu().numpy(), "full")
        self.latent_mean_pos_ = mean
        self.latent_prec_pos_ = np.linalg.inv(cov)

    def _on_epoch_end(self, epoch: int) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.anomaly_score == "latent":  # per-epoch monitoring scores with this epoch's encoder
            self._fit_positive_gaussian()
        if self._adv_sum is not None:
            self._last_adv = float(self._adv_sum) / max(self._adv_n, 1)  # the epoch's mean advantage
            self._adv_sum, self._adv_n = None, 0
        if self._monitor is not None and self._two_decoders:
            # F1 of the threshold-free decoder assignment on the monitored rows (paper Fig. 2b: the
            # unlabelled mixture, which the 'pu' protocol scores transductively)
            from odcore.metrics import prf_at

            self.advantage_ = float(self._last_adv) if self.advantage else 0.0
            Xm, ym = self._monitor
            a = self._assign_tensor(self._tensor(Xm))
            extra["val_assign_f1"] = prf_at(ym, a, 0.5)["f1"]
        return extra

    # ------------------------------------------------------------------ scoring
    def _errors(self, xb, which: str):
        dec = self.nets_["decoder_out" if which == "outlier" else "decoder_in"]
        return row_mse(dec(self.nets_["encoder"](xb)), xb)

    def _score_batch(self, xb):
        """Ranking score: the inlier decoder's mean squared error ``|G_i(Q(x)) - x|^2 / d`` (default), with
        ``anomaly_score="latent"`` the squared Mahalanobis distance of ``Q(x)`` from the positives' Gaussian, with
        ``anomaly_score="ratio"`` ``log l_i - log l_o``, the log ratio of the two decoders' errors (the contest of step
        4 of the training step as a continuous score)."""
        if self.anomaly_score == "ratio":
            import torch

            l_i, l_o = self._decoder_errors(xb)
            return torch.log(l_i + 1e-12) - torch.log(l_o + 1e-12)
        if self.anomaly_score == "latent":
            import torch

            z = self.nets_["encoder"](xb).float()
            m = torch.as_tensor(self.latent_mean_pos_, dtype=torch.float32, device=z.device)
            P = torch.as_tensor(self.latent_prec_pos_, dtype=torch.float32, device=z.device)
            d = z - m
            return ((d @ P) * d).sum(dim=1)
        return self._errors(xb, "inlier")

    def _decoder_errors(self, xb):
        """``(l_i, l_o)``: each row's mean squared error through the inlier and the outlier decoder,
        from one encoding."""
        z = self.nets_["encoder"](xb)
        return row_mse(self.nets_["decoder_in"](z), xb), row_mse(self.nets_["decoder_out"](z), xb)

    def _assign_batch(self, xb):
        import torch

        l_i, l_o = self._decoder_errors(xb)
        return (l_o < l_i + float(getattr(self, "advantage_", 0.0))).to(torch.float32)

    def _assign_tensor(self, Xt) -> np.ndarray:
        import torch

        self._train_mode(False)
        out = []
        bs = int(self.score_batch_size)
        with torch.no_grad():
            for i in range(0, Xt.shape[0], bs):
                out.append(self._assign_batch(Xt[i:i + bs]).cpu().numpy())
        self._train_mode(True)
        return np.concatenate(out).astype(np.int64)

    def _set_threshold(self, X: np.ndarray) -> None:
        """``threshold_`` = contamination quantile (for ``predict``); ``labels_`` = decoder assignment.

        With two decoders the label is threshold-free: 1 when the outlier decoder wins on the
        training row (``assign``). A single decoder (WAE-GAN) has no contest, so its labels come
        from the threshold, as for every other detector.
        """
        super()._set_threshold(X)
        if self._two_decoders:
            self.labels_ = self.assign(X)
        X_pos = getattr(self, "_X_pos_fit", None)
        if X_pos is not None:
            self._fit_latent_gaussians(X, X_pos, self.labels_ if self._two_decoders else None)
            self._X_pos_fit = None

    # ------------------------------------------------------------------ capabilities
    def assign(self, X) -> np.ndarray:
        """1 where the outlier decoder wins, ``l_o < l_i + advantage_`` (METHODS.md step 4).

        ``advantage_`` is the mean per-batch advantage of the last epoch (0 when the advantage
        is off), so new rows are judged by the same contest as the training rows. A single
        decoder has no contest: then rows above ``threshold_`` get 1.
        """
        if not self._two_decoders:
            return self.predict(X)
        return self._apply_batched(X, self._assign_batch).astype(np.int64)

    def embed(self, X) -> np.ndarray:
        """Latent codes ``Q(x)`` (n, latent)."""
        return self._apply_batched(X, self.nets_["encoder"])

    def prior_distance(self, X) -> np.ndarray:
        """Euclidean distance of each code ``Q(x)`` from the prior mean 0 (paper Fig. 2a)."""
        return np.linalg.norm(self.embed(X).astype(np.float64), axis=1)

    def reconstruct(self, X, decoder: str = "inlier") -> dict[str, np.ndarray]:
        """``G(Q(x))`` through the chosen decoder and the per-feature squared errors (n, d).

        Passing inliers through ``"outlier"`` and outliers through ``"inlier"`` is the paper's
        decoder swap (Fig. 1b).
        """
        self._check_decoder(decoder)
        self._check_fitted()
        dec = self.nets_["decoder_out" if decoder == "outlier" else "decoder_in"]
        rec = self._apply_batched(X, lambda xb: dec(self.nets_["encoder"](xb)))
        Xf = np.asarray(X, dtype=np.float32).reshape(rec.shape)
        return {"reconstruction": rec, "errors": (rec - Xf) ** 2}

    def _decode(self, Z: np.ndarray, which: str) -> np.ndarray:
        import torch

        dec = self.nets_["decoder_out" if which == "outlier" else "decoder_in"]
        self._train_mode(False)
        out = []
        bs = int(self.score_batch_size)
        with torch.no_grad():
            for i in range(0, Z.shape[0], bs):
                zb = torch.from_numpy(np.ascontiguousarray(Z[i:i + bs], dtype=np.float32)).to(self.device_)
                out.append(dec(zb).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.n_features_in_), np.float32)

    def _fit_latent_gaussians(self, X: np.ndarray, X_pos: np.ndarray, a: np.ndarray | None) -> None:
        """Gaussians on the encoded inliers (X_pos + unlabelled rows won by G_i) and detected outliers.

        ``a`` is the decoder assignment of the unlabelled rows ``X`` (None: all inliers, one decoder).
        """
        for name in ("latent_mean_out_", "latent_cov_out_"):
            if hasattr(self, name):
                delattr(self, name)
        if a is None:
            a = np.zeros(X.shape[0], np.int64)
        parts = [self.embed(X_pos)] + ([self.embed(X[a == 0])] if (a == 0).any() else [])
        z_in = np.concatenate(parts).astype(np.float64)
        self.latent_mean_in_, self.latent_cov_in_ = self._gaussian(z_in)
        if self._two_decoders and int(a.sum()) >= 2:
            self.latent_mean_out_, self.latent_cov_out_ = self._gaussian(self.embed(X[a == 1]).astype(np.float64))

    def _gaussian(self, Z: np.ndarray, cov: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance (``cov``: "full" or "diag", default ``gen_cov``) of the codes ``Z``, with a
        small ridge (1e-3 of the mean variance) so that the covariance can be sampled from and inverted."""
        mean = Z.mean(axis=0)
        if Z.shape[0] < 2:
            return mean, np.eye(Z.shape[1]) * 1e-3
        if (cov or self.gen_cov) == "diag":
            C = np.diag(Z.var(axis=0, ddof=1))
        else:
            C = np.cov(Z, rowvar=False).reshape(Z.shape[1], Z.shape[1])
        ridge = 1e-3 * float(np.trace(C)) / Z.shape[1] + 1e-6
        return mean, C + ridge * np.eye(Z.shape[1])

    def generate(self, n: int, kind: str = "inlier", source: str = "fitted",
                 random_state: int | None = None) -> np.ndarray:
        """Generate ``n`` rows: latent samples decoded by ``G_i`` (inliers) or ``G_o`` (outliers).

        ``source="fitted"``: samples from the Gaussian fitted to the encoded inliers or to the
        encoded detected outliers (the paper's generation procedure); ``source="prior"``: samples
        from ``N(0, sigma^2 I)``. ``random_state`` None draws fresh randomness.
        """
        self._check_fitted()
        if kind not in ("inlier", "outlier"):
            raise InputError(f"kind must be 'inlier' or 'outlier', got {kind!r}")
        if source not in ("fitted", "prior"):
            raise InputError(f"source must be 'fitted' or 'prior', got {source!r}")
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise InputError(f"n must be a positive whole number, got {n!r}")
        if kind == "outlier" and not self._two_decoders:
            raise InputError("this model has a single decoder (WAE-GAN) and cannot generate outliers")
        rng = np.random.default_rng(random_state)
        k = int(self.latent)
        if source == "prior":
            Z = rng.standard_normal((n, k)) * float(self.sigma)
        else:
            mean = getattr(self, f"latent_mean_{'in' if kind == 'inlier' else 'out'}_", None)
            cov = getattr(self, f"latent_cov_{'in' if kind == 'inlier' else 'out'}_", None)
            if mean is None or cov is None:
                raise InputError("fewer than two unlabelled rows were assigned to the outlier decoder, so "
                                 "there is no outlier cloud to fit; use source='prior' or train longer")
            Z = rng.multivariate_normal(np.asarray(mean, np.float64), np.asarray(cov, np.float64), size=n,
                                        method="cholesky")
        return self._decode(Z.astype(np.float32), kind)


def __getattr__(name: str):
    """``CoRa`` and ``WAEGAN``: the registry's variants of :class:`WALDO` (other defaults, same class).

    CoRa with the advantage is WALDO without the Wasserstein term (``lam=0``); plain WAE-GAN has one
    decoder trained on positive and unlabelled rows alike and matches the codes of all rows to the
    prior (``single_decoder=True, advantage=False, disc_on="all"``). See odcore.models.registry."""
    from odcore.models import registry

    return registry.variant_class(name)
