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
    )
    kind: ClassVar[str] = "auto"
    members_param: ClassVar[str] = "candidates"

    def _choose(self, names: list[str], S: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
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
