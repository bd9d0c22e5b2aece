"""Registry of detectors: name -> class, with the metadata the app and the CLI show.

Adding a detector is one module (its class declares ``params`` and ``capability``) plus one
:class:`MethodInfo` line in :data:`METHODS`. A variant that only changes defaults (CoRa is WALDO
without the Wasserstein term) is a line with ``overrides``: no module, no copied signature.
Classes are imported lazily, so listing methods does not import torch.

Everything about parameters goes through the class's declaration
(:mod:`odcore.models.params`): :func:`create` validates before a run record exists,
:func:`parse_params` reads the CLI's and the form's text values, :func:`resolve_params` adds what
a run on given data gets by default (seed, image shape, image-data defaults), and
:func:`param_table` feeds ``odcore methods`` and the Train page.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from odcore.errors import InputError


@dataclass(frozen=True)
class MethodInfo:
    """What the UI needs to know about a method without fitting it.

    ``overrides`` makes the entry a variant of ``target``: the same class with other defaults
    (``class_name`` names the generated subclass, e.g. ``CoRa``).
    """

    name: str
    target: str  # "module:Class"
    family: str  # "deep" or "classical"
    setting: str  # "unsupervised", "one-class", "pu" (positive-unlabelled) or "limited-negatives"
    title: str
    paper: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    class_name: str | None = None
    #: the kinds of data this method is the default for ("tables": an analyst's table, chosen on bench/analyst.py)
    recommended_for: tuple[str, ...] = ()
    #: a warning on the defaults, shown where the method is chosen (the Train page, ``odcore methods``): what happens
    #: with them on real tables and what to choose instead. Declared for a default whose mean AUROC on the development
    #: files is below 0.6 (bench/default_auroc.py, tests/test_default_auroc.py)
    caution: str = ""

    def cls(self) -> type:
        return get_class(self.name)


_P_WALDO = "Rizzo, Pang, Chen, Chawla. Probabilistic Outlier Detection and Generation."
_P_DROCC = "Goyal et al. DROCC: Deep Robust One-Class Classification. ICML 2020."
_P_ALAD = "Zenati et al. Adversarially Learned Anomaly Detection. ICDM 2018."
_P_OCNN = "Chalapathy, Menon, Chawla. Anomaly Detection using One-Class Neural Networks. 2018."
_P_SVDD = "Ruff et al. Deep One-Class Classification. ICML 2018."
_P_DTE = "Livernoche, Jain, Hezaveh, Ravanbakhsh. On Diffusion Modeling for Anomaly Detection. ICLR 2024."
_P_SAD = "Ruff et al. Deep Semi-Supervised Anomaly Detection. ICLR 2020."
_PYOD = "odcore.models.pyod_adapter"

METHODS: dict[str, MethodInfo] = {m.name: m for m in [
    MethodInfo("waldo", "odcore.models.waldo:WALDO", "deep", "pu",
               "WALDO (Wasserstein double autoencoder)", _P_WALDO),
    MethodInfo("cora", "odcore.models.waldo:WALDO", "deep", "pu",
               "CoRa (two decoders + advantage, no Wasserstein term)", _P_WALDO,
               overrides={"lam": 0.0}, class_name="CoRa"),
    MethodInfo("wae-gan", "odcore.models.waldo:WALDO", "deep", "pu",
               "WAE-GAN (single decoder, reconstruction error)", _P_WALDO,
               overrides={"single_decoder": True, "advantage": False, "disc_on": "all"}, class_name="WAEGAN"),
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
    MethodInfo("dte", "odcore.models.dte:DTE", "deep", "one-class",
               "DTE (diffusion time estimation, categorical)", _P_DTE),
    MethodInfo("deep-sad", "odcore.models.deepsad:DeepSAD", "deep", "one-class",
               "Deep SAD (Deep SVDD + labelled normals and anomalies)", _P_SAD),
    MethodInfo("autoencoder", "odcore.models.autoencoder:AutoEncoder", "deep", "unsupervised",
               "Autoencoder (reconstruction error)", "baseline"),
    MethodInfo("pca", "odcore.models.classical:PCARecon", "classical", "unsupervised",
               "PCA reconstruction error", "baseline"),
    # PyOD's detectors (odcore.models.pyod_adapter: parameters from PyOD's signatures)
    MethodInfo("iforest", f"{_PYOD}:IForest", "classical", "unsupervised",
               "Isolation Forest", "Liu, Ting, Zhou. Isolation Forest. ICDM 2008."),
    MethodInfo("lof", f"{_PYOD}:LOF", "classical", "unsupervised",
               "Local Outlier Factor (novelty)", "Breunig et al. LOF. SIGMOD 2000."),
    MethodInfo("ocsvm", f"{_PYOD}:OCSVM", "classical", "one-class",
               "One-class SVM", "Schoelkopf et al. Estimating the support of a high-dimensional distribution. 2001."),
    MethodInfo("knn", f"{_PYOD}:KNN", "classical", "unsupervised",
               "k-nearest-neighbour distance", "Ramaswamy, Rastogi, Shim. SIGMOD 2000."),
    MethodInfo("hbos", f"{_PYOD}:HBOS", "classical", "unsupervised", "HBOS (histogram-based outlier score)",
               "Goldstein, Dengel. Histogram-based Outlier Score. KI 2012."),
    MethodInfo("ecod", f"{_PYOD}:ECOD", "classical", "unsupervised", "ECOD (empirical-CDF outlier detection)",
               "Li et al. ECOD. TKDE 2022."),
    MethodInfo("copod", f"{_PYOD}:COPOD", "classical", "unsupervised", "COPOD (copula-based outlier detection)",
               "Li et al. COPOD. ICDM 2020."),
    MethodInfo("abod", f"{_PYOD}:ABOD", "classical", "unsupervised", "ABOD (angle-based outlier detection)",
               "Kriegel, Schubert, Zimek. KDD 2008."),
    MethodInfo("gmm", f"{_PYOD}:GMM", "classical", "unsupervised", "Gaussian mixture (negative log-likelihood)",
               "Aggarwal. Outlier Analysis. 2017."),
    MethodInfo("inne", f"{_PYOD}:INNE", "classical", "unsupervised", "iNNE (isolation with nearest-neighbour "
               "ensembles)", "Bandaragoda et al. Computational Intelligence 2018."),
    MethodInfo("kde", f"{_PYOD}:KDE", "classical", "unsupervised", "Kernel density (negative log-density)",
               "Latecki, Lazarevic, Pokrajac. MLDM 2007."),
    MethodInfo("loda", f"{_PYOD}:LODA", "classical", "unsupervised", "LODA (lightweight online detector)",
               "Pevny. Machine Learning 2016."),
    MethodInfo("mcd", f"{_PYOD}:MCD", "classical", "unsupervised", "MCD (robust Mahalanobis distance)",
               "Rousseeuw, Van Driessen. Technometrics 1999."),
    # the analyst's table default (bench/analyst.py): a robust distance of each row's deviations from its series'
    # expected values, 2% of the rows flagged (PyOD's 10% floods an analyst with store-weeks to review)
    MethodInfo("mcd-series", f"{_PYOD}:MCD", "classical", "unsupervised",
               "Series deviations: robust distance (MCD), 2% flagged", "Rousseeuw, Van Driessen. Technometrics 1999.",
               overrides={"contamination": 0.02}, class_name="MCDSeries", recommended_for=("tables",)),
    # the lab's deep detector on the same rows, level with it on bench/analyst.py: DTE with each deviation folded (a dip
    # counts as a spike), 2% flagged, with the training budget it was measured with there (50 epochs of 256, lr 1e-3;
    # plain DTE's defaults became the paper's optimiser after that measurement)
    MethodInfo("dte-series", "odcore.models.dte:DTE", "deep", "one-class",
               "Series deviations: diffusion time (DTE, folded), 2% flagged", _P_DTE,
               overrides={"fold": True, "contamination": 0.02, "epochs": 50, "batch_size": 256, "lr": 1e-3,
                          "max_steps": None}, class_name="DTESeries"),
    MethodInfo("pyod-pca", f"{_PYOD}:PCA", "classical", "unsupervised", "PCA (PyOD: weighted distances to the "
               "components)", "Shyu et al. ICDM 2003."),
    MethodInfo("qmcd", f"{_PYOD}:QMCD", "classical", "unsupervised", "QMCD (quasi-Monte Carlo discrepancy)",
               "Fang, Ma. PyOD's QMCD."),
    MethodInfo("sampling", f"{_PYOD}:Sampling", "classical", "unsupervised", "Sampling (distance to a random "
               "subset)", "Sugiyama, Borgwardt. NeurIPS 2013."),
    MethodInfo("pyod-autoencoder", f"{_PYOD}:AutoEncoder", "deep", "unsupervised", "Autoencoder (PyOD's port)",
               "PyOD (Zhao et al. JMLR 2019)."),
    MethodInfo("pyod-deep-svdd", f"{_PYOD}:DeepSVDD", "deep", "one-class", "Deep SVDD (PyOD's port)", _P_SVDD),
    MethodInfo("pyod-alad", f"{_PYOD}:ALAD", "deep", "unsupervised", "ALAD (PyOD's port)", _P_ALAD,
               caution="PyOD's ALAD port at these defaults scores a mean AUROC of 0.56 on the twelve ADBench "
                       "development tables (novelty protocol, 2 seeds; 0.24 on mammography): barely better than "
                       "chance, because its 200 'epochs' are 200 minibatches. Choose ALAD (ours, 0.78 there) or "
                       "k-nearest-neighbour distance (0.83), or give this port thousands of epochs."),
    # combinations of the above, chosen without labels
    MethodInfo("ensemble", "odcore.models.ensemble:Ensemble", "classical", "unsupervised",
               "Ensemble (standardised scores combined)",
               "Aggarwal, Sathe 2015; Rayana, Akoglu 2016; Zhao et al. 2021."),
    MethodInfo("auto", "odcore.models.auto:Auto", "classical", "unsupervised",
               "Auto (a detector or ensemble chosen without labels)",
               "Ma, Zhao, Akoglu. SIGKDD Explorations 2023; on clean rows Goswami et al. ICLR 2023."),
]}

_CLASSES: dict[str, type] = {}
_CLASSES_LOCK = threading.Lock()


def _info(name: str) -> MethodInfo:
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise InputError(f"unknown method {name!r}; choose one of: {', '.join(available())}") from None


def available() -> list[str]:
    """Names of the registered methods whose module exists in this build."""
    return [n for n, m in METHODS.items()
            if importlib.util.find_spec(m.target.partition(":")[0]) is not None]


def recommended(kind: str) -> str:
    """The method declared the default for ``kind`` of data (``"tables"``: the Flagged rows page and ``odcore train``
    on a CSV / Parquet table without ``--method``)."""
    for n in available():
        if kind in METHODS[n].recommended_for:
            return n
    raise InputError(f"no method is declared the default for {kind!r}; give one (odcore methods lists them)")


def info(name: str) -> MethodInfo:
    """Metadata of a method (raises :class:`InputError` listing the valid names)."""
    return _info(name)


def get_class(name: str) -> type:
    """The detector class registered as ``name`` (for a variant, its generated subclass)."""
    m = _info(name)
    with _CLASSES_LOCK:
        if name in _CLASSES:
            return _CLASSES[name]
        mod, _, cls_name = m.target.partition(":")
        try:
            base = getattr(importlib.import_module(mod), cls_name)
        except (ImportError, AttributeError) as exc:
            raise InputError(f"method {name!r} is registered but not available in this build ({exc})") from None
        cls = base.variant(m.class_name or name, dict(m.overrides), registry_name=name,
                           doc=f"{m.title}: {base.__name__} with {dict(m.overrides)} (registry variant "
                               f"{name!r}).") if m.overrides else base
        _CLASSES[name] = cls
        return cls


def variant_class(class_name: str) -> type:
    """The variant class called ``class_name`` (``CoRa``, ``WAEGAN``): for module ``__getattr__``."""
    for name, m in METHODS.items():
        if m.overrides and m.class_name == class_name:
            return get_class(name)
    raise AttributeError(class_name)


def name_of(cls: type) -> str:
    """Registry name of a detector class (its most specific registered name)."""
    own = cls.__dict__.get("registry_name")
    if own:
        return own
    for name, m in METHODS.items():
        if not m.overrides and m.target == f"{cls.__module__}:{cls.__name__}":
            return name
    raise InputError(f"{cls.__module__}.{cls.__name__} is not registered in odcore.models.registry")


def declaration(name: str):
    """The parameter declaration (:class:`~odcore.models.params.Declaration`) of method ``name``."""
    return get_class(name).declaration


def defaults(name: str) -> dict[str, Any]:
    """Constructor defaults of a method (the papers' settings)."""
    return declaration(name).defaults()


def param_table(name: str, *, image: bool = False) -> list[dict[str, Any]]:
    """One row per parameter: name, default, one-line help (plus kind, range, choices, paper value, group).
    With ``image=True`` the defaults are the ones runs on image data get."""
    return [p.row(image=image) for p in declaration(name)]


def capabilities(name: str, params: Mapping[str, Any] | None = None):
    """What method ``name`` (with ``params`` over its defaults) can show besides scores
    (a :class:`~odcore.models.capabilities.Capabilities`)."""
    cls = get_class(name)
    decl = cls.declaration
    known = {k: v for k, v in (params or {}).items() if k in decl}
    return cls(**known).capabilities()


def check(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Validated, canonical copies of ``params`` for method ``name`` (unknown names and bad values
    raise :class:`InputError` naming the parameter and what it accepts)."""
    return declaration(name).check(_tuples(name, params), name)


def parse_params(name: str, texts: Mapping[str, Any]) -> dict[str, Any]:
    """Typed, validated values of text values (the CLI's ``--param k=v``, the Train form)."""
    return declaration(name).parse(texts, name)


def from_record(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters read back from a JSON record (JSON lists back into tuples where the parameter is a tuple
    kind); not validated again."""
    return _tuples(name, params)


def _tuples(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """JSON lists back into tuples where the parameter is a tuple kind."""
    decl = declaration(name)
    out = {}
    for k, v in params.items():
        if isinstance(v, list) and k in decl and decl[k].kind in ("ints", "shape"):
            v = tuple(v)
        out[k] = v
    return out


def resolve_params(name: str, params: Mapping[str, Any], *, seed: int | None = None,
                   image_shape: Sequence[int] | None = None, clean_rows: bool = False) -> dict[str, Any]:
    """The parameters a run of ``name`` gets: the user's (validated), plus ``random_state=seed`` and
    ``input_shape=image_shape`` where the method has them and the user did not set them, on
    image data the image-data defaults the user did not set, and with ``clean_rows`` (the training rows are
    all normal) the clean-rows defaults the user did not set. The one validation of a run's parameters
    (each value against its declaration, then the rules across parameters); :func:`build` trusts it."""
    decl = declaration(name)
    out = check(name, params)
    if seed is not None and "random_state" in decl and "random_state" not in out:
        out["random_state"] = int(seed)
    if image_shape is not None:
        if "input_shape" in decl and "input_shape" not in out:
            out["input_shape"] = tuple(int(s) for s in image_shape)
        for k, v in decl.image_defaults().items():
            out.setdefault(k, v)
    if clean_rows:
        for k, v in decl.clean_defaults().items():
            out.setdefault(k, v)
    get_class(name)(**out)._check_extra()  # the rules across parameters (and patterns, as the device's)
    return out


def plan(name: str, params: Mapping[str, Any]):
    """What a run of ``name`` with resolved ``params`` needs (:class:`~odcore.models.capabilities.Plan`: its
    epochs for progress, its device, its time budget)."""
    return get_class(name)(**params).plan()


def build(name: str, params: Mapping[str, Any], *, device: str | None = None):
    """The detector of a resolved run: ``params`` are :func:`resolve_params`' output and are not checked again
    (``fit`` skips its check while they are unchanged); ``device`` (a run's placement) replaces the device
    the parameters ask for, on detectors that have one."""
    cls = get_class(name)
    values = dict(params)
    if device is not None and "device" in cls.declaration:
        values["device"] = device
    model = cls(**values)
    model._resolved_params = model.get_params(deep=False)
    return model


def copy(model: Any):
    """An unfitted copy of ``model`` (``sklearn.base.clone``) that keeps being trusted when ``model`` was built
    from a resolved run (:func:`build`): the estimate's probes fit such copies."""
    from sklearn.base import clone

    out = clone(model)
    resolved = model.__dict__.get("_resolved_params")
    if resolved is not None:
        out._resolved_params = dict(resolved)
    return out


def create(name: str, **params: Any):
    """Instantiate method ``name`` with ``params``, validated first: unknown parameters and bad values
    raise a clear :class:`InputError` before anything is built."""
    model = get_class(name)(**check(name, params))
    model._check_params()  # the rules that involve several parameters (or a pattern, as device)
    return model
