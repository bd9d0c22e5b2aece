"""PyOD's detectors through the generic adapter (odcore/models/pyod_adapter.py): parameters from PyOD's
signatures, ECOD / COPOD scored against the training rows only, seeded and eval-mode deep ports."""

import inspect
import warnings

import numpy as np
import pytest

from odcore import metrics
from odcore.errors import InputError
from odcore.models import pyod_adapter, registry

PYOD = [n for n in registry.available() if registry.info(n).target.startswith("odcore.models.pyod_adapter:")]
CLASSICAL = [n for n in PYOD if registry.info(n).family == "classical"]


def planted(n=300, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = np.r_[rng.normal(size=(n, d)), rng.normal(size=(n // 20, d)) * 6]
    y = np.r_[np.zeros(n), np.ones(n // 20)]
    return X.astype(np.float32), y


def skewed(n=300, d=3, seed=0):
    """Strongly skewed columns, so that one more row cannot flip a column's skewness sign."""
    rng = np.random.default_rng(seed)
    X = rng.exponential(size=(n, d))
    X[:, 1] *= -1
    return X


def test_the_registry_offers_every_adapted_detector():
    names = {registry.info(n).target.rpartition(":")[2] for n in PYOD}
    assert names == set(pyod_adapter.SPECS)
    assert {"ecod", "copod", "hbos", "iforest", "knn", "lof", "pyod-autoencoder", "pyod-deep-svdd",
            "pyod-alad"} <= set(PYOD)


@pytest.mark.parametrize("name", PYOD)
def test_parameters_come_from_pyods_signature_with_its_defaults(name):
    cls = registry.get_class(name)
    spec = cls.pyod_spec
    sig = inspect.signature(pyod_adapter.pyod_class(spec.target).__init__).parameters
    own = {"random_state", "contamination"}
    for p in cls.declaration:
        if p.name in own:
            continue
        assert p.name in sig, f"{name}.{p.name} is not a parameter of PyOD's class"
        pyod_default = sig[p.name].default
        overridden = isinstance(spec.params.get(p.name), pyod_adapter.Param) or "default" in (
            spec.params.get(p.name) or {})
        if not overridden:
            expected = tuple(pyod_default) if isinstance(pyod_default, list) else pyod_default
            assert p.default == expected, f"{name}.{p.name}: {p.default!r} is not PyOD's default {pyod_default!r}"
        assert p.help and "\n" not in p.help
    assert set(pyod_adapter.FIXED) & set(cls.declaration.names()) == set()  # n_jobs / verbose are fixed


def test_help_lines_are_taken_from_pyods_docstrings():
    knn = {p.name: p for p in registry.declaration("knn")}
    assert knn["n_neighbors"].help.startswith("Number of neighbors")
    assert knn["method"].choices == ("largest", "mean", "median")
    gmm = {p.name: p for p in registry.declaration("gmm")}
    assert gmm["max_iter"].help == "The number of EM iterations to perform"


@pytest.mark.parametrize("name", ["ecod", "copod"])
def test_ecdf_detectors_score_a_new_row_as_pyod_scores_it_alone(name):
    """PyOD concatenates new rows with the training rows, so its score of a row depends on the batch; ours is
    the score PyOD gives the row when it is scored alone, whatever else is scored with it."""
    X, T = skewed(300), skewed(40, seed=1)
    ours = registry.create(name).fit(X)
    theirs = pyod_adapter.pyod_class(ours.pyod_spec.target)().fit(X)
    alone = np.array([theirs.decision_function(T[i:i + 1])[0] for i in range(len(T))])
    np.testing.assert_allclose(ours.decision_function(T), alone, rtol=1e-10)
    np.testing.assert_allclose(ours.decision_scores_, theirs.decision_scores_, rtol=1e-12)  # training: PyOD's own
    # ours is batch invariant; PyOD's is not (the reason for the adapter)
    np.testing.assert_array_equal(ours.decision_function(T[:7]), ours.decision_function(T)[:7])
    assert not np.allclose(theirs.decision_function(T[:7]), alone[:7], rtol=1e-10)


def test_ecod_formula_against_a_direct_count():
    X, T = skewed(200), skewed(5, seed=2)
    m = registry.create("ecod").fit(X)
    n = len(X)
    from scipy.stats import skew

    s = np.sign(skew(X, axis=0))
    expected = []
    for x in T:
        left = -np.log(((X <= x).sum(0) + 1) / (n + 1))
        right = -np.log(((X >= x).sum(0) + 1) / (n + 1))
        auto = np.where(s < 0, left, right)
        expected.append(np.maximum(auto, np.maximum(left, right)).sum())
    np.testing.assert_allclose(m.decision_function(T), expected, rtol=1e-10)


@pytest.mark.parametrize("name", CLASSICAL)
def test_planted_outliers_rank_first(name):
    """Wide rows planted among N(0, I) rows rank high at PyOD's defaults (Sampling's 20-row subset is the
    weakest here, at 0.87)."""
    X, y = planted()
    m = registry.create(name).fit(X)
    assert metrics.auroc(y, m.decision_scores_) > (0.8 if name == "sampling" else 0.9)
    assert m.decision_function(X[y == 1]).mean() > m.decision_function(X[y == 0]).mean()


def test_pyods_alad_is_seeded_and_scored_in_eval_mode():
    """PyOD 3.6.7's ALAD shuffles with the global NumPy generator and scores with dropout active: the adapter
    fits it seeded and scores in eval mode, so two fits agree and a row's score does not depend on its batch."""
    X, _ = planted(120)
    kw = dict(epochs=20, batch_size=32)
    a = registry.create("pyod-alad", **kw).fit(X)
    b = registry.create("pyod-alad", **kw).fit(X)
    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X))
    np.testing.assert_allclose(a.decision_function(X[:5]), a.decision_function(X)[:5], rtol=1e-6)
    assert not a.estimator_.enc.training
    np.testing.assert_allclose(a.decision_scores_, a.decision_function(X), rtol=1e-6)
    state = np.random.get_state()[1].copy()
    registry.create("pyod-alad", **kw).fit(X)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # the global generator is left as it was


def test_sizes_beyond_the_data_are_clipped_and_small_data_refused_with_a_message():
    X, _ = planted(30)
    assert np.isfinite(registry.create("knn", n_neighbors=500).fit(X[:10]).decision_scores_).all()
    with pytest.raises(InputError, match="ABOD needs at least 4 training rows, got 3"):
        registry.create("abod").fit(X[:3])


def test_a_refusal_by_pyod_is_one_clear_message():
    X, _ = planted(60)
    with pytest.raises(InputError, match="PyOD's GMM could not fit these data"):
        registry.create("gmm", n_components=1, reg_covar=-1.0).fit(X)


def test_the_adapter_classes_are_the_registered_ones():
    from odcore.models.pyod_adapter import OCSVM, IForest

    assert IForest is registry.get_class("iforest") and OCSVM is registry.get_class("ocsvm")


def test_importing_the_adapter_imports_no_pyod_module():
    import subprocess
    import sys

    code = ("import sys, odcore.models.pyod_adapter, odcore.models.registry as r; r.info('ecod'); "
            "print(any(m.startswith('pyod') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_save_load_refits_to_identical_scores(tmp_path):
    X, _ = planted(80)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = registry.create("pyod-autoencoder", epoch_num=2, batch_size=16).fit(X)
    m.save(tmp_path / "m")
    r = type(m).load(tmp_path / "m")
    np.testing.assert_allclose(r.decision_function(X), m.decision_function(X), rtol=1e-6)
