"""Threshold workbench arithmetic, sanity warnings and analyst helpers (plain functions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from odcore import metrics
from odcore.analysis import analyst, sanity, thresholds
from odcore.errors import InputError


@pytest.fixture
def scored():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(180, int), np.ones(20, int)]
    s = np.r_[rng.normal(0, 1, 180), rng.normal(2.5, 1, 20)]
    return s, y


@pytest.mark.parametrize("share", [0.01, 0.05, 0.1, 0.25, 0.5])
def test_contamination_preset_flags_that_share(scored, share):
    s, _ = scored
    t = thresholds.threshold_for(s, "contamination", share)
    assert np.sum(s > t) == round(share * s.size)


def test_percentile_preset_matches_numpy(scored):
    s, _ = scored
    assert thresholds.threshold_for(s, "percentile", 90) == pytest.approx(np.percentile(s, 90))


@pytest.mark.parametrize("fpr", [0.0, 0.03, 0.05, 0.2])
def test_fpr_preset_keeps_the_false_positive_rate_under_target(scored, fpr):
    s, y = scored
    t = thresholds.threshold_for(s, "fpr", fpr, y)
    m = thresholds.at_threshold(s, t, y)
    assert m["fpr"] <= fpr + 1e-12
    # and it is the loosest such threshold: the recall equals recall_at_fpr's
    assert m["recall"] == pytest.approx(metrics.recall_at_fpr(y, s, fpr))


def test_fpr_preset_needs_labels(scored):
    with pytest.raises(InputError, match="labels"):
        thresholds.threshold_for(scored[0], "fpr", 0.05)


def test_at_threshold_counts_and_metrics_agree_with_metrics_module(scored):
    s, y = scored
    t = 1.0
    m = thresholds.at_threshold(s, t, y)
    assert m["flagged"] == int(np.sum(s > t)) == m["tp"] + m["fp"]
    assert m["tp"] + m["fp"] + m["tn"] + m["fn"] == s.size
    assert m["f1"] == pytest.approx(metrics.prf_at(y, s, t)["f1"])
    assert m["auroc"] == pytest.approx(metrics.auroc(y, s))
    assert m["precision_at_10"] == pytest.approx(metrics.precision_at_k(y, s, 10))
    assert set(thresholds.at_threshold(s, t)) == {"n", "flagged", "share", "threshold"}


def test_bad_presets_are_clear_errors(scored):
    s, _ = scored
    with pytest.raises(InputError, match="share"):
        thresholds.threshold_for(s, "contamination", 1.5)
    with pytest.raises(InputError, match="preset"):
        thresholds.threshold_for(s, "magic", 1)
    with pytest.raises(InputError, match="no scores"):
        thresholds.threshold_for([], "value", 1)


def test_slider_range_never_has_zero_width():
    assert thresholds.slider_range([3.0, 3.0])[2] > 0
    lo, hi, step = thresholds.slider_range([0.0, 2.0])
    assert (lo, hi) == (0.0, 2.0) and step == pytest.approx(0.02)


def test_sanity_warnings():
    assert any("constant" in w for w in sanity.sanity_warnings(np.ones(50)))
    y = np.r_[np.zeros(50), np.ones(50)]
    assert any("below chance" in w for w in sanity.sanity_warnings(-np.arange(100.0), y))
    assert sanity.sanity_warnings(np.arange(100.0), y) == []
    flat = [{"loss": 1.0}] * 5
    assert any("never moved" in w for w in sanity.sanity_warnings(history=flat))
    assert any("collapse" in w for w in sanity.sanity_warnings(np.r_[np.zeros(90), np.ones(10) * 1e-3],
                                                                  method="deep-svdd"))


def test_explain_row_names_the_days_that_deviate_most():
    values = np.array([10, 10, 10, 10, 10, 30, 10.0])
    rec = np.array([10, 10, 10, 12, 10, 12, 10.0])
    sentence = analyst.explain_row(values, rec)
    assert sentence.startswith("Deviates most on Sat (higher")
    assert "Thu (lower" in sentence
    assert "exactly" in analyst.explain_row(values, values)


def test_per_feature_errors_and_filter_rows():
    errs = analyst.per_feature_errors([1, 2, 3], {"inlier": [1, 2, 5], "outlier": [0, 2, 3]})
    assert errs["inlier"].tolist() == [0, 0, 4] and errs["outlier"].tolist() == [1, 0, 0]
    df = pd.DataFrame({"score": [0.1, 0.5, 0.9, 0.7], "market": ["A", "B", "A", "C"],
                       "week_start": pd.to_datetime(["2020-01-06", "2020-01-13", "2020-01-20", "2020-01-27"]),
                       "flagged": [False, True, True, True]})
    out = analyst.filter_rows(df, score_range=(0.4, 1.0), column_values={"market": ["A", "B"]},
                                date_column="week_start", date_range=("2020-01-10", "2020-01-31"), flagged_only=True)
    assert out["score"].tolist() == [0.5, 0.9]
