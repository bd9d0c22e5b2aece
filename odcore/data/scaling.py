"""The standardiser of a run: z-scores fitted on the training rows, saved with the run.

A protocol split fits one :class:`Standardizer` on the rows ``fit`` sees, the run store saves it
(:meth:`Standardizer.to_arrays`), scoring a file applies it, and the pages map reconstructions back
to the data's units with :meth:`Standardizer.inverse_transform`. This module is the one place where
the forward and the inverse formula are written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Standardizer:
    """Per-column ``(x - mean) / scale``; the identity when ``mean`` is None (e.g. images).

    Build one with :meth:`fit` (training rows) or :meth:`identity`; never mutate it.
    """

    mean: np.ndarray | None = None  # float32 (d,), None = no standardisation
    scale: np.ndarray | None = None  # float32 (d,), > 0 (constant columns get 1)

    def __post_init__(self) -> None:
        if (self.mean is None) != (self.scale is None):
            raise ValueError("a Standardizer needs both mean and scale, or neither")
        if self.mean is not None:
            object.__setattr__(self, "mean", np.asarray(self.mean, dtype=np.float32).ravel())
            object.__setattr__(self, "scale", np.asarray(self.scale, dtype=np.float32).ravel())
            if self.mean.shape != self.scale.shape:
                raise ValueError(f"mean {self.mean.shape} and scale {self.scale.shape} differ in shape")

    @classmethod
    def fit(cls, X: Any) -> Standardizer:
        """Column means and standard deviations of ``X``; constant columns keep scale 1."""
        X = np.asarray(X, dtype=np.float64)
        mean = X.mean(axis=0)
        std = X.std(axis=0)
        scale = np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, 1.0)
        return cls(mean.astype(np.float32), scale.astype(np.float32))

    @classmethod
    def identity(cls) -> Standardizer:
        """The standardiser that changes nothing (protocols that do not standardise)."""
        return cls()

    @property
    def active(self) -> bool:
        """True when it changes the data (it was fitted), False for the identity."""
        return self.mean is not None

    def transform(self, X: Any) -> np.ndarray:
        """``(X - mean) / scale`` as float32 (``X`` unchanged but as float32 for the identity)."""
        X = np.asarray(X, dtype=np.float32)
        if self.mean is None:
            return np.ascontiguousarray(X)
        return ((X - self.mean) / self.scale).astype(np.float32)

    def transform_columns(self, columns: Any, *, order: str = "C") -> np.ndarray:
        """:meth:`transform` of the matrix whose columns are ``columns`` (1-D numeric arrays, one per
        feature, e.g. the columns of an Arrow record batch): the same float32 numbers, with no float64
        copy of the whole matrix: the columns are rounded to float32 straight into the result, then
        standardised in place (NumPy calls that release the GIL). ``order="F"`` gives the (n, d) result
        column-major: each column is one contiguous copy (about 7x faster here than the row-major
        interleave; :mod:`odcore.program` scores that layout fastest)."""
        columns = list(columns)
        if self.mean is not None and (self.mean.dtype != np.float32 or self.scale.dtype != np.float32):
            X = self.transform(np.column_stack(columns))  # float64 arithmetic, as transform does
            return np.asfortranarray(X) if order == "F" else X
        if not columns:
            return np.empty((0, 0), dtype=np.float32)
        if order == "F":
            XT = np.empty((len(columns), len(columns[0])), dtype=np.float32)
            for j, c in enumerate(columns):
                XT[j] = c  # float32 rounding, as np.asarray(X, dtype=np.float32)
            if self.mean is not None:
                np.subtract(XT, self.mean[:, None], out=XT)
                np.divide(XT, self.scale[:, None], out=XT)
            return XT.T
        X = np.stack(columns, axis=1, dtype=np.float32)  # float32 rounding, as np.asarray(X, dtype=np.float32)
        if self.mean is not None:
            np.subtract(X, self.mean, out=X)
            np.divide(X, self.scale, out=X)
        return X

    def inverse_transform(self, Z: Any) -> np.ndarray:
        """Standardised rows (inputs, reconstructions, generated samples) back in the data's units."""
        Z = np.asarray(Z)
        if self.mean is None:
            return Z
        return Z * self.scale + self.mean

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for saving (``np.savez``); empty for the identity."""
        if self.mean is None:
            return {}
        return {"mean": self.mean, "scale": self.scale}

    @classmethod
    def from_arrays(cls, arrays: Any) -> Standardizer:
        """The standardiser saved by :meth:`to_arrays` (a dict or an ``np.load`` archive)."""
        if arrays is None or "mean" not in arrays:
            return cls.identity()
        return cls(np.asarray(arrays["mean"]), np.asarray(arrays["scale"]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Standardizer):
            return NotImplemented
        if self.mean is None or other.mean is None:
            return self.mean is None and other.mean is None
        return bool(np.array_equal(self.mean, other.mean) and np.array_equal(self.scale, other.scale))

    def __repr__(self) -> str:
        return "Standardizer(identity)" if self.mean is None else f"Standardizer({self.mean.size} columns)"
