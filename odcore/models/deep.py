"""The one training loop shared by every deep detector.

A deep detector subclasses :class:`DeepDetector` and defines only:

- ``_build(n_features) -> dict[str, nn.Module]``: its networks (stored in ``self.nets_``);
- ``_train_step(batch, epoch) -> dict[str, Tensor]``: one optimisation step, returning
  *detached* scalar losses (the loop averages them per epoch with one host sync per epoch);
- ``_score_batch(xb) -> Tensor``: anomaly scores of a batch (higher = more anomalous).

Optional hooks: ``_optimizers`` (default: one Adam over all networks), ``_prepare`` (put data
on the device, pre-compute things such as a centre), ``_batches`` (default: shuffled
minibatches of ``X``), ``_on_epoch_end`` (extra per-epoch fields such as OC-NN's ``r``).

The loop handles seeding, the device (CUDA, then Apple MPS, then CPU), callbacks, cancel
(checked every batch), the NaN/inf loss guard, learning-rate schedules (stepped every epoch),
per-epoch monitoring metrics and eval-mode, no-grad, batched scoring.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from odcore.errors import FitCancelled, InputError, TrainingError
from odcore.models.base import BaseDetector

# nn.init draws from torch's global generator; concurrent fits (job threads) take this lock
# while seeding and building so that the same seed always gives the same initial weights.
_BUILD_LOCK = threading.Lock()


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` -> ``"cuda"`` if available, else ``"mps"``, else ``"cpu"``; others pass through."""
    import torch

    if device in (None, "", "auto"):
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device {device!r} was asked for but CUDA is not available; use 'auto' or 'cpu'")
    return device


class DeepDetector(BaseDetector):
    """Base of the deep detectors: owns the training loop (see the module docstring).

    Subclasses must accept (keyword-only) at least: ``contamination``, ``epochs``,
    ``batch_size``, ``lr``, ``weight_decay``, ``device``, ``random_state``,
    ``score_batch_size``. An optional ``lr_milestones`` tuple enables a step schedule
    (learning rate x0.1 at each listed epoch).
    """

    common_help = {
        "contamination": "expected outlier share; sets threshold_ at the (1 - c) quantile of training scores",
        "epochs": "passes over the training data",
        "batch_size": "rows per optimisation step (small batches waste the CPU; the paper's value is the default)",
        "lr": "Adam learning rate",
        "weight_decay": "L2 weight decay",
        "device": "'auto' (CUDA, then MPS, then CPU), 'cpu', 'cuda' or 'cuda:N'",
        "random_state": "seed for weights, shuffling and noise",
        "score_batch_size": "rows per batch when scoring (memory bound, not accuracy)",
        "lr_milestones": "epochs at which the learning rate is multiplied by 0.1",
    }

    # ------------------------------------------------------------------ subclass API
    def _build(self, n_features: int) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def _train_step(self, batch: Any, epoch: int) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def _score_batch(self, xb):  # pragma: no cover
        raise NotImplementedError

    def _optimizers(self) -> list:
        import torch

        params = [p for net in self.nets_.values() for p in net.parameters()]
        return [torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)]

    def _prepare(self, X: np.ndarray, y: np.ndarray | None, X_pos: np.ndarray | None) -> None:
        """Move the training data to the device (``self._X``, ``self._y``, ``self._Xp``)."""
        self._X = self._tensor(X)
        self._y = None if y is None else self._tensor(y, dtype="long")
        self._Xp = None if X_pos is None else self._tensor(X_pos)

    def _batches(self, epoch: int) -> Iterator[Any]:
        """Shuffled minibatches of ``self._X`` (and the matching ``self._y`` when present)."""
        n = self._X.shape[0]
        perm = self._perm(n)
        bs = int(self.batch_size)
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            yield (self._X[idx], None if self._y is None else self._y[idx])

    def _on_epoch_end(self, epoch: int) -> dict[str, Any]:
        """Extra fields for the epoch's history record (after the optimisation steps)."""
        return {}

    def _on_fit_end(self) -> None:
        """Called once after the last epoch (e.g. to restore the best weights of early stopping).

        A subclass stops training early by setting ``self._stop_training = True`` in
        ``_on_epoch_end``; the loop finishes that epoch's record and callbacks, then stops.
        """

    def _check_params(self) -> None:
        super()._check_params()
        for name in ("epochs", "batch_size", "score_batch_size"):
            v = getattr(self, name, 1)
            if not isinstance(v, (int, np.integer)) or v < (0 if name == "epochs" else 1):
                raise InputError(f"{name} must be a positive whole number, got {v!r}")
        lr = getattr(self, "lr", 1e-3)
        if not isinstance(lr, (int, float)) or not lr > 0:
            raise InputError(f"lr must be a positive number, got {lr!r}")

    # ------------------------------------------------------------------ helpers for subclasses
    def _tensor(self, a, dtype: str = "float"):
        import torch

        t = torch.as_tensor(np.asarray(a))
        t = t.long() if dtype == "long" else t.float()
        return t.to(self.device_)

    def _perm(self, n: int):
        import torch

        return torch.randperm(n, generator=self._gen).to(self.device_)

    def _randn(self, *shape):
        """Standard normal noise from the fit's own generator (reproducible under threads)."""
        import torch

        return torch.randn(*shape, generator=self._gen).to(self.device_)

    def _rand(self, *shape):
        import torch

        return torch.rand(*shape, generator=self._gen).to(self.device_)

    def _train_mode(self, on: bool) -> None:
        for net in self.nets_.values():
            net.train(on)

    # ------------------------------------------------------------------ the loop
    def _init_nets(self, n_features: int) -> None:
        import torch

        with _BUILD_LOCK:
            torch.manual_seed(int(self.random_state))
            nets = self._build(n_features)
        self.nets_ = {k: v.to(self.device_) for k, v in nets.items()}

    def _fit(self, X, y, *, X_pos, monitor, callbacks, cancel) -> None:
        import torch

        from odcore import metrics

        self.device_ = resolve_device(getattr(self, "device", "auto"))
        self._gen = torch.Generator().manual_seed(int(self.random_state))
        self._init_nets(X.shape[1])
        self._prepare(X, y, X_pos)
        self.optimizers_ = self._optimizers()
        milestones = tuple(getattr(self, "lr_milestones", ()) or ())
        self.schedulers_ = [torch.optim.lr_scheduler.MultiStepLR(o, list(milestones), gamma=0.1)
                            for o in self.optimizers_] if milestones else []
        epochs = int(self.epochs)
        self._stop_training = False
        for epoch in range(epochs):
            t0 = time.perf_counter()
            self._train_mode(True)
            sums: dict[str, Any] = {}
            n_batches = 0
            for batch in self._batches(epoch):
                if cancel is not None and cancel.is_set():
                    raise FitCancelled(f"cancelled during epoch {epoch + 1} of {epochs}")
                losses = self._train_step(batch, epoch)
                for k, v in losses.items():
                    sums[k] = sums[k] + v if k in sums else v
                n_batches += 1
            for s in self.schedulers_:
                s.step()
            # one host sync per epoch: the mean of each loss term
            record: dict[str, Any] = {"epoch": epoch + 1, "epochs": epochs}
            for k, v in sums.items():
                val = float(v) / max(n_batches, 1)
                if not np.isfinite(val):
                    raise TrainingError(
                        f"the loss term '{k}' became {val} in epoch {epoch + 1}; training stopped. "
                        "Lower the learning rate, standardise the features or check the data for "
                        "extreme values")
                record[k] = val
            record.update(self._on_epoch_end(epoch))
            record["lr"] = float(self.optimizers_[0].param_groups[0]["lr"]) if self.optimizers_ else None
            record["seconds"] = time.perf_counter() - t0
            if monitor is not None:
                scores = self._score(monitor[0])
                record.update({f"val_{k}": v for k, v in metrics.summary(monitor[1], scores).items()
                               if k != "precision_at_10"})
            self.history_.append(record)
            for cb in callbacks:
                cb(record)
            if self._stop_training:  # set by a subclass hook (e.g. early stopping)
                break
        self._on_fit_end()

    def _score(self, X: np.ndarray) -> np.ndarray:
        """Eval-mode, no-grad scoring in batches of ``score_batch_size`` rows."""
        import torch

        self._train_mode(False)
        out = []
        bs = int(getattr(self, "score_batch_size", 8192))
        with torch.no_grad():
            for i in range(0, X.shape[0], bs):
                xb = torch.from_numpy(np.ascontiguousarray(X[i:i + bs], dtype=np.float32)).to(self.device_)
                out.append(self._score_batch(xb).float().cpu().numpy())
        return np.concatenate(out).astype(np.float64)

    def _apply_batched(self, X: np.ndarray, fn) -> np.ndarray:
        """Apply ``fn`` (tensor batch -> tensor) to ``X`` in eval mode, no grad, batch by batch."""
        import torch

        self._check_fitted()
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            from odcore.models.base import as_matrix

            X = as_matrix(X, n_features=self.n_features_in_)
        self._train_mode(False)
        out = []
        bs = int(getattr(self, "score_batch_size", 8192))
        with torch.no_grad():
            for i in range(0, X.shape[0], bs):
                xb = torch.from_numpy(np.ascontiguousarray(X[i:i + bs])).to(self.device_)
                out.append(fn(xb).float().cpu().numpy())
        return np.concatenate(out)

    # ------------------------------------------------------------------ persistence
    def _tensors_to_save(self) -> dict[str, Any]:
        return {f"{name}.{k}": v for name, net in self.nets_.items()
                for k, v in net.state_dict().items()}

    def _restore_tensors(self, tensors: dict[str, Any]) -> None:
        self.device_ = resolve_device(getattr(self, "device", "auto"))
        self._init_nets(int(self.n_features_in_))
        for name, net in self.nets_.items():
            prefix = name + "."
            sd = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
            net.load_state_dict(sd)
        self._train_mode(False)
