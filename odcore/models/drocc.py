"""DROCC and DROCC-LF: deep robust one-class classification (Goyal et al., ICML 2020).

A classifier ``f`` with one logit (higher = normal) is trained with cross-entropy on the normal
data (label 1) and on adversarially generated negatives near the data (label 0). The negatives
are found per batch by gradient *ascent* on the loss of calling them anomalous, starting from
``x + N(0, I)``, and projected onto the shell ``N_i(r) = {x + h : r <= ||h|| <= gamma r}``
around each training point (paper Eq. 3 / Algorithm 1):

    loss = CE(f(x), 1) + mu * CE(f(x_adv), 0)        (+ weight decay through Adam)

DROCC-LF adds cross-entropy on a few labelled negatives and measures the shell in the
gradient-weighted metric ``||h||_w = sqrt(sum_j w_j h_j^2)`` with ``w_j = mean_x |df/dx_j|``
(normalised to sum to ``d``, refreshed each epoch); the projection onto that shell is the
one-dimensional search of the paper's Proposition 1 (:func:`project_weighted_shell`).

The anomaly score is ``-f(x)`` (higher = more anomalous).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from odcore.errors import InputError
from odcore.models import nets
from odcore.models.capabilities import Capabilities
from odcore.models.deep import INPUT_SHAPE, DeepDetector, Phase, net_program, widths
from odcore.models.params import MISSING, Param

#: epsilon of every normalisation (METHODS.md: ``g / (||g|| + 1e-12)``)
EPS = 1e-12
#: at most this many adversarial points of the last epoch are kept for the app's figure
MAX_KEPT_POINTS = 2000


def project_shell(h, r: float, gamma: float, *, noise=None):
    """Euclidean projection of each row of ``h`` onto the shell ``r <= ||h||_2 <= gamma r``.

    Paper, Algorithm 1 (projection step): ``h <- h * clip(||h||, r, gamma r) / ||h||``. Rows that
    are exactly zero have no direction; they take the direction of ``noise`` (same shape) when it
    is given, else the first axis.
    """
    import torch

    n = h.norm(dim=1, keepdim=True)
    if noise is None:
        noise = torch.zeros_like(h)
        noise[:, 0] = 1.0
    # no `if zero.any()`: that would force a host sync on every projection on a GPU
    h = torch.where(n <= EPS, noise, h)
    n = h.norm(dim=1, keepdim=True)
    target = n.clamp(min=r, max=gamma * r)
    return h * (target / (n + EPS))


def weighted_norm(h, w):
    """``||h||_w = sqrt(sum_j w_j h_j^2)`` for each row of ``h`` (the DROCC-LF metric)."""
    return (w * h * h).sum(dim=1).clamp(min=0).sqrt()


def project_weighted_shell(h, w, r: float, gamma: float, *, iters: int = 80):
    """Projection onto ``{h~ : r <= ||h~||_w <= gamma r}`` in the Euclidean sense (Proposition 1).

    For a row ``h`` outside the shell, let ``rho`` be the violated radius (``r`` or ``gamma r``).
    The projection solves ``min ||h~ - h||^2  s.t.  sum_j w_j h~_j^2 = rho^2``; stationarity of
    the Lagrangian ``||h~ - h||^2 + tau (sum_j w_j h~_j^2 - rho^2)`` gives (Proposition 1)

        h~_j = h_j / (1 + tau w_j),   with tau solving   g(tau) = sum_j w_j h_j^2 / (1 + tau w_j)^2 = rho^2,

    a one-dimensional equation: ``g`` decreases on ``(-1 / max_j w_j, inf)``, so the root is
    unique there. It lies in ``(0, inf)`` when ``||h||_w > gamma r`` (shrink) and in
    ``(-1 / max_j w_j, 0)`` when ``||h||_w < r`` (grow). We find it by bisection (batched over
    rows, float64), then rescale radially to remove the residual (this also covers the
    degenerate case where ``h`` has no component along the largest weight). Rows already inside
    the shell are returned unchanged. ``w`` holds non-negative weights: one vector (d,) for every
    row, or one per row (n, d) (the authors' code weighs each point by its own gradient).
    """
    import torch

    dtype = h.dtype
    h64 = h.double()
    w64 = w.double().clamp(min=0)
    n = h64.shape[0]
    wmax = w64.amax(dim=-1).expand(n) if w64.dim() == 2 else w64.max().expand(n)  # (n,)
    if not bool((wmax > 0).all()):
        raise InputError("the DROCC-LF metric needs at least one positive feature weight (in every row)")
    norm = weighted_norm(h64, w64)
    rho = norm.clamp(min=r, max=gamma * r)
    outer = norm > gamma * r
    inner = norm < r
    if not bool((outer | inner).any()):
        return h
    rho2 = rho * rho
    wh2 = w64 * h64 * h64  # (n, d)

    def g(tau):  # tau: (n,)
        den = (1.0 + tau[:, None] * w64).clamp(min=EPS)
        return (wh2 / (den * den)).sum(dim=1)

    # bracket: outer rows in [0, hi] with g(hi) <= rho^2; inner rows in (-1/wmax, 0]
    lo = torch.where(outer, torch.zeros(n, dtype=torch.float64, device=h.device), -1.0 / wmax)
    hi = torch.where(outer, torch.ones(n, dtype=torch.float64, device=h.device),
                     torch.zeros(n, dtype=torch.float64, device=h.device))
    for _ in range(200):  # doubling until g(hi) <= rho^2 (only outer rows move)
        grow = outer & (g(hi) > rho2)
        if not bool(grow.any()):
            break
        hi = torch.where(grow, hi * 2.0, hi)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        above = g(mid) > rho2  # g decreasing: root lies to the right of mid
        lo = torch.where(above, mid, lo)
        hi = torch.where(above, hi, mid)
    tau = 0.5 * (lo + hi)
    den = (1.0 + tau[:, None] * w64).clamp(min=EPS)
    proj = h64 / den
    pn = weighted_norm(proj, w64)
    # a row with no mass on weighted features cannot be scaled; put it on the largest weight
    dead = pn <= EPS
    if bool(dead.any()):
        jmax = torch.argmax(w64, dim=-1).expand(n)  # (n,)
        unit = torch.zeros_like(proj)
        unit.scatter_(1, jmax[:, None], (1.0 / wmax.sqrt())[:, None])
        proj = torch.where(dead[:, None], unit, proj)
        pn = weighted_norm(proj, w64)
    proj = proj * (rho / pn.clamp(min=EPS))[:, None]
    out = torch.where((outer | inner)[:, None], proj, h64)
    return out.to(dtype)


class DROCC(DeepDetector):
    """DROCC: one-class classifier trained against adversarially searched negatives.

    Parameters
    ----------
    radius : shell radius ``r`` (None: ``sqrt(d) / 2``, the paper's rule of thumb on
        standardised features).
    gamma : outer radius factor, shell ``r <= ||h|| <= gamma r`` (paper: 2 tabular, 1 images).
    mu : weight of the adversarial loss.
    ascent_step_size : ``eta`` of the normalised gradient ascent.
    ascent_num_steps : ascent steps per batch ``m`` (paper: 50).
    project_every : project onto the shell every this many steps (paper: 10) and after the last.
    only_ce_epochs : warm-up epochs with cross-entropy on the normal data only.
        On normal data only this loss has no finite minimiser: Adam keeps raising every logit
        (MNIST zeros, lr 1e-3: mean logit +44 after 10 epochs, ones and masked zeros +32 / +37),
        and the first adversarial batches then carry a cross-entropy of ~40 whose steps drive the
        network to a constant (dead ReLUs). Set 0 for one-class image data (see
        bench/results/drocc.md, round 2, "plain DROCC instability").
    hidden : hidden widths (tabular net ``d-128-ReLU-1``); for images the width of the feature
        layer after the convolutional encoder.
    input_shape : (C, H, W) for image rows (small conv net + linear head), None for tabular.
    conv_arch : image network, ``"small"`` or ``"lenet"`` (the authors' MNIST LeNet with batch norm,
        :class:`odcore.models.nets.LeNetEncoder`, then a bias-free linear logit).
    """

    params = (
        Param("radius", None, "shell radius r around each training point (None: sqrt(d)/2 on standardised features)",
              low=0.0, high=1e6, low_open=True, optional=True),
        Param("gamma", 2.0, "outer radius factor: negatives are searched in r <= ||h|| <= gamma*r", low=1.0,
              high=1e3, paper="2 tabular, 1 images"),
        Param("mu", 1.0, "weight of the adversarial (generated negatives) loss", low=0.0, high=1e3, paper="0.5 or 1"),
        Param("ascent_step_size", 0.001, "step size of the normalised gradient ascent that finds the negatives",
              low=0.0, high=1e3, paper="0.001-0.01"),
        Param("ascent_num_steps", 50, "gradient-ascent steps per batch", kind="int", low=0, high=10_000, paper="50"),
        Param("project_every", 10, "project onto the shell every this many ascent steps", kind="int", low=1,
              high=10_000, paper="10"),
        # On normal data only the warm-up loss has no finite minimiser (MNIST zeros: mean logit +44 after
        # 10 epochs); the first adversarial batches then drive the network to a constant. Image data skip it
        # (recall at 3% FPR on masked zeros 0.963 +- 0.012 without it, 0.000 / 0.994 / 0.008 by seed with it).
        Param("only_ce_epochs", 50, "warm-up epochs with cross-entropy on the normal data only", kind="int", low=0,
              high=100_000, image_default=0, paper="50", group="training"),
        widths("hidden", (128,), "hidden layer widths (for images: the width of the feature layer after the "
               "convolutional encoder)", paper="one layer of 128 ReLU units"),
        INPUT_SHAPE,
        Param("conv_arch", "small", "image networks: 'small' (two stride-2 convolutions, ReLU, linear head) or "
              "'lenet' (the authors' MNIST LeNet: 8 and 4 maps of 5x5 with batch norm and max-pooling, bias-free "
              "linear layers)", kind="str", choices=("small", "lenet"), paper="lenet (MNIST)"),
    )
    param_overrides = {"epochs": {"default": 100, "paper": "100 Thyroid, 200 Arrhythmia / Abalone"},
                       "lr": {"paper": "1e-3 Thyroid / Abalone, 1e-4 Arrhythmia"}}
    capability = Capabilities(boundary=True, adversarial=True)
    _saved_attrs = ("radius_", "adversarial_points_", "adversarial_origins_", "n_grad_evals_")

    def _phases(self) -> list[Phase]:
        """The cross-entropy warm-up (``only_ce_epochs``, at most ``epochs``), then the adversarial epochs;
        both count towards ``epochs`` and share the step (which skips the search during the warm-up)."""
        n0 = min(int(self.only_ce_epochs), int(self.epochs))
        return [Phase("warm-up", n0, self._train_step, end=self._on_epoch_end),
                Phase("train", int(self.epochs) - n0, self._train_step, end=self._on_epoch_end)]

    def _build(self, n_features: int) -> dict[str, Any]:
        from torch import nn

        hidden = tuple(int(v) for v in (self.hidden or ()))
        if self.input_shape is not None:
            width = hidden[0] if hidden else 128
            if self.conv_arch == "lenet":  # the authors' net: the feature layer feeds the logit directly
                shape = nets.check_image_shape(self.input_shape, n_features)
                return {"f": nn.Sequential(nets.LeNetEncoder(shape, width), nn.Linear(width, 1, bias=False))}
            enc = nets.encoder(n_features, width, input_shape=self.input_shape, act="relu")
            return {"f": nn.Sequential(enc, nn.ReLU(), nn.Linear(width, 1))}
        return {"f": nets.mlp([n_features, *hidden, 1], act="relu")}

    def _logit(self, x):
        return self.nets_["f"](x).squeeze(1)

    def _prepare(self, X, y, X_pos) -> None:
        super()._prepare(X, y, X_pos)
        d = X.shape[1]
        self.radius_ = float(self.radius) if self.radius is not None else math.sqrt(d) / 2.0
        self.n_grad_evals_ = 0
        self.adversarial_points_ = np.zeros((0, d), dtype=np.float32)
        self.adversarial_origins_ = np.zeros((0, d), dtype=np.float32)
        self._kept: list = []

    # ------------------------------------------------------------------ adversarial search
    def _project(self, h, noise):
        return project_shell(h, self.radius_, float(self.gamma), noise=noise)

    def _adversarial_search(self, x):
        """Algorithm 1 of the paper: normalised gradient ascent from ``x + N(0, I)``.

        Ascends ``CE(f(x_adv), 0)`` (the loss of calling ``x_adv`` anomalous, i.e. looks for points
        the classifier wrongly calls normal), ``x_adv += eta * g / (||g|| + eps)`` per sample, and
        projects ``h = x_adv - x`` onto the shell every ``project_every`` steps and after the last.
        """
        import torch
        import torch.nn.functional as F

        x = x.detach()
        noise = self._randn(*x.shape)
        x_adv = x + noise
        zeros = torch.zeros(x.shape[0], device=x.device)
        m = int(self.ascent_num_steps)
        eta = float(self.ascent_step_size)
        every = int(self.project_every)
        for step in range(m):
            x_adv = x_adv.detach().requires_grad_(True)
            with torch.enable_grad():
                loss = F.binary_cross_entropy_with_logits(self._logit(x_adv), zeros)
                (g,) = torch.autograd.grad(loss, [x_adv])
            self.n_grad_evals_ += 1
            g = g / (g.norm(dim=1, keepdim=True) + EPS)  # per-sample L2 normalisation
            x_adv = x_adv.detach() + eta * g
            if (step + 1) % every == 0 or step == m - 1:
                x_adv = x + self._project(x_adv - x, noise)
        if m == 0:
            x_adv = x + self._project(x_adv - x, noise)
        return x_adv.detach()

    def _diagnostics(self, x, x_adv, adv_logit) -> dict[str, Any]:
        """Per-batch training diagnostics (averaged per epoch into the history): mean logit of the
        generated negatives, and the share of generated points whose
        ``||h|| = ||x_adv - x||`` sits at the inner radius ``r`` / at the outer radius ``gamma r``
        (the rest lie strictly inside the shell)."""
        hn = (x_adv - x).norm(dim=1)
        r, R = self.radius_, float(self.gamma) * self.radius_
        at_inner = (hn <= r * (1 + 1e-3)).float().mean()
        at_outer = (hn >= R * (1 - 1e-3)).float().mean()
        return {"logit_adv": adv_logit.detach().mean(), "shell_inner": at_inner, "shell_outer": at_outer}

    def _keep(self, x, x_adv, epoch: int) -> None:
        """Keep up to MAX_KEPT_POINTS adversarial points of this epoch (and the points they were searched
        around); ``_on_epoch_end`` publishes them, so the fitted model shows its latest epoch's points."""
        have = sum(a.shape[0] for a, _ in self._kept)
        room = MAX_KEPT_POINTS - have
        if room > 0:
            self._kept.append((x_adv[:room].detach().cpu().numpy(), x[:room].detach().cpu().numpy()))

    # ------------------------------------------------------------------ training
    def _step(self, loss) -> None:
        opt = self.optimizers_[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def _train_step(self, batch, epoch: int) -> dict[str, Any]:
        import torch
        import torch.nn.functional as F

        x, _ = batch
        pos_logit = self._logit(x)
        warm = epoch < int(self.only_ce_epochs)
        ce = F.binary_cross_entropy_with_logits(pos_logit, torch.ones(x.shape[0], device=x.device))
        out = {"ce": ce.detach(), "logit_pos": pos_logit.detach().mean()}
        loss = ce
        if not warm:
            x_adv = self._adversarial_search(x)
            self._keep(x, x_adv, epoch)
            adv_logit = self._logit(x_adv)
            adv = F.binary_cross_entropy_with_logits(adv_logit, torch.zeros(x.shape[0], device=x.device))
            loss = ce + float(self.mu) * adv
            out["adv"] = adv.detach()
            out.update(self._diagnostics(x, x_adv, adv_logit))
        self._step(loss)
        out["loss"] = loss.detach()
        return out

    def _on_epoch_end(self, epoch: int) -> dict[str, Any]:
        if self._kept:  # the adversarial points of the latest adversarial epoch (the last one, unless stopped early)
            self.adversarial_points_ = np.concatenate([a for a, _ in self._kept]).astype(np.float32)
            self.adversarial_origins_ = np.concatenate([o for _, o in self._kept]).astype(np.float32)
            self._kept = []
        return {"grad_evals": int(self.n_grad_evals_)}

    def _score_batch(self, xb):
        return -self._logit(xb)

    def _score_program(self) -> dict[str, Any] | None:
        """The negated logit ``-f(x)`` as a program (tabular networks; odcore.program)."""
        if type(self)._score_batch is not DROCC._score_batch or type(self)._logit is not DROCC._logit:
            return None
        return net_program(self, ("f",), {"op": "column", "index": 0, "scale": -1.0})


class DROCCLF(DROCC):
    """DROCC-LF: DROCC with a few labelled negatives and a gradient-weighted shell.

    ``fit(X, y)``: rows with ``y == 1`` are the limited negatives (outliers known at training
    time), rows with ``y == 0`` the normal data. The loss adds cross-entropy on the negatives,
    adversarial points are searched around the normal rows only, and the shell is measured in
    ``||h||_w = sqrt(sum_j w_j h_j^2)`` with ``w_j = mean_x |df(x)/dx_j|`` over the training
    data, normalised to sum to ``d`` and refreshed at the start of every adversarial epoch
    (uniform weights when every gradient is zero). ``metric_weights="point"`` instead weighs each
    point's shell by its own ``|df/dx|`` (normalised per point to sum to ``d``), as the authors'
    code does; the projection (Proposition 1) is then solved per row with that row's weights.
    """

    uses_labels = True
    params = (
        Param("metric_weights", "mean", "'mean': one weight vector |df/dx| averaged over the training data (refreshed "
              "each epoch); 'point': each point's own |gradient| (the authors' code)", kind="str",
              choices=("mean", "point")),
    )
    # the warm-up sees the limited negatives too, so its cross-entropy has a finite minimum: keep it on images
    param_overrides = {"only_ce_epochs": {"image_default": MISSING}}
    _saved_attrs = DROCC._saved_attrs + ("feature_weights_",)

    def _prepare(self, X, y, X_pos) -> None:
        super()._prepare(X, y, X_pos)
        self.feature_weights_ = np.ones(X.shape[1], dtype=np.float32)
        self._w = self._tensor(self.feature_weights_)

    def _refresh_weights(self) -> None:
        """``w_j = mean_x |df/dx_j|`` over the training data, normalised to sum to ``d``."""
        import torch

        d = self._X.shape[1]
        total = torch.zeros(d, device=self._X.device)
        bs = min(int(self.score_batch_size), 1024)  # a backward pass per chunk: keep the graph small
        for i in range(0, self._X.shape[0], bs):
            total += self._abs_input_grad(self._X[i:i + bs]).sum(dim=0)
        w = total / self._X.shape[0]
        s = float(w.sum())
        if not (math.isfinite(s) and s > 0):
            w = torch.ones(d, device=self._X.device)
        else:
            w = w * (d / s)
        self._w = w.detach()
        self.feature_weights_ = self._w.cpu().numpy().astype(np.float32)

    def _batches(self, epoch: int):
        if epoch >= int(self.only_ce_epochs):
            self._refresh_weights()
        yield from super()._batches(epoch)

    def _project(self, h, noise):
        return project_weighted_shell(h, self._w, self.radius_, float(self.gamma))

    def _abs_input_grad(self, x):
        """``|d f / d x|`` at each row of ``x`` (the logit's input gradient, one row per point)."""
        import torch

        xb = x.detach().requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(self._logit(xb).sum(), [xb])
        return g.abs()

    def _point_weights(self, x):
        """Per-point weights ``|d f / d x|`` at each row of ``x``, normalised to sum to ``d`` per row
        (uniform for a row whose gradient is zero)."""
        import torch

        g = self._abs_input_grad(x)
        s = g.sum(dim=1, keepdim=True)
        d = x.shape[1]
        return torch.where(s > EPS, g * (d / s.clamp(min=EPS)), torch.ones_like(g)).detach()

    def _train_step(self, batch, epoch: int) -> dict[str, Any]:
        import torch
        import torch.nn.functional as F

        x, y = batch
        if y is None:
            y = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        target = (1 - y).float()  # 1 = normal, 0 = known negative
        ce = F.binary_cross_entropy_with_logits(self._logit(x), target)
        out = {"ce": ce.detach()}
        loss = ce
        pos = x[y == 0]
        if epoch >= int(self.only_ce_epochs) and pos.shape[0] > 0:
            if self.metric_weights == "point":
                self._w = self._point_weights(pos)
            x_adv = self._adversarial_search(pos)
            self._keep(pos, x_adv, epoch)
            adv = F.binary_cross_entropy_with_logits(self._logit(x_adv),
                                                     torch.zeros(pos.shape[0], device=x.device))
            loss = ce + float(self.mu) * adv
            out["adv"] = adv.detach()
        self._step(loss)
        out["loss"] = loss.detach()
        return out
