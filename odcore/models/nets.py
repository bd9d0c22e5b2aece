"""Network builders shared by the deep detectors.

All networks take and return *flat* rows ``(n, d)``: convolutional ones reshape to
``(n, C, H, W)`` inside, so every detector handles tabular and image data the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def activation(name: str | None) -> nn.Module:
    """``relu``, ``leaky_relu`` (slope 0.2), ``tanh``, ``sigmoid``, ``linear``/None."""
    name = (name or "linear").lower()
    table = {
        "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
        "leaky_relu": lambda: nn.LeakyReLU(0.2), "linear": nn.Identity, "none": nn.Identity,
    }
    if name not in table:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(table)}")
    return table[name]()


def mlp(sizes: Sequence[int], *, act: str = "leaky_relu", out_act: str | None = None,
        bias: bool = True, dropout: float = 0.0, batchnorm: bool = False) -> nn.Sequential:
    """Multi-layer perceptron ``sizes[0] -> ... -> sizes[-1]``.

    Hidden layers get ``act`` (and optional batch norm without affine parameters when
    ``bias=False``, as Deep SVDD requires, and dropout); the last layer gets ``out_act``.
    """
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b, bias=bias))
        last = i == len(sizes) - 2
        if not last:
            if batchnorm:
                layers.append(nn.BatchNorm1d(b, affine=bias, eps=1e-4))
            layers.append(activation(act))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        elif out_act:
            layers.append(activation(out_act))
    return nn.Sequential(*layers)


def image_shape_ok(shape: Sequence[int] | None) -> bool:
    """True for (C, H, W) with H and W divisible by 4 (8x8, 28x28, 32x32 ...)."""
    return shape is not None and len(shape) == 3 and shape[1] % 4 == 0 and shape[2] % 4 == 0


def check_image_shape(shape: Sequence[int], n_features: int) -> tuple[int, int, int]:
    """Validate ``shape`` against the row width; raise ValueError with the fix otherwise."""
    from odcore.errors import InputError

    if shape is None or len(shape) != 3:
        raise InputError(f"input_shape must be (channels, height, width), got {shape!r}")
    c, h, w = (int(v) for v in shape)
    if c * h * w != n_features:
        raise InputError(f"input_shape {tuple(shape)} has {c * h * w} values but the rows have "
                         f"{n_features} features; pass the image shape the rows were flattened from")
    if h % 4 or w % 4:
        raise InputError(f"image height and width must be divisible by 4 for the convolutional "
                         f"networks (got {h}x{w}); pad the images or use input_shape=None for an MLP")
    return c, h, w


class ConvEncoder(nn.Module):
    """Flat image rows -> latent vector: two stride-2 convolutions and a linear layer.

    (n, C*H*W) -> (n, C, H, W) -> (n, w, H/2, W/2) -> (n, 2w, H/4, W/4) -> (n, latent)
    """

    def __init__(self, shape: Sequence[int], latent: int, *, width: int = 32, bias: bool = True,
                 act: str = "leaky_relu", batchnorm: bool = False):
        super().__init__()
        c, h, w = shape
        self.shape = (c, h, w)
        bn = (lambda k: nn.BatchNorm2d(k, affine=bias, eps=1e-4)) if batchnorm else (lambda k: nn.Identity())
        self.body = nn.Sequential(
            nn.Conv2d(c, width, 4, 2, 1, bias=bias), bn(width), activation(act),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=bias), bn(2 * width), activation(act),
            nn.Flatten(),
            nn.Linear(2 * width * (h // 4) * (w // 4), latent, bias=bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.view(x.shape[0], *self.shape))


class ConvDecoder(nn.Module):
    """Latent vector -> flat image rows (mirror of :class:`ConvEncoder`)."""

    def __init__(self, shape: Sequence[int], latent: int, *, width: int = 32,
                 act: str = "leaky_relu", out_act: str | None = None):
        super().__init__()
        c, h, w = shape
        self.hw = (h // 4, w // 4)
        self.width = width
        self.fc = nn.Sequential(nn.Linear(latent, 2 * width * self.hw[0] * self.hw[1]), activation(act))
        self.body = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), activation(act),
            nn.ConvTranspose2d(width, c, 4, 2, 1), activation(out_act),
            nn.Flatten(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(z.shape[0], 2 * self.width, *self.hw)
        return self.body(h)


class WAEConvEncoder(nn.Module):
    """The WAE convolutional encoder of the WALDO authors' MNIST script (after Tolstikhin et al.'s WAE):
    four stride-2 convolutions ``w, 2w, 4w, 8w`` (kernel 4, padding 1, no bias; batch norm and ReLU after
    all but the first), then a linear layer from the ``8w x 1 x 1`` map to the code.

    (n, C*28*28) -> (n, C, 28, 28) -> (n, w, 14, 14) -> (n, 2w, 7, 7) -> (n, 4w, 3, 3) -> (n, 8w, 1, 1) -> (n, latent)
    """

    def __init__(self, shape: Sequence[int], latent: int, *, width: int = 40):
        super().__init__()
        c, h, w = _wae_shape(shape)
        self.shape = (c, h, w)
        self.conv = nn.Sequential(
            nn.Conv2d(c, width, 4, 2, 1, bias=False), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.Conv2d(2 * width, 4 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * width), nn.ReLU(),
            nn.Conv2d(4 * width, 8 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(8 * width), nn.ReLU(),
            nn.Flatten(),
        )
        self.fc = nn.Linear(8 * width, latent)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x.view(x.shape[0], *self.shape)))


class WAEConvDecoder(nn.Module):
    """The matching decoder: a linear layer to ``8w x 7 x 7`` (ReLU), transposed convolutions ``4w`` (7 -> 10),
    ``2w`` (10 -> 13) with batch norm and ReLU, and ``C`` (13 -> 28, stride 2), then ``out_act``.

    (n, latent) -> (n, 8w, 7, 7) -> (n, 4w, 10, 10) -> (n, 2w, 13, 13) -> (n, C, 28, 28) -> (n, C*28*28)
    """

    def __init__(self, shape: Sequence[int], latent: int, *, width: int = 40, out_act: str | None = None):
        super().__init__()
        c, _, _ = _wae_shape(shape)
        self.width = width
        self.fc = nn.Sequential(nn.Linear(latent, 8 * width * 7 * 7), nn.ReLU())
        self.body = nn.Sequential(
            nn.ConvTranspose2d(8 * width, 4 * width, 4), nn.BatchNorm2d(4 * width), nn.ReLU(),
            nn.ConvTranspose2d(4 * width, 2 * width, 4), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, c, 4, stride=2), activation(out_act), nn.Flatten(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.fc(z).view(z.shape[0], 8 * self.width, 7, 7))


class LeNetEncoder(nn.Module):
    """The DROCC authors' MNIST classifier body (EdgeML ``main_drocclf_mnist.py``, after Deep SVDD's LeNet):
    two bias-free 5x5 convolutions of 8 and 4 maps (padding 2), each followed by batch norm without affine
    parameters (eps 1e-4), leaky ReLU (slope 0.01) and 2x2 max-pooling, then a bias-free linear layer.

    (n, C*H*W) -> (n, 8, H/2, W/2) -> (n, 4, H/4, W/4) -> (n, latent)
    """

    def __init__(self, shape: Sequence[int], latent: int = 64):
        super().__init__()
        c, h, w = shape
        self.shape = (c, h, w)
        self.body = nn.Sequential(
            nn.Conv2d(c, 8, 5, padding=2, bias=False), nn.BatchNorm2d(8, eps=1e-4, affine=False),
            nn.LeakyReLU(0.01), nn.MaxPool2d(2),
            nn.Conv2d(8, 4, 5, padding=2, bias=False), nn.BatchNorm2d(4, eps=1e-4, affine=False),
            nn.LeakyReLU(0.01), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(4 * (h // 4) * (w // 4), latent, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.view(x.shape[0], *self.shape))


def _wae_shape(shape: Sequence[int]) -> tuple[int, int, int]:
    from odcore.errors import InputError

    c, h, w = (int(v) for v in shape)
    if (h, w) != (28, 28):
        raise InputError(f"conv_arch='wae' is the authors' MNIST network for 28x28 images, got {h}x{w}; use "
                         "conv_arch='small' (any height and width divisible by 4)")
    return c, h, w


#: convolutional architectures for image rows: our small one, and the WALDO authors' WAE nets (28x28 only)
CONV_ARCHS = ("small", "wae")


def encoder(n_features: int, latent: int, *, hidden: Sequence[int] = (64,),
            input_shape: Sequence[int] | None = None, act: str = "leaky_relu",
            out_act: str | None = None, bias: bool = True, batchnorm: bool = False, arch: str = "small",
            width: int | None = None) -> nn.Module:
    """An MLP ``d -> hidden -> latent`` for tabular rows; for images a :class:`ConvEncoder` (``arch="small"``)
    or a :class:`WAEConvEncoder` (``arch="wae"``), ``width`` their first layer's channels."""
    if input_shape is not None:
        shape = check_image_shape(input_shape, n_features)
        if arch == "wae":
            net: nn.Module = WAEConvEncoder(shape, latent, width=width or 40)
        else:
            net = ConvEncoder(shape, latent, width=width or 32, bias=bias, act=act, batchnorm=batchnorm)
        return nn.Sequential(net, activation(out_act)) if out_act else net
    return mlp([n_features, *hidden, latent], act=act, out_act=out_act, bias=bias, batchnorm=batchnorm)


def decoder(n_features: int, latent: int, *, hidden: Sequence[int] = (64,),
            input_shape: Sequence[int] | None = None, act: str = "leaky_relu",
            out_act: str | None = None, arch: str = "small", width: int | None = None) -> nn.Module:
    """Mirror of :func:`encoder`: ``latent -> hidden -> d`` (MLP), a :class:`ConvDecoder` or a
    :class:`WAEConvDecoder`."""
    if input_shape is not None:
        shape = check_image_shape(input_shape, n_features)
        if arch == "wae":
            return WAEConvDecoder(shape, latent, width=width or 40, out_act=out_act)
        return ConvDecoder(shape, latent, width=width or 32, act=act, out_act=out_act)
    return mlp([latent, *hidden, n_features], act=act, out_act=out_act)


def copy_weights(dst: nn.Module, src: nn.Module) -> None:
    """Make ``dst`` an exact copy of ``src``'s parameters and buffers (same architecture)."""
    dst.load_state_dict(src.state_dict())
