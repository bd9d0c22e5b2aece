"""``ensemble`` and ``auto``: standardised scores combined by published rules, a choice made without labels,
and the report that says what was chosen and why."""

import numpy as np
import pytest

from odcore import metrics
from odcore.errors import InputError
from odcore.models import auto, ensemble, registry
from odcore.runs.spec import resolve

FAST = "iforest,knn,hbos,ecod"


def planted(n=400, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = np.r_[rng.normal(size=(n, d)), rng.normal(size=(n // 20, d)) * 5].astype(np.float32)
    return X, np.r_[np.zeros(n), np.ones(n // 20)]


@pytest.fixture(scope="module")
def fitted():
    X, y = planted()
    return X, y, registry.create("ensemble", detectors=FAST).fit(X)


def test_zscore_mean_is_the_mean_of_each_members_training_standardised_scores():
    X, _ = planted()
    m = registry.create("ensemble", detectors=FAST, combine="mean").fit(X)
    T = planted(30, seed=3)[0]
    direct = []
    for member in m.members_:
        train = member.decision_scores_
        direct.append((member.decision_function(T) - train.mean()) / train.std())
    np.testing.assert_allclose(m.decision_function(T), np.mean(direct, axis=0), rtol=1e-10)
    np.testing.assert_allclose(m.member_scores(T)[:, 0], m.members_[0].decision_function(T))


def test_rank_standardisation_is_the_share_of_training_scores_at_or_below():
    S = np.array([[1.0, 10.0], [2.0, 30.0], [3.0, 20.0], [4.0, 40.0]])
    stats = ensemble.standardizer_stats(S, "rank")
    Z = ensemble.standardize(np.array([[2.5, 30.0], [9.0, 0.0]]), "rank", stats)
    np.testing.assert_array_equal(Z, [[0.5, 0.75], [1.0, 0.0]])


def test_aom_and_moa_follow_aggarwal_and_sathe():
    Z = np.array([[1.0, 3.0, 0.0, 2.0]])
    groups = [np.array([0, 1]), np.array([2, 3])]
    assert ensemble.combine(Z, "aom", groups=groups)[0] == pytest.approx((3 + 2) / 2)  # mean of bucket maxima
    assert ensemble.combine(Z, "moa", groups=groups)[0] == pytest.approx(max(2.0, 1.0))  # max of bucket means
    assert ensemble.combine(Z, "max")[0] == 3.0 and ensemble.combine(Z, "mean")[0] == pytest.approx(1.5)


def test_select_keeps_members_that_agree_with_the_target_and_drops_the_contrarian():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=500)
    Z = np.column_stack([truth + 0.3 * rng.normal(size=500) for _ in range(4)] + [-truth])
    w, corr = ensemble.select_members((Z - Z.mean(0)) / Z.std(0), contamination=0.1)
    assert w[4] == 0 and w[:4].sum() >= 1 and w[int(np.argmax(corr))] == 1  # the best-correlated one starts
    assert corr[4] < 0 < min(corr[:4])


def test_ensembles_rank_planted_outliers_first(fitted):
    X, y, m = fitted
    assert metrics.auroc(y, m.decision_scores_) > 0.98
    a = registry.create("auto", candidates=FAST + ",lof").fit(X)
    assert metrics.auroc(y, a.decision_scores_) > 0.98


def test_every_combination_rule_gives_finite_batch_invariant_scores(fitted):
    X, _, _ = fitted
    T = planted(40, seed=5)[0]
    for how in ensemble.COMBINE:
        for std in ensemble.STANDARDIZE:
            m = registry.create("ensemble", detectors="knn,hbos,ecod", combine=how, standardize=std).fit(X)
            s = m.decision_function(T)
            assert np.isfinite(s).all()
            np.testing.assert_array_equal(m.decision_function(T[:9]), s[:9])


def test_the_report_names_members_rule_and_agreement(fitted):
    _, _, m = fitted
    rep = m.report()
    assert rep["summary"] == ("ensemble: average of maxima over 2 buckets of the zscore scores of 4 detector(s): "
                              "iforest, knn, hbos, ecod")
    assert rep["used"] == ["iforest", "knn", "hbos", "ecod"]
    A = np.array(rep["agreement"]["matrix"])
    assert A.shape == (4, 4) and np.allclose(A, A.T) and np.allclose(np.diag(A), 1)
    assert 0 < rep["mean_agreement"] <= 1 and "agreement (Spearman" in rep["lines"][1]
    assert [r["name"] for r in rep["members"]] == rep["used"] and all(r["fit_seconds"] >= 0 for r in rep["members"])
    assert [r["member"] for r in m.history_] == rep["used"]  # one progress record per member


def test_agreement_is_spearmans_rank_correlation():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(1)
    S = rng.normal(size=(200, 3))
    S[:, 1] = S[:, 0] ** 3 + 0.1 * rng.normal(size=200)
    np.testing.assert_allclose(ensemble.spearman_matrix(S), spearmanr(S).statistic, atol=1e-12)


def test_centrality_keeps_the_agreeing_candidates_and_says_why_the_others_were_left_out():
    A = np.array([[1.0, 0.8, 0.7, 0.75, -0.2],
                  [0.8, 1.0, 0.75, 0.7, -0.1],
                  [0.7, 0.75, 1.0, 0.8, -0.3],
                  [0.75, 0.7, 0.8, 1.0, -0.2],
                  [-0.2, -0.1, -0.3, -0.2, 1.0]])
    np.testing.assert_allclose(auto.centrality(A)[0], (0.8 + 0.75) / 2)  # mean of its 2 nearest candidates
    w, reasons = auto.choose(A, min_centrality=0.2, outlier_mad=2.0, redundant=0.95)
    assert list(w) == [1, 1, 1, 1, 0] and "disagrees with the other candidates" in reasons[4]
    # an outlier among the centralities is left out even above the floor
    B = np.full((5, 5), 0.8)
    B[4, :4] = B[:4, 4] = 0.45
    B[0, 1] = B[1, 0] = 0.82
    np.fill_diagonal(B, 1.0)
    w, reasons = auto.choose(B, min_centrality=0.2, outlier_mad=2.0, redundant=0.95)
    assert list(w) == [1, 1, 1, 1, 0] and "is an outlier" in reasons[4]
    redundant = np.full((3, 3), 0.99)
    np.fill_diagonal(redundant, 1.0)
    w, reasons = auto.choose(redundant, min_centrality=0.2, outlier_mad=2.0, redundant=0.95)
    assert w.sum() == 1 and "used alone" in reasons[1]


def test_auto_uses_no_labels_and_reports_its_reasoning():
    X, y = planted()
    a = registry.create("auto", candidates=FAST).fit(X)
    b = registry.create("auto", candidates=FAST).fit(X, y=1 - y)  # labels never reach it (uses_labels is False)
    np.testing.assert_array_equal(a.decision_scores_, b.decision_scores_)
    rep = a.report()
    assert rep["summary"].startswith("auto chose") and "no labels used" in rep["summary"]
    assert sum(line.startswith("  ") and "centrality" in line for line in rep["lines"]) == 4  # one per candidate
    assert set(rep["used"]) <= set(FAST.split(","))


def test_save_load_keeps_every_member_and_stores_the_shared_rows_once(fitted, tmp_path):
    X, _, m = fitted
    m.save(tmp_path / "m")
    r = type(m).load(tmp_path / "m")
    np.testing.assert_array_equal(r.decision_function(X), m.decision_function(X))
    assert r.report() == m.report() and r.member_names_ == m.member_names_
    from safetensors import safe_open

    with safe_open(str(tmp_path / "m" / "weights.safetensors"), "np") as f:
        stored = [k for k in f.keys() if k.endswith("X_train_")]
    assert len(stored) == 1 and len(m.member_aliases_) == len(m.members_) - 1  # one copy of the rows, not four


@pytest.mark.parametrize("detectors, match", [
    ("iforest,nope", "names 'nope', which is not a registered method"),
    ("iforest,ensemble", "itself a combination"),
    ("waldo", "needs labelled positives or labels"),
    (" , ", "must name at least one detector"),
])
def test_bad_members_are_refused_before_fitting(detectors, match):
    with pytest.raises(InputError, match=match):
        registry.create("ensemble", detectors=detectors)


def test_the_run_records_the_report(tmp_path):
    from odcore.runs import RunSpec, RunStore, execute

    store = RunStore(tmp_path / "runs")
    res = execute(resolve(RunSpec("breast-cancer", "auto", params={"candidates": FAST}), store=store), store=store)
    assert res["report"]["summary"].startswith("auto chose")
    assert store.get(res["run_id"]).config["report"]["lines"] == res["report"]["lines"]


# ---------------------------------------------------------------------------- Excess-Mass / Mass-Volume
def test_mass_volume_and_excess_mass_prefer_the_true_density_over_its_reverse():
    """Rows from N(0, 0.1^2) in the unit square's centre: scoring by the true density (normality = -distance from
    the centre) keeps 90-99.9 % of the held-out mass in a small disc (MV ~ pi * (0.21 .. 0.37)^2), the reverse
    score needs almost the whole square; the Excess-Mass curve of the true density lies above."""
    rng = np.random.default_rng(0)
    held = 0.5 + 0.1 * rng.normal(size=(2000, 2))
    unif = rng.random((20000, 2))

    def normality(P):
        return -np.linalg.norm(P - 0.5, axis=1)

    good = auto.mass_volume_curves(normality(held), normality(unif))
    bad = auto.mass_volume_curves(-normality(held), -normality(unif), t_max=good["t_max"])
    assert 0.15 < good["mv"] < 0.45 and bad["mv"] > 0.9, (good, bad)
    assert good["em"] > bad["em"] + 0.1, (good, bad)
    # MV(alpha) is the volume of the smallest level set holding alpha of the mass: for the disc, pi r_alpha^2
    r90 = np.quantile(np.linalg.norm(held - 0.5, axis=1), 0.9)
    one = auto.mass_volume_curves(normality(held), normality(unif), n_alpha=1)  # alpha = 0.9 only
    assert abs(one["mv"] - np.pi * r90 ** 2) < 0.01, (one["mv"], np.pi * r90 ** 2)


def test_em_mv_ranks_a_detector_that_sees_the_structure_above_one_that_does_not():
    """A ring: kNN's level sets follow it, a Gaussian-like marginal score (ECOD) fills the hole; with held-out
    ring rows the criteria rank kNN first on both curves."""
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 2 * np.pi, 1500)
    X = (np.c_[np.cos(a), np.sin(a)] + 0.05 * rng.normal(size=(1500, 2))).astype(np.float32)
    crit = auto.em_mv_scores(X[:1000], X[1000:], ["knn", "ecod"], lambda n: registry.create(n), n_uniform=5000,
                             max_features=5, n_subsets=1, seed=0)
    assert crit["em_rank"][0] == 1 and crit["mv_rank"][0] == 1, crit
    assert crit["mv"][0] < crit["mv"][1] and crit["em"][0] > crit["em"][1]


def test_em_mv_leaves_out_columns_without_a_density_when_asked():
    rng = np.random.default_rng(3)
    X = np.c_[rng.normal(size=(300, 3)), rng.integers(0, 2, (300, 2))].astype(np.float32)  # two binary columns
    make = lambda n: registry.create(n)  # noqa: E731
    kw = dict(n_uniform=500, max_features=2, n_subsets=3, seed=0)
    assert list(auto.em_mv_scores(X[:200], X[200:], ["knn", "ecod"], make, **kw)["columns"]) == [0, 1, 2, 3, 4]
    dense = auto.em_mv_scores(X[:200], X[200:], ["knn", "ecod"], make, min_distinct=10, **kw)
    assert list(dense["columns"]) == [0, 1, 2]
    binary = X[:, 3:]  # no column has 10 values: all are kept
    assert len(auto.em_mv_scores(binary[:200], binary[200:], ["knn"], make, min_distinct=10, **kw)["columns"]) == 2


# ---------------------------------------------------------------------------- synthetic anomaly injection
def test_injected_rows_are_the_three_kinds_of_anomaly():
    rng = np.random.default_rng(5)
    F = np.c_[rng.normal(size=2000), rng.normal(size=2000) * 3 + 10].astype(np.float32)
    F[:, 1] += 2 * F[:, 0]  # two dependent columns
    H = F[:500]
    glob = auto.injected_rows("global", F, H, np.random.default_rng(0))
    lo, hi = F.min(axis=0), F.max(axis=0)
    pad = 0.1 * (hi - lo)
    assert glob.shape == H.shape and (glob >= lo - pad - 1e-5).all() and (glob <= hi + pad + 1e-5).all()
    assert ((glob < lo) | (glob > hi)).any()  # the widened box reaches past the rows
    dep = auto.injected_rows("dependency", F, H, np.random.default_rng(0))
    for j in range(2):  # every value is a value of its own column ...
        assert np.isin(dep[:, j], F[:, j]).all()
    assert abs(np.corrcoef(dep.T)[0, 1]) < 0.15 < np.corrcoef(F.T)[0, 1]  # ... and the dependence is gone
    loc = auto.injected_rows("local-0.5", F, H, np.random.default_rng(0))
    np.testing.assert_allclose((loc - H).std(axis=0), 0.5 * F.std(axis=0), rtol=0.1)
    with pytest.raises(ValueError, match="unknown injection type"):
        auto.injected_rows("clustered", F, H, rng)


def test_injection_ranks_a_detector_that_sees_the_structure_above_one_that_does_not():
    """A ring: rows pushed off it (local) or with their columns drawn apart (dependency) fall in the hole or
    beside the ring, where kNN sees them and a per-column score (ECOD) does not."""
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 2 * np.pi, 1500)
    X = (np.c_[np.cos(a), np.sin(a)] + 0.05 * rng.normal(size=(1500, 2))).astype(np.float32)
    crit = auto.injection_scores(X[:1000], X[1000:], ["knn", "ecod"], lambda n: registry.create(n), seed=0)
    assert crit["rank"][0] == 1 and crit["rank"][1] == 2, crit
    assert crit["auroc"]["dependency"][0] > 0.8 > crit["auroc"]["dependency"][1]


@pytest.mark.parametrize("criterion, cited, per_candidate", [("em-mv", "Goix 2016", "Excess-Mass rank"),
                                                              ("injection", "Goswami et al. 2023", "dependency")])
def test_auto_on_clean_rows_chooses_one_candidate_and_says_why(criterion, cited, per_candidate):
    rng = np.random.default_rng(2)
    a = rng.uniform(0, 2 * np.pi, 800)
    X = (np.c_[np.cos(a), np.sin(a), 0.1 * rng.normal(size=(800, 1))] + 0.05 * rng.normal(size=(800, 3)))
    m = registry.create("auto", candidates="knn,ecod", criterion=criterion).fit(X.astype(np.float32))
    assert m.weights_ == [1.0, 0.0]
    rep = m.report()
    assert rep["summary"].startswith("auto chose knn alone") and cited in rep["summary"]
    assert any(per_candidate in line and "chosen" in line for line in rep["lines"])
    T = X[:20].astype(np.float32)
    knn = m.members_[0].decision_scores_  # the chosen member alone, on its training scores' z-scale
    np.testing.assert_allclose(m.decision_function(T),
                               (m.members_[0].decision_function(T) - knn.mean()) / knn.std(), rtol=1e-6)


def test_runs_on_clean_training_rows_get_the_injection_criterion():
    from odcore import data
    from odcore.runs.spec import RunSpec, resolve

    assert data.clean_training("novelty") and data.clean_training("one-vs-rest", {"inlier_classes": [0]})
    assert not data.clean_training("unsupervised") and not data.clean_training("one-vs-rest", {"train_on": "all"})
    assert resolve(RunSpec("breast-cancer", "auto", protocol="novelty"), split=False).params["criterion"] == \
        "injection"
    assert "criterion" not in resolve(RunSpec("breast-cancer", "auto"), split=False).params  # declared: centrality
    assert registry.resolve_params("auto", {"criterion": "centrality"}, seed=0, clean_rows=True)["criterion"] == \
        "centrality"
    row = next(r for r in registry.param_table("auto") if r["name"] == "criterion")
    assert "training rows all normal" in row["help"] and "'injection'" in row["help"]
