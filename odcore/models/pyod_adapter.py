"""PyOD's detectors behind the odcore contract: one generic adapter, one declaration per detector.

PyOD (Zhao, Nasrullah, Li. *PyOD: A Python Toolbox for Scalable Outlier Detection*, JMLR 20(96),
2019) is a dependency, not a copy: each class here is generated from PyOD's own class the first time
it is asked for (``odcore.models.pyod_adapter.ECOD``), so importing this module imports no PyOD code.

What the adapter derives, and what it adds:

- **parameters** from PyOD's constructor signature and defaults (kind from the default's type: int,
  float, bool, str, a list of ints), the help line from the first sentence of PyOD's numpydoc
  ``Parameters`` entry, choices from a ``{'a', 'b'}`` set written there. Parameters that are objects,
  callables, dicts or ``None`` without a declared kind keep PyOD's default and are not exposed; a
  :class:`PyODSpec` corrects the few a signature cannot describe (``max_samples="auto"`` is also a
  number). ``contamination`` and ``random_state`` are odcore's; ``n_jobs=1`` and ``verbose=0`` are fixed;
- **fit / decision_function** through PyOD (float64 input, as PyOD's own tests use); PyOD's own
  training scores become ``decision_scores_`` (its kNN-type detectors leave each row out of its
  neighbourhood); a refusal by PyOD becomes one :class:`~odcore.errors.InputError` naming the detector;
- **save / load without pickle**: the training rows are saved and ``load`` refits, which gives the same
  scores because every detector here is deterministic given ``random_state``; those that draw from
  NumPy's or torch's global generators (PyOD's deep detectors) are fitted inside :func:`seeded`;
- **neighbourhood sizes** larger than the data are clipped to the rows there are (``n_neighbors`` at most
  ``n - 1`` ...), so small tables fit instead of failing.

Which PyOD detectors are here, and why the others are not (PyOD 3.6.7, checked by fitting each one and
scoring a test set whole, in halves and row by row; tests/test_pyod_adapter.py pins the reasons):

- here: ABOD, COPOD, ECOD, GMM, HBOS, IForest, INNE, KDE, KNN, LODA, LOF, MCD, OCSVM, PCA,
  QMCD, Sampling, and the deep AutoEncoder, DeepSVDD and ALAD (the comparators of our own deep detectors);
- ECOD and COPOD score new rows by concatenating them with the training rows, so a row's score depends
  on the rows scored beside it. Here each new row is scored against the training rows only (the score
  PyOD gives that row when it is scored alone: see :class:`ECDFDetector`);
- transductive in PyOD (a row's score depends on the batch): COF, SOD, SOS, LOCI, LMDD, ROD, RGraph, CD
  and LSCP; CBLOF refuses ordinary data whenever its k-means clusters cannot be split into "large" and
  "small" ones (100 Gaussian rows with 1 or 2 clusters, scikit-learn's checks); KPCA keeps every component
  by default, so every new row's feature-space reconstruction error is 0 up to rounding (and it builds an
  n x n kernel matrix); random at scoring time: VAE (it samples the code), DIF, SO_GAAL, MO_GAAL, AnoGAN
  (and AnoGAN optimises a code per scored row, minutes per table); MAD is univariate only; AE1SVM fails to fit in
  3.6.7; DevNet and XGBOD need labels; FeatureBagging and SUOD need the ``combo`` package (our own
  ``ensemble`` covers score combination); LUNAR trains a graph network for minutes on a few hundred rows.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from odcore.errors import InputError
from odcore.models.capabilities import Capabilities
from odcore.models.classical import RefitDetector
from odcore.models.params import MAX_WIDTH, Param

#: odcore's own parameters or fixed values, never taken from PyOD's signature
OWN = ("contamination", "random_state")
#: always passed when PyOD's signature has them (one core: scores do not depend on it; no prints)
FIXED = {"n_jobs": 1, "verbose": 0}
#: never exposed: PyOD's default is kept (compilation, copies, deprecated switches, the device choice)
HIDDEN = ("device", "use_compile", "compile_mode", "copy", "copy_X", "behaviour", "check_estimator",
          "store_precision", "warm_start", "novelty", "optimizer_params", "metric_params", "kernel_params")
#: a PyOD default of this type gives this parameter kind
_KINDS = {bool: "bool", int: "int", float: "float", str: "str"}
#: the largest count an int parameter may be set to from a form (trees, bins, neighbours ...)
MAX_COUNT = 1_000_000


@dataclass(frozen=True)
class PyODSpec:
    """How one PyOD class is adapted.

    ``target``: ``"pyod.models.<module>:<Class>"``. ``params``: declarations that replace the derived
    ones, or dicts of :class:`Param` fields changed on them (new defaults, bounds, choices).
    ``hide``: more parameters kept at PyOD's default. ``fixed``: values always passed. ``clip``:
    parameter -> offset; the value is clipped to ``n_rows + offset`` at fit time. ``from_data``:
    constructor arguments taken from the training matrix (PyOD's DeepSVDD wants ``n_features``).
    ``seeded``: fit inside :func:`seeded` (PyOD draws from the global NumPy / torch generators).
    ``eval_nets``: attributes holding torch modules put in eval mode before scoring (PyOD forgets),
    whose training scores are then recomputed. ``batch``: the batch-size parameter, nudged so that no
    training batch holds a single row (batch norm cannot train on one).
    ``min_rows``: the fewest training rows the method can work with (fewer are refused with a message).
    """

    target: str
    params: Mapping[str, Param | dict] = field(default_factory=dict)
    hide: tuple[str, ...] = ()
    fixed: Mapping[str, Any] = field(default_factory=dict)
    clip: Mapping[str, int] = field(default_factory=dict)
    from_data: Mapping[str, Callable[[np.ndarray], Any]] = field(default_factory=dict)
    seeded: bool = False
    eval_nets: tuple[str, ...] = ()
    batch: str | None = None
    min_rows: int = 2
    capability: Capabilities = Capabilities()
    paper: str = ""
    base: str = "PyODDetector"


_SAMPLES = Param("max_samples", "auto", "rows drawn per member: 'auto' (min(256, n) for IForest, 8 for INNE), a "
                 "whole number, or a share in (0, 1]", kind="float", low=0.0, high=1e9, low_open=True,
                 choices=("auto",))
_GAMMA = Param("gamma", "scale", "RBF kernel width: 'scale' (1 / (d * Var X)), 'auto' (1 / d) or a positive number",
               kind="float", low=0.0, high=1e9, low_open=True, choices=("scale", "auto"))
_NEIGHBOURS = {"low": 1, "high": 100_000}
_EPOCHS = {"low": 1, "high": 100_000}
_BATCH = {"low": 2, "high": 1_000_000}

SPECS: dict[str, PyODSpec] = {
    "ABOD": PyODSpec("pyod.models.abod:ABOD", {"n_neighbors": _NEIGHBOURS, "method": {
        "choices": ("fast", "default"), "help": "'fast' (angles to the k nearest neighbours) or 'default' (to all "
        "training rows, cubic in the rows)"}}, min_rows=4, hide=("algorithm",),
                     clip={"n_neighbors": -1}, paper="Kriegel, Schubert, Zimek. Angle-based outlier detection. KDD "
                     "2008: the variance of the angles to the k nearest neighbours"),
    "COPOD": PyODSpec("pyod.models.copod:COPOD", base="COPODDetector",
                      paper="Li, Zhao, Botta, Ionescu, Hu. COPOD: copula-based outlier detection. ICDM 2020"),
    "ECOD": PyODSpec("pyod.models.ecod:ECOD", base="ECODDetector",
                     paper="Li, Zhao, Hu, Botta, Ionescu, Chen. ECOD: unsupervised outlier detection using empirical "
                     "cumulative distribution functions. TKDE 2022"),
    "GMM": PyODSpec("pyod.models.gmm:GMM", {"n_components": {"low": 1, "high": 10_000},
                                            "covariance_type": {"choices": ("full", "tied", "diag", "spherical")},
                                            "init_params": {"choices": ("kmeans", "k-means++", "random",
                                                                        "random_from_data")}},
                    clip={"n_components": 0}, paper="Aggarwal. Outlier Analysis, 2nd ed., 2017, ch. 2: the negative "
                    "log-likelihood under a Gaussian mixture"),
    "HBOS": PyODSpec("pyod.models.hbos:HBOS", {
        "n_bins": Param("n_bins", 10, "bins per feature histogram, or 'auto' (Birge-Rozenblac, per feature)",
                        kind="int", low=2, high=10_000, choices=("auto",)),
        "alpha": Param("alpha", 0.1, "regulariser added to every bin's density (prevents log of zero)", low=0.0,
                       high=1.0, low_open=True, high_open=True),
        "tol": Param("tol", 0.5, "how far outside the bins (as a share of a bin's width) a value still takes the "
                     "edge bin's density", low=0.0, high=1.0, low_open=True, high_open=True)},
        paper="Goldstein, Dengel. Histogram-based Outlier Score (HBOS). KI 2012: the sum over features of "
              "log(1 / density) of the row's bin"),
    "IForest": PyODSpec("pyod.models.iforest:IForest", {"n_estimators": {"low": 1, "high": 100_000},
                                                        "max_samples": _SAMPLES,
                                                        "max_features": {"low": 0.0, "high": 1.0, "low_open": True}},
                        paper="Liu, Ting, Zhou. Isolation Forest. ICDM 2008: 2^(-E h(x) / c(n))"),
    "INNE": PyODSpec("pyod.models.inne:INNE", {"n_estimators": {"low": 1, "high": 100_000}, "max_samples": _SAMPLES},
                     paper="Bandaragoda et al. Isolation-based anomaly detection using nearest-neighbor ensembles. "
                     "Computational Intelligence 2018"),
    "KDE": PyODSpec("pyod.models.kde:KDE", {"bandwidth": {"low": 0.0, "low_open": True},
                                            "algorithm": {"choices": ("auto", "ball_tree", "kd_tree")}},
                    paper="Latecki, Lazarevic, Pokrajac. Outlier detection with kernel density functions. MLDM 2007"),
    "KNN": PyODSpec("pyod.models.knn:KNN", {"n_neighbors": _NEIGHBOURS,
                                            "method": {"choices": ("largest", "mean", "median"),
                                                       "help": "'largest' (the k-th distance), 'mean' or 'median' of "
                                                               "the k distances"}},
                    hide=("algorithm", "radius"), clip={"n_neighbors": -1},
                    paper="Ramaswamy, Rastogi, Shim. Efficient algorithms for mining outliers from large data sets. "
                    "SIGMOD 2000: the distance to the k-th nearest training row"),
    "LODA": PyODSpec("pyod.models.loda:LODA", {"n_bins": {"low": 2, "high": 10_000},
                                               "n_random_cuts": {"low": 1, "high": 100_000}},
                     paper="Pevny. Loda: lightweight on-line detector of anomalies. Machine Learning 2016"),
    "LOF": PyODSpec("pyod.models.lof:LOF", {"n_neighbors": _NEIGHBOURS,
                                            "algorithm": {"choices": ("auto", "ball_tree", "kd_tree", "brute")}},
                    clip={"n_neighbors": -1}, paper="Breunig, Kriegel, Ng, Sander. LOF: identifying density-based "
                    "local outliers. SIGMOD 2000 (novelty mode: new rows are scored against the training rows)"),
    "MCD": PyODSpec("pyod.models.mcd:MCD", {
        "support_fraction": Param("support_fraction", None, "share of rows in the robust covariance estimate (None: "
                                  "(n + d + 1) / 2n)", kind="float", low=0.0, high=1.0, low_open=True, optional=True)},
        paper="Rousseeuw, Van Driessen. A fast algorithm for the minimum covariance determinant estimator. "
              "Technometrics 1999: the robust Mahalanobis distance"),
    "OCSVM": PyODSpec("pyod.models.ocsvm:OCSVM", {
        "kernel": {"choices": ("linear", "poly", "rbf", "sigmoid")},
        "gamma": _GAMMA,
        "nu": {"default": 0.1, "low": 0.0, "high": 1.0, "low_open": True,
               "help": "upper bound on the share of training errors (PyOD's default 0.5 flags half the training rows; "
                       "0.1 kept from odcore's earlier OC-SVM)"},
        "max_iter": {"low": -1, "high": 10 ** 9}},
        capability=Capabilities(boundary=True),
        paper="Schoelkopf et al. Estimating the support of a high-dimensional distribution. Neural Computation "
              "2001: minus the signed distance to the boundary"),
    "PCA": PyODSpec("pyod.models.pca:PCA", {
        "n_components": Param("n_components", None, "components fitted (None: all), or an explained-variance share "
                              "in (0, 1)", kind="float", low=0.0, high=MAX_WIDTH, low_open=True, optional=True),
        "n_selected_components": Param("n_selected_components", None, "components used in the score (None: all "
                                       "fitted)", kind="int", low=1, high=MAX_WIDTH, optional=True),
        "svd_solver": {"choices": ("auto", "full", "arpack", "randomized")},
        "iterated_power": Param("iterated_power", "auto", "power iterations of the randomized solver", kind="int",
                                low=0, high=1000, choices=("auto",))},
        paper="Shyu, Chen, Sarinnapakorn, Chang. A novel anomaly detection scheme based on principal component "
              "classifier. ICDM 2003: the distances to the hyperplanes of the components, weighted by their variance"),
    "QMCD": PyODSpec("pyod.models.qmcd:QMCD", paper="Fang, Ma. Quasi-Monte Carlo discrepancy: the wrap-around "
                     "L2 discrepancy of each row against the training rows (PyOD's QMCD)"),
    "Sampling": PyODSpec("pyod.models.sampling:Sampling", {"subset_size": {"low": 1, "high": MAX_COUNT}},
                         clip={"subset_size": 0},
                         paper="Sugiyama, Borgwardt. Rapid distance-based outlier detection via sampling. "
                         "NeurIPS 2013"),
    # deep: PyOD's ports of methods we implement ourselves (benchmark comparators)
    "AutoEncoder": PyODSpec("pyod.models.auto_encoder:AutoEncoder", {
        "epoch_num": _EPOCHS, "batch_size": _BATCH, "lr": {"low": 0.0, "high": 10.0, "low_open": True},
        "hidden_neuron_list": {"low": 1, "high": MAX_WIDTH},
        "dropout_rate": {"low": 0.0, "high": 1.0, "high_open": True},
        "optimizer_name": {"choices": ("adam", "sgd")},
        "hidden_activation_name": {"choices": ("relu", "leaky_relu", "elu", "tanh", "sigmoid", "gelu", "selu",
                                               "softplus", "softsign", "prelu")}},
        seeded=True, batch="batch_size", paper="PyOD's autoencoder: the reconstruction error (Aggarwal, Outlier "
        "Analysis, 2017, ch. 3)"),
    "DeepSVDD": PyODSpec("pyod.models.deep_svdd:DeepSVDD", {
        "hidden_neurons": Param("hidden_neurons", (64, 32), "hidden widths (PyOD's default when None)", kind="ints",
                                low=1, high=MAX_WIDTH),
        "epochs": _EPOCHS, "batch_size": _BATCH, "learning_rate": {"low": 0.0, "high": 10.0, "low_open": True},
        "dropout_rate": {"low": 0.0, "high": 1.0, "high_open": True},
        "validation_size": {"low": 0.0, "high": 1.0, "high_open": True},
        "optimizer": {"choices": ("adam", "sgd", "rmsprop", "adagrad", "adamw")},
        "hidden_activation": {"choices": ("relu", "leaky_relu", "elu", "tanh", "sigmoid", "gelu", "selu")},
        "output_activation": {"choices": ("relu", "leaky_relu", "elu", "tanh", "sigmoid", "gelu", "selu", "linear")}},
        hide=("c",), from_data={"n_features": lambda X: int(X.shape[1])}, seeded=True, batch="batch_size",
        paper="Ruff et al. Deep one-class classification. ICML 2018 (PyOD's port: the squared distance to the "
              "centre)"),
    "ALAD": PyODSpec("pyod.models.alad:ALAD", {
        "epochs": {"low": 1, "high": 1_000_000, "help": "training steps: PyOD's ALAD draws one minibatch per "
                   "'epoch'"},
        "batch_size": _BATCH, "latent_dim": {"low": 1, "high": MAX_WIDTH},
        "activation_hidden_gen": {"choices": ("tanh", "sigmoid", "relu")},
        "activation_hidden_disc": {"choices": ("tanh", "sigmoid", "relu")},
        "dropout_rate": {"low": 0.0, "high": 1.0, "high_open": True},
        "learning_rate_gen": {"low": 0.0, "high": 10.0, "low_open": True},
        "learning_rate_disc": {"low": 0.0, "high": 10.0, "low_open": True},
        **{k: {"low": 1, "high": MAX_WIDTH} for k in ("dec_layers", "enc_layers", "disc_xx_layers", "disc_zz_layers",
                                                     "disc_xz_layers")}},
        hide=("output_activation",), seeded=True, eval_nets=("enc", "dec", "disc_xx", "disc_zz", "disc_xz"),
        paper="Zenati et al. Adversarially learned anomaly detection. ICDM 2018 (PyOD's port; scored here in eval "
              "mode, where PyOD 3.6.7 scores with dropout active and so gives random scores)"),
}


# ---------------------------------------------------------------------------------- declarations
def _doc_entries(doc: str | None) -> dict[str, tuple[str, str]]:
    """``name -> (type line, description)`` of a numpydoc ``Parameters`` section."""
    if not doc:
        return {}
    lines = inspect.cleandoc(doc).splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Parameters"
                     and i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"})
    except StopIteration:
        return {}
    out: dict[str, tuple[str, str]] = {}
    name, typ, desc = None, "", []
    for line in lines[start + 2:]:
        if line.strip() and set(line.strip()) == {"-"}:  # the next section's underline
            if desc and name:
                desc.pop()  # that section's title
            break
        m = re.match(r"^(\w+)\s*:\s*(.*)$", line)
        if m and not line.startswith((" ", "\t")):
            if name:
                out[name] = (typ, " ".join(desc))
            name, typ, desc = m.group(1), m.group(2), []
        elif name:
            desc.append(line.strip())
    if name:
        out[name] = (typ, " ".join(desc))
    return out


def _choices(typ: str, desc: str) -> tuple[str, ...] | None:
    """The strings of a ``{'a', 'b'}`` set in a numpydoc type line or at the start of its description."""
    for text in (typ, desc[:200]):
        m = re.search(r"\{([^{}]*)\}", text)
        if m:
            items = re.findall(r"['\"]([^'\"]+)['\"]", m.group(1))
            if items:
                return tuple(items)
    return None


def _first_sentence(desc: str, limit: int = 160) -> str:
    desc = re.sub(r"\{[^{}]*\}\s*", "", desc).strip()
    desc = re.sub(r"\s+", " ", desc)
    m = re.match(r"(.+?[.;])(\s|$)", desc)
    text = m.group(1) if m else desc
    if len(text) > limit:
        text = text[: limit - 3].rsplit(" ", 1)[0] + " ..."
    return text.rstrip(".;")


def derived_params(pyod_cls: type, spec: PyODSpec) -> tuple[Param, ...]:
    """The declared parameters of the adapter of ``pyod_cls`` (see the module docstring)."""
    docs = _doc_entries(pyod_cls.__doc__)
    out = []
    for name, p in inspect.signature(pyod_cls.__init__).parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if name in OWN or name in FIXED or name in HIDDEN or name in spec.hide or name in spec.from_data:
            continue
        over = spec.params.get(name)
        if isinstance(over, Param):
            out.append(over)
            continue
        default = p.default
        typ, desc = docs.get(name, ("", ""))
        if isinstance(default, (list, tuple)) and default and all(isinstance(v, int) for v in default):
            param = Param(name, tuple(default), "", kind="ints", low=1, high=MAX_WIDTH)
        elif type(default) in _KINDS:
            kind = _KINDS[type(default)]
            choices = _choices(typ, desc) if kind == "str" else None
            if choices is not None and default not in choices:
                choices = None
            param = Param(name, default, "", kind=kind, choices=choices,
                          high=MAX_COUNT if kind == "int" else None)
        else:  # None, objects, callables, dicts: PyOD's default, not exposed
            continue
        help_text = _first_sentence(desc) or f"PyOD's {name}"
        param = replace(param, help=help_text)
        if isinstance(over, dict):
            param = replace(param, **over)
        out.append(param)
    return tuple(out)


# ---------------------------------------------------------------------------------- fitting
_SEED_LOCK = threading.RLock()


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed NumPy's and torch's global generators for the block and restore them afterwards, under one
    lock (so that two fits in job threads do not draw from each other's sequence). For libraries that
    draw from the global generators (PyOD's ALAD shuffles with ``np.random``, its deep detectors batch
    with torch's default generator)."""
    import torch

    with _SEED_LOCK:
        state = np.random.get_state()
        np.random.seed(int(seed) % (2 ** 32))
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(seed))
                yield
        finally:
            np.random.set_state(state)


def _no_single_row_batch(n: int, bs: int) -> int:
    """The smallest batch size >= ``bs`` whose last batch over ``n`` rows does not hold a single row."""
    b = min(max(2, int(bs)), n)
    while n > b and n % b == 1:
        b += 1
    return b


def pyod_class(target: str) -> type:
    mod, _, name = target.partition(":")
    return getattr(importlib.import_module(mod), name)


class PyODDetector(RefitDetector):
    """Base of the generated adapters: a PyOD estimator fitted on float64 rows, refitted on load."""

    pyod_spec: ClassVar[PyODSpec]
    #: the fewest training rows this detector works with (from its spec)
    min_rows: ClassVar[int] = 2

    def _pyod_kwargs(self, X: np.ndarray) -> dict[str, Any]:
        spec = self.pyod_spec
        sig = inspect.signature(pyod_class(spec.target).__init__).parameters
        kw: dict[str, Any] = {}
        for p in self.declaration:
            if p.name in sig:
                v = getattr(self, p.name)
                kw[p.name] = list(v) if isinstance(v, tuple) else v
        n = int(X.shape[0])
        for name, offset in spec.clip.items():
            if isinstance(kw.get(name), int) and not isinstance(kw[name], bool):
                kw[name] = max(1, min(kw[name], n + offset))
        for name, fn in spec.from_data.items():
            kw[name] = fn(X)
        for name, value in {**FIXED, **spec.fixed}.items():
            if name in sig:
                kw[name] = value
        if "contamination" in sig:
            kw["contamination"] = float(self.contamination)
        if "random_state" in sig:
            kw["random_state"] = int(self.random_state)
        if spec.batch and spec.batch in kw:
            kw[spec.batch] = _no_single_row_batch(n, kw[spec.batch])
        return kw

    def _estimator(self):
        raise NotImplementedError  # the adapters build their estimator from the data (_fit_estimator)

    def _fit_estimator(self, X: np.ndarray):
        spec = self.pyod_spec
        if X.shape[0] < self.min_rows:
            raise InputError(f"{type(self).__name__} needs at least {self.min_rows} training rows, got {X.shape[0]}; "
                             "use more rows or another detector")
        est = pyod_class(spec.target)(**self._pyod_kwargs(X))
        ctx = seeded(int(self.random_state)) if spec.seeded else contextlib.nullcontext()
        try:
            with ctx:
                est.fit(X)
        except (ValueError, np.linalg.LinAlgError, ZeroDivisionError) as exc:
            raise InputError(f"PyOD's {spec.target.rpartition(':')[2]} could not fit these data ({exc}); try other "
                             "parameters (fewer neighbours or clusters) or another detector") from None
        if "max_iter" in self.declaration:  # scikit-learn's contract: iterative estimators report n_iter_
            inner = getattr(est, "detector_", est)
            self.n_iter_ = int(np.max(getattr(inner, "n_iter_", 1)))
        for attr in spec.eval_nets:
            net = getattr(est, attr, None)
            if net is not None and hasattr(net, "eval"):
                net.eval()
        return est

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        own = getattr(self.estimator_, "decision_scores_", None)
        scores = self._score(X) if self.pyod_spec.eval_nets or own is None else np.asarray(own, np.float64).ravel()
        if not np.isfinite(scores).all():
            bad = int((~np.isfinite(scores)).sum())
            raise InputError(f"PyOD's {type(self).__name__} gave non-finite scores to {bad} "
                             "training rows (duplicate or constant rows?); remove duplicates or use another detector")
        return scores

    def _score(self, X: np.ndarray) -> np.ndarray:
        ctx: Any = contextlib.nullcontext()
        if self.pyod_spec.eval_nets:
            import torch

            ctx = torch.inference_mode()
        with ctx:
            return np.asarray(self.estimator_.decision_function(np.asarray(X, dtype=np.float64)),
                              dtype=np.float64).ravel()


class ECDFDetector(PyODDetector):
    """ECOD / COPOD with each new row scored against the training rows only (batch invariant).

    PyOD computes, per feature ``j``, the left- and right-tail empirical CDFs of the rows it is given
    *concatenated with the training rows*; here the tails of a new row ``x`` are counted in the ``n``
    training rows plus the row itself:

        ``F_l,j(x) = (#{i: X_ij <= x_j} + 1) / (n + 1)``,  ``F_r,j(x) = (#{i: X_ij >= x_j} + 1) / (n + 1)``,

    ``U_l = -log F_l``, ``U_r = -log F_r``, and with ``s_j`` the sign of the training skewness of feature ``j``,
    ``U_skew = U_l [s_j <= 0] + U_r [s_j >= 0]`` (ECOD, Li et al. TKDE 2022, Eqs. 1-5 and Algorithm 1;
    COPOD, Li et al. ICDM 2020, Algorithm 1). This is exactly the score PyOD gives ``x`` when it is
    scored alone (whenever the one extra row leaves the skewness signs unchanged), so it does not depend
    on the rows scored beside it. Training scores are PyOD's own (each row among the ``n``).
    """

    def _fit_estimator(self, X: np.ndarray):
        import warnings

        from scipy.stats import skew

        with warnings.catch_warnings():  # a constant column: skewness 0 (scipy warns of its cancellation)
            warnings.simplefilter("ignore", RuntimeWarning)
            est = super()._fit_estimator(X)
            self._sorted = np.sort(np.asarray(X, dtype=np.float64), axis=0)
            self._skew_sign = np.sign(np.nan_to_num(skew(self._sorted, axis=0)))
        return est

    def _tails(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        X = np.asarray(X, dtype=np.float64)
        n = self._sorted.shape[0]
        left = np.empty_like(X)
        right = np.empty_like(X)
        for j in range(X.shape[1]):
            col = self._sorted[:, j]
            left[:, j] = np.searchsorted(col, X[:, j], side="right")
            right[:, j] = n - np.searchsorted(col, X[:, j], side="left")
        u_l = -np.log((left + 1.0) / (n + 1.0))
        u_r = -np.log((right + 1.0) / (n + 1.0))
        s = self._skew_sign
        u_skew = u_l * -np.sign(s - 1) + u_r * np.sign(s + 1)
        return u_l, u_r, u_skew

    def _combine(self, u_l: np.ndarray, u_r: np.ndarray, u_skew: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._combine(*self._tails(X)).sum(axis=1)


class ECODDetector(ECDFDetector):
    """ECOD: ``O(x) = sum_j max(U_l,j, U_r,j, U_skew,j)`` (Li et al. TKDE 2022, Algorithm 1, step 5)."""

    def _combine(self, u_l, u_r, u_skew):
        return np.maximum(u_skew, np.maximum(u_l, u_r))


class COPODDetector(ECDFDetector):
    """COPOD: ``O(x) = sum_j max(U_skew,j, (U_l,j + U_r,j) / 2)`` (Li et al. ICDM 2020, Algorithm 1)."""

    def _combine(self, u_l, u_r, u_skew):
        return np.maximum(u_skew, (u_l + u_r) / 2.0)


_BASES = {"PyODDetector": PyODDetector, "ECODDetector": ECODDetector, "COPODDetector": COPODDetector}
_BUILT: dict[str, type] = {}
_BUILT_LOCK = threading.Lock()


def build(name: str) -> type:
    """The adapter class ``name`` of :data:`SPECS`, generated from PyOD's class on first use."""
    with _BUILT_LOCK:
        if name in _BUILT:
            return _BUILT[name]
        spec = SPECS[name]
        pyod_cls = pyod_class(spec.target)
        summary = _first_sentence(" ".join(inspect.cleandoc(pyod_cls.__doc__ or "").split("\n\n")[0].split()), 300)
        doc = (f"PyOD's {name} ({spec.target.replace(':', '.')}) behind the odcore contract. {summary}.\n\n"
               f"Reference: {spec.paper or 'see PyOD'}.\n\nParameters come from PyOD's signature (see "
               "odcore.models.pyod_adapter); saved as the training rows and refitted on load.")
        cls = type(name, (_BASES[spec.base],), {
            "params": derived_params(pyod_cls, spec), "pyod_spec": spec, "capability": spec.capability,
            "min_rows": spec.min_rows,
            "__module__": __name__, "__qualname__": name, "__doc__": doc})
        _BUILT[name] = cls
        return cls


def __getattr__(name: str) -> type:
    if name in SPECS:
        return build(name)
    from odcore.models import registry

    try:  # a registry variant of an adapted detector (MCDSeries: MCD with other defaults), for pickle
        return registry.variant_class(name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
