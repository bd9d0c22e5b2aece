"""``ensemble``: several detectors' standardised scores combined into one, without labels.

Each member is an ordinary registered detector fitted on the same rows. Its scores are standardised
with statistics of its *training* scores only (so a row's ensemble score never depends on the rows
scored beside it), then combined:

standardisation (``standardize``)
    ``zscore``: centred on the mean of the member's training scores, divided by their std (Aggarwal, Sathe, *Theoretical
    foundations and algorithms for outlier ensembles*, SIGKDD Explorations 17(1), 2015, section 4.1);
    ``robust``: ``(s - median) / IQR``; ``rank``: the share of training scores at or below ``s`` (the
    empirical CDF; it saturates at 1 above the largest training score).
combination (``combine``)
    ``mean``: the average (SUOD's and most ensembles' default; Zhao et al., *SUOD*, MLSys 2021);
    ``max``: the maximum; ``aom`` / ``moa``: average of maxima / maximum of averages over
    ``n_buckets`` random buckets of members (Aggarwal, Sathe 2015, section 4.2);
    ``select``: SELECT's vertical selection (Rayana, Akoglu, *Less is more: building selective anomaly
    ensembles*, ACM TKDD 10(4), 2016, section 4.1): the pseudo ground truth is the top ``contamination``
    share of the rows by the mean of all members' scores (1) against the rest (0); members are taken in
    order of their weighted Pearson correlation with it (each class weighing one half) and kept only
    while adding one raises the correlation of the kept members' mean (we cut the mean at the
    contamination share where the paper fits a mixture model to find the pseudo outliers).

``report()`` says what was combined and how much the members agree (Spearman rank correlation of
their training scores): the Train page and ``odcore train`` show it. ``auto`` (:mod:`odcore.models.auto`)
chooses the members for a dataset without labels.

Saved without pickle: each member's own record (its config and arrays) inside the ensemble's
safetensors file and JSON config.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np

from odcore.errors import FitCancelled, InputError
from odcore.models.base import RANDOM_STATE, BaseDetector
from odcore.models.capabilities import Capabilities
from odcore.models.params import Param

STANDARDIZE = ("zscore", "robust", "rank")
COMBINE = ("mean", "max", "aom", "moa", "select")
#: the members by default: one fast detector of each kind among ADBench's strongest (neighbour distance,
#: local density, isolation, marginal tails); chosen on the development suite (BENCHMARKS.md, "Label-free")
DEFAULT_MEMBERS = "knn,lof,iforest,ecod"
#: training rows used for the agreement matrix (Spearman on a seeded subsample beyond this)
AGREEMENT_ROWS = 5000


def member_names(text: str) -> list[str]:
    """The comma-separated method names of ``text``, stripped, in order, without repeats."""
    out: list[str] = []
    for part in str(text).split(","):
        name = part.strip()
        if name and name not in out:
            out.append(name)
    return out


def check_members(names: list[str], what: str) -> None:
    """Refuse unknown members, ensembles inside ensembles and members that need labels or positives."""
    from odcore.models import registry

    if not names:
        raise InputError(f"{what} must name at least one detector, e.g. {DEFAULT_MEMBERS!r}")
    valid = registry.available()
    for name in names:
        if name not in valid:
            raise InputError(f"{what} names {name!r}, which is not a registered method; choose from: "
                             f"{', '.join(valid)}")
        cls = registry.get_class(name)
        if issubclass(cls, ScoreCombination):
            raise InputError(f"{what} names {name!r}, itself a combination; name single detectors")
        if cls.needs_positives or cls.uses_labels:
            raise InputError(f"{what} names {name!r}, which needs labelled positives or labels; members learn from "
                             "the rows alone")


def standardizer_stats(train_scores: np.ndarray, how: str) -> dict[str, np.ndarray]:
    """Per-member statistics of the training scores ``(n, m)`` for :func:`standardize`."""
    S = np.asarray(train_scores, dtype=np.float64)
    if how == "zscore":
        loc, scale = S.mean(axis=0), S.std(axis=0)
    elif how == "robust":
        q25, loc, q75 = np.percentile(S, [25, 50, 75], axis=0)
        scale = q75 - q25
    elif how == "rank":
        return {"sorted": np.sort(S, axis=0)}
    else:  # pragma: no cover - checked by the declaration
        raise InputError(f"standardize must be one of {STANDARDIZE}, got {how!r}")
    return {"loc": loc, "scale": np.where(scale > 0, scale, 1.0)}


def standardize(scores: np.ndarray, how: str, stats: dict[str, np.ndarray]) -> np.ndarray:
    """Member scores ``(n, m)`` standardised by training statistics (see the module docstring)."""
    S = np.asarray(scores, dtype=np.float64)
    if how == "rank":
        ref = stats["sorted"]
        return np.stack([np.searchsorted(ref[:, j], S[:, j], side="right") / ref.shape[0]
                         for j in range(S.shape[1])], axis=1)
    return (S - stats["loc"]) / stats["scale"]


def buckets(m: int, n_buckets: int, seed: int) -> list[np.ndarray]:
    """``n_buckets`` (at most ``m``) disjoint random groups of the member indices (AOM / MOA)."""
    perm = np.random.default_rng(seed).permutation(m)
    return [b for b in np.array_split(perm, max(1, min(int(n_buckets), m))) if len(b)]


def combine(Z: np.ndarray, how: str, *, groups: list[np.ndarray] | None = None,
            weights: np.ndarray | None = None) -> np.ndarray:
    """One score per row from standardised member scores ``Z (n, m)``: mean, max, AOM, MOA, or the mean
    of the members with weight 1 (``select``; ``weights`` from :func:`select_members`)."""
    if how == "mean":
        return Z.mean(axis=1)
    if how == "max":
        return Z.max(axis=1)
    if how == "aom":
        return np.mean([Z[:, g].max(axis=1) for g in groups], axis=0)
    if how == "moa":
        return np.max([Z[:, g].mean(axis=1) for g in groups], axis=0)
    if how == "select":
        w = np.asarray(weights, dtype=np.float64)
        return Z @ w / w.sum()
    raise InputError(f"combine must be one of {COMBINE}, got {how!r}")  # pragma: no cover


def weighted_corr(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> float:
    """Pearson correlation of ``a`` and ``b`` with row weights ``w`` (0 when either is constant)."""
    w = w / w.sum()
    da, db = a - w @ a, b - w @ b
    va, vb = w @ (da * da), w @ (db * db)
    if va <= 0 or vb <= 0:
        return 0.0
    return float((w @ (da * db)) / np.sqrt(va * vb))


def select_members(Z: np.ndarray, contamination: float = 0.1) -> tuple[np.ndarray, list[float]]:
    """SELECT's vertical selection (Rayana, Akoglu 2016, section 4.1) on standardised training scores
    ``Z (n, m)``: 0/1 weights, and each member's weighted correlation with the pseudo ground truth (the top
    ``contamination`` share of the rows by the mean of all members = 1, the rest 0, each class weighing one
    half)."""
    mean = Z.mean(axis=1)
    n_top = min(max(1, int(round(contamination * len(mean)))), len(mean) - 1)
    target = np.zeros(len(mean))
    target[np.argsort(-mean, kind="stable")[:n_top]] = 1.0
    w = np.where(target == 1, 0.5 / n_top, 0.5 / (len(mean) - n_top))
    corr = [weighted_corr(Z[:, j], target, w) for j in range(Z.shape[1])]
    order = np.argsort(corr)[::-1]
    kept = [int(order[0])]
    best = weighted_corr(Z[:, kept].mean(axis=1), target, w)
    for j in order[1:]:
        trial = weighted_corr(Z[:, kept + [int(j)]].mean(axis=1), target, w)
        if trial > best:
            kept.append(int(j))
            best = trial
    weights = np.zeros(Z.shape[1])
    weights[kept] = 1.0
    return weights, corr


def spearman_matrix(S: np.ndarray, seed: int = 0) -> np.ndarray:
    """Spearman rank correlations ``(m, m)`` of the columns of ``S`` (on a seeded subsample of
    :data:`AGREEMENT_ROWS` rows when there are more). Constant columns correlate 0 with the others."""
    from scipy.stats import rankdata

    S = np.asarray(S, dtype=np.float64)
    if S.shape[0] > AGREEMENT_ROWS:
        S = S[np.random.default_rng(seed).choice(S.shape[0], AGREEMENT_ROWS, replace=False)]
    R = np.apply_along_axis(rankdata, 0, S)
    R = R - R.mean(axis=0)
    norm = np.sqrt((R ** 2).sum(axis=0))
    ok = norm > 0
    C = np.zeros((S.shape[1], S.shape[1]))
    C[np.ix_(ok, ok)] = (R[:, ok].T @ R[:, ok]) / np.outer(norm[ok], norm[ok])
    np.fill_diagonal(C, 1.0)
    return C


class ScoreCombination(BaseDetector):
    """Base of ``ensemble`` and ``auto``: members fitted on the same rows, their training-standardised
    scores combined (see the module docstring for the rules and their papers). A subclass says which
    members to fit (``_fit``) and which of them to use (``_choose``). Attributes after fit: ``members_``
    (the fitted detectors), ``member_names_``, ``weights_`` (1 for members used), ``agreement_``
    (Spearman matrix of the training scores), ``fit_seconds_`` per member, ``report_``."""

    params = (
        Param("standardize", "zscore", "how each member's scores are put on one scale, from its training scores: "
              "'zscore', 'robust' (median / IQR) or 'rank' (share of training scores below)", kind="str",
              choices=STANDARDIZE),
        Param("combine", "aom", "'mean', 'max', 'aom' / 'moa' (average of maxima / maximum of averages over "
              "buckets, Aggarwal and Sathe 2015) or 'select' (SELECT's vertical selection, Rayana and Akoglu 2016)",
              kind="str", choices=COMBINE),
        Param("n_buckets", 2, "buckets of members for combine='aom' or 'moa'", kind="int", low=1, high=100),
        RANDOM_STATE,
    )
    capability = Capabilities(report=True)
    _saved_attrs = ("member_names_", "member_records_", "member_aliases_", "failed_", "weights_", "fit_seconds_",
                    "report_",
                    "agreement_", "stat_loc_", "stat_scale_", "stat_sorted_")
    #: what ``report()`` calls this kind of combination
    kind: ClassVar[str] = "ensemble"
    #: the parameter that names the members to fit (a comma list of registered detectors)
    members_param: ClassVar[str] = ""

    def _members(self) -> list[str]:
        return member_names(getattr(self, self.members_param))

    def _check_extra(self) -> None:
        check_members(self._members(), self.members_param)

    def _fit(self, X, y, *, X_pos, monitor, callbacks, cancel) -> None:
        names, members = self._fit_members(X, self._members(), callbacks=callbacks, cancel=cancel)
        self._finish(names, members, {})

    # ------------------------------------------------------------------ members
    def _make_member(self, name: str) -> BaseDetector:
        from odcore.models import registry

        params: dict[str, Any] = {}
        if "random_state" in registry.declaration(name):
            params["random_state"] = int(self.random_state)
        if "contamination" in registry.declaration(name):
            params["contamination"] = float(self.contamination)
        return registry.create(name, **params)

    def _fit_members(self, X: np.ndarray, names: list[str], *, callbacks=(), cancel=None
                     ) -> tuple[list[str], list[BaseDetector]]:
        """Fit each member on ``X`` (one history record per member, cancel between members). A member that
        refuses these data (:class:`InputError`, e.g. PyOD's PCA on a constant column) is left out and named
        in the report; when every member refuses, the first message is raised."""
        fitted, ok = [], []
        self.failed_ = {}
        for i, name in enumerate(names):
            if cancel is not None and cancel.is_set():
                raise FitCancelled(f"cancelled before member {i + 1} of {len(names)} ({name})")
            t0 = time.perf_counter()
            try:
                m = self._make_member(name).fit(X, cancel=cancel)
            except InputError as exc:
                self.failed_[name] = str(exc)
                m = None
            rec = {"epoch": i + 1, "epochs": len(names), "phase": "members", "member": name,
                   "seconds": time.perf_counter() - t0}
            self.history_.append(rec)
            for cb in callbacks:
                cb(rec)
            if m is not None:
                fitted.append(m)
                ok.append(name)
        if not fitted:
            first = next(iter(self.failed_.items()))
            raise InputError(f"no member could fit these data: {first[0]}: {first[1]}")
        return ok, fitted

    def _choose(self, names: list[str], S: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        """Weights of the members (1 = used) and notes for the report; ``select`` decides here."""
        if self.combine == "select":
            Z = standardize(S, self.standardize, standardizer_stats(S, self.standardize))
            w, corr = select_members(Z, float(self.contamination))
            return w, {"correlation_with_target": corr}
        return np.ones(len(names)), {}

    def _finish(self, names: list[str], members: list[BaseDetector], notes: dict[str, Any]) -> None:
        """Standardisation statistics, weights, agreement and the report, from the fitted members."""
        S = np.column_stack([m.decision_scores_ for m in members])
        self.members_ = members
        self.member_names_ = list(names)
        self.fit_seconds_ = [float(sum(r["seconds"] for r in self.history_ if r.get("member") == n)) for n in names]
        self._set_stats(S)
        w, extra = self._choose(names, S)
        self.weights_ = [float(v) for v in w]
        self.agreement_ = spearman_matrix(S, seed=int(self.random_state))
        self.report_ = self._report({**notes, **extra})
        self._train_member_scores = S

    def _set_stats(self, S: np.ndarray) -> None:
        self._stats = standardizer_stats(S, self.standardize)
        for k in ("loc", "scale", "sorted"):  # saved as arrays (safetensors)
            if k in self._stats:
                setattr(self, f"stat_{k}_", np.asarray(self._stats[k], dtype=np.float64))
            elif hasattr(self, f"stat_{k}_"):
                delattr(self, f"stat_{k}_")

    # ------------------------------------------------------------------ scores
    def _combine(self, S: np.ndarray) -> np.ndarray:
        Z = standardize(S, self.standardize, self._stats)
        used = np.asarray(self.weights_) > 0
        groups = buckets(int(used.sum()), self.n_buckets, int(self.random_state))
        return combine(Z[:, used], self.combine, groups=groups, weights=np.asarray(self.weights_)[used])

    def member_scores(self, X) -> np.ndarray:
        """Raw scores ``(n, m)`` of every member (columns in ``member_names_`` order)."""
        self._check_fitted()
        X = self._validate(X, reset=False)
        return np.column_stack([m.decision_function(X) for m in self.members_])

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        S = self._train_member_scores
        del self._train_member_scores
        return self._combine(S)

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._combine(np.column_stack([m.decision_function(X) for m in self.members_]))

    # ------------------------------------------------------------------ the report
    def _report(self, notes: dict[str, Any]) -> dict[str, Any]:
        from odcore.models import registry

        names = self.member_names_
        A = self.agreement_
        m = len(names)
        pairs = [(A[i, j], names[i], names[j]) for i in range(m) for j in range(i + 1, m)]
        mean_agree = float(np.mean([p[0] for p in pairs])) if pairs else 1.0
        used = [n for n, w in zip(names, self.weights_) if w > 0]
        rule = {"mean": "mean", "max": "maximum", "aom": f"average of maxima over {self.n_buckets} buckets",
                "moa": f"maximum of averages over {self.n_buckets} buckets",
                "select": "SELECT's vertical selection, then the mean"}[self.combine]
        members = []
        for i, n in enumerate(names):
            row = {"name": n, "title": registry.info(n).title, "used": self.weights_[i] > 0,
                   "fit_seconds": round(self.fit_seconds_[i], 3),
                   "agreement": round(float(np.mean([A[i, j] for j in range(m) if j != i])) if m > 1 else 1.0, 3)}
            for k, vals in notes.items():
                if isinstance(vals, list) and len(vals) == m:
                    row[k] = vals[i] if not isinstance(vals[i], float) else round(vals[i], 3)
            members.append(row)
        lines = [f"{self.kind}: {rule} of the {self.standardize} scores of {len(used)} detector(s): "
                 f"{', '.join(used)}"]
        if len(used) < m:
            lines.append(f"not used: {', '.join(n for n in names if n not in used)}")
        if pairs:
            lo = min(pairs)
            lines.append(f"agreement (Spearman rank correlation of the training scores): mean {mean_agree:.2f}, lowest "
                         f"{lo[1]} / {lo[2]} {lo[0]:.2f}")
        for name, why in self.failed_.items():
            lines.append(f"left out: {name} could not fit these data ({why})")
        reasons = list(notes.get("reasons", []))
        if reasons:  # a choice (auto): its verdict first, then what it combines, then each candidate's reason
            lines = reasons[:1] + lines + reasons[1:]
        return {"kind": self.kind, "summary": lines[0], "lines": lines, "used": used, "members": members,
                "standardize": self.standardize, "combine": self.combine, "mean_agreement": round(mean_agree, 3),
                "agreement": {"names": names, "matrix": np.round(A, 3).tolist()}}

    def report(self) -> dict[str, Any]:
        """What was combined and why: ``summary`` (one line), ``lines`` (what to show), ``used``,
        ``members`` (name, title, used, fit seconds, mean agreement with the others ...), ``agreement``
        (the Spearman matrix of the training scores)."""
        self._check_fitted()
        return self.report_

    # ------------------------------------------------------------------ persistence
    def to_record(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The ensemble's record, each member's own record inside it (its config in the JSON state, its
        arrays under ``m<i>/``)."""
        self._check_fitted()
        records = [m.to_record() for m in self.members_]
        self.member_records_ = [config for config, _ in records]
        # members fitted on the same rows share their training matrix: it is stored once, the others alias it
        self._member_tensors, self.member_aliases_, seen = {}, {}, {}
        for i, (_, ts) in enumerate(records):
            for k, t in ts.items():
                key, ptr = f"m{i}/{k}", (t.data_ptr(), tuple(t.shape), str(t.dtype))
                if ptr in seen:
                    self.member_aliases_[key] = seen[ptr]
                else:
                    seen[ptr] = key
                    self._member_tensors[key] = t
        try:
            return super().to_record()
        finally:
            del self._member_tensors

    def _tensors_to_save(self) -> dict[str, Any]:
        return self._member_tensors

    def _restore_tensors(self, tensors: dict[str, Any]) -> None:
        tensors = dict(tensors)
        for alias, key in getattr(self, "member_aliases_", {}).items():
            tensors[alias] = tensors[key]
        self.members_ = []
        for i, config in enumerate(self.member_records_):
            prefix = f"m{i}/"
            own = {k[len(prefix):]: t for k, t in tensors.items() if k.startswith(prefix)}
            self.members_.append(BaseDetector.from_record(config, own, where=f"member {i} ({config.get('method')})"))
        self._stats = {k: np.asarray(getattr(self, f"stat_{k}_"), dtype=np.float64)
                       for k in ("loc", "scale", "sorted") if hasattr(self, f"stat_{k}_")}


class Ensemble(ScoreCombination):
    """``ensemble``: the detectors named in ``detectors``, each at its default parameters and the run's seed,
    combined by ``standardize`` and ``combine`` (module docstring)."""

    params = (
        Param("detectors", DEFAULT_MEMBERS, "members: registered method names, comma-separated (each at its default "
              "parameters and the run's seed)", kind="str"),
    )

    members_param: ClassVar[str] = "detectors"
