"""``auto``: pick a detector or an ensemble for a dataset without looking at its labels.

Unsupervised model selection has no validation labels to rank models by. The rule here is *model
centrality* (Ma, Zhao, Akoglu, *The need for unsupervised outlier model selection: a review and
evaluation of internal evaluation strategies*, ACM SIGKDD Explorations 25(1), 2023, section 3.3,
"MC"): a detector whose ranking of the rows agrees with the rankings of the other candidates is more
likely to be right than one that disagrees with all of them. That review (and our development suite,
BENCHMARKS.md) also finds that picking the single most central model is not better than averaging;
so centrality is used to *leave out* the candidates that are broken on these data, and the rest are
combined. Steps, on the training rows only:

1. fit every candidate and rank the rows by each one's scores (a candidate that refuses the data is
   left out with its message);
2. agreement ``rho_ij``: the Spearman rank correlation of candidates ``i`` and ``j``'s training scores;
3. centrality of ``i``: the mean of its ``k = ceil((m - 1) / 2)`` largest ``rho_ij`` (its nearest
   candidates, as MC uses the nearest models);
4. leave out a candidate whose centrality is below ``min_centrality`` or an outlier among the
   candidates' centralities (below the median by more than ``outlier_mad`` scaled MADs,
   ``1.4826 * median |c - median c|``);
5. if the kept ones agree almost perfectly (mean ``rho`` >= ``redundant``) use the most central one alone
   (the others would add time, not information), else combine the kept ones as ``ensemble`` does
   (``standardize``, ``combine``).

``report()`` shows the candidates with their centrality, which were kept or left out and why, the
agreement matrix and the final choice; the Train page and ``odcore train`` print it.

**When the training rows are all normal** (the novelty protocols: runs get ``criterion="injection"`` by
default, ``Param.clean_default``), held-out training rows can judge a candidate directly, without
labels. ``injection`` (:func:`injection_scores`): each candidate is fitted on ``1 - heldout_share`` of the rows
and scored on the held-out rows and on synthetic anomalies made from the training rows - global (uniform in the
rows' widened box), dependency (each column drawn on its own) and local (held-out rows plus half a standard
deviation of noise per column), ADBench's kinds of anomaly (Han et al., NeurIPS 2022, section 4.3) - and the
candidate with the best mean rank of its three AUROCs is used alone, refitted on every row (surrogate labels by
injection: Goswami et al., ICLR 2023). It was chosen on the development suite before the check outside it
(BENCHMARKS.md). ``em-mv``: Goix's Excess-Mass and Mass-Volume curves (Goix, *How to evaluate the quality of
unsupervised anomaly detection algorithms?*, ICML 2016 Anomaly Detection Workshop, arXiv:1607.01152) measure how
little volume a scoring function needs to hold most of the held-out mass (:func:`mass_volume_curves`).
Each candidate is fitted on ``1 - heldout_share`` of the rows (at most ``criterion_rows``), the held-out
rows estimate the mass and a reference sample the "volume": by default (``reference="marginals"``) the
product of the columns' empirical marginals (each column drawn independently from the rows: the reference
sample of Hastie, Tibshirani and Friedman, *The Elements of Statistical Learning*, 2009, section 14.2.4), so a
candidate is judged on all columns by how little of that mass its level sets need to hold the held-out rows;
with ``reference="uniform"`` (Goix's own) uniform points in the rows' bounding box, averaged over
``n_subsets`` random subsets of ``max_features`` columns above that many dimensions (Goix, section 4). The
candidate with the best mean of its Excess-Mass and Mass-Volume ranks is used alone, refitted on every row.
The reference was chosen on the development suite before the check outside it (BENCHMARKS.md). Under
contamination the held-out rows hold anomalies too and the curves reward detectors that cover them, so model
centrality stays the rule there.
"""

from __future__ import annotations

import math
import zlib
from typing import Any, ClassVar

import numpy as np

from odcore.models.ensemble import DEFAULT_MEMBERS, ScoreCombination, spearman_matrix
from odcore.models.params import Param

#: candidates by default: the ensemble's members (one detector per kind: neighbour distance, local density,
#: isolation, marginal tails)
DEFAULT_CANDIDATES = DEFAULT_MEMBERS


def centrality(agreement: np.ndarray) -> np.ndarray:
    """Model centrality of each candidate: the mean of its ``ceil((m - 1) / 2)`` largest agreements with the
    other candidates (step 3 of the module docstring)."""
    A = np.asarray(agreement, dtype=np.float64)
    m = A.shape[0]
    if m == 1:
        return np.ones(1)
    k = max(1, math.ceil((m - 1) / 2))
    out = np.empty(m)
    for i in range(m):
        others = np.sort(np.delete(A[i], i))[::-1]
        out[i] = others[:k].mean()
    return out


def choose(agreement: np.ndarray, *, min_centrality: float, outlier_mad: float,
           redundant: float) -> tuple[np.ndarray, list[str]]:
    """0/1 weights of the candidates (steps 3-5 of the module docstring) and one reason per candidate."""
    A = np.asarray(agreement, dtype=np.float64)
    c = centrality(A)
    m = len(c)
    med = float(np.median(c))
    spread = 1.4826 * float(np.median(np.abs(c - med)))
    low = med - outlier_mad * spread
    keep = (c >= min_centrality) & (c >= low - 1e-12)
    if not keep.any():
        keep[int(np.argmax(c))] = True
    reasons = []
    for i in range(m):
        if keep[i]:
            reasons.append("kept")
        elif c[i] < min_centrality:
            reasons.append(f"left out: it disagrees with the other candidates (centrality below {min_centrality:g})")
        else:
            reasons.append(f"left out: its agreement with the others is an outlier (below {low:.2f}, the median "
                           f"{med:.2f} minus {outlier_mad:g} scaled MADs)")
    kept = [int(i) for i in np.argsort(-c, kind="stable") if keep[i]]
    if len(kept) > 1:
        sub = A[np.ix_(kept, kept)]
        mean_kept = (sub.sum() - len(kept)) / (len(kept) * (len(kept) - 1))
        if mean_kept >= redundant:
            for i in kept[1:]:
                reasons[i] = (f"left out: the kept candidates agree {mean_kept:.2f} >= {redundant:g}; the most central "
                              "one is used alone")
            kept = kept[:1]
    w = np.zeros(m)
    w[kept] = 1.0
    return w, reasons


#: Goix (2016): the mass range of the Mass-Volume criterion, the level of the Excess-Mass one
MV_ALPHAS = (0.9, 0.999)
EM_LEVEL = 0.9


def mass_volume_curves(normal_heldout: np.ndarray, normal_uniform: np.ndarray, *, n_alpha: int = 100,
                       t_max: float | None = None, n_t: int = 200) -> dict[str, Any]:
    """Empirical Mass-Volume and Excess-Mass curves of one scoring function (Goix, *How to evaluate the quality
    of unsupervised anomaly detection algorithms?*, ICML 2016 Anomaly Detection Workshop, arXiv:1607.01152).

    ``normal_heldout``: the *normality* scores (higher = more normal) of held-out rows of the data, which
    estimate the mass ``P(s >= u)``; ``normal_uniform``: those of points drawn uniformly in a box around the
    data, which estimate the volume ``Leb(s >= u)`` as a share of the box's volume. With ``s`` ranking rows,

        MV_s(alpha) = inf_u { Leb(s >= u) : P(s >= u) >= alpha }    (lower is better),
        EM_s(t)     = sup_u { P(s >= u) - t Leb(s >= u) }           (higher is better),

    and the criteria are their integrals: ``mv`` over ``alpha`` in ``[0.9, 0.999]`` (:data:`MV_ALPHAS`, the
    mean over ``n_alpha`` levels), ``em`` over ``t`` in ``[0, t_max]`` (the mean over ``n_t`` points), where
    ``t_max`` defaults to ``EM_s^{-1}(0.9) = inf {t : EM_s(t) <= 0.9}`` (:data:`EM_LEVEL`); candidates compared
    on the same data must share ``t_max`` (:func:`em_mv_scores` passes the largest of theirs). Returns ``mv``,
    ``em``, ``t_max`` (its own ``EM^{-1}(0.9)``).
    """
    h = np.sort(np.asarray(normal_heldout, dtype=np.float64))
    v = np.sort(np.asarray(normal_uniform, dtype=np.float64))
    # MV: the level u_alpha keeping a share alpha of the held-out mass, and the volume above it
    alphas = np.linspace(*MV_ALPHAS, n_alpha)
    u = np.quantile(h, 1.0 - alphas, method="lower")
    vol = 1.0 - np.searchsorted(v, u, side="left") / len(v)
    # EM: the sup over the thresholds u = every held-out score (mass and volume at or above each)
    mass_at = 1.0 - np.arange(len(h)) / len(h)
    vol_at = 1.0 - np.searchsorted(v, h, side="left") / len(v)

    def em(t: np.ndarray) -> np.ndarray:
        return np.maximum(0.0, (mass_at[None, :] - t[:, None] * vol_at[None, :]).max(axis=1))

    # EM(t) decreases from 1 (t = 0); its inverse at 0.9 by bisection on a doubling bracket
    lo, hi = 0.0, 1.0
    while em(np.array([hi]))[0] > EM_LEVEL and hi < 1e12:
        lo, hi = hi, 2 * hi
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if em(np.array([mid]))[0] > EM_LEVEL else (lo, mid)
    own = hi
    ts = np.linspace(0.0, own if t_max is None else float(t_max), n_t)
    return {"mv": float(vol.mean()), "em": float(em(ts).mean()), "t_max": float(own)}


def em_mv_scores(fit_rows: np.ndarray, heldout_rows: np.ndarray, names: list[str], make, *, n_uniform: int,
                 max_features: int, n_subsets: int, seed: int, min_distinct: int = 1,
                 reference: str = "uniform") -> dict[str, np.ndarray]:
    """Excess-Mass and Mass-Volume criteria of each candidate (``make(name)`` an unfitted detector) fitted on
    ``fit_rows`` and judged on ``heldout_rows`` (rows of the data the candidates did not see) and ``n_uniform``
    points drawn uniformly in the bounding box of the fit rows. In more than ``max_features`` dimensions the
    volume cannot be estimated by sampling, so, as Goix (2016, section 4) does, the criteria are averaged over
    ``n_subsets`` random subsets of ``max_features`` features (each candidate refitted on each subset).
    The curves are defined for densities: with ``min_distinct`` > 1 the columns with fewer distinct values
    among the fit rows (one-hot, binary or count columns, whose uniform points fall where no row can be) are
    left out of the subsets, unless no column has that many.
    ``reference="marginals"`` measures the "volume" with another reference distribution instead: the product of
    the columns' empirical marginals, sampled by drawing each column independently from the fit rows (the
    reference sample of Hastie, Tibshirani and Friedman, *The Elements of Statistical Learning*, 2nd ed., 2009,
    section 14.2.4, "unsupervised as supervised learning"). Its points stay on the data's range in every
    dimension, so no feature subsets are needed: the candidates are judged once, on all columns, by how little
    of the reference mass their level sets need, i.e. how much of the rows' dependence structure they use.
    Returns ``{"em": (m,), "mv": (m,), "em_rank": (m,), "mv_rank": (m,), "columns"}``: the criteria averaged over
    the subsets, each candidate's mean rank among the candidates (1 = best) over the subsets, and the columns the
    subsets were drawn from."""
    from scipy.stats import rankdata

    rng = np.random.default_rng(seed)
    pool = np.arange(fit_rows.shape[1])
    if min_distinct > 1:
        dense = np.array([len(np.unique(fit_rows[:, j])) >= min_distinct for j in pool])
        pool = pool[dense] if dense.any() else pool
    subsets = ([pool] if len(pool) <= max_features or reference == "marginals" else
               [np.sort(rng.choice(pool, max_features, replace=False)) for _ in range(int(n_subsets))])
    m = len(names)
    em, mv = np.zeros((len(subsets), m)), np.zeros((len(subsets), m))
    for k, cols in enumerate(subsets):
        F, H = fit_rows[:, cols], heldout_rows[:, cols]
        if reference == "marginals":
            U = np.stack([F[rng.integers(0, len(F), int(n_uniform)), j] for j in range(F.shape[1])], axis=1)
        else:
            lo, hi = F.min(axis=0), F.max(axis=0)
            U = lo + (hi - lo) * rng.random((int(n_uniform), len(cols)))
        U = np.ascontiguousarray(U, dtype=np.float32)
        curves = []
        for name in names:
            det = make(name).fit(F)
            curves.append((-det.decision_function(H), -det.decision_function(U)))
        t_max = max(mass_volume_curves(h, u)["t_max"] for h, u in curves)
        for j, (h, u) in enumerate(curves):
            c = mass_volume_curves(h, u, t_max=t_max)
            em[k, j], mv[k, j] = c["em"], c["mv"]
    em_rank = np.mean([rankdata(-row) for row in em], axis=0)
    mv_rank = np.mean([rankdata(row) for row in mv], axis=0)
    return {"em": em.mean(axis=0), "mv": mv.mean(axis=0), "em_rank": em_rank, "mv_rank": mv_rank, "columns": pool}


#: synthetic anomaly types of criterion 'injection', after ADBench's (Han et al., *ADBench: anomaly detection
#: benchmark*, NeurIPS 2022, section 4.3): global, dependency and local (see :func:`injected_rows`)
INJECTION_TYPES = ("global", "dependency", "local-0.5")


def injected_rows(kind: str, fit_rows: np.ndarray, heldout_rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``len(heldout_rows)`` synthetic anomalies made from the training rows only: ``global`` uniform in the fit
    rows' box widened by 10% on each side (ADBench's alpha = 1.1); ``dependency`` each column drawn on its own
    from the fit rows (the product of the marginals: right values, broken dependence); ``local-s`` the held-out
    rows plus Gaussian noise of ``s`` of each column's standard deviation (near the data, off its shape)."""
    F, H = np.asarray(fit_rows, dtype=np.float32), np.asarray(heldout_rows, dtype=np.float32)
    n = len(H)
    if kind == "global":
        lo, hi = F.min(axis=0), F.max(axis=0)
        pad = 0.1 * (hi - lo)
        return (lo - pad + (hi - lo + 2 * pad) * rng.random((n, F.shape[1]))).astype(np.float32)
    if kind == "dependency":
        return np.stack([F[rng.integers(0, len(F), n), j] for j in range(F.shape[1])], axis=1)
    if kind.startswith("local-"):
        s = float(kind.split("-", 1)[1])
        return (H + s * F.std(axis=0) * rng.standard_normal(H.shape)).astype(np.float32)
    raise ValueError(f"unknown injection type {kind!r}; choose global, dependency or local-<s>")


def injection_scores(fit_rows: np.ndarray, heldout_rows: np.ndarray, names: list[str], make, *, seed: int,
                     types: tuple[str, ...] = INJECTION_TYPES) -> dict[str, Any]:
    """Criterion 'injection': each candidate (``make(name)`` an unfitted detector) fitted on ``fit_rows`` and
    judged by its AUROC of the held-out rows (normal) against synthetic anomalies of each type (:func:`injected_rows`),
    the surrogate labels of Goswami et al. (*Unsupervised model selection for time-series anomaly detection*, ICLR
    2023, section 3: synthetic anomaly injection). Returns ``{"auroc": {type: (m,)}, "rank": (m,)}``: the AUROCs
    and each candidate's mean rank over the types (1 = best; ties share their mean rank)."""
    from scipy.stats import rankdata

    from odcore import metrics

    dets = [make(n).fit(fit_rows) for n in names]
    held = [d.decision_function(heldout_rows) for d in dets]
    y = np.r_[np.zeros(len(heldout_rows)), np.ones(len(heldout_rows))]
    auroc = {}
    for kind in types:  # each type its own random stream: a type's rows do not depend on the others asked for
        Z = injected_rows(kind, fit_rows, heldout_rows, np.random.default_rng([int(seed), zlib.crc32(kind.encode())]))
        auroc[kind] = np.array([metrics.auroc(y, np.r_[h, d.decision_function(Z)]) for h, d in zip(held, dets)])
    rank = np.mean([rankdata(-auroc[k]) for k in types], axis=0)
    return {"auroc": auroc, "rank": rank}


class Auto(ScoreCombination):
    """A detector or an ensemble chosen per dataset by model centrality (module docstring), no labels used."""

    params = (
        Param("candidates", DEFAULT_CANDIDATES, "detectors to choose from: registered method names, comma-separated "
              "(each at its default parameters and the run's seed)", kind="str"),
        Param("min_centrality", 0.2, "candidates whose centrality (mean Spearman agreement with their nearest "
              "candidates) is below this are left out", low=-1.0, high=1.0),
        Param("outlier_mad", 2.0, "candidates whose centrality lies more than this many scaled MADs below the "
              "candidates' median are left out", low=0.0, high=100.0),
        Param("redundant", 0.95, "when the kept candidates agree at least this much (mean Spearman correlation), the "
              "most central one is used alone", low=0.0, high=1.0),
        # 'injection' chosen on the development suite's 12 ADBench files before the check outside it (BENCHMARKS.md,
        # 2 seeds): mean AUROC of the pick 0.8365 against 0.8308 for 'em-mv' (marginals) and 0.8250 for kNN alone
        Param("criterion", "centrality", "'centrality' (model centrality: for training rows that may hold anomalies), "
              "'injection' (the candidates' AUROC of held-out training rows against synthetic global, dependency and "
              "local anomalies: for training rows that are all normal) or 'em-mv' (Goix's Excess-Mass and "
              "Mass-Volume curves on held-out training rows)", kind="str",
              choices=("centrality", "injection", "em-mv"), clean_default="injection"),
        Param("heldout_share", 0.3, "criterion 'em-mv': share of the training rows held out to judge the candidates "
              "(fitted on the rest)", low=0.05, high=0.5),
        Param("criterion_rows", 2000, "criterion 'em-mv': at most this many rows fit the candidates (and half as many "
              "held-out rows judge them); the chosen detector is then fitted on every training row", kind="int",
              low=20, high=1_000_000),
        Param("n_uniform", 2000, "criterion 'em-mv': uniform points that estimate the volumes", kind="int", low=100,
              high=1_000_000),
        Param("max_features", 5, "criterion 'em-mv': above this many features the criteria are averaged over random "
              "subsets of this many (Goix 2016)", kind="int", low=1, high=100),
        Param("n_subsets", 10, "criterion 'em-mv': random feature subsets (when there are more than max_features)",
              kind="int", low=1, high=1000),
        # chosen on the development suite's 12 ADBench files before the check outside it (BENCHMARKS.md): mean AUROC
        # of the pick 0.8308 with 'marginals', 0.8257 with 'uniform', kNN alone 0.8250
        Param("reference", "marginals", "criterion 'em-mv': the measure of the volumes: 'marginals' (the product of "
              "the columns' marginals, all columns) or 'uniform' (Goix: uniform in the rows' box, on feature subsets)",
              kind="str", choices=("uniform", "marginals")),
        Param("min_distinct", 1, "criterion 'em-mv' with reference 'uniform': columns with fewer distinct values are "
              "left out of the feature subsets (1: none)", kind="int", low=1, high=1_000_000),
    )
    kind: ClassVar[str] = "auto"
    members_param: ClassVar[str] = "candidates"

    def _fit(self, X, y, *, X_pos, monitor, callbacks, cancel) -> None:
        self._X_fit = X  # the em-mv criterion refits the candidates on part of the rows
        try:
            super()._fit(X, y, X_pos=X_pos, monitor=monitor, callbacks=callbacks, cancel=cancel)
        finally:
            del self._X_fit

    def _choose(self, names: list[str], S: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        if self.criterion in ("em-mv", "injection") and len(names) > 1:
            return self._choose_heldout(names)
        A = spearman_matrix(S, seed=int(self.random_state))
        w, reasons = choose(A, min_centrality=float(self.min_centrality), outlier_mad=float(self.outlier_mad),
                            redundant=float(self.redundant))
        c = centrality(A)
        used = [n for n, v in zip(names, w) if v > 0]
        if len(used) == 1:
            why = f"auto chose {used[0]} alone"
        else:
            why = f"auto chose an ensemble of {len(used)}: {', '.join(used)}"
        text = [f"{why} (model centrality over {len(names)} candidates, Ma, Zhao and Akoglu 2023; no labels used)"]
        text += [f"  {n}: centrality {c[i]:.2f}, {reasons[i]}" for i, n in enumerate(names)]
        return w, {"centrality": [float(v) for v in c], "reason": reasons, "reasons": text}

    def _choose_heldout(self, names: list[str]) -> tuple[np.ndarray, dict[str, Any]]:
        """Criteria 'injection' and 'em-mv': the candidates fitted on part of the training rows and judged on the
        rest (:func:`injection_scores`, :func:`em_mv_scores`); the best one is used alone."""
        X = self._X_fit
        rng = np.random.default_rng(int(self.random_state) + 7919)
        perm = rng.permutation(X.shape[0])
        n_h = min(max(2, int(round(float(self.heldout_share) * X.shape[0]))), X.shape[0] - 2)
        cap = int(self.criterion_rows)
        held, fit = X[perm[:n_h]][:max(2, cap // 2)], X[perm[n_h:]][:cap]
        if self.criterion == "injection":
            crit = injection_scores(fit, held, names, self._make_member, seed=int(self.random_state))
            rank = crit["rank"]
            why = "best mean rank of its AUROC against the injected anomalies"
            how = (f"AUROC of {len(held)} held-out training rows against synthetic anomalies made from them: global = "
                   "uniform in the rows' box, dependency = columns drawn apart, local = rows plus half a standard "
                   "deviation of noise; Goswami et al. 2023")
            per = [", ".join(f"{k} {crit['auroc'][k][i]:.3f}" for k in INJECTION_TYPES) + ";"
                   for i in range(len(names))]
            saved = {"injection_auroc": {k: [float(v) for v in crit["auroc"][k]] for k in INJECTION_TYPES},
                     "injection_rank": [float(v) for v in rank]}
        else:
            crit = em_mv_scores(fit, held, names, self._make_member, n_uniform=int(self.n_uniform),
                                max_features=int(self.max_features), n_subsets=int(self.n_subsets),
                                seed=int(self.random_state), min_distinct=int(self.min_distinct),
                                reference=str(self.reference))
            rank = (crit["em_rank"] + crit["mv_rank"]) / 2
            why = "best mean of its Excess-Mass and Mass-Volume ranks"
            how = f"Excess-Mass / Mass-Volume curves on {len(held)} held-out training rows, Goix 2016"
            per = [f"Excess-Mass rank {crit['em_rank'][i]:.2f}, Mass-Volume rank {crit['mv_rank'][i]:.2f},"
                   for i in range(len(names))]
            saved = {"em_rank": [float(v) for v in crit["em_rank"]], "mv_rank": [float(v) for v in crit["mv_rank"]]}
        best = int(np.argmin(rank))
        w = np.zeros(len(names))
        w[best] = 1.0
        reasons = [f"chosen: {why}" if i == best else f"left out: mean rank {rank[i]:.2f} against {rank[best]:.2f}"
                   for i in range(len(names))]
        text = [f"auto chose {names[best]} alone ({how}; no labels used)"]
        text += [f"  {n}: {per[i]} {reasons[i]}" for i, n in enumerate(names)]
        return w, {**saved, "reason": reasons, "reasons": text}
