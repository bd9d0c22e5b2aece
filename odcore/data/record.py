"""The dataset record every loader returns and every protocol splits."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from odcore.data.scaling import Standardizer


@dataclass
class Dataset:
    """A table or a set of flattened images, with optional outlier labels.

    Attributes
    ----------
    name : short name shown in the UI ("sine", "digits", a file name ...)
    X : float32 array (n, d); images are flattened row-major from ``image_shape``
    y : optional int array (n,), 1 = outlier, 0 = inlier
    kind : "tabular" or "image"
    image_shape : (C, H, W) for images, else None
    feature_names : one name per column of X
    source : where the data came from (built-in generator, file path)
    notes : free text shown with the data (protocol hints, licence)
    classes : optional original class labels (digits 0-9, KDD attack names) for one-vs-rest
    meta : optional row-aligned table of non-feature columns (market, week, date ...)
    table : for a prepared table, the fitted preparation record (``odcore.data.table.TablePrep.to_dict()``:
        roles, date format, missing-value policies, windows, scaling) that turned the file into ``X``
    """

    name: str
    X: np.ndarray
    y: np.ndarray | None = None
    kind: str = "tabular"
    image_shape: tuple[int, int, int] | None = None
    feature_names: list[str] = field(default_factory=list)
    source: str = ""
    notes: str = ""
    classes: np.ndarray | None = None
    meta: Any = None  # pandas.DataFrame | None
    table: dict | None = None  # the fitted TablePrep of a prepared table (plain JSON types)

    def __post_init__(self) -> None:
        self.X = np.ascontiguousarray(self.X, dtype=np.float32)
        if self.y is not None:
            self.y = np.asarray(self.y).astype(np.int64).ravel()
        if not self.feature_names:
            self.feature_names = [f"x{i}" for i in range(self.X.shape[1])]

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def outlier_share(self) -> float | None:
        return None if self.y is None else float(self.y.mean())

    def content_hash(self) -> str:
        """SHA-256 (first 16 hex digits) of X, y and the image shape: identifies the data in runs."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.X).tobytes())
        if self.y is not None:
            h.update(self.y.astype(np.int64).tobytes())
        h.update(repr(self.image_shape).encode())
        return h.hexdigest()[:16]

    def frame(self, max_rows: int | None = None):
        """A pandas DataFrame preview: meta columns, features, and the label when known."""
        import pandas as pd

        n = self.n_rows if max_rows is None else min(max_rows, self.n_rows)
        df = pd.DataFrame(self.X[:n], columns=self.feature_names)
        if self.meta is not None:  # a prepared table's meta holds its features' original values: those are shown
            meta = self.meta.iloc[:n].reset_index(drop=True)
            df = pd.concat([meta, df.drop(columns=[c for c in df.columns if c in meta.columns])], axis=1)
        if self.y is not None:
            df["label"] = self.y[:n]
        return df

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name, "rows": self.n_rows, "features": self.n_features, "kind": self.kind,
            "image_shape": list(self.image_shape) if self.image_shape else None,
            "outlier_share": self.outlier_share, "source": self.source, "notes": self.notes,
        }


@dataclass
class Split:
    """A protocol's split of a Dataset into what ``fit`` sees and what is scored.

    ``X_train`` is what ``fit`` gets as ``X`` (for "pu": the unlabelled mixture); ``y_train``
    its labels when known (only methods with ``uses_labels`` train on them; with the analyst's marks,
    1 = a row marked confirmed); ``X_pos`` the labelled inliers ("pu", or the rows marked expected).
    ``X_test`` / ``y_test`` are scored and evaluated; ``*_index`` are row ids into the Dataset.
    Features are standardised by ``scaler`` (a :class:`~odcore.data.scaling.Standardizer` fitted on
    the training rows only), which is the identity when the protocol does not standardise.
    """

    protocol: str
    X_train: np.ndarray
    y_train: np.ndarray | None
    X_test: np.ndarray
    y_test: np.ndarray | None
    train_index: np.ndarray
    test_index: np.ndarray
    X_pos: np.ndarray | None = None
    pos_index: np.ndarray | None = None
    scaler: Standardizer = field(default_factory=Standardizer.identity)
    options: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    #: rows the analyst marked (``{"expected": indices, "confirmed": indices}`` into the Dataset) when the split
    #: was made with the ``marks=`` option (:mod:`odcore.data.marks`); None otherwise
    marked: dict[str, np.ndarray] | None = None

    @property
    def mean(self) -> np.ndarray | None:
        """Column means of the standardisation (None when the split is not standardised)."""
        return self.scaler.mean

    @property
    def scale(self) -> np.ndarray | None:
        """Column scales of the standardisation (None when the split is not standardised)."""
        return self.scaler.scale

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Apply the split's standardisation to new rows (as the model sees them)."""
        return self.scaler.transform(X)

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        """Standardised rows (inputs, reconstructions, samples) back in the data's units."""
        return self.scaler.inverse_transform(Z)
