"""How long will a run take? Estimated before it starts, from a few measurements on the run's own data.

- **Deep detectors** (the shared loop): the networks are built on the run's training rows and a few
  optimisation steps of every phase are timed in a row (the first step of each phase is a warm-up, not
  timed); one epoch = its number of batches x the mean step time (plus scoring the held-out rows when early
  stopping is on), times the phase's epochs; the time budget caps it. Scoring is timed on a sample of
  rows. Early stopping can only make the run shorter: the estimate is then an upper bound.
- **Everything else** (classical detectors, PyOD's, ``ensemble`` / ``auto``): the detector is fitted on
  two subsamples (``small`` and ``large`` rows) and the fit time extrapolated by the power law
  ``t(n) = t_large (n / large)^b`` with ``b = log(t_large / t_small) / log(large / small)`` clipped to
  [1, 2] (between linear and quadratic in the rows). A detector fitted on the whole training part is timed
  exactly. Scoring is timed on a sample of the test rows with the ``large``-row model and extrapolated
  with ``b - 1`` for the training size.

The probes run on copies (``sklearn.base.clone``): the detector passed in is left untouched. A first
untimed fit on a few rows keeps one-off costs (imports, numba compilation) out of the measurement.
``odcore bench`` and the Train page show :meth:`Estimate.text` before they start.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

#: rows of the two subsample fits of the classical probe
SMALL, LARGE = 500, 2000
#: rows scored to time scoring
SCORE_ROWS = 2048
#: a run longer than this asks before it starts on the Train page (seconds)
CONFIRM_ABOVE = 120.0


@dataclass(frozen=True)
class Estimate:
    """``seconds`` = ``fit_seconds`` + ``score_seconds``; ``how`` says what was measured; ``upper_bound``
    when early stopping or the time budget may end training sooner; ``probe_seconds`` what measuring cost."""

    seconds: float
    fit_seconds: float
    score_seconds: float
    how: str
    upper_bound: bool = False
    probe_seconds: float = 0.0

    def text(self) -> str:
        """One line for people: ``about 2 min 10 s (at most: early stopping may end it sooner; ...)``."""
        bound = "at most " if self.upper_bound else "about "
        return f"{bound}{duration(self.seconds)} ({self.how})"

    def needs_confirmation(self, limit: float = CONFIRM_ABOVE) -> bool:
        return self.seconds > limit

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "fit_seconds": self.fit_seconds, "score_seconds": self.score_seconds,
                "how": self.how, "upper_bound": self.upper_bound, "probe_seconds": self.probe_seconds}


def duration(seconds: float) -> str:
    """``"45 s"``, ``"3 min 20 s"``, ``"1 h 05 min"``."""
    s = max(0.0, float(seconds))
    if s < 1:
        return "under a second"
    if s < 60:
        return f"{s:.0f} s"
    if s < 600:
        m, r = divmod(int(round(s)), 60)
        return f"{m} min {r:02d} s"
    if s < 3600:
        return f"{int(round(s / 60))} min"
    h, r = divmod(int(round(s)) // 60, 60)
    return f"{h} h {r:02d} min"


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _fit_kwargs(detector: Any, X: np.ndarray, y: np.ndarray | None, X_pos: np.ndarray | None) -> dict[str, Any]:
    kw: dict[str, Any] = {}
    if X_pos is not None:
        kw["X_pos"] = X_pos
    if getattr(detector, "uses_labels", False) and y is not None:
        kw["y"] = y
    return kw


# ---------------------------------------------------------------------------------- deep
def _deep(detector: Any, X: np.ndarray, n_test: int, *, y=None, X_pos=None, steps: int = 8) -> Estimate:
    from odcore.models import registry
    from odcore.models.base import as_matrix

    t_probe = time.perf_counter()
    m = registry.copy(detector)  # unfitted, its parameters as checked when the run was resolved
    X = as_matrix(X)
    yy = np.asarray(y).astype(np.int64) if (y is not None and m.uses_labels) else None
    Xp = as_matrix(X_pos, name="X_pos") if X_pos is not None else None
    m.history_ = []
    m._setup(X, yy, Xp)
    phases = [ph for ph in m._phases() if ph.epochs > 0]
    fit, parts, counted = 0.0, [], 0
    val = getattr(m, "_X_val", None)
    timed = []  # (phase, epochs, batches, step seconds)
    for ph in phases:
        offset = counted if ph.counts else 0
        counted += ph.epochs if ph.counts else 0
        if ph.start is not None:
            ph.start()
        batches = ph.batches(offset) if ph.batches is not None else m._batches(offset)
        m._train_mode(True)
        it = iter(batches)
        first = next(it, None)
        if first is None:
            continue
        warm = _timed(lambda first=first, ph=ph, offset=offset: ph.step(first, offset))  # allocations, imports
        done: list[int] = []

        def run(it=it, ph=ph, offset=offset, done=done) -> None:
            for b in it:
                ph.step(b, offset)
                done.append(1)
                if len(done) >= steps:
                    break

        t = _timed(run)
        n_batches = 1 + len(done) + sum(1 for _ in it)  # the rest of the epoch, counted, not run
        timed.append((ph, n_batches, t / len(done) if done else warm))
    per_row = _score_seconds_per_row(m, X)  # after every phase's start (Deep SVDD fixes its centre there)
    epoch = 0.0
    for ph, n_batches, step in timed:
        epoch = n_batches * step
        if val is not None and ph.monitor:
            epoch += per_row * len(val)
        fit += ph.epochs * epoch
        parts.append(f"{ph.name}: {ph.epochs} epochs x {n_batches} steps x {step * 1e3:.1f} ms")
    upper = val is not None
    budget = m.plan().time_budget  # the detector's plan: no parameter read by name here
    if budget is not None and fit > float(budget):
        fit = float(budget) + epoch
        upper = True
        parts.append(f"time budget {float(budget):g} s")
    score = per_row * (X.shape[0] + n_test)
    how = "timed " + "; ".join(parts) + (", early stopping may end it sooner" if val is not None else "")
    return Estimate(fit + score, fit, score, how, upper, time.perf_counter() - t_probe)


def _score_seconds_per_row(m: Any, X: np.ndarray) -> float:
    rows = X[: min(len(X), SCORE_ROWS)]
    m._score(rows[:16])  # warm-up
    return _timed(lambda: m._score(rows)) / max(1, len(rows))


# ---------------------------------------------------------------------------------- everything else
def extrapolate(t_small: float, t_large: float, small: int, large: int, n: int) -> tuple[float, float]:
    """``(t(n), b)`` for the power law through the two subsample fits: ``t(n) = t_large (n / large)^b``,
    ``b = log(t_large / t_small) / log(large / small)`` clipped to [1, 2]."""
    b = math.log(max(t_large, 1e-6) / max(t_small, 1e-6)) / math.log(large / small)
    b = min(2.0, max(1.0, b))
    return t_large * (n / large) ** b, b


def _subsample(detector: Any, X: np.ndarray, n_test: int, *, y=None, X_pos=None, small: int = SMALL,
               large: int = LARGE) -> Estimate:
    from odcore.models import registry

    t_probe = time.perf_counter()
    n = X.shape[0]
    rng = np.random.default_rng(0)
    order = rng.permutation(n)

    def fit_on(k: int):
        idx = np.sort(order[:k])
        m = registry.copy(detector)
        yk = None if y is None else np.asarray(y)[idx]
        t = _timed(lambda: m.fit(X[idx], **_fit_kwargs(m, X[idx], yk, X_pos)))
        return m, t

    fit_on(min(n, 32))  # one-off costs (imports, numba compilation) stay out of the timings
    if n <= large:
        m, fit = fit_on(n)
        how, b, ref = f"fitted all {n:,} training rows", 1.0, n
    else:
        _, t_small = fit_on(small)
        m, t_large = fit_on(large)
        fit, b = extrapolate(t_small, t_large, small, large, n)
        how, ref = f"fitted {small:,} and {large:,} of {n:,} training rows, time ~ rows^{b:.2f}", large
    rows = X[: min(n, SCORE_ROWS)]
    t_score = _timed(lambda: m.decision_function(rows)) / max(1, len(rows))
    score = t_score * n_test * (n / ref) ** (b - 1.0)
    return Estimate(fit + score, fit, score, how, False, time.perf_counter() - t_probe)


# ---------------------------------------------------------------------------------- entry points
def estimate_detector(detector: Any, X_train: np.ndarray, n_test: int = 0, *, y: np.ndarray | None = None,
                      X_pos: np.ndarray | None = None, steps: int = 8) -> Estimate:
    """The :class:`Estimate` of fitting ``detector`` (unfitted; left untouched) on ``X_train`` and scoring
    ``n_test`` more rows (see the module docstring for what is measured)."""
    from odcore.models.deep import DeepDetector

    if isinstance(detector, DeepDetector):
        return _deep(detector, X_train, n_test, y=y, X_pos=X_pos, steps=steps)
    return _subsample(detector, X_train, n_test, y=y, X_pos=X_pos)


def estimate(run: Any, *, store: Any = None, steps: int = 8) -> Estimate:
    """The :class:`Estimate` of a :class:`~odcore.runs.spec.ResolvedRun` on its own split: its training part
    and its test part (the data and split the run was resolved with; nothing is checked again)."""
    from odcore.runs.execution import prepare
    from odcore.runs.spec import ResolvedRun

    if not isinstance(run, ResolvedRun):
        raise TypeError(f"estimate takes a ResolvedRun (odcore.runs.resolve(spec)), not {type(run).__name__}")
    _, split, detector = prepare(run, store=store)
    y = split.y_train if getattr(detector, "uses_labels", False) else None
    return estimate_detector(detector, split.X_train, len(split.X_test), y=y, X_pos=split.X_pos, steps=steps)


def estimate_cells(cells: list[dict[str, Any]], *, steps: int = 4, max_probes: int = 12) -> tuple[float, float]:
    """Seconds for benchmark cells (see :mod:`odcore.runs.grid`): one estimate per (data, method,
    protocol, parameters) on the first seed's split, counted for each of its seeds. Returns
    ``(seconds, probe_seconds)``.

    A suite has hundreds of such groups (adbench-dev: 15 files x 2 protocols x 15 methods), and probing
    each one took longer than a quarter of the suite itself, so at most ``max_probes`` groups are
    measured: for each method in turn its largest group (training rows x features) first, then the
    next. Every other group takes the seconds per training cell (row x feature) of the measured groups
    of its method, which overestimates the methods whose cost grows slower than the rows (an ETA that
    errs long)."""
    import json

    from odcore.runs.execution import make_split
    from odcore.runs.grid import cached_dataset
    from odcore.runs.spec import ResolvedRun

    groups: dict[str, list[ResolvedRun]] = {}
    for c in cells:
        run = ResolvedRun.from_dict(c["run"])
        key = json.dumps([run.data, run.method, run.protocol, run.requested, run.protocol_options,
                          run.data_options], sort_keys=True, default=str)
        groups.setdefault(key, []).append(run)
    prepared: dict[str, tuple] = {}
    for key, runs in groups.items():
        run = runs[0]
        ds = cached_dataset(run)
        split = make_split(ds, run.protocol, run.seed, dict(run.protocol_options))
        prepared[key] = (ds, split, int(np.asarray(split.X_train).size))
    by_method: dict[str, list[str]] = {}
    for key in sorted(groups, key=lambda k: -prepared[k][2]):  # largest first within each method
        by_method.setdefault(groups[key][0].method, []).append(key)
    chosen: list[str] = []
    while len(chosen) < min(max_probes, len(groups)):  # round robin over the methods
        for keys in by_method.values():
            left = [k for k in keys if k not in chosen]
            if left and len(chosen) < max_probes:
                chosen.append(left[0])
    measured: dict[str, float] = {}
    probe = 0.0
    for key in chosen:
        ds, split, _ = prepared[key]
        est = estimate(dataclasses.replace(groups[key][0], dataset=ds, split=split), steps=steps)
        measured[key] = est.seconds
        probe += est.probe_seconds
    total = 0.0
    for key, runs in groups.items():
        if key in measured:
            total += measured[key] * len(runs)
            continue
        same = [k for k in measured if groups[k][0].method == runs[0].method]
        if not same:  # more methods than probes: this method is not measured at all
            same = list(measured)
        rate = sum(measured[k] for k in same) / max(sum(prepared[k][2] for k in same), 1)
        total += rate * prepared[key][2] * len(runs)
    return total, probe
