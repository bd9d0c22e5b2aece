"""The analyst's marks in a trained detector: who learns from which marks, and the re-ranking that carries
them to every detector.

**How each detector uses the marks** (:func:`uses`). Where a detector can learn from a kind of mark, it
does, in ``fit``:

- detectors that learn from labelled inliers (WALDO's positive-unlabelled setting, ``needs_positives``;
  Deep SAD, ``uses_positives``) take the rows marked *expected* as labelled inliers (the ``pu`` protocol's
  known normals, or ``X_pos``);
- detectors that learn from labelled anomalies (DROCC-LF's limited negatives, Deep SAD; ``uses_labels``)
  take the rows marked *confirmed* as ``y == 1`` (the data's own labels never reach them in this mode).

Every detector's scores then go through :class:`Reranked`, with both kinds. Learning in ``fit`` is how a
mark generalises inside the model; the re-ranking is what makes each mark hold: a handful of marked rows
among thousands of known normals hardly moves WALDO's score of those rows (tried on the retail panel: the
three rows marked expected stayed at ranks 1-3), and an analyst who marked a promotion expected must not
see it flagged again.

**The re-ranking** (:class:`Reranked`). Let ``s(x)`` be the detector's score, ``m`` the median of the training
rows' scores (``decision_function``) and ``t`` just above their maximum (``max + (max - m) / 100``, so a
confirmed row ranks first, ahead of the row that had the top score), and ``phi`` the detector's latent code
when it has one (``capabilities().latent``), else the standardised row. A marked row ``r`` speaks for the rows
nearest to it: with ``rank_r(x)`` the number of training rows closer to ``phi(r)`` than ``phi(x)`` is, its
weight on ``x`` is 1 at the marked row itself and ``alpha * exp(-rank_r(x) / k)`` elsewhere (``k`` =
:data:`NEIGHBOURS`: ``alpha`` at the nearest row, ``0.37 alpha`` at the ``k``-th, nothing beyond ``5 k``).
Ranks, not distances, so a mark covers about ``k`` rows in a dense region or a sparse one and in a latent
space of any width (distances concentrate in wide spaces; a Gaussian kernel on them reached hundreds of rows).
A row's weight from a set of marks is the largest one, ``w(x)`` in [0, 1]. Then::

    s'(x) = s(x) - w_E(x) * max(s(x) - m, 0) + w_C(x) * max(t - s(x), 0)

A row marked expected falls to the typical level (its excess over the median is removed), a row like it
loses that share of its excess; a row marked confirmed rises to the top, a row like it moves that share of
the way there; rows far from every mark keep their score. The marks always hold on their own rows; how far
they carry to their neighbours (``alpha_E``, ``alpha_C``, the *propagation strengths*) is checked on the marks
themselves (:func:`calibrate`): each marked row is re-ranked by the other marks, and the strengths that best
put the confirmed rows above the expected ones win (the default 0.5 when fewer than two marks of a kind
exist). Where false alarms or anomalies come in look-alike groups (every store's holiday week, a run of
promotions) the marks carry; where they do not, they stay on their own rows. The threshold is again the
detector's ``contamination`` quantile of the re-ranked training scores, so the flagged share stays the same
and the places freed by rows that leave go to the next rows. This is the kernel form of label propagation from a
few labelled points (Zhou et al., *Learning with local and global consistency*, NIPS 2003), applied as a
correction of the detector's own score, in the spirit of the active anomaly discovery literature (Das
et al., *Incorporating expert feedback into active anomaly discovery*, ICDM 2016, re-weight a detector's
score components after each label; here the detector's score is kept and corrected near labelled rows).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from odcore.data import marks as M
from odcore.data.record import Dataset, Split
from odcore.errors import InputError

#: the re-ranking's neighbourhood: a mark speaks for about its k nearest training rows (weight exp(-rank / k))
NEIGHBOURS = 10
RERANK_FILE, RERANK_ARRAYS = "rerank.json", "rerank.npz"
_CHUNK = 65_536
#: a row this close to a marked row (in the marks' space) is that row: it takes the mark's full weight
SELF_DISTANCE = 1e-9
#: the propagation strengths :func:`calibrate` chooses from, and the one it keeps when the marks cannot tell
STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)
DEFAULT_STRENGTH = 0.5


# ---------------------------------------------------------------------------------- who learns from what
def uses(detector: Any) -> dict[str, bool]:
    """Which kinds of marks ``detector`` (an instance or class) learns from in ``fit``: ``expected`` when it
    takes labelled inliers, ``confirmed`` when it takes labelled anomalies."""
    return {"expected": bool(getattr(detector, "needs_positives", False) or getattr(detector, "uses_positives",
                                                                                     False)),
            "confirmed": bool(getattr(detector, "uses_labels", False))}


# ---------------------------------------------------------------------------------- the re-ranking
def _neighbour_distances(P_marks: np.ndarray, P_train: np.ndarray, k: int) -> np.ndarray:
    """Each marked row's sorted distances to its ``5 k`` nearest training rows (its own row included when it
    trains): the scale against which a row's distance becomes a rank."""
    r = max(1, min(5 * k, len(P_train)))
    out = np.full((len(P_marks), r), np.inf)
    for i, p in enumerate(P_marks):
        d = np.sqrt(((P_train - p) ** 2).sum(axis=1))
        out[i] = np.sort(np.partition(d, r - 1)[:r])
    return out


def similarity(P: np.ndarray, P_marks: np.ndarray, D: np.ndarray, k: int, *, strength: float = 1.0
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(w, nearest, marked)``: each row's weight from the marked rows, ``max_r w_r(x)`` with ``w_r(x) = 1`` at the
    marked row itself and ``strength * exp(-rank_r(x) / k)`` elsewhere (``D``: the marks' sorted neighbour
    distances, :func:`_neighbour_distances`), the index of the mark that gives it (zeros and -1 without marks),
    and whether the row is a marked row."""
    n = len(P)
    if len(P_marks) == 0:
        return np.zeros(n), np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=bool)
    w = np.zeros(n)
    near = np.zeros(n, dtype=np.int64)
    marked = np.zeros(n, dtype=bool)
    for a in range(0, n, _CHUNK):
        b = min(n, a + _CHUNK)
        for j, p in enumerate(P_marks):
            d = np.sqrt(((P[a:b] - p) ** 2).sum(axis=1))
            rank = np.searchsorted(D[j], d, side="left")
            wj = np.where(rank < D.shape[1], float(strength) * np.exp(-rank / float(k)), 0.0)
            own = d <= SELF_DISTANCE
            marked[a:b] |= own
            wj = np.where(own, 1.0, wj)
            better = wj > w[a:b]
            w[a:b] = np.where(better, wj, w[a:b])
            near[a:b] = np.where(better, j, near[a:b])
    return w, near, marked


def rerank(scores: np.ndarray, w_expected: np.ndarray, w_confirmed: np.ndarray, median: float,
           top: float) -> np.ndarray:
    """``s' = s - w_E * max(s - m, 0) + w_C * max(t - s, 0)`` (the module docstring's equation)."""
    s = np.asarray(scores, dtype=np.float64)
    return s - w_expected * np.maximum(s - median, 0.0) + w_confirmed * np.maximum(top - s, 0.0)


def _leave_one_out(P_rows: np.ndarray, P_marks: np.ndarray, D: np.ndarray, k: int, own: np.ndarray) -> np.ndarray:
    """For each marked row ``i``, its propagation weight ``max_{r != i} exp(-rank_r(i) / k)`` from the marks of one
    kind (``own[i]``: the index of row ``i``'s own mark among them, -1 when it is of the other kind)."""
    out = np.zeros(len(P_rows))
    for j, p in enumerate(P_marks):
        d = np.sqrt(((P_rows - p) ** 2).sum(axis=1))
        rank = np.searchsorted(D[j], d, side="left")
        wj = np.where(rank < D.shape[1], np.exp(-rank / float(k)), 0.0)
        wj[own == j] = 0.0
        out = np.maximum(out, wj)
    return out


def calibrate(scores: np.ndarray, confirmed: np.ndarray, w_e: np.ndarray, w_c: np.ndarray, median: float, top: float
              ) -> tuple[float, float, str]:
    """The propagation strengths ``(alpha_E, alpha_C)`` the marks support, and how they were chosen.

    Each marked row is re-ranked by the *other* marks only (``w_e`` / ``w_c``: leave-one-out weights), for every
    pair of strengths on the grid :data:`STRENGTHS`; the pair whose re-ranked scores best separate the confirmed
    rows from the expected ones among the marked rows (average precision) wins, ties going to the default
    :data:`DEFAULT_STRENGTH`. With fewer than two marks of either kind nothing can be checked: the default holds.
    """
    from odcore.metrics import auprc

    y = np.asarray(confirmed, dtype=np.int64)
    if y.sum() < 2 or (1 - y).sum() < 2:
        return DEFAULT_STRENGTH, DEFAULT_STRENGTH, "default (fewer than two marks of a kind to check it on)"
    best, pick = -1.0, (DEFAULT_STRENGTH, DEFAULT_STRENGTH)
    for a_e in STRENGTHS:
        for a_c in STRENGTHS:
            v = auprc(y, rerank(scores, a_e * w_e, a_c * w_c, median, top))
            closer = abs(a_e - DEFAULT_STRENGTH) + abs(a_c - DEFAULT_STRENGTH) < (
                abs(pick[0] - DEFAULT_STRENGTH) + abs(pick[1] - DEFAULT_STRENGTH))
            if v > best + 1e-12 or (abs(v - best) <= 1e-12 and closer):
                best, pick = v, (a_e, a_c)
    return pick[0], pick[1], f"checked on the {len(y)} marked rows, each re-ranked by the others (AP {best:.3f})"


class Reranked:
    """A fitted detector whose scores are corrected near the analyst's marks (module docstring).

    It behaves as the detector it wraps (every attribute and capability is the detector's) except for
    ``decision_function``, ``predict``, ``threshold_``, ``decision_scores_`` and ``labels_``, and
    :meth:`influence`, which says how much each row owes to which mark. ``save`` writes the detector's
    own files and, beside them, ``rerank.json`` / ``rerank.npz`` (the marks' codes, their neighbour
    distances, ids and the score levels); :func:`load` puts the two back together.
    """

    def __init__(self, base: Any, *, space: str, expected: np.ndarray, confirmed: np.ndarray, D_expected: np.ndarray,
                 D_confirmed: np.ndarray, ids_expected: Sequence[str], ids_confirmed: Sequence[str], median: float,
                 top: float, neighbours: int = NEIGHBOURS, alpha_expected: float = DEFAULT_STRENGTH,
                 alpha_confirmed: float = DEFAULT_STRENGTH, calibration: str = ""):
        self.base = base
        self.space = space
        self.P_expected, self.P_confirmed = np.asarray(expected, np.float64), np.asarray(confirmed, np.float64)
        self.D_expected, self.D_confirmed = np.asarray(D_expected, np.float64), np.asarray(D_confirmed, np.float64)
        self.ids_expected, self.ids_confirmed = list(ids_expected), list(ids_confirmed)
        self.median, self.top, self.neighbours = float(median), float(top), int(neighbours)
        self.alpha_expected, self.alpha_confirmed = float(alpha_expected), float(alpha_confirmed)
        self.calibration = str(calibration)

    # the wrapped detector answers everything else
    def __getattr__(self, name: str) -> Any:
        if name == "base":  # not set yet (during unpickling / copying): no recursion
            raise AttributeError(name)
        return getattr(self.base, name)

    def __repr__(self) -> str:
        return (f"Reranked({self.base!r}, {len(self.ids_expected)} expected, {len(self.ids_confirmed)} confirmed "
                f"mark rows, {self.space} space)")

    @classmethod
    def fit(cls, base: Any, X_train: np.ndarray, *, expected: np.ndarray, confirmed: np.ndarray,
            ids_expected: Sequence[str], ids_confirmed: Sequence[str], neighbours: int = NEIGHBOURS) -> Reranked:
        """Wrap the fitted ``base``: codes and neighbour distances of the marked rows (``expected`` / ``confirmed``:
        rows as the model sees them, standardised) against the training rows ``X_train``; the score levels
        from ``base``'s training scores; the threshold from the re-ranked training scores."""
        space = "latent" if base.capabilities().latent else "features"
        # the training rows' scores as decision_function gives them (the scale every row is scored on; a detector's
        # own training scores may differ: kNN leaves each row out, PyOD's MCD uses its raw estimate)
        train_scores = np.asarray(base.decision_function(X_train), dtype=np.float64)
        out = cls(base, space=space, expected=np.zeros((0, 1)), confirmed=np.zeros((0, 1)), D_expected=np.zeros((0, 1)),
                  D_confirmed=np.zeros((0, 1)), ids_expected=ids_expected, ids_confirmed=ids_confirmed,
                  median=float(np.median(train_scores)), top=float(np.max(train_scores)), neighbours=neighbours)
        out.top += (out.top - out.median) / 100.0
        P_train = out.codes(X_train)
        out.P_expected = out.codes(expected) if len(expected) else np.zeros((0, P_train.shape[1]))
        out.P_confirmed = out.codes(confirmed) if len(confirmed) else np.zeros((0, P_train.shape[1]))
        out.D_expected = _neighbour_distances(out.P_expected, P_train, neighbours)
        out.D_confirmed = _neighbour_distances(out.P_confirmed, P_train, neighbours)
        # how far the marks carry to their neighbours: checked on the marked rows themselves
        P_rows = np.vstack([out.P_expected, out.P_confirmed])
        d = np.shape(X_train)[1]
        rows = np.vstack([np.asarray(expected, np.float32).reshape(len(expected), d),
                          np.asarray(confirmed, np.float32).reshape(len(confirmed), d)])
        n_e = len(out.P_expected)
        own_e = np.r_[np.arange(n_e), np.full(len(out.P_confirmed), -1)]
        own_c = np.r_[np.full(n_e, -1), np.arange(len(out.P_confirmed))]
        if len(rows):
            w_e = _leave_one_out(P_rows, out.P_expected, out.D_expected, neighbours, own_e)
            w_c = _leave_one_out(P_rows, out.P_confirmed, out.D_confirmed, neighbours, own_c)
            s_rows = np.asarray(base.decision_function(rows), dtype=np.float64)
            out.alpha_expected, out.alpha_confirmed, out.calibration = calibrate(
                s_rows, np.r_[np.zeros(n_e), np.ones(len(out.P_confirmed))], w_e, w_c, out.median, out.top)
        out._set_threshold(train_scores, P_train)
        return out

    def _set_threshold(self, train_scores: np.ndarray, P_train: np.ndarray) -> None:
        w_e, _, w_c, _ = self.weights(P_train)
        self.decision_scores_ = rerank(train_scores, w_e, w_c, self.median, self.top)
        c = float(self.base.get_params().get("contamination", 0.1))
        self.threshold_ = float(np.quantile(self.decision_scores_, 1.0 - c))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)

    def codes(self, X: np.ndarray) -> np.ndarray:
        """The space the marks act in: the detector's latent code, or the (standardised) row itself."""
        X = np.asarray(X, dtype=np.float32)
        if self.space == "latent":
            return np.asarray(self.base.embed(X), dtype=np.float64).reshape(len(X), -1)
        return X.astype(np.float64).reshape(len(X), -1)

    def weights(self, P: np.ndarray, alpha_expected: float | None = None, alpha_confirmed: float | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(w_E, nearest expected, w_C, nearest confirmed)`` of rows with codes ``P`` (:func:`similarity`, at the
        chosen strengths unless given). A marked row takes its own mark only: a row marked confirmed is not also
        pulled down by expected marks near it, nor an expected one pushed up."""
        a_e = self.alpha_expected if alpha_expected is None else alpha_expected
        a_c = self.alpha_confirmed if alpha_confirmed is None else alpha_confirmed
        w_e, n_e, own_e = similarity(P, self.P_expected, self.D_expected, self.neighbours, strength=a_e)
        w_c, n_c, own_c = similarity(P, self.P_confirmed, self.D_confirmed, self.neighbours, strength=a_c)
        return np.where(own_c & ~own_e, 0.0, w_e), n_e, np.where(own_e & ~own_c, 0.0, w_c), n_c

    def influence(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Per row of ``X``: the base score, the similarity to the expected and to the confirmed marks
        (``w_expected``, ``w_confirmed``) and the id of the nearest one of each (``near_expected``,
        ``near_confirmed``; '' without marks of that kind), and the re-ranked score."""
        s = np.asarray(self.base.decision_function(X), dtype=np.float64)
        P = self.codes(X)
        w_e, n_e, w_c, n_c = self.weights(P)
        ids_e, ids_c = np.asarray(self.ids_expected + [""], dtype=object), np.asarray(self.ids_confirmed + [""],
                                                                                    dtype=object)
        return {"base": s, "w_expected": w_e, "w_confirmed": w_c, "near_expected": ids_e[n_e],
                "near_confirmed": ids_c[n_c], "score": rerank(s, w_e, w_c, self.median, self.top)}

    def decision_function(self, X) -> np.ndarray:
        """The detector's score, re-ranked near the marks (higher = more anomalous)."""
        return self.influence(np.asarray(X))["score"]

    def predict(self, X) -> np.ndarray:
        return (self.decision_function(X) > self.threshold_).astype(np.int64)

    def save(self, path: str | os.PathLike) -> Path:
        """The detector's own files, then the re-ranking's beside them."""
        from odcore.jsonio import atomic_write_bytes, atomic_write_json

        path = Path(self.base.save(path))
        import io

        buf = io.BytesIO()
        np.savez(buf, P_expected=self.P_expected, P_confirmed=self.P_confirmed, D_expected=self.D_expected,
                 D_confirmed=self.D_confirmed, decision_scores=self.decision_scores_)
        atomic_write_bytes(path / RERANK_ARRAYS, buf.getvalue())
        atomic_write_json(path / RERANK_FILE, {
            "space": self.space, "median": self.median, "top": self.top, "neighbours": self.neighbours,
            "alpha_expected": self.alpha_expected, "alpha_confirmed": self.alpha_confirmed,
            "calibration": self.calibration,
            "threshold": self.threshold_, "ids_expected": self.ids_expected, "ids_confirmed": self.ids_confirmed})
        return path


def load(base: Any, path: str | os.PathLike) -> Any:
    """``base`` wrapped again in its saved re-ranking (``base`` itself when the folder has none)."""
    path = Path(path)
    if not (path / RERANK_FILE).exists():
        return base
    try:
        meta = json.loads((path / RERANK_FILE).read_text())
        with np.load(path / RERANK_ARRAYS, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        out = Reranked(base, space=str(meta["space"]), expected=arrays["P_expected"], confirmed=arrays["P_confirmed"],
                       D_expected=arrays["D_expected"], D_confirmed=arrays["D_confirmed"],
                       ids_expected=[str(i) for i in meta["ids_expected"]],
                       ids_confirmed=[str(i) for i in meta["ids_confirmed"]], median=float(meta["median"]),
                       top=float(meta["top"]), neighbours=int(meta["neighbours"]),
                       alpha_expected=float(meta["alpha_expected"]), alpha_confirmed=float(meta["alpha_confirmed"]),
                       calibration=str(meta.get("calibration", "")))
        out.decision_scores_ = arrays["decision_scores"]
        out.threshold_ = float(meta["threshold"])
        out.labels_ = (out.decision_scores_ > out.threshold_).astype(np.int64)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: the re-ranking saved with the model is damaged ({type(exc).__name__}); retrain "
                         "the run") from None
    return out


def with_marks(detector: Any, ds: Dataset, split: Split) -> tuple[Any, dict[str, Any]]:
    """After ``fit`` on a split made with marks: the detector wrapped in a :class:`Reranked` (every kind of
    mark), and the record of how each kind was used (``fit``: the kinds it learnt from; kept in the run)."""
    learnt = uses(detector)
    marked = split.marked or {}
    option = (split.options or {}).get("marks") or {}
    keys, marks = M.option_marks(option) if option else ([], [])
    got = M.match(ds, marks, keys=keys) if marks else None
    record: dict[str, Any] = {"fit": [], "rerank": [], "expected_rows": int(len(marked.get("expected", ()))),
                              "confirmed_rows": int(len(marked.get("confirmed", ())))}
    parts: dict[str, tuple[np.ndarray, list[str]]] = {}
    for kind in M.KINDS:
        rows = np.asarray(marked.get(kind, ()), dtype=np.int64)
        if not len(rows):
            continue
        if learnt[kind]:
            record["fit"].append(kind)
        record["rerank"].append(kind)
        pairs = [(int(r), m.id) for m in marks if m.kind == kind and got is not None
                 for r in got.rows.get(m.id, ())]
        pairs = pairs or [(int(r), "") for r in rows]
        parts[kind] = (split.transform(ds.X[[r for r, _ in pairs]]), [i for _, i in pairs])
    if not record["rerank"]:
        return detector, record
    empty = (np.zeros((0, ds.n_features), dtype=np.float32), [])
    e, c = parts.get("expected", empty), parts.get("confirmed", empty)
    model = Reranked.fit(detector, split.X_train, expected=e[0], confirmed=c[0], ids_expected=e[1],
                         ids_confirmed=c[1])
    record.update(space=model.space, neighbours=model.neighbours, alpha_expected=model.alpha_expected,
                  alpha_confirmed=model.alpha_confirmed, calibration=model.calibration)
    return model, record
