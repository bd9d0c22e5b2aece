"""Optional downloaders, for users with a network. Nothing here runs unless called explicitly;
tests never download.

- :func:`download_torchvision`: MNIST, Fashion-MNIST or CIFAR-10 through torchvision (not a
  dependency of Outlier Lab: install it yourself) into a cache folder.
- :func:`download_kddcup99`: scikit-learn's ``fetch_kddcup99`` (the 10% file) into a cache folder.

The cache folder is ``cache_dir`` if given, else env ``ODCORE_CACHE_DIR``, else
``~/.cache/odcore``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from odcore.data.record import Dataset
from odcore.errors import InputError

TORCHVISION_SETS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "cifar10": "CIFAR10"}


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """The download cache folder (created on use)."""
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get("ODCORE_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "odcore"


def download_torchvision(name: str, *, train: bool = False, cache: str | os.PathLike | None = None,
                         inlier_classes: Any = None) -> Dataset:
    """Download (once) and load a torchvision image set as a Dataset of flattened images in [0, 1].

    ``name`` is one of ``mnist``, ``fashion-mnist``, ``cifar10``. ``classes`` holds the class of each
    image; ``y`` is set when ``inlier_classes`` is given (1 for every other class).
    """
    from odcore.data.builtins import _one_vs_rest_labels

    key = name.lower()
    if key not in TORCHVISION_SETS:
        raise InputError(f"unknown torchvision set {name!r}; choose one of {', '.join(TORCHVISION_SETS)}")
    try:
        import torchvision.datasets as tvd
    except ImportError:
        raise InputError("downloading MNIST / Fashion-MNIST / CIFAR-10 needs torchvision, which is not installed: "
                         "pip install torchvision (matching your torch version), or download the IDX files "
                         "yourself and load them by path") from None
    root = cache_dir(cache) / "torchvision"
    root.mkdir(parents=True, exist_ok=True)
    try:
        ds = getattr(tvd, TORCHVISION_SETS[key])(root=str(root), train=train, download=True)
    except Exception as exc:  # network errors come in many types
        raise InputError(f"could not download {name} into {root} ({type(exc).__name__}: {exc}); check the network "
                         "connection, or load local files by path") from None
    data = np.asarray(ds.data)
    if data.ndim == 3:  # (n, H, W) grey
        shape = (1, data.shape[1], data.shape[2])
    else:  # (n, H, W, C) colour -> channels first
        data = data.transpose(0, 3, 1, 2)
        shape = tuple(data.shape[1:])
    X = data.reshape(len(data), -1).astype(np.float32) / 255.0
    classes = np.asarray(ds.targets, dtype=np.int64)
    return Dataset(name=f"{key}-{'train' if train else 'test'}", X=X, y=_one_vs_rest_labels(classes, inlier_classes),
                   kind="image", image_shape=shape, source=f"torchvision {TORCHVISION_SETS[key]} ({root})",
                   classes=classes, notes=f"{len(X):,} images {shape}, values in [0, 1]; downloaded by torchvision.")


def download_kddcup99(*, cache: str | os.PathLike | None = None, allow_download: bool = True) -> Path:
    """Fetch the KDD Cup 99 10% set with scikit-learn and write it as a raw KDD CSV (gz) in the cache.

    Returns the path of ``kddcup.data_10_percent.gz``, loadable with ``odcore.data.load(path)``
    (format ``kdd99``: 121 one-hot features). With ``allow_download=False`` only the cache is used.
    """
    import gzip

    root = cache_dir(cache) / "kddcup99"
    out = root / "kddcup.data_10_percent.gz"
    if out.exists():
        return out
    try:
        from sklearn.datasets import fetch_kddcup99
    except ImportError:
        raise InputError("downloading KDD Cup 99 needs scikit-learn: pip install scikit-learn") from None
    root.mkdir(parents=True, exist_ok=True)
    try:
        bunch = fetch_kddcup99(data_home=str(root / "sklearn"), percent10=True,
                               download_if_missing=allow_download)
    except OSError as exc:
        if not allow_download:
            raise InputError(f"KDD Cup 99 is not in the cache {root} and downloading is off; call with "
                             "allow_download=True on a machine with a network, or load the raw file by path") from None
        raise InputError(f"could not download KDD Cup 99 ({exc}); check the network, or load the raw file by "
                         "path") from None
    tmp = out.with_suffix(".tmp")
    with gzip.open(tmp, "wt") as f:
        for row, label in zip(bunch.data, bunch.target):
            fields = [v.decode() if isinstance(v, bytes) else str(v) for v in row]
            lab = label.decode() if isinstance(label, bytes) else str(label)
            f.write(",".join(fields + [lab]) + "\n")
    os.replace(tmp, out)
    return out
