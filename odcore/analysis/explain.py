"""Which features make a row an outlier: per-feature contributions for every detector.

All three methods work on rows as the model sees them (standardised, and per series when the
table is scaled per series), so features in different units compare; each gives a *reference*
row and a *share* per feature (non-negative, summing to 1 over the row's features):

- **reconstruction** (detectors that declare a decoder: WALDO's inlier decoder, the autoencoder,
  PCA, ALAD): the reference is the reconstruction ``r`` and ``e_j = (z_j - r_j)^2``, the per-feature
  term of the reconstruction error ``||z - r||^2 = sum_j e_j`` that ranks the rows (METHODS.md,
  WALDO: "expose the per-feature reconstruction error of each decoder"); ``share_j = e_j / sum_k e_k``.
- **neighbours** (any detector): the reference is ``m``, the mean of the ``k`` nearest normal rows
  (the kNN outlier score's neighbourhood, Ramaswamy, Rastogi, Shim, SIGMOD 2000), and
  ``e_j = (z_j - m_j)^2``, ``share_j = e_j / sum_k e_k``.
- **leave-one-out** (any detector; the default without a decoder): the prediction difference of
  Robnik-Sikonja and Kononenko ("Explaining classifications for individual instances", IEEE TKDE
  20(5), 2008), ``Delta_j = s(z) - s(z with z_j := m_j)``: how much the detector's own score falls
  when feature ``j`` alone takes its value in the nearest normal rows; ``share_j = max(Delta_j, 0) /
  sum_k max(Delta_k, 0)``. Rows where no single replacement lowers the score (the score does not
  decompose by feature there) fall back to the neighbour deviation; ``fallback`` marks them.

SHAP (the ``shap`` package) would add a dependency and its model-agnostic kernel explainer needs
hundreds of model calls per row; leave-one-out needs ``d`` (one batch), which is why it is used here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from odcore.errors import InputError

METHODS = {"reconstruction": "the row against its reconstruction: squared error per feature",
           "leave-one-out": "the fall of the detector's score when one feature takes its nearest normal rows' value",
           "neighbours": "the row against the mean of its nearest normal rows: squared deviation per feature"}


@dataclass
class Explanation:
    """Per-feature contributions of rows ``Z`` (model space).

    ``reference`` (n, d): what each row is compared with (reconstruction or neighbour mean);
    ``share`` (n, d): each feature's share of the row's deviation (rows sum to 1; all 0 when the row
    equals its reference); ``neighbours`` (n, k): positions of the nearest normal rows in the normal
    set; ``method``: one of :data:`METHODS`; ``fallback`` (n,): rows explained by neighbour deviation
    because leave-one-out found no feature that lowers the score.
    """

    method: str
    reference: np.ndarray
    share: np.ndarray
    neighbours: np.ndarray
    fallback: np.ndarray


def _shares(e: np.ndarray) -> np.ndarray:
    """``e_j / sum_k e_k`` per row (0 where the row's total is 0)."""
    e = np.maximum(np.asarray(e, dtype=np.float64), 0.0)
    total = e.sum(axis=1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


def squared_shares(Z: Any, R: Any) -> np.ndarray:
    """Eq. ``share_j = (z_j - r_j)^2 / sum_k (z_k - r_k)^2`` (reconstruction and neighbour deviation)."""
    Z, R = np.asarray(Z, dtype=np.float64), np.asarray(R, dtype=np.float64)
    if Z.shape != R.shape:
        raise InputError(f"the reference has shape {R.shape} for rows of shape {Z.shape}")
    return _shares((Z - R) ** 2)


def nearest_normal(Z: Any, Z_normal: Any, *, k: int = 5, row_ids: Any = None,
                   normal_ids: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """The mean of the ``k`` nearest normal rows (Euclidean, model space) and their positions in ``Z_normal``.

    With ``row_ids`` / ``normal_ids`` (dataset row ids), a row never counts as its own neighbour.
    """
    from sklearn.neighbors import NearestNeighbors

    Z = np.asarray(Z, dtype=np.float64)
    N = np.asarray(Z_normal, dtype=np.float64)
    if len(N) == 0:
        raise InputError("no normal row to compare with: lower the share of flagged rows")
    k = max(1, min(int(k), len(N)))
    extra = 1 if row_ids is not None and normal_ids is not None and len(N) > k else 0
    nn = NearestNeighbors(n_neighbors=k + extra).fit(N)
    _, idx = nn.kneighbors(Z)
    if extra:
        own = np.asarray(normal_ids)[idx] == np.asarray(row_ids)[:, None]
        keep = np.where(own.any(axis=1, keepdims=True), ~own, np.arange(k + extra)[None, :] < k)
        idx = idx[keep].reshape(len(Z), k)
    return N[idx].mean(axis=1), idx


def leave_one_out(score: Callable[[np.ndarray], Any], Z: Any, reference: Any, *,
                  batch_rows: int = 65_536) -> np.ndarray:
    """Eq. ``Delta_j = s(z) - s(z with z_j := ref_j)`` for every row and feature (the prediction difference of
    Robnik-Sikonja and Kononenko 2008), with ``s`` the detector's score (higher = more anomalous).

    The ``n * d`` occluded rows are scored in batches of about ``batch_rows`` rows.
    """
    Z = np.asarray(Z, dtype=np.float32)
    ref = np.asarray(reference, dtype=np.float32)
    n, d = Z.shape
    base = np.asarray(score(Z), dtype=np.float64)
    out = np.empty((n, d), dtype=np.float64)
    step = max(1, batch_rows // max(d, 1))
    eye = np.eye(d, dtype=bool)
    for i in range(0, n, step):
        z, r = Z[i:i + step], ref[i:i + step]
        occl = np.where(eye[None, :, :], r[:, None, :], z[:, None, :])  # (rows, d occlusions, d features)
        s = np.asarray(score(occl.reshape(-1, d)), dtype=np.float64).reshape(len(z), d)
        out[i:i + step] = base[i:i + step, None] - s
    return out


def explain(model: Any, Z: Any, Z_normal: Any, *, method: str = "auto", k: int = 5, row_ids: Any = None,
            normal_ids: Any = None) -> Explanation:
    """Per-feature contributions of rows ``Z`` (as the model sees them) for a fitted ``model``.

    ``Z_normal`` are the normal rows the neighbours come from (the rows below the threshold);
    ``method``: ``"auto"`` (reconstruction when the model declares a decoder, else leave-one-out),
    or one of :data:`METHODS`.
    """
    Z = np.ascontiguousarray(Z, dtype=np.float32)
    if Z.ndim != 2:
        raise InputError(f"rows to explain must be a 2-D array, got shape {Z.shape}")
    decoders = tuple(model.capabilities().decoders)
    if method == "auto":
        method = "reconstruction" if decoders else "leave-one-out"
    if method not in METHODS:
        raise InputError(f"explanation method {method!r}: choose one of {', '.join(METHODS)}")
    if method == "reconstruction" and not decoders:
        raise InputError("this detector has no decoder, so rows cannot be compared with a reconstruction; use "
                         "'leave-one-out' or 'neighbours'")
    m, idx = nearest_normal(Z, Z_normal, k=k, row_ids=row_ids, normal_ids=normal_ids)
    fallback = np.zeros(len(Z), dtype=bool)
    if method == "reconstruction":
        ref = np.asarray(model.reconstruct(Z, decoder=decoders[0])["reconstruction"], dtype=np.float64)
        share = squared_shares(Z, ref)
    elif method == "neighbours":
        ref, share = m, squared_shares(Z, m)
    else:
        delta = leave_one_out(model.decision_function, Z, m)
        share = _shares(delta)
        fallback = ~(delta > 0).any(axis=1)
        share[fallback] = squared_shares(Z[fallback], m[fallback])
        ref = m
    return Explanation(method=method, reference=ref, share=share, neighbours=idx, fallback=fallback)


def top_features(share: Any, deviation: Any, names: Sequence[str], *,
                 top: int = 3) -> list[list[tuple[str, float, float]]]:
    """Per row, the ``top`` features by share: ``(name, share, deviation)`` (deviation in the data's units,
    value minus reference), largest share first; features with no share are left out."""
    share = np.asarray(share, dtype=np.float64)
    dev = np.asarray(deviation, dtype=np.float64)
    order = np.argsort(-share, axis=1, kind="stable")[:, :top]
    out = []
    for i, row in enumerate(order):
        out.append([(str(names[j]), float(share[i, j]), float(dev[i, j])) for j in row if share[i, j] > 0])
    return out
