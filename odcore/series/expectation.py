"""What each period of each series was expected to be, with a band, and the deviation from it.

For one measure (sales, units ...) observed over rows of several series (stores) at dates, on a
variance-stabilised scale ``x = log(y)`` (positive measures: effects are proportional to a store's
size), ``sqrt(y)`` (counts with zeros) or ``y``, the expectation of series ``s`` at date ``t`` is

    E_s(t) = T_s(t) + a_s * C(t) + O_s(slot(t))                                          (1)

- ``T_s``, the series' level and trend: the trend of a robust STL decomposition (Cleveland et al.,
  "STL: A seasonal-trend decomposition procedure based on loess", J. Official Statistics 6(1), 1990;
  statsmodels' ``STL(robust=True)``, period = the cadence's cycle) when the series has two cycles,
  else a centred running median over one cycle. Only the trend is kept from STL: with the two or
  three years a store table holds, STL's seasonal smoother passes through every point of a week's
  two or three values and absorbs the anomalies themselves (measured in ``bench/analyst.py``).
- ``C(t)``, what every series shared that date (holiday peaks, the season, a chain-wide shock):
  ``C(t) = median_s (x_s(t) - T_s(t))`` over the series observed at ``t`` (three or more), robust to
  the few series that broke their pattern that week; ``a_s`` is the series' amplitude of it (a
  robust least-squares slope, in [0, 3]: a store with a bigger Christmas than the chain has a > 1).
- ``O_s``, the series' own recurring departure from the shared pattern in the same slot of other
  cycles (the same week of other years, the same weekday): ``O_s(k) = median({r_s(t): slot(t) = k} ∪
  {0})`` of ``r = x - T - a C`` -- the zero is a prior for "as the other series": with two years of a
  week, one odd year is not enough to move the store's own pattern.

The deviation ``e = x - E`` is standardised by the series' robust spread ``sigma_s = 1.4826 MAD(e)``:
``z = e / sigma_s`` (0 for a filled cell: it is never a reason). The band is ``E ± 1.96 sigma_s`` mapped
back to the data's units (asymmetric on the log scale). :func:`fit` returns it for the rows given and
the plain record that :func:`apply` uses on new rows: series long enough to have their own trend
(two cycles, or as long as in training) get it again; shorter ones continue the training trend;
``a``, ``O`` and ``sigma`` are the training ones; ``C`` is recomputed when three or more series come
along, else taken from training by date (or by slot for new dates).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from odcore.errors import InputError
from odcore.series.cadence import Cadence, cadence_of

#: the band's half-width in robust standard deviations (a 95% band for normal deviations)
BAND_Z = 1.96
#: pseudo-observations at 0 in each slot's median (the prior "as the other series")
PRIOR = 1
#: at least this many series at a date for the shared pattern C(t)
MIN_PANEL = 3
#: transform name -> (forward, inverse)
TRANSFORMS = ("log", "sqrt", "identity")


@dataclass
class Expectation:
    """Per input row: ``expected``, ``low``, ``high`` (data's units; NaN where the series has no value at
    all), ``z`` (standardised deviation, 0 where filled or blank), ``deviation`` (actual / expected - 1,
    NaN where the expected value is 0), ``slot``; ``record`` the fitted state (plain JSON) for
    :func:`apply`; ``notes`` what was done."""

    expected: np.ndarray
    low: np.ndarray
    high: np.ndarray
    z: np.ndarray
    deviation: np.ndarray
    slot: np.ndarray
    record: dict[str, Any]
    notes: list[str]


# ------------------------------------------------------------------------------------------ scale
def choose_transform(values: Any) -> str:
    """``log`` for a positive measure, ``sqrt`` for a non-negative one with zeros (counts), else ``identity``."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0 or v.min() < 0:
        return "identity"
    return "log" if v.min() > 0 else "sqrt"


def forward(v: np.ndarray, transform: str, floor: float) -> np.ndarray:
    if transform == "log":
        return np.log(np.maximum(v, floor))
    if transform == "sqrt":
        return np.sqrt(np.maximum(v, 0.0))
    return v


def inverse(x: np.ndarray, transform: str) -> np.ndarray:
    if transform == "log":
        return np.exp(x)
    if transform == "sqrt":
        return np.square(np.maximum(x, 0.0))
    return x


# ------------------------------------------------------------------------------------------ parts
#: STL's trend window per cadence, in periods (absent: statsmodels' default, about 1.5 cycles). Daily series: 57
#: days, so that a week or two of shifted sales is not absorbed by the trend (chosen on bench/analyst.py's
#: retail-daily file: precision in the top k 0.82 -> 0.83 over two seeds, level shifts found 0.42 -> 0.77)
TREND_WINDOW: dict[str, int] = {"daily": 57}


def trend(x: np.ndarray, period: int, cadence: str = "") -> np.ndarray:
    """The level and trend of one series (time order, no blanks): robust STL's trend with the cycle's
    period when the series covers two cycles, else a centred running median over one cycle."""
    n = len(x)
    if period >= 2 and n >= 2 * period + 1 and np.ptp(x) > 0:
        from statsmodels.tsa.seasonal import STL

        w = TREND_WINDOW.get(cadence)
        w = w if w is not None and n > w else None
        return np.asarray(STL(x, period=period, robust=True, trend=w).fit().trend, dtype=np.float64)
    import pandas as pd

    w = max(3, period if period >= 3 else 5)
    w += 1 - w % 2
    return pd.Series(x).rolling(w, center=True, min_periods=1).median().to_numpy()


def _robust_slope(c: np.ndarray, d: np.ndarray) -> float:
    """Least-squares slope of ``d`` on ``c`` through 0, refitted without points beyond 3 robust deviations;
    clipped to [0, 3]."""
    ok = ~(np.isnan(c) | np.isnan(d))
    c, d = c[ok], d[ok]
    if c.size < 3 or float(np.dot(c, c)) <= 1e-12:
        return 0.0
    a = float(np.dot(c, d) / np.dot(c, c))
    for _ in range(2):
        r = d - a * c
        s = 1.4826 * np.median(np.abs(r - np.median(r))) + 1e-12
        keep = np.abs(r) <= 3 * s
        if keep.sum() < 3 or float(np.dot(c[keep], c[keep])) <= 1e-12:
            break
        a = float(np.dot(c[keep], d[keep]) / np.dot(c[keep], c[keep]))
    return float(np.clip(a, 0.0, 3.0))


def _spread(e: np.ndarray) -> float:
    e = e[~np.isnan(e)]
    if e.size < 2:
        return 1.0
    s = 1.4826 * float(np.median(np.abs(e - np.median(e))))
    if s <= 1e-9:
        s = float(np.std(e)) or 1.0
    return s


def _honest(r: np.ndarray, slot: np.ndarray, use: np.ndarray, P: int) -> np.ndarray:
    """Each used cell's residual against its slot's pattern left out of it (the median of the other cycles' values
    and the prior): the spread of these is what the pattern does on a period it has not seen."""
    out = []
    for s in range(P):
        idx = np.flatnonzero(use & (slot == s))
        for j, i in enumerate(idx):
            out.append(r[i] - _median_with_prior(np.delete(r[idx], j)))
    return np.asarray(out)


def _median_with_prior(v: np.ndarray) -> float:
    v = v[~np.isnan(v)]
    return float(np.median(np.r_[v, np.zeros(PRIOR)])) if v.size else 0.0


# ------------------------------------------------------------------------------------------ fit / apply
def fit(values: Any, keys: Any, dates: Any, *, filled: Any = None, cadence: Cadence | None = None,
        transform: str | None = None) -> Expectation:
    """Eq. (1) fitted on the rows given (any order): ``values`` of one measure (NaN = blank, left out),
    ``keys`` the series of each row, ``dates`` its date; ``filled`` marks cells filled by
    :func:`odcore.series.fill.fill_series` (they shape no part of the expectation and get ``z = 0``)."""
    return _run(values, keys, dates, filled=filled, record=None, cadence=cadence, transform=transform)


def apply(values: Any, keys: Any, dates: Any, record: dict[str, Any], *, filled: Any = None) -> Expectation:
    """Eq. (1) on new rows with the fitted ``record`` of :func:`fit` (see the module's docstring)."""
    return _run(values, keys, dates, filled=filled, record=record, cadence=None, transform=None)


def _run(values: Any, keys: Any, dates: Any, *, filled: Any, record: dict[str, Any] | None,
         cadence: Cadence | None, transform: str | None) -> Expectation:
    import pandas as pd

    y = np.asarray(values, dtype=np.float64)
    n = len(y)
    k = np.asarray(keys).astype(str)
    t = pd.to_datetime(pd.Series(np.asarray(dates))).to_numpy().astype("datetime64[D]")
    fill = np.zeros(n, dtype=bool) if filled is None else np.asarray(filled, dtype=bool)
    blank = np.isnan(y)
    fitting = record is None
    notes: list[str] = []
    if fitting:
        cad = cadence or cadence_of(k, t)
        tf = transform or choose_transform(y[~fill])
        observed = y[~(blank | fill)]
        floor = float(np.median(observed[observed > 0])) * 1e-3 if (observed > 0).any() else 1e-9
        record = {"cadence": cad.to_dict(), "transform": tf, "floor": floor, "series": {}, "common": {}}
    else:
        cad = Cadence.from_dict(record["cadence"])
        tf, floor = str(record["transform"]), float(record["floor"])
    P = cad.period
    slot = cad.slots(t)
    x = forward(y, tf, floor)
    use = ~(blank | fill)  # cells that shape the expectation

    order = np.lexsort((t.astype(np.int64), k))
    ks = k[order]
    bounds = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1], True])
    T = np.full(n, np.nan)
    series_rows: dict[str, np.ndarray] = {}
    for a_, b_ in zip(bounds[:-1], bounds[1:]):
        rows = order[a_:b_]
        key = ks[a_]
        series_rows[key] = rows
        known = record["series"].get(key) if not fitting else None
        ok = ~np.isnan(x[rows])
        if not ok.any():
            continue
        if not fitting and known is None and ok.sum() < 2 * P + 1:
            raise InputError(f"series {key!r} was not in the training table and has {int(ok.sum())} dated rows, "
                             f"too few to learn its own pattern ({2 * P + 1} needed); score it with its history, or "
                             "train with it")
        if fitting or known is None or ok.sum() >= min(2 * P + 1, int(known["n"])):
            xi = x[rows]
            if not ok.all():  # a whole-blank stretch at an end: the trend runs over the observed cells
                xi = np.interp(np.arange(len(rows)), np.flatnonzero(ok), xi[ok])
            T[rows] = trend(xi, P, cad.name)
        else:  # a short input: the training trend continued (level + slope per day)
            days = (t[rows] - np.datetime64(known["last"], "D")).astype(np.int64)
            T[rows] = known["level"] + known["slope"] * np.maximum(days, 0)
    D = x - T

    # C(t): what the series shared at each date
    C = np.zeros(n)
    Dm = np.where(use, D, np.nan)
    frame = pd.DataFrame({"t": t, "d": Dm})
    counts = frame.groupby("t")["d"].transform("count").to_numpy()
    panel = len(series_rows) >= MIN_PANEL
    if panel:
        med = frame.groupby("t")["d"].transform("median").to_numpy()
        C = np.where(counts >= MIN_PANEL, med, 0.0)
        C = np.nan_to_num(C)
    if not fitting and record["common"]:  # too few series at a date here: the training's shared pattern
        by_date = dict(zip(record["common"]["dates"], record["common"]["values"]))
        by_slot = np.asarray(record["common"]["slots"], dtype=np.float64)
        lacking = counts < MIN_PANEL if panel else np.ones(n, dtype=bool)
        if lacking.any():
            ds = pd.Series(t[lacking]).astype(str).str[:10].to_numpy()
            C[lacking] = [by_date.get(d, by_slot[s % len(by_slot)]) for d, s in zip(ds, slot[lacking])]
    if fitting and panel:
        ud, first = np.unique(t, return_index=True)
        record["common"] = {
            "dates": [str(d) for d in ud], "values": [float(v) for v in C[first]],
            "slots": [float(np.median(C[first][slot[first] == s])) if (slot[first] == s).any() else 0.0
                      for s in range(P)]}

    # per series: amplitude of the shared pattern, own slot pattern, spread
    E = np.full(n, np.nan)
    S = np.ones(n)
    for key, rows in series_rows.items():
        if np.isnan(T[rows]).all():
            continue
        known = record["series"].get(key)
        if known is None:
            u = rows[use[rows]]
            a = _robust_slope(C[u], D[u]) if panel or record["common"] else 0.0
            r = D[rows] - a * C[rows]
            own = np.zeros(P)
            if P > 1:
                for s in range(P):
                    m = use[rows] & (slot[rows] == s)
                    own[s] = _median_with_prior(r[m])
            e = r - own[slot[rows]]
            spread = _spread(_honest(r, slot[rows], use[rows], P) if P > 1 else e[use[rows]])
            tr = T[rows]
            days = (t[rows] - t[rows][0]).astype(np.int64)
            tail = days >= days[-1] - max(P, 2) * cad.days if len(days) > 1 else np.ones(len(days), dtype=bool)
            slope = float(np.polyfit(days[tail], tr[tail], 1)[0]) if tail.sum() >= 2 and np.ptp(days[tail]) > 0 \
                else 0.0
            known = {"a": a, "own": [float(v) for v in own], "spread": spread, "n": int(len(rows)),
                     "last": str(t[rows][-1]), "level": float(tr[-1]), "slope": slope}
            if fitting:
                record["series"][key] = known
        own = np.asarray(known["own"], dtype=np.float64)
        E[rows] = T[rows] + known["a"] * C[rows] + own[slot[rows] % len(own)]
        S[rows] = known["spread"]
    z = np.where(use, (x - E) / S, 0.0)
    z = np.nan_to_num(z)
    expected = inverse(E, tf)
    low, high = inverse(E - BAND_Z * S, tf), inverse(E + BAND_Z * S, tf)
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.where(np.abs(expected) > 0, y / expected - 1.0, np.nan)
    if fitting:
        notes.append(f"{len(series_rows):,} series, {cad.name} ({cad.slot_name} as the cycle), {tf} scale"
                     + (", the pattern shared by the series that date" if panel else ""))
    return Expectation(expected=expected, low=low, high=high, z=z, deviation=dev, slot=slot, record=record,
                       notes=notes)
