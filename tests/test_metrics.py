"""Metrics against scikit-learn and hand-computed cases."""

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from odcore import metrics
from odcore.errors import InputError


@pytest.fixture
def case():
    rng = np.random.default_rng(7)
    y = (rng.random(300) < 0.2).astype(int)
    s = rng.normal(size=300) + 1.5 * y
    return y, s


def test_auroc_auprc_match_sklearn(case):
    y, s = case
    assert metrics.auroc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert metrics.auprc(y, s) == pytest.approx(average_precision_score(y, s))


def test_single_class_gives_nan():
    assert math.isnan(metrics.auroc([0, 0, 0], [1, 2, 3]))
    assert math.isnan(metrics.auprc([1, 1], [1, 2]))


def test_precision_at_k_hand_case():
    y = [0, 1, 0, 1, 0]
    s = [0.1, 0.9, 0.8, 0.7, 0.2]
    assert metrics.precision_at_k(y, s, 1) == 1.0
    assert metrics.precision_at_k(y, s, 2) == 0.5
    assert metrics.precision_at_k(y, s, 3) == pytest.approx(2 / 3)
    assert metrics.precision_at_k(y, s, 100) == 0.4  # k is capped at n


def test_f1_at_top_matches_sklearn_for_both_classes(case):
    y, s = case
    q = 0.2
    k = int(round(q * y.size))
    pred = np.zeros_like(y)
    pred[np.argsort(-s, kind="stable")[:k]] = 1
    assert metrics.f1_at_top(y, s, q) == pytest.approx(f1_score(y, pred))
    assert metrics.f1_at_top(y, s, q, positive=0) == pytest.approx(f1_score(1 - y, 1 - pred))


def test_f1_default_share_is_label_share():
    y = np.array([0, 0, 0, 1])
    s = np.array([0.0, 0.1, 0.2, 5.0])
    assert metrics.f1_at_top(y, s) == 1.0


def test_recall_at_fpr_hand_case():
    # inlier scores 0..9; at fpr 0.1 one inlier (score 9) may pass the threshold
    neg = np.arange(10.0)
    pos = np.array([8.5, 9.5, 10.0, 3.0])
    y = np.r_[np.zeros(10), np.ones(4)]
    s = np.r_[neg, pos]
    # threshold: scores > 8 are flagged -> positives 8.5, 9.5, 10 flagged (3 of 4)
    assert metrics.recall_at_fpr(y, s, 0.1) == 0.75
    # fpr 0: threshold at the highest inlier (9) -> 9.5 and 10 flagged
    assert metrics.recall_at_fpr(y, s, 0.0) == 0.5


def test_confusion_and_prf():
    y = [1, 1, 0, 0, 0]
    s = [0.9, 0.2, 0.8, 0.1, 0.0]
    c = metrics.confusion_at(y, s, 0.5)
    assert c == {"tp": 1, "fp": 1, "tn": 2, "fn": 1}
    prf = metrics.prf_at(y, s, 0.5)
    assert prf["precision"] == 0.5 and prf["recall"] == 0.5 and prf["f1"] == 0.5
    inl = metrics.prf_at(y, s, 0.5, positive=0)
    assert inl["precision"] == pytest.approx(2 / 3) and inl["recall"] == pytest.approx(2 / 3)


def test_top_share_threshold_flags_share():
    s = np.arange(100.0)
    t = metrics.top_share_threshold(s, 0.1)
    assert np.sum(s > t) == 10


@pytest.mark.parametrize("y,s,match", [
    ([0, 1], [0.1], "differ in length"),
    ([0, 2], [0.1, 0.2], "0 \\(inlier\\) or 1"),
    ([0, 1], [0.1, np.nan], "NaN"),
])
def test_bad_input(y, s, match):
    with pytest.raises(InputError, match=match):
        metrics.auroc(y, s)
