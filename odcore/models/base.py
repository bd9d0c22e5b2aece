"""The detector contract shared by every method (scikit-learn / PyOD compatible).

``BaseDetector`` holds what every detector has:

- parameters declared once (:mod:`odcore.models.params`): a keyword-only constructor that stores
  them unchanged (so ``get_params`` / ``set_params`` / ``clone`` work), validation in ``fit``;
- scikit-learn's outlier-detector contract: the ``outlier_detector`` estimator type (tags),
  ``fit`` returning ``self``, ``n_features_in_`` and ``feature_names_in_``, ``decision_function``
  (the anomaly score, higher = more anomalous), ``score_samples`` (its negation, scikit-learn's
  "higher = more normal"), ``predict`` and ``fit_predict`` (0 = inlier, 1 = outlier: PyOD's
  convention, where scikit-learn uses +1 / -1), and scikit-learn's ``NotFittedError``;
- after fitting: ``decision_scores_`` / ``threshold_`` / ``labels_`` / ``history_``;
- declared capabilities (:meth:`capabilities`);
- ``save`` / ``load`` (safetensors weights plus a JSON config; no pickle).

Deep detectors subclass :class:`odcore.models.deep.DeepDetector`, which owns the single
training loop. Classical ones wrap scikit-learn in :mod:`odcore.models.classical`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin

from odcore.errors import FitCancelled, InputError, InputTypeError, NotFittedError
from odcore.jsonio import jsonable
from odcore.models.capabilities import Capabilities, Plan
from odcore.models.params import Declaration, Param, collect, make_init

Callback = Callable[[dict], None]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
FORMAT_VERSION = 1
#: methods whose ``anomaly_score`` parameter was called ``score`` before round 2 (it shadowed
#: scikit-learn's ``score`` method name)
LEGACY_SCORE_PARAM = ("waldo", "cora", "wae-gan", "alad")

CONTAMINATION = Param("contamination", 0.1, "expected outlier share; sets threshold_ at the (1 - c) quantile of the "
                      "training scores", kind="float", low=0.0, high=0.5, low_open=True, group="scoring")
RANDOM_STATE = Param("random_state", 0, "seed for weights, shuffling and noise", kind="int", low=0, high=2 ** 32 - 1,
                     group="training")


def _is_sparse(X: Any) -> bool:
    return hasattr(X, "toarray") and hasattr(X, "nnz")


def as_matrix(X: Any, *, name: str = "X", n_features: int | None = None, owner: str = "the model") -> np.ndarray:
    """Return ``X`` as a finite float32 matrix (n, d), or raise :class:`InputError` saying why.

    Refused with the fix named: sparse matrices (``X.toarray()``), complex numbers (pass the real
    part or the magnitude), non-numeric entries, one-dimensional input, no rows or no columns,
    NaN / infinity, and (with ``n_features``) the wrong number of columns.
    """
    if _is_sparse(X):
        raise InputError(f"{name} is a sparse matrix, but dense data is required: convert it with {name}.toarray() "
                         "(if it fits in memory) or pick fewer columns")
    if not (isinstance(X, np.ndarray) and X.dtype == np.float32):
        X = np.asarray(X)
        if np.iscomplexobj(X):
            raise InputError(f"{name} holds complex numbers. Complex data not supported: pass the real part "
                             f"({name}.real) or the magnitude (abs({name})) explicitly")
    try:
        arr = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"{name} must be numeric; convert or drop non-numeric columns ({exc})") from None
    if arr.ndim == 1:
        raise InputError(f"{name} is one-dimensional; pass a 2-D array of shape (rows, features). Reshape your "
                         f"data with {name}.reshape(-1, 1) if it has a single feature or {name}.reshape(1, -1) if "
                         "it is a single row")
    if arr.ndim == 0:
        raise InputError(f"{name} is a single number; pass a 2-D array of shape (rows, features)")
    if arr.ndim > 2:
        arr = arr.reshape(arr.shape[0], -1)
    if arr.shape[0] == 0:
        raise InputError(f"{name} has no rows: 0 sample(s) (shape={arr.shape}) while a minimum of 1 is required.")
    if arr.shape[1] == 0:
        raise InputError(f"{name} has no feature columns: 0 feature(s) (shape={arr.shape}) while a minimum of 1 is "
                         "required.")
    # a NaN or inf anywhere makes the sum non-finite; the sum is ~2x cheaper than isfinite(arr)
    # (a finite sum that overflows float32 falls through to the exact check below)
    if not np.isfinite(arr.sum()) and not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise InputError(f"{name} contains NaN or infinite values in {bad} rows (values beyond the float32 range "
                         "count as infinite); impute or drop them first")
    if n_features is not None and arr.shape[1] != n_features:
        raise InputError(f"{name} has {arr.shape[1]} features, but {owner} is expecting {n_features} features as "
                         "input: score data with the same columns as the training data")
    return arr


def _column_names(X: Any) -> np.ndarray | None:
    """String column names of a DataFrame-like ``X`` (scikit-learn's ``feature_names_in_`` rule), else None."""
    cols = getattr(X, "columns", None)
    if cols is None:
        return None
    names = [c for c in cols]
    if not names or not all(isinstance(c, str) for c in names):
        return None
    return np.asarray(names, dtype=object)


class BaseDetector(OutlierMixin, BaseEstimator):
    """Base of every detector.

    A subclass declares ``params`` (a tuple of :class:`~odcore.models.params.Param`; inherited ones
    are kept, ``param_overrides`` changes their defaults), its ``capability`` (what it can show),
    and implements ``_fit`` and ``_score``. Fitted state that must survive ``save``/``load`` is
    listed in ``_saved_attrs``: numpy arrays go to the safetensors file, everything else to JSON.

    Attributes set by ``fit``: ``n_features_in_``, ``feature_names_in_`` (when ``X`` had string
    column names), ``decision_scores_``, ``threshold_``, ``labels_``, ``history_`` (list of
    per-epoch dicts; empty for classical detectors).
    """

    params: ClassVar[tuple[Param, ...]] = (CONTAMINATION,)
    param_overrides: ClassVar[dict[str, Any]] = {}
    #: the declaration of this class (set for every subclass by ``__init_subclass__``)
    declaration: ClassVar[Declaration]
    image_defaults: ClassVar[dict[str, Any]] = {}
    #: what this detector can show (``capabilities()`` may refine it from the parameters)
    capability: ClassVar[Capabilities] = Capabilities()
    #: True when ``fit`` uses ``y`` for training (DROCC-LF); for every other detector ``y`` is ignored
    uses_labels: ClassVar[bool] = False
    #: True when ``fit`` needs ``X_pos`` (positive-unlabelled methods such as WALDO)
    needs_positives: ClassVar[bool] = False
    #: True when ``fit`` learns from labelled inliers ``X_pos`` if it gets them (Deep SAD), without needing them
    uses_positives: ClassVar[bool] = False
    #: the registry name of a variant class (set by :meth:`variant`)
    registry_name: ClassVar[str | None] = None
    #: fitted attributes saved by ``save`` besides the common ones
    _saved_attrs: tuple[str, ...] = ()
    _common_attrs = ("n_features_in_", "decision_scores_", "threshold_", "labels_", "history_")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.declaration = collect(cls)
        #: parameter values runs on image data get unless the user sets them (derived from the declaration)
        cls.image_defaults = cls.declaration.image_defaults()
        if "__init__" not in cls.__dict__:
            cls.__init__ = make_init(cls, cls.declaration)  # type: ignore[method-assign]

    # ------------------------------------------------------------------ declared parameters and variants
    @classmethod
    def variant(cls, class_name: str, overrides: dict[str, Any], *, registry_name: str | None = None,
                doc: str | None = None) -> type:
        """A subclass that differs only in parameter defaults (e.g. CoRa = WALDO with ``lam=0``)."""
        return type(class_name, (cls,), {
            "param_overrides": dict(overrides), "__module__": cls.__module__, "__qualname__": class_name,
            "registry_name": registry_name,
            "__doc__": doc or f"{cls.__name__} with the defaults {overrides} (a registry variant)."})

    @classmethod
    def check_param_values(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Validated, canonical copies of ``values`` (raises :class:`InputError` naming the parameter)."""
        return cls.declaration.check(values, cls.registry_name or cls.__name__)

    def _check_params(self) -> None:
        """Every declared parameter against its declaration, then the cross-parameter rules. A detector built
        by ``registry.build`` from a run's resolved parameters (validated once, by ``registry.resolve_params``)
        skips this while its parameters are the ones resolved."""
        resolved = self.__dict__.get("_resolved_params")
        if resolved is not None and resolved == self.get_params(deep=False):
            return
        for p in self.declaration:
            p.check(getattr(self, p.name))
        self._check_extra()

    def plan(self) -> Plan:
        """What a run of this detector needs (:class:`~odcore.models.capabilities.Plan`): a one-step fit on
        no particular device by default; the deep detectors say their epochs, device and time budget."""
        return Plan()

    def _check_extra(self) -> None:
        """Rules that involve several parameters (a subclass hook)."""

    @classmethod
    def diagnose(cls, scores: np.ndarray) -> list[str]:
        """Warnings about training scores that this kind of detector knows how to read (plain language).
        The shared checks (constant scores, AUROC below chance, a flat loss) live in ``odcore.analysis``."""
        return []

    def capabilities(self) -> Capabilities:
        """What this detector (with its parameters) can show besides scores."""
        return self.capability

    def _check_decoder(self, decoder: str) -> str:
        """Refuse a decoder name this detector does not have (its capabilities list them)."""
        names = self.capabilities().decoders
        if decoder not in names:
            if len(names) == 1:
                raise InputError(f"this model has a single decoder ({type(self).__name__}); use decoder={names[0]!r}")
            raise InputError(f"decoder must be one of {', '.join(map(repr, names)) or 'none'}, got {decoder!r}")
        return decoder

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.non_deterministic = False
        return tags

    # ------------------------------------------------------------------ input validation
    def _validate(self, X: Any, *, reset: bool, name: str = "X") -> np.ndarray:
        """``as_matrix`` plus scikit-learn's bookkeeping: ``n_features_in_`` / ``feature_names_in_`` are
        set when ``reset`` and checked otherwise (columns must match by name when names are known)."""
        names = _column_names(X)
        if reset:
            arr = as_matrix(X, name=name)
            self.n_features_in_ = int(arr.shape[1])
            if names is not None:
                self.feature_names_in_ = names
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            return arr
        fitted_names = getattr(self, "feature_names_in_", None)
        if names is not None and fitted_names is not None and (
                len(names) != len(fitted_names) or (names != fitted_names).any()):
            missing = [c for c in fitted_names if c not in set(names)][:5]
            extra = [c for c in names if c not in set(fitted_names)][:5]
            raise InputError(f"{name}'s column names differ from the ones seen in fit (missing: {missing or 'none'}; "
                             f"unexpected: {extra or 'none'}; the order must match too): pass the training columns")
        if names is not None and fitted_names is None:
            import warnings

            warnings.warn(f"X has feature names, but {type(self).__name__} was fitted without feature names",
                          UserWarning, stacklevel=3)
        return as_matrix(X, name=name, n_features=self.n_features_in_, owner=type(self).__name__)

    # ------------------------------------------------------------------ fit / score
    def fit(self, X, y=None, *, X_pos=None, monitor=None, callbacks: Iterable[Callback] = (),
            cancel=None) -> BaseDetector:
        """Fit on ``X`` and set ``decision_scores_``, ``threshold_`` and ``labels_``.

        Parameters
        ----------
        X : array (n, d) — training data (the unlabelled set for PU methods).
        y : optional 0/1 labels of ``X`` (1 = outlier), used only by methods with ``uses_labels``
            (DROCC-LF's limited negatives); every other detector ignores it, as scikit-learn's
            outlier detectors do.
        X_pos : labelled inliers, for positive-unlabelled methods (WALDO).
        monitor : optional ``(X_val, y_val)`` whose metrics are recorded each epoch.
        callbacks : callables receiving each epoch's history record (a dict).
        cancel : an object with ``is_set()`` (e.g. ``threading.Event``); checked every batch by the
            deep detectors, before and after the fit by the classical ones.
        """
        self._check_params()
        if cancel is not None and cancel.is_set():
            raise FitCancelled("cancelled before fitting started")
        X = self._validate(X, reset=True)
        if X.shape[0] < 2:
            raise InputError(f"X has {X.shape[0]} sample (1 sample); an outlier detector needs at least 2 rows to "
                             "learn what is normal")
        if self.uses_labels and y is not None:
            y = np.asarray(y).ravel()
            if y.shape[0] != X.shape[0]:
                raise InputError(f"y has {y.shape[0]} labels but X has {X.shape[0]} rows")
            if not np.isin(y, (0, 1)).all():
                raise InputError("labels must be 0 (inlier) or 1 (outlier)")
            y = y.astype(np.int64)
        else:
            y = None
        if X_pos is not None:
            X_pos = as_matrix(X_pos, name="X_pos", n_features=X.shape[1], owner="X") if len(X_pos) else None
            if X_pos is None:
                raise InputError("X_pos is empty; pass at least one labelled inlier row")
        elif self.needs_positives:
            raise InputError(
                f"{type(self).__name__} learns from positive and unlabelled data: pass the "
                "labelled inliers as X_pos and the unlabelled mixture as X "
                "(in the app and CLI, choose the 'pu' protocol)")
        if monitor is not None:
            Xm, ym = monitor
            monitor = (as_matrix(Xm, name="monitor X", n_features=X.shape[1], owner="X"),
                       np.asarray(ym).ravel().astype(np.int64))
        self.history_ = []
        self._fit(X, y, X_pos=X_pos, monitor=monitor, callbacks=tuple(callbacks), cancel=cancel)
        if cancel is not None and cancel.is_set():
            raise FitCancelled("cancelled after fitting, before scoring")
        self.decision_scores_ = self._training_scores(X)
        self._set_threshold(X)
        return self

    def _set_threshold(self, X: np.ndarray) -> None:
        """Threshold at the (1 - contamination) quantile of the training scores (PyOD rule)."""
        c = float(self.contamination)
        self.threshold_ = float(np.quantile(self.decision_scores_, 1.0 - c))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)

    def decision_function(self, X) -> np.ndarray:
        """Anomaly score of each row of ``X``: higher = more anomalous."""
        self._check_fitted()
        return self._score(self._validate(X, reset=False))

    def score_samples(self, X) -> np.ndarray:
        """scikit-learn's ``score_samples``: the negated anomaly score (higher = more normal)."""
        return -self.decision_function(X)

    def predict(self, X) -> np.ndarray:
        """0 (inlier) / 1 (outlier) for each row of ``X``, using ``threshold_``."""
        return (self.decision_function(X) > self.threshold_).astype(np.int64)

    def fit_predict(self, X, y=None, **fit_params) -> np.ndarray:
        """``fit(X, y, **fit_params)`` then the 0/1 labels of the training rows (``labels_``)."""
        return self.fit(X, y, **fit_params).labels_

    def boundary(self, grid, *, fill: Any = 0.0) -> np.ndarray:
        """Anomaly scores over the rows of ``grid`` (the app's decision-boundary heat map).

        ``grid`` has ``d`` columns, or 2 columns when ``d > 2``: then they are the first two
        coordinates and the others are fixed at ``fill`` (a number, or a length-``d`` row whose
        first two entries are ignored; 0 is the training mean on standardised features).
        """
        self._check_fitted()
        G = np.asarray(grid, dtype=np.float32)
        d = int(self.n_features_in_)
        if G.ndim != 2:
            raise InputError(f"grid must be a 2-D array of shape (points, 2 or {d}), got shape {G.shape}")
        if G.shape[1] == 2 and d > 2:
            base = np.broadcast_to(np.asarray(fill, dtype=np.float32), (d,)).copy()
            full = np.tile(base, (G.shape[0], 1))
            full[:, :2] = G
            G = full
        elif G.shape[1] != d:
            raise InputError(f"grid has {G.shape[1]} columns; pass {d} columns, or 2 columns "
                             "(the first two coordinates) with the rest set by fill=")
        return self.decision_function(G)

    # ------------------------------------------------------------------ subclass hooks
    def _fit(self, X, y, *, X_pos, monitor, callbacks, cancel) -> None:  # pragma: no cover
        raise NotImplementedError

    def _score(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        """``decision_scores_`` after ``_fit``: by default the scores of the training rows; a detector whose
        library computes its own training scores (kNN leaves each row out of its neighbourhood) returns them."""
        return self._score(X)

    def _check_fitted(self) -> None:
        if not hasattr(self, "threshold_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(X) first")

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "threshold_")

    # ------------------------------------------------------------------ persistence
    def _tensors_to_save(self) -> dict[str, Any]:
        """Extra tensors (e.g. network weights) as a flat name -> torch tensor mapping."""
        return {}

    def _score_program(self) -> dict[str, Any] | None:
        """The detector's score as an :mod:`odcore.program` record over the saved tensors' names, or None
        (the default: scoring needs the detector itself)."""
        return None

    def _restore_tensors(self, tensors: dict[str, Any]) -> None:
        """Inverse of ``_tensors_to_save``; called after the JSON state is restored."""

    def to_record(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """What ``save`` writes: the JSON config (method, parameters, fitted state) and the tensors (numpy
        attributes as ``attr.<name>``, network weights as ``net.<name>``)."""
        import torch

        self._check_fitted()
        state: dict[str, Any] = {}
        tensors: dict[str, Any] = {}
        for name in self._common_attrs + self._saved_attrs + ("feature_names_in_",):
            if not hasattr(self, name):
                continue
            v = getattr(self, name)
            if name == "feature_names_in_":
                state[name] = [str(c) for c in v]
            elif isinstance(v, np.ndarray):
                tensors[f"attr.{name}"] = torch.from_numpy(np.ascontiguousarray(v))
            else:
                state[name] = jsonable(v)
        for k, t in self._tensors_to_save().items():
            tensors[f"net.{k}"] = t.detach().cpu().contiguous()
        program = self._score_program()
        if program is not None:  # scoring without torch (odcore.program)
            state["score_program"] = program
        from odcore.models.registry import name_of

        config = {
            "format": FORMAT_VERSION,
            "method": name_of(type(self)),
            "params": jsonable(self.get_params(deep=False)),
            "state": state,
        }
        return config, tensors

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``config.json`` and ``weights.safetensors`` into the folder ``path``."""
        from safetensors.torch import save_file

        config, tensors = self.to_record()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        tmp_w = path / (WEIGHTS_FILE + ".tmp")
        save_file(tensors, str(tmp_w))
        os.replace(tmp_w, path / WEIGHTS_FILE)
        tmp_c = path / (CONFIG_FILE + ".tmp")
        tmp_c.write_text(json.dumps(config, indent=1))
        os.replace(tmp_c, path / CONFIG_FILE)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> BaseDetector:
        """Load a detector written by ``save``. Only registered classes are instantiated.

        A missing or damaged file raises :class:`InputError` saying which file and what to do.
        """
        path = Path(path)
        try:
            config = json.loads((path / CONFIG_FILE).read_text())
        except FileNotFoundError:
            raise InputError(f"{path} holds no saved model ({CONFIG_FILE} is missing)") from None
        except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
            raise InputError(f"{path / CONFIG_FILE} is damaged ({type(exc).__name__}); retrain the model") from None
        weights = path / WEIGHTS_FILE
        if isinstance(config, dict) and config.get("format") == FORMAT_VERSION and not weights.exists():
            raise InputError(f"{path}: the weights file {WEIGHTS_FILE} is missing; the model cannot be restored "
                             "(retrain it)")
        raw: dict[str, Any] = {}
        if weights.exists():
            try:
                from safetensors.torch import load_file

                raw = load_file(str(weights))
            except Exception as exc:  # noqa: BLE001 - safetensors raises several types on damaged files
                raise InputError(f"{weights} is damaged ({type(exc).__name__}); retrain the model") from None
        return cls.from_record(config, raw, where=str(path))

    @classmethod
    def from_record(cls, config: Any, tensors: dict[str, Any], *, where: str = "the record") -> BaseDetector:
        """The detector of a record written by :meth:`to_record` (only registered classes are instantiated)."""
        from odcore.models.registry import create

        config_file = f"{where}/{CONFIG_FILE}"
        if not isinstance(config, dict) or config.get("format") != FORMAT_VERSION:
            found = config.get("format") if isinstance(config, dict) else config
            raise InputError(f"{where}: unsupported model format {found!r}")
        try:
            params = dict(config["params"])
            method = config["method"]
            state = dict(config["state"])
        except (KeyError, TypeError):
            raise InputError(f"{config_file} lacks the method, params or state of a saved model; "
                             "retrain the model") from None
        for k, v in params.items():  # JSON turns tuples into lists
            if isinstance(v, list):
                params[k] = tuple(v)
        if "score" in params and method in LEGACY_SCORE_PARAM:  # saved before the rename (round 2)
            params["anomaly_score"] = params.pop("score")
        model = create(method, **params)
        if not isinstance(model, cls):
            raise InputError(f"{where} holds a {type(model).__name__}, not a {cls.__name__}")
        for k, v in state.items():
            setattr(model, k, np.asarray(v, dtype=object) if k == "feature_names_in_" else v)
        nets = {}
        for k, t in tensors.items():
            if k.startswith("attr."):
                setattr(model, k[5:], t.numpy())
            elif k.startswith("net."):
                nets[k[4:]] = t
        model._restore_tensors(nets)
        return model
