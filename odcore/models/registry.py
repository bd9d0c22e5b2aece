"""Registry of detectors: name -> class, with the metadata the app and the CLI show.

Adding a detector is one module plus one ``MethodInfo`` line below. Classes are imported
lazily, so listing methods does not import torch.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
from dataclasses import dataclass
from typing import Any

from odcore.errors import InputError

CAPABILITIES = ("embed", "reconstruct", "generate", "boundary")


@dataclass(frozen=True)
class MethodInfo:
    """What the UI needs to know about a method without fitting it."""

    name: str
    target: str  # "module:Class"
    family: str  # "deep" or "classical"
    setting: str  # "unsupervised", "one-class", "pu" (positive-unlabelled) or "limited-negatives"
    title: str
    paper: str

    def cls(self) -> type:
        mod, _, cls = self.target.partition(":")
        return getattr(importlib.import_module(mod), cls)


_P_WALDO = "Rizzo, Pang, Chen, Chawla. Probabilistic Outlier Detection and Generation."
_P_DROCC = "Goyal et al. DROCC: Deep Robust One-Class Classification. ICML 2020."
_P_ALAD = "Zenati et al. Adversarially Learned Anomaly Detection. ICDM 2018."
_P_OCNN = "Chalapathy, Menon, Chawla. Anomaly Detection using One-Class Neural Networks. 2018."
_P_SVDD = "Ruff et al. Deep One-Class Classification. ICML 2018."

METHODS: dict[str, MethodInfo] = {m.name: m for m in [
    MethodInfo("waldo", "odcore.models.waldo:WALDO", "deep", "pu",
               "WALDO (Wasserstein double autoencoder)", _P_WALDO),
    MethodInfo("cora", "odcore.models.waldo:CoRa", "deep", "pu",
               "CoRa (two decoders + advantage, no Wasserstein term)", _P_WALDO),
    MethodInfo("wae-gan", "odcore.models.waldo:WAEGAN", "deep", "pu",
               "WAE-GAN (single decoder, reconstruction error)", _P_WALDO),
    MethodInfo("drocc", "odcore.models.drocc:DROCC", "deep", "one-class",
               "DROCC (adversarial one-class classifier)", _P_DROCC),
    MethodInfo("drocc-lf", "odcore.models.drocc:DROCCLF", "deep", "limited-negatives",
               "DROCC-LF (with limited negatives)", _P_DROCC),
    MethodInfo("alad", "odcore.models.alad:ALAD", "deep", "unsupervised",
               "ALAD (adversarially learned anomaly detection)", _P_ALAD),
    MethodInfo("ocnn", "odcore.models.ocnn:OCNN", "deep", "one-class",
               "OC-NN (one-class neural network)", _P_OCNN),
    MethodInfo("deep-svdd", "odcore.models.deepsvdd:DeepSVDD", "deep", "one-class",
               "Deep SVDD (hypersphere)", _P_SVDD),
    MethodInfo("autoencoder", "odcore.models.autoencoder:AutoEncoder", "deep", "unsupervised",
               "Autoencoder (reconstruction error)", "baseline"),
    MethodInfo("iforest", "odcore.models.classical:IForest", "classical", "unsupervised",
               "Isolation Forest", "Liu, Ting, Zhou. Isolation Forest. ICDM 2008."),
    MethodInfo("lof", "odcore.models.classical:LOF", "classical", "unsupervised",
               "Local Outlier Factor (novelty)", "Breunig et al. LOF. SIGMOD 2000."),
    MethodInfo("ocsvm", "odcore.models.classical:OCSVM", "classical", "one-class",
               "One-class SVM", "Schoelkopf et al. Estimating the support of a high-dimensional distribution. 2001."),
    MethodInfo("knn", "odcore.models.classical:KNN", "classical", "unsupervised",
               "k-nearest-neighbour distance", "Ramaswamy, Rastogi, Shim. SIGMOD 2000."),
    MethodInfo("pca", "odcore.models.classical:PCARecon", "classical", "unsupervised",
               "PCA reconstruction error", "baseline"),
]}


def _info(name: str) -> MethodInfo:
    try:
        return METHODS[name]
    except KeyError:
        raise InputError(f"unknown method {name!r}; choose one of: {', '.join(available())}") from None


def available() -> list[str]:
    """Names of the registered methods whose module exists in this build."""
    return [n for n, m in METHODS.items()
            if importlib.util.find_spec(m.target.partition(":")[0]) is not None]


def info(name: str) -> MethodInfo:
    """Metadata of a method (raises :class:`InputError` listing the valid names)."""
    return _info(name)


def get_class(name: str) -> type:
    """The detector class registered as ``name``."""
    m = _info(name)
    try:
        return m.cls()
    except (ImportError, AttributeError) as exc:
        raise InputError(f"method {name!r} is registered but not available in this build ({exc})") from None


def name_of(cls: type) -> str:
    """Registry name of a detector class (its most specific registered name)."""
    for name, m in METHODS.items():
        if m.target == f"{cls.__module__}:{cls.__name__}":
            return name
    raise InputError(f"{cls.__module__}.{cls.__name__} is not registered in odcore.models.registry")


def defaults(name: str) -> dict[str, Any]:
    """Constructor defaults of a method (the papers' settings)."""
    sig = inspect.signature(get_class(name).__init__)
    return {k: p.default for k, p in sig.parameters.items() if k != "self"}


def param_table(name: str, *, image: bool = False) -> list[dict[str, Any]]:
    """One row per parameter: name, default, one-line help. With ``image=True`` the defaults are
    the ones runs on image data get (the class's ``image_defaults`` over its constructor's)."""
    cls = get_class(name)
    helps = {**getattr(cls, "common_help", {}), **getattr(cls, "param_help", {})}
    img = cls.image_defaults if image else {}
    rows = []
    for k, v in defaults(name).items():
        h = helps.get(k, "")
        if k in img:
            v, h = img[k], f"{h} (image data: {img[k]!r}; other data: {v!r})"
        rows.append({"name": k, "default": v, "help": h})
    return rows


def capabilities(name: str) -> list[str]:
    """Which optional capabilities (``embed``, ``reconstruct``, ``generate``, ``boundary``) exist."""
    cls = get_class(name)
    return [c for c in CAPABILITIES if callable(getattr(cls, c, None))]


def parse_value(text: str, default: Any) -> Any:
    """Turn the text ``k=v`` value of the CLI or a form into the type of the default."""
    if isinstance(default, bool):
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise InputError(f"expected true or false, got {text!r}")
    try:
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, tuple) or default is None:
            try:
                v = json.loads(text)
            except json.JSONDecodeError:
                if default is None or "," not in text:
                    return text
                return tuple(parse_value(x.strip(), None) for x in text.split(","))
            return tuple(v) if isinstance(v, list) else v
    except ValueError:
        raise InputError(f"expected a {type(default).__name__}, got {text!r}") from None
    return text


def create(name: str, **params: Any):
    """Instantiate method ``name`` with ``params``; unknown parameters raise a clear error."""
    cls = get_class(name)
    valid = defaults(name)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise InputError(f"unknown parameter(s) {', '.join(unknown)} for {name}; valid: {', '.join(valid)}")
    return cls(**params)
