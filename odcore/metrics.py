"""Ranking and thresholded metrics for anomaly scores (higher score = more anomalous).

Labels are 0/1 with 1 = outlier unless a function says otherwise. Every function takes plain
arrays and returns plain Python numbers, so results go straight into JSON.
"""

from __future__ import annotations

import math

import numpy as np

from odcore.errors import InputError


def _check(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise InputError(f"labels ({y.shape[0]}) and scores ({s.shape[0]}) differ in length; "
                         "pass one score per labelled row")
    if not np.isin(y, (0, 1)).all():
        raise InputError("labels must be 0 (inlier) or 1 (outlier); map your label column first")
    if not np.isfinite(s).all():
        raise InputError("scores contain NaN or infinity; check the model's output")
    return y.astype(np.int64), s


def _both_classes(y: np.ndarray) -> bool:
    return 0 < y.sum() < y.size


def auroc(y_true, scores) -> float:
    """Area under the ROC curve; NaN when only one class is present."""
    y, s = _check(y_true, scores)
    if not _both_classes(y):
        return math.nan
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s))


def auprc(y_true, scores) -> float:
    """Average precision (area under the precision-recall curve, step interpolation)."""
    y, s = _check(y_true, scores)
    if not _both_classes(y):
        return math.nan
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, s))


def precision_at_k(y_true, scores, k: int = 10) -> float:
    """Share of outliers among the ``k`` highest scores (ties broken by a stable sort)."""
    y, s = _check(y_true, scores)
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}")
    k = min(k, y.size)
    top = np.argsort(-s, kind="stable")[:k]
    return float(y[top].mean())


def top_share_threshold(scores, q: float) -> float:
    """Score threshold that flags the top ``q`` share: rows with ``score > threshold``."""
    if not 0.0 < q < 1.0:
        raise InputError(f"the flagged share must lie in (0, 1), got {q}")
    s = np.asarray(scores, dtype=np.float64).ravel()
    return float(np.quantile(s, 1.0 - q, method="lower"))


def confusion_at(y_true, scores, threshold: float) -> dict[str, int]:
    """Counts at ``score > threshold`` flagged as outlier: tp, fp, tn, fn (outlier = positive)."""
    y, s = _check(y_true, scores)
    pred = s > threshold
    return {
        "tp": int(np.sum(pred & (y == 1))),
        "fp": int(np.sum(pred & (y == 0))),
        "tn": int(np.sum(~pred & (y == 0))),
        "fn": int(np.sum(~pred & (y == 1))),
    }


def prf_at(y_true, scores, threshold: float, positive: int = 1) -> dict[str, float]:
    """Precision, recall and F1 of class ``positive`` (1 = outliers, 0 = inliers) at a threshold."""
    c = confusion_at(y_true, scores, threshold)
    if positive == 1:
        tp, fp, fn = c["tp"], c["fp"], c["fn"]
    elif positive == 0:  # inliers are the rows *not* flagged
        tp, fp, fn = c["tn"], c["fn"], c["fp"]
    else:
        raise InputError(f"positive must be 0 or 1, got {positive}")
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f1}


def f1_at_top(y_true, scores, q: float | None = None, positive: int = 1) -> float:
    """F1 of class ``positive`` when the top ``q`` share of scores is flagged as outliers.

    ``q`` defaults to the outlier share of ``y_true`` (the DROCC protocol's rule).
    """
    y, s = _check(y_true, scores)
    if q is None:
        q = float(y.mean())
    # flag exactly the top round(q * n) rows so that ties at the threshold do not change the count
    k = int(round(q * y.size))
    order = np.argsort(-s, kind="stable")
    pred = np.zeros(y.size, dtype=bool)
    pred[order[:k]] = True
    yy = y if positive == 1 else 1 - y
    pp = pred if positive == 1 else ~pred
    tp = int(np.sum(pp & (yy == 1)))
    fp = int(np.sum(pp & (yy == 0)))
    fn = int(np.sum(~pp & (yy == 1)))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def recall_at_fpr(y_true, scores, fpr: float = 0.03) -> float:
    """Recall of outliers when the threshold lets through at most ``fpr`` of the inliers."""
    y, s = _check(y_true, scores)
    if not 0.0 <= fpr < 1.0:
        raise InputError(f"the false-positive rate must lie in [0, 1), got {fpr}")
    if not _both_classes(y):
        return math.nan
    neg = np.sort(s[y == 0])[::-1]
    n_fp = int(math.floor(fpr * neg.size))
    # threshold: flag scores strictly above the (n_fp+1)-th largest inlier score
    thr = neg[n_fp] if n_fp < neg.size else -np.inf
    return float(np.mean(s[y == 1] > thr))


def summary(y_true, scores, *, q: float | None = None) -> dict[str, float]:
    """The standard table row: AUROC, AUPRC, precision at 10 and F1 (outliers) at the top ``q``."""
    return {
        "auroc": auroc(y_true, scores),
        "auprc": auprc(y_true, scores),
        "precision_at_10": precision_at_k(y_true, scores, 10),
        "f1": f1_at_top(y_true, scores, q),
    }
