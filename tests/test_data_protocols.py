"""Protocols: seeded splits, standardisation from training rows only, and each protocol's invariants."""

from __future__ import annotations

import numpy as np
import pytest

from odcore import data
from odcore.data import Dataset
from odcore.errors import InputError


def _toy(n_in=300, n_out=30, d=4, seed=0, **kw) -> Dataset:
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(5.0, 2.0, (n_in, d)), rng.normal(9.0, 1.0, (n_out, d))])
    y = np.r_[np.zeros(n_in), np.ones(n_out)]
    return Dataset(name="toy", X=X, y=y, **kw)


def _multiclass(n_per=60, seed=0) -> Dataset:
    rng = np.random.default_rng(seed)
    classes = np.repeat(np.arange(4), n_per)
    X = rng.normal(size=(len(classes), 3)) + classes[:, None]
    return Dataset(name="mc", X=X, classes=classes)


def test_protocol_table_and_defaults():
    assert set(data.PROTOCOLS) == {"unsupervised", "novelty", "one-vs-rest", "pu", "drocc", "kdd-alad", "all"}
    for name in data.PROTOCOLS:
        d = data.protocol_defaults(name)
        assert "standardize" in d
        assert set(data.protocol_help(name)) == set(d)
    assert data.protocol_defaults("pu")["pos_contamination"] == 0.0
    with pytest.raises(InputError, match="unknown protocol"):
        data.protocol_defaults("nope")


@pytest.mark.parametrize("protocol", ["unsupervised", "novelty", "drocc", "kdd-alad", "pu", "all"])
def test_splits_are_seeded_and_standardised_on_training_rows(protocol):
    ds = _toy()
    a = data.split(ds, protocol, seed=1)
    b = data.split(ds, protocol, seed=1)
    np.testing.assert_array_equal(a.test_index, b.test_index)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    fit_rows = ds.X[a.train_index] if a.pos_index is None else ds.X[np.r_[a.pos_index, a.train_index]]
    np.testing.assert_allclose(a.mean, fit_rows.mean(0), rtol=1e-4)
    np.testing.assert_allclose(a.scale, fit_rows.std(0), rtol=1e-4)
    np.testing.assert_allclose(a.X_test, (ds.X[a.test_index] - a.mean) / a.scale, rtol=1e-4, atol=1e-5)
    assert a.X_train.dtype == np.float32
    assert a.options["seed"] == 1
    if protocol not in ("pu", "all"):
        assert not set(a.train_index) & set(a.test_index)
        c = data.split(ds, protocol, seed=2)
        assert not np.array_equal(a.test_index, c.test_index)


def test_unsupervised_is_stratified_70_30():
    ds = _toy(n_in=700, n_out=100)
    sp = data.split(ds, "unsupervised", seed=0)
    assert len(sp.test_index) == 240 and sp.y_test.sum() == 30 and sp.y_train.sum() == 70
    unl = Dataset(name="u", X=ds.X)
    sp2 = data.split(unl, "unsupervised")
    assert sp2.y_test is None and len(sp2.test_index) == 240


def test_novelty_trains_on_normals_only():
    ds = _toy()
    sp = data.split(ds, "novelty", seed=0, test_normal_share=0.3)
    assert sp.y_train.sum() == 0 and len(sp.train_index) == 210
    assert sp.y_test.sum() == 30 and (sp.y_test == 0).sum() == 90


def test_one_vs_rest_relabels_from_classes():
    ds = _multiclass()
    sp = data.split(ds, "one-vs-rest", inlier_classes=[2], seed=0)
    assert (ds.classes[sp.train_index] == 2).all()
    np.testing.assert_array_equal(sp.y_test, (ds.classes[sp.test_index] != 2).astype(int))
    sp2 = data.split(ds, "one-vs-rest", inlier_classes="1,2", seed=0)
    assert set(ds.classes[sp2.train_index]) == {1, 2}
    default = data.split(ds, "one-vs-rest")
    assert set(ds.classes[default.train_index]) == {0}
    contaminated = data.split(ds, "one-vs-rest", inlier_classes=[0], train_on="all")
    assert contaminated.y_train.sum() > 0
    with pytest.raises(InputError, match="does not occur"):
        data.split(ds, "one-vs-rest", inlier_classes=[7])
    with pytest.raises(InputError, match="class labels"):
        data.split(_toy(), "one-vs-rest", inlier_classes=[0])


def test_images_are_not_standardised_unless_asked():
    ds = data.load("digits")
    sp = data.split(ds, "one-vs-rest", inlier_classes=[0])
    assert sp.mean is None and sp.X_train.min() >= 0 and sp.X_train.max() <= 1
    sp2 = data.split(ds, "one-vs-rest", inlier_classes=[0], standardize=True)
    assert sp2.mean is not None
    assert (sp2.scale > 0).all()  # constant pixels get scale 1


def test_pu_counts_follow_the_waldo_setting():
    ds = _toy(n_in=1000, n_out=300)
    sp = data.split(ds, "pu", seed=0, nu=0.1)
    assert len(sp.pos_index) == 200 and (ds.y[sp.pos_index] == 0).all()
    assert not set(sp.pos_index) & set(sp.train_index)
    assert sp.y_train.mean() == pytest.approx(0.1, abs=0.002)
    np.testing.assert_array_equal(sp.train_index, sp.test_index)  # transductive
    np.testing.assert_array_equal(sp.X_train, sp.X_test)
    assert sp.X_pos.shape == (200, 4)
    # few outliers for a high nu: inliers are subsampled instead
    sp = data.split(ds, "pu", seed=0, nu=0.5, n_pos=100)
    assert len(sp.pos_index) == 100 and sp.y_train.mean() == pytest.approx(0.5, abs=0.01)
    # contamination of the labelled sample
    sp = data.split(ds, "pu", seed=0, nu=0.1, n_pos=100, pos_contamination=0.1)
    assert ds.y[sp.pos_index].sum() == 10
    # natural share when nu is not set
    sp = data.split(ds, "pu", seed=0)
    assert sp.y_train.sum() == 300 and len(sp.train_index) == 800 + 300


def test_pu_with_inlier_classes():
    ds = _multiclass()
    sp = data.split(ds, "pu", inlier_classes=[0, 1], nu=0.2, seed=0)
    assert set(ds.classes[sp.pos_index]) <= {0, 1}
    assert sp.y_train.mean() == pytest.approx(0.2, abs=0.02)


NU_RANGE = r"nu must be a number in \(0, 1\)"


@pytest.mark.parametrize("opts,match", [({"nu": 1.5}, NU_RANGE), ({"nu": 0}, NU_RANGE),
                                        ({"nu": 1e-6}, "impossible"), ({"n_pos": 10_000}, "impossible"),
                                        ({"pos_contamination": 0.99, "n_pos": 200}, "lower pos_contamination")])
def test_pu_refuses_impossible_options(opts, match):
    with pytest.raises(InputError, match=match):
        data.split(_toy(n_in=300, n_out=30), "pu", **opts)


def test_drocc_tests_on_all_anomalies_plus_as_many_normals():
    ds = _toy()
    sp = data.split(ds, "drocc", seed=0)
    assert sp.y_test.sum() == 30 and len(sp.y_test) == 60
    assert sp.y_train.sum() == 0 and len(sp.train_index) == 270
    with pytest.raises(InputError, match="only"):
        data.split(_toy(n_in=20, n_out=30), "drocc")


def test_kdd_alad_trains_on_the_normal_rows_of_one_half():
    ds = _toy(n_in=400, n_out=100)
    sp = data.split(ds, "kdd-alad", seed=0)
    assert len(sp.test_index) == 250
    assert sp.y_train.sum() == 0
    assert len(sp.train_index) == 250 - int(ds.y[np.setdiff1d(np.arange(500), sp.test_index)].sum())


def test_all_scores_every_row_and_works_without_labels():
    unl = Dataset(name="u", X=np.random.default_rng(0).normal(size=(50, 3)))
    sp = data.split(unl, "all")
    assert len(sp.train_index) == len(sp.test_index) == 50 and sp.y_test is None


@pytest.mark.parametrize("protocol", ["novelty", "drocc", "kdd-alad", "pu"])
def test_protocols_that_need_labels_say_so(protocol):
    unl = Dataset(name="u", X=np.random.default_rng(0).normal(size=(50, 3)))
    with pytest.raises(InputError, match="needs outlier labels"):
        data.split(unl, protocol)
    with pytest.raises(InputError, match="no labelled anomalies"):
        data.split(data.load("sine"), protocol)


def test_unknown_protocol_option_is_refused():
    with pytest.raises(InputError, match="has no option"):
        data.split(_toy(), "novelty", nu=0.1)


def test_retail_pu_matches_the_papers_setting():
    ds = data.load("retail-synthetic")
    sp = data.split(ds, "pu", seed=0)
    n_in = int((ds.y == 0).sum())
    assert len(sp.pos_index) == round(0.2 * n_in)  # paper: 2,047 of 10,234 inliers labelled
    assert sp.y_train.sum() == ds.y.sum()
