"""The detector contract shared by every method (scikit-learn / PyOD compatible).

``BaseDetector`` holds what every detector has: keyword-only parameters stored unchanged,
``fit`` returning ``self``, ``decision_scores_`` / ``threshold_`` / ``labels_`` / ``history_``
after fitting, ``decision_function`` (higher = more anomalous), ``predict`` and ``save`` /
``load`` (safetensors weights plus a JSON config; no pickle).

Deep detectors subclass :class:`odcore.models.deep.DeepDetector`, which owns the single
training loop. Classical ones wrap scikit-learn in :mod:`odcore.models.classical`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from odcore.errors import InputError, NotFittedError

Callback = Callable[[dict], None]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
FORMAT_VERSION = 1


def as_matrix(X: Any, *, name: str = "X", n_features: int | None = None) -> np.ndarray:
    """Return ``X`` as a finite float32 matrix (n, d), or raise :class:`InputError` saying why."""
    try:
        arr = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numeric; convert or drop non-numeric columns ({exc})") from None
    if arr.ndim == 1:
        raise InputError(f"{name} is one-dimensional; pass a 2-D array of shape (rows, features), "
                         "e.g. X.reshape(-1, 1) for a single feature")
    if arr.ndim > 2:
        arr = arr.reshape(arr.shape[0], -1)
    if arr.shape[0] == 0:
        raise InputError(f"{name} has no rows; pass at least one row")
    if arr.shape[1] == 0:
        raise InputError(f"{name} has no feature columns")
    # a NaN or inf anywhere makes the sum non-finite; the sum is ~2x cheaper than isfinite(arr)
    # (a finite sum that overflows float32 falls through to the exact check below)
    if not np.isfinite(arr.sum()) and not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise InputError(f"{name} contains NaN or infinite values in {bad} rows; "
                         "impute or drop them before fitting")
    if n_features is not None and arr.shape[1] != n_features:
        raise InputError(f"{name} has {arr.shape[1]} features but the model was fitted on "
                         f"{n_features}; score data with the same columns as the training data")
    return arr


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return v


class BaseDetector(BaseEstimator):
    """Base of every detector.

    Subclasses define ``__init__`` with keyword-only parameters (stored unchanged), the
    class attribute ``param_help`` (one line per parameter) and implement ``_fit`` and
    ``_score``. Fitted state that must survive ``save``/``load`` is listed in
    ``_saved_attrs``: numpy arrays go to the safetensors file, everything else to JSON.

    Attributes set by ``fit``: ``n_features_in_``, ``decision_scores_``, ``threshold_``,
    ``labels_``, ``history_`` (list of per-epoch dicts; empty for classical detectors).
    """

    #: one-line help for each constructor parameter (shown by the app and the CLI)
    param_help: dict[str, str] = {}
    #: True when ``fit`` uses ``y`` for training (DROCC-LF); otherwise ``y`` only monitors
    uses_labels: bool = False
    #: True when ``fit`` needs ``X_pos`` (positive-unlabelled methods such as WALDO)
    needs_positives: bool = False
    #: parameter values the app and the CLI use on image data unless the user sets them
    image_defaults: dict[str, Any] = {}
    #: fitted attributes saved by ``save`` besides the common ones
    _saved_attrs: tuple[str, ...] = ()
    _common_attrs = ("n_features_in_", "decision_scores_", "threshold_", "labels_", "history_")

    def _store_params(self, values: dict[str, Any]) -> None:
        """Store every constructor argument unchanged: ``self._store_params(locals())`` in ``__init__``.

        ``get_params`` / ``clone`` read the parameters back by the names in the signature, as
        scikit-learn requires; nothing is validated here (that happens in ``fit``).
        """
        for k, v in values.items():
            if k not in ("self", "__class__"):
                setattr(self, k, v)

    # ------------------------------------------------------------------ fit / score
    def fit(self, X, y=None, *, X_pos=None, monitor=None, callbacks: Iterable[Callback] = (),
            cancel=None) -> "BaseDetector":
        """Fit on ``X`` and set ``decision_scores_``, ``threshold_`` and ``labels_``.

        Parameters
        ----------
        X : array (n, d) — training data (the unlabelled set for PU methods).
        y : optional 0/1 labels of ``X`` (1 = outlier). Used for training only by methods with
            ``uses_labels``; for the others they only feed the per-epoch monitoring metrics.
        X_pos : labelled inliers, for positive-unlabelled methods (WALDO).
        monitor : optional ``(X_val, y_val)`` whose metrics are recorded each epoch.
        callbacks : callables receiving each epoch's history record (a dict).
        cancel : an object with ``is_set()`` (e.g. ``threading.Event``); checked every batch.
        """
        self._check_params()
        X = as_matrix(X)
        if y is not None:
            y = np.asarray(y).ravel()
            if y.shape[0] != X.shape[0]:
                raise InputError(f"y has {y.shape[0]} labels but X has {X.shape[0]} rows")
            if not np.isin(y, (0, 1)).all():
                raise InputError("labels must be 0 (inlier) or 1 (outlier)")
            y = y.astype(np.int64)
        if X_pos is not None:
            X_pos = as_matrix(X_pos, name="X_pos", n_features=X.shape[1]) if len(X_pos) else None
            if X_pos is None:
                raise InputError("X_pos is empty; pass at least one labelled inlier row")
        elif self.needs_positives:
            raise InputError(
                f"{type(self).__name__} learns from positive and unlabelled data: pass the "
                "labelled inliers as X_pos and the unlabelled mixture as X "
                "(in the app and CLI, choose the 'pu' protocol)")
        if monitor is None and y is not None and not self.uses_labels:
            monitor = (X, y)
        if monitor is not None:
            Xm, ym = monitor
            monitor = (as_matrix(Xm, name="monitor X", n_features=X.shape[1]),
                       np.asarray(ym).ravel().astype(np.int64))
        self.n_features_in_ = int(X.shape[1])
        self.history_ = []
        self._fit(X, y, X_pos=X_pos, monitor=monitor, callbacks=tuple(callbacks), cancel=cancel)
        self.decision_scores_ = self._score(X)
        self._set_threshold(X)
        return self

    def _set_threshold(self, X: np.ndarray) -> None:
        """Threshold at the (1 - contamination) quantile of the training scores (PyOD rule)."""
        c = float(getattr(self, "contamination", 0.1))
        self.threshold_ = float(np.quantile(self.decision_scores_, 1.0 - c))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)

    def decision_function(self, X) -> np.ndarray:
        """Anomaly score of each row of ``X``: higher = more anomalous."""
        self._check_fitted()
        return self._score(as_matrix(X, n_features=self.n_features_in_))

    def predict(self, X) -> np.ndarray:
        """0 (inlier) / 1 (outlier) for each row of ``X``, using ``threshold_``."""
        return (self.decision_function(X) > self.threshold_).astype(np.int64)

    # ------------------------------------------------------------------ subclass hooks
    def _fit(self, X, y, *, X_pos, monitor, callbacks, cancel) -> None:  # pragma: no cover
        raise NotImplementedError

    def _score(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _check_params(self) -> None:
        c = getattr(self, "contamination", 0.1)
        if not isinstance(c, (int, float)) or not 0.0 < c < 0.5 + 1e-12:
            raise InputError(f"contamination must lie in (0, 0.5], got {c!r}")

    def _check_fitted(self) -> None:
        if not hasattr(self, "threshold_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(X) first")

    # ------------------------------------------------------------------ persistence
    def _tensors_to_save(self) -> dict[str, Any]:
        """Extra tensors (e.g. network weights) as a flat name -> torch tensor mapping."""
        return {}

    def _restore_tensors(self, tensors: dict[str, Any]) -> None:
        """Inverse of ``_tensors_to_save``; called after the JSON state is restored."""

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``config.json`` and ``weights.safetensors`` into the folder ``path``."""
        import torch
        from safetensors.torch import save_file

        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state: dict[str, Any] = {}
        tensors: dict[str, Any] = {}
        for name in self._common_attrs + self._saved_attrs:
            if not hasattr(self, name):
                continue
            v = getattr(self, name)
            if isinstance(v, np.ndarray):
                tensors[f"attr.{name}"] = torch.from_numpy(np.ascontiguousarray(v))
            else:
                state[name] = _jsonable(v)
        for k, t in self._tensors_to_save().items():
            tensors[f"net.{k}"] = t.detach().cpu().contiguous()
        from odcore.models.registry import name_of

        config = {
            "format": FORMAT_VERSION,
            "method": name_of(type(self)),
            "params": _jsonable(self.get_params(deep=False)),
            "state": state,
        }
        tmp_w = path / (WEIGHTS_FILE + ".tmp")
        save_file(tensors, str(tmp_w))
        os.replace(tmp_w, path / WEIGHTS_FILE)
        tmp_c = path / (CONFIG_FILE + ".tmp")
        tmp_c.write_text(json.dumps(config, indent=1))
        os.replace(tmp_c, path / CONFIG_FILE)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "BaseDetector":
        """Load a detector written by ``save``. Only registered classes are instantiated."""
        from safetensors.torch import load_file

        from odcore.models.registry import create

        path = Path(path)
        try:
            config = json.loads((path / CONFIG_FILE).read_text())
        except FileNotFoundError:
            raise InputError(f"{path} holds no saved model ({CONFIG_FILE} is missing)") from None
        if config.get("format") != FORMAT_VERSION:
            raise InputError(f"{path}: unsupported model format {config.get('format')!r}")
        params = config["params"]
        for k, v in params.items():  # JSON turns tuples into lists
            if isinstance(v, list):
                params[k] = tuple(v)
        model = create(config["method"], **params)
        if not isinstance(model, cls):
            raise InputError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        for k, v in config["state"].items():
            setattr(model, k, v)
        raw = load_file(str(path / WEIGHTS_FILE))
        nets = {}
        for k, t in raw.items():
            if k.startswith("attr."):
                setattr(model, k[5:], t.numpy())
            elif k.startswith("net."):
                nets[k[4:]] = t
        model._restore_tensors(nets)
        return model
