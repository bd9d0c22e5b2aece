"""Plain autoencoder baseline: the anomaly score is the mean squared reconstruction error."""

from __future__ import annotations

from typing import Any

import numpy as np

from odcore.models import nets
from odcore.models.capabilities import Capabilities
from odcore.models.deep import INPUT_SHAPE, DeepDetector, net_program, row_mse, size, widths


class AutoEncoder(DeepDetector):
    """Autoencoder scored by reconstruction error ``mean_j (x_j - G(Q(x))_j)^2``.

    Parameters: ``latent`` size, ``hidden`` widths of the MLP (mirrored in the decoder),
    ``input_shape`` (C, H, W) to use convolutional networks for images, plus the common
    training parameters of :class:`DeepDetector`.
    """

    params = (
        size("latent", 8, "size of the latent code"),
        widths("hidden", (64,), "hidden layer widths of the encoder MLP (the decoder mirrors them)"),
        INPUT_SHAPE,
    )
    capability = Capabilities(latent=True, decoders=("inlier",))

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

    def _score_program(self) -> dict[str, Any] | None:
        """``mean_j (G(Q(x))_j - x_j)^2`` as a program (tabular networks; odcore.program)."""
        if type(self)._score_batch is not AutoEncoder._score_batch:
            return None
        return net_program(self, ("encoder", "decoder"), {"op": "row_mse"})

    def embed(self, X) -> np.ndarray:
        """Latent codes ``Q(x)`` (n, latent)."""
        return self._apply_batched(X, self.nets_["encoder"])

    def reconstruct(self, X, decoder: str = "inlier") -> dict[str, np.ndarray]:
        """Reconstruction ``G(Q(x))`` and per-feature squared errors (one decoder only)."""
        self._check_decoder(decoder)
        rec = self._apply_batched(X, self._forward)
        X = np.asarray(X, dtype=np.float32).reshape(rec.shape)
        return {"reconstruction": rec, "errors": (rec - X) ** 2}
