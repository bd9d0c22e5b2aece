"""A seeded synthetic retail panel that follows the WALDO case study.

The WALDO paper (Rizzo et al.) ranks weekly sales vectors of one weekend-heavy product: 52
markets x 198 weeks = 10,296 rows of 7 daily volumes, labelled by a business rule: a week is an
*inlier* when its Saturday or Sunday volume beats every weekday, otherwise an *outlier*
(62 outliers, 0.61%). The real data are private; this generator reproduces their structure:

- market levels (log-normal) and a per-market day-of-week profile that peaks at the weekend,
- a yearly seasonality with a per-market amplitude and a slow per-market trend,
- public holidays (New Year, Memorial Day, July 4, Labor Day, Thanksgiving eve, Christmas Eve)
  that lift the day they fall on,
- promotions on a random weekday of a few market-weeks,
- stock-outs that cut sales from some day until the end of the week,
- multiplicative day noise, rounded to whole units.

The event rates are tuned so that about 0.6% of weeks break the rule, as in the paper; the rule
itself labels the rows (``y = 1`` = outlier), so every outlier has a visible cause in ``meta.events``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from odcore.data.record import Dataset

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: mean day-of-week profile of the weekend-heavy product (Saturday strongest)
_PROFILE = np.array([0.78, 0.74, 0.80, 0.88, 1.04, 1.62, 1.38])


def _holidays(start: np.datetime64, n_weeks: int) -> dict[int, list[tuple[int, str]]]:
    """Map day index (0 = first Monday) -> holiday names, for US holidays in the period."""
    import datetime as dt

    first = start.astype("datetime64[D]").astype(dt.date)
    last = first + dt.timedelta(days=7 * n_weeks - 1)
    out: dict[int, list[tuple[int, str]]] = {}

    def add(day: dt.date, name: str) -> None:
        if first <= day <= last:
            out.setdefault((day - first).days, []).append((0, name))

    def nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
        d = dt.date(year, month, 1)
        d += dt.timedelta(days=(weekday - d.weekday()) % 7)
        return d + dt.timedelta(weeks=n - 1)

    def last_weekday(year: int, month: int, weekday: int) -> dt.date:
        d = dt.date(year, month + 1, 1) - dt.timedelta(days=1)
        return d - dt.timedelta(days=(d.weekday() - weekday) % 7)

    for year in range(first.year, last.year + 1):
        add(dt.date(year, 1, 1), "new year")
        add(last_weekday(year, 5, 0), "memorial day")
        add(dt.date(year, 7, 4), "july 4")
        add(nth_weekday(year, 9, 0, 1), "labor day")
        add(nth_weekday(year, 11, 3, 4) - dt.timedelta(days=1), "thanksgiving eve")
        add(dt.date(year, 12, 24), "christmas eve")
        add(dt.date(year, 12, 31), "new year's eve")
    return out


def retail_panel(*, n_markets: int = 52, n_weeks: int = 198, start: str = "2016-01-04", seed: int = 0,
                 promo_rate: float = 0.009, stockout_rate: float = 0.004,
                 holiday_lift: tuple[float, float] = (1.1, 1.6), noise: float = 0.08, **_: Any) -> Dataset:
    """Generate the panel: ``n_markets * n_weeks`` weekly rows, features ``mon..sun``.

    ``meta`` has ``market``, ``week`` (0-based), ``week_start`` (a Monday) and ``events`` (what
    happened that week, for explanation only: never a feature). ``y`` follows the WALDO rule.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    start_day = np.datetime64(start, "D")
    if (start_day.astype("datetime64[D]").view("int64") - 4) % 7 != 0:  # 1970-01-05 was a Monday
        raise ValueError("start must be a Monday")
    n_days = 7 * n_weeks
    day_idx = np.arange(n_days)
    week_of_day = day_idx // 7
    dow = day_idx % 7

    # market structure: level, weekend profile, seasonality amplitude/phase, trend
    level = np.exp(rng.normal(np.log(300.0), 0.7, n_markets))
    profile = _PROFILE[None, :] * np.exp(rng.normal(0.0, 0.04, (n_markets, 7)))
    amp = rng.uniform(0.08, 0.3, n_markets)
    phase = rng.normal(-np.pi / 2, 0.3, n_markets)  # peak in summer
    trend = rng.normal(0.0, 0.0015, n_markets)  # per week, log scale
    years = day_idx / 365.25
    season = 1.0 + amp[:, None] * np.sin(2 * np.pi * years[None, :] + phase[:, None])
    season *= np.exp(trend[:, None] * week_of_day[None, :])
    mult = np.ones((n_markets, n_days))
    events = [[[] for _ in range(n_weeks)] for _ in range(n_markets)]

    # holidays lift the day they fall on (market-specific strength)
    for d, names in _holidays(start_day, n_weeks).items():
        lift = rng.uniform(*holiday_lift, n_markets)
        mult[:, d] *= lift
        for m in range(n_markets):
            for _, name in names:
                events[m][d // 7].append(f"{name} ({DAYS[d % 7]}, x{lift[m]:.2f})")

    # promotions on one weekday of a few market-weeks
    promo = rng.random((n_markets, n_weeks)) < promo_rate
    for m, w in zip(*np.nonzero(promo)):
        day = int(rng.integers(0, 5))
        lift = float(rng.uniform(1.3, 2.2))
        mult[m, 7 * w + day] *= lift
        events[m][w].append(f"promotion ({DAYS[day]}, x{lift:.2f})")

    # stock-outs: sales collapse from some day until the weekly delivery
    stock = rng.random((n_markets, n_weeks)) < stockout_rate
    for m, w in zip(*np.nonzero(stock)):
        day = int(rng.integers(0, 7))
        left = rng.uniform(0.0, 0.3, 7 - day)
        mult[m, 7 * w + day:7 * w + 7] *= left
        events[m][w].append(f"stock-out from {DAYS[day]}")

    base = level[:, None] * profile[:, dow] * season * mult
    sales = np.round(base * np.exp(rng.normal(0.0, noise, base.shape)))
    X = sales.reshape(n_markets * n_weeks, 7)  # rows: market-major, week-minor
    weekend = X[:, 5:].max(axis=1)
    weekday = X[:, :5].max(axis=1)
    y = (weekend <= weekday).astype(np.int64)  # WALDO rule: inlier iff Sat or Sun beats every weekday

    markets = [f"M{m + 1:02d}" for m in range(n_markets)]
    meta = pd.DataFrame({
        "market": np.repeat(markets, n_weeks),
        "week": np.tile(np.arange(n_weeks), n_markets),
        "week_start": np.tile(start_day + 7 * np.arange(n_weeks), n_markets).astype("datetime64[ns]"),
        "events": ["; ".join(events[m][w]) for m in range(n_markets) for w in range(n_weeks)],
    })
    n_out = int(y.sum())
    return Dataset(
        name="retail-synthetic", X=X, y=y, feature_names=list(DAYS),
        source=f"built-in: synthetic retail panel following the WALDO case study (seed {seed})",
        meta=meta,
        notes=f"{n_markets} markets x {n_weeks} weeks of daily sales of a weekend-heavy product with market "
              f"levels, seasonality, holidays, promotions and stock-outs. Labelled by the WALDO rule (inlier "
              f"when Saturday or Sunday beats every weekday): {n_out} outliers ({n_out / len(y):.2%}; paper: "
              "62 of 10,296 = 0.61%). meta.events says what happened each week (not a feature). "
              "Use the pu protocol (paper: 20% of inliers labelled).")


def retail_table(*, scaling: str = "series", **panel_options: Any) -> Dataset:
    """The synthetic panel as a prepared analyst table (:mod:`odcore.data.table`): ``market`` the group,
    ``week_start`` the time, ``week`` an id, ``events`` not modelled, the WALDO label kept, the seven days
    the features, scaled per market (``scaling="series"``: each market in its own level) or globally."""
    from odcore.data.formats import frame_to_dataset

    ds = retail_panel(**panel_options)
    frame = ds.frame()
    roles = {"market": "group", "week": "id", "week_start": "time", "events": "ignore", "label": "label",
             **{d: "feature" for d in DAYS}}
    out = frame_to_dataset(frame, name=f"{ds.name}-{scaling}", source=ds.source, roles=roles, scaling=scaling)
    out.notes = f"{ds.notes} Scaling: {'per market' if scaling == 'series' else 'global'}. " + out.notes
    return out
