"""Built-in datasets: shapes, formulas from the papers, labels, seeding, describe."""

from __future__ import annotations

import numpy as np
import pytest

from odcore import data
from odcore.errors import InputError


@pytest.mark.parametrize("name", data.builtin_names())
def test_every_builtin_loads_and_describes(name):
    ds = data.load(name)
    assert ds.n_rows > 0 and ds.n_features > 0
    assert ds.X.dtype == np.float32 and np.isfinite(ds.X).all()
    assert len(ds.feature_names) == ds.n_features
    d = data.describe(ds)
    assert d["rows"] == ds.n_rows and d["features"] == ds.n_features
    assert sum(d["column_kinds"].values()) == ds.n_features
    assert isinstance(d["problems"], list)
    assert name in data.builtin_info()


def test_builtin_names_match_the_interface():
    assert data.builtin_names() == ["sine", "sine-noisy", "gaussian-ocnn", "digits", "breast-cancer",
                                    "retail-synthetic"]


def test_sine_wave_follows_the_drocc_formula():
    ds = data.load("sine")
    t = np.arange(1024)
    assert ds.X.shape == (1024, 2)
    np.testing.assert_allclose(ds.X[:, 0], (t - 512) / 512, atol=1e-6)
    np.testing.assert_allclose(ds.X[:, 1], np.sin(2 * np.pi * t / 1024), atol=1e-6)
    assert (ds.y == 0).all()


def _distance_to_wave(P):
    dense = data.sine_wave_points(np.linspace(0, 1024, 8001))
    return np.sqrt(((P[:, None, :2] - dense[None, :, :]) ** 2).sum(-1).min(1))


def test_sine_test_points_lie_on_and_off_the_wave():
    X, y = data.sine_test_points(400, seed=1, gap=0.2)
    assert X.shape == (400, 2) and set(np.unique(y)) == {0, 1} and y.sum() == 200
    d = _distance_to_wave(X.astype(np.float64))
    assert d[y == 0].max() < 2e-3  # on the wave
    assert d[y == 1].min() >= 0.2 - 1e-4  # at least the gap away
    assert (np.abs(X[y == 1]) <= 1.0 + 1e-6).all()  # between the arcs, inside the bounding box
    X2, y2 = data.sine_test_points(400, seed=1, gap=0.2)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)


def test_noisy_sine_has_two_wave_coordinates_and_dominant_noise():
    ds = data.load("sine-noisy", seed=3)
    assert ds.X.shape == (1024, 10)
    np.testing.assert_allclose(ds.X[:, :2], data.load("sine").X, atol=1e-6)
    assert ds.X[:, 2:].var(axis=0).sum() > 4 * ds.X[:, :2].var(axis=0).sum()
    X, y = data.sine_test_points(50, seed=0, noisy=True)
    assert X.shape == (50, 10)


def test_gaussian_ocnn_counts_and_scales():
    ds = data.load("gaussian-ocnn", seed=0)
    assert ds.X.shape == (200, 512) and ds.y.sum() == 10
    assert abs(ds.X[ds.y == 0].std() - 2.0) < 0.1
    assert abs(ds.X[ds.y == 1].std() - 10.0) < 0.5
    other = data.load("gaussian-ocnn", seed=1)
    assert not np.allclose(ds.X, other.X)
    np.testing.assert_array_equal(ds.X, data.load("gaussian-ocnn", seed=0).X)


def test_digits_are_images_in_unit_range_with_classes():
    ds = data.load("digits")
    assert ds.kind == "image" and ds.image_shape == (1, 8, 8) and ds.X.shape == (1797, 64)
    assert ds.X.min() >= 0 and ds.X.max() <= 1 and ds.X.max() == 1
    assert ds.y is None and set(np.unique(ds.classes)) == set(range(10))
    ovr = data.load("digits", inlier_classes=[0])
    np.testing.assert_array_equal(ovr.y, (ds.classes != 0).astype(int))
    with pytest.raises(InputError, match="do not occur"):
        data.load("digits", inlier_classes=[12])


def test_breast_cancer_marks_malignant_as_outlier():
    ds = data.load("breast-cancer")
    assert ds.X.shape == (569, 30) and ds.y.sum() == 212
    assert (ds.classes[ds.y == 1] == "malignant").all()
    assert "37%" in ds.notes


def test_retail_panel_follows_the_waldo_case_study():
    ds = data.load("retail-synthetic", seed=0)
    assert ds.X.shape == (52 * 198, 7) and ds.feature_names == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert list(ds.meta.columns[:3]) == ["market", "week", "week_start"]
    assert ds.meta["market"].nunique() == 52 and ds.meta["week"].nunique() == 198
    assert (ds.meta["week_start"].dt.day_of_week == 0).all()  # weeks start on Monday
    # the paper's rule: inlier iff Saturday or Sunday beats every weekday
    rule = (np.maximum(ds.X[:, 5], ds.X[:, 6]) <= ds.X[:, :5].max(axis=1)).astype(int)
    np.testing.assert_array_equal(ds.y, rule)
    assert 0.003 <= ds.y.mean() <= 0.012  # paper: 0.61%
    assert (ds.X >= 0).all() and (ds.X == np.round(ds.X)).all()
    # every outlier has a cause recorded
    assert (ds.meta["events"][ds.y == 1].str.len() > 0).all()
    again = data.load("retail-synthetic", seed=0)
    np.testing.assert_array_equal(ds.X, again.X)
    assert not np.array_equal(ds.X, data.load("retail-synthetic", seed=1).X)


def test_retail_outlier_share_is_about_the_papers_over_seeds():
    shares = [data.load("retail-synthetic", seed=s, n_markets=52).y.mean() for s in range(3)]
    assert 0.003 < np.mean(shares) < 0.01


def test_unknown_builtin_option_is_refused():
    with pytest.raises(InputError, match="no option"):
        data.load("sine", bogus=1)
    with pytest.raises(InputError, match="neither a built-in"):
        data.load("no-such-dataset")


def test_shared_data_dir_honours_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ODCORE_DATA_DIR", str(tmp_path))
    assert data.shared_data_dir() == tmp_path
    monkeypatch.delenv("ODCORE_DATA_DIR")
    assert data.shared_data_dir().name == "datasets"


def test_describe_reports_kinds_labels_duplicates_and_samples():
    from odcore.data import Dataset

    X = np.array([[0, 1.5, 3, 7], [1, 2.5, 4, 7], [0, 1.5, 3, 7], [1, 0.5, 5, 7]] * 5, dtype=float)
    ds = Dataset(name="d", X=X, y=np.r_[np.zeros(19), 1])
    d = data.describe(ds)
    assert d["column_kinds"] == {"binary": 1, "continuous": 1, "integer": 1, "constant": 1}
    assert d["constant_columns"] == ["x3"]
    assert d["duplicate_share"] == pytest.approx(17 / 20)
    assert d["labels"] == {"outliers": 1, "inliers": 19, "outlier_share": 0.05}
    assert any("duplicates" in p for p in d["problems"]) and any("only 20 rows" in p for p in d["problems"])
    sampled = data.describe(ds, max_rows=10)
    assert sampled["sampled"] and sampled["constant_columns"] == ["x3"]
    flipped = data.describe(Dataset(name="f", X=X, y=np.r_[np.ones(19), 0]))
    assert any("label direction" in p for p in flipped["problems"])
