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

**When the training rows are all normal** (the novelty protocols: runs get ``criterion="em-mv"`` by
default, ``Param.clean_default``), held-out training rows can judge a candidate directly, without
labels: Goix's Excess-Mass and Mass-Volume curves (Goix, *How to evaluate the quality of unsupervised
anomaly detection algorithms?*, ICML 2016 Anomaly Detection Workshop, arXiv:1607.01152) measure how
little volume a scoring function needs to hold most of the held-out mass (:func:`mass_volume_curves`).
Each candidate is fitted on ``1 - heldout_share`` of the rows (at most ``criterion_rows``), the held-out
rows estimate the mass and uniform points in the rows' bounding box the volume; above ``max_features``
dimensions both are averaged over ``n_subsets`` random feature subsets (Goix, section 4), and the
candidate with the best mean of its Excess-Mass and Mass-Volume ranks is used alone, refitted on every
row. Under contamination the held-out rows hold anomalies too and the curves reward detectors that
cover them, so model centrality stays the rule there.
"""

from __future__ import annotations

import math
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
                 max_features: int, n_subsets: int, seed: int) -> dict[str, np.ndarray]:
    """Excess-Mass and Mass-Volume criteria of each candidate (``make(name)`` an unfitted detector) fitted on
    ``fit_rows`` and judged on ``heldout_rows`` (rows of the data the candidates did not see) and ``n_uniform``
    points drawn uniformly in the bounding box of the fit rows. In more than ``max_features`` dimensions the
    volume cannot be estimated by sampling, so, as Goix (2016, section 4) does, the criteria are averaged over
    ``n_subsets`` random subsets of ``max_features`` features (each candidate refitted on each subset).
    Returns ``{"em": (m,), "mv": (m,), "em_rank": (m,), "mv_rank": (m,)}``: the criteria averaged over the
    subsets, and each candidate's mean rank among the candidates (1 = best) over the subsets."""
    from scipy.stats import rankdata

    rng = np.random.default_rng(seed)
    d = fit_rows.shape[1]
    subsets = ([np.arange(d)] if d <= max_features else
               [np.sort(rng.choice(d, max_features, replace=False)) for _ in range(int(n_subsets))])
    m = len(names)
    em, mv = np.zeros((len(subsets), m)), np.zeros((len(subsets), m))
    for k, cols in enumerate(subsets):
        F, H = fit_rows[:, cols], heldout_rows[:, cols]
        lo, hi = F.min(axis=0), F.max(axis=0)
        U = (lo + (hi - lo) * rng.random((int(n_uniform), len(cols)))).astype(np.float32)
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
    return {"em": em.mean(axis=0), "mv": mv.mean(axis=0), "em_rank": em_rank, "mv_rank": mv_rank}


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
        Param("criterion", "centrality", "'centrality' (model centrality: for training rows that may hold anomalies) "
              "or 'em-mv' (Goix's Excess-Mass and Mass-Volume curves on held-out training rows: for training rows "
              "that are all normal)", kind="str", choices=("centrality", "em-mv"), clean_default="em-mv"),
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
        if self.criterion == "em-mv" and len(names) > 1:
            return self._choose_em_mv(names)
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

    def _choose_em_mv(self, names: list[str]) -> tuple[np.ndarray, dict[str, Any]]:
        """Criterion 'em-mv': the candidate whose Excess-Mass and Mass-Volume ranks (module docstring,
        :func:`em_mv_scores`) are best on average over the feature subsets; it is used alone."""
        X = self._X_fit
        rng = np.random.default_rng(int(self.random_state) + 7919)
        perm = rng.permutation(X.shape[0])
        n_h = min(max(2, int(round(float(self.heldout_share) * X.shape[0]))), X.shape[0] - 2)
        cap = int(self.criterion_rows)
        held, fit = X[perm[:n_h]][:max(2, cap // 2)], X[perm[n_h:]][:cap]
        crit = em_mv_scores(fit, held, names, self._make_member, n_uniform=int(self.n_uniform),
                            max_features=int(self.max_features), n_subsets=int(self.n_subsets),
                            seed=int(self.random_state))
        rank = (crit["em_rank"] + crit["mv_rank"]) / 2
        best = int(np.argmin(rank))
        w = np.zeros(len(names))
        w[best] = 1.0
        reasons = ["chosen: best mean of its Excess-Mass and Mass-Volume ranks" if i == best else
                   f"left out: mean rank {rank[i]:.2f} against {rank[best]:.2f}" for i in range(len(names))]
        text = [f"auto chose {names[best]} alone (Excess-Mass / Mass-Volume curves on {len(held)} held-out training "
                f"rows, Goix 2016; no labels used)"]
        text += [f"  {n}: Excess-Mass rank {crit['em_rank'][i]:.2f}, Mass-Volume rank {crit['mv_rank'][i]:.2f}, "
                 f"{reasons[i]}" for i, n in enumerate(names)]
        return w, {"em_rank": [float(v) for v in crit["em_rank"]], "mv_rank": [float(v) for v in crit["mv_rank"]],
                   "reason": reasons, "reasons": text}
