"""Plain autoencoder baseline: the anomaly score is the mean squared reconstruction error."""

from __future__ import annotations

from typing import Any

import numpy as np

from odcore.models import nets
from odcore.models.deep import DeepDetector, row_mse


class AutoEncoder(DeepDetector):
    """Autoencoder scored by reconstruction error ``mean_j (x_j - G(Q(x))_j)^2``.

    Parameters: ``latent`` size, ``hidden`` widths of the MLP (mirrored in the decoder),
    ``input_shape`` (C, H, W) to use convolutional networks for images, plus the common
    training parameters of :class:`DeepDetector`.
    """

    param_help = {
        "latent": "size of the latent code",
        "hidden": "hidden layer widths of the encoder MLP (the decoder mirrors them)",
        "input_shape": "(channels, height, width) for image rows; None for tabular data",
    }

    def __init__(self, *, latent: int = 8, hidden: tuple = (64,), input_shape: tuple | None = None,
                 contamination: float = 0.1, epochs: int = 50, batch_size: int = 256,
                 lr: float = 1e-3, weight_decay: float = 0.0, device: str = "auto",
                 random_state: int = 0, score_batch_size: int = 8192, lr_milestones: tuple = (),
                 lr_gamma: float = 0.1):
        self._store_params(locals())

    def _build(self, n_features: int) -> dict[str, Any]:
        hidden = tuple(self.hidden)
        return {
            "encoder": nets.encoder(n_features, self.latent, hidden=hidden, input_shape=self.input_shape),
            "decoder": nets.decoder(n_features, self.latent, hidden=hidden[::-1], input_shape=self.input_shape),
        }

    def _forward(self, x):
        return self.nets_["decoder"](self.nets_["encoder"](x))

    def _train_step(self, batch, epoch: int) -> dict[str, Any]:
        x, _ = batch
        loss = ((self._forward(x) - x) ** 2).mean()
        opt = self.optimizers_[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.detach()}

    def _score_batch(self, xb):
        return row_mse(self._forward(xb), xb)

    def embed(self, X) -> np.ndarray:
        """Latent codes ``Q(x)`` (n, latent)."""
        return self._apply_batched(X, self.nets_["encoder"])

    def reconstruct(self, X, decoder: str = "inlier") -> dict[str, np.ndarray]:
        """Reconstruction ``G(Q(x))`` and per-feature squared errors (one decoder only)."""
        rec = self._apply_batched(X, self._forward)
        X = np.asarray(X, dtype=np.float32)
        return {"reconstruction": rec, "errors": (rec - X) ** 2}
