"""A seeded, Walmart-like weekly store-sales table, messy as an analyst gets it.

The public weekly store-sales tables that retail analysts know (dozens of stores over about three
years of weeks: ``Store``, ``Date``, ``Weekly_Sales``, ``Holiday_Flag``, ``Temperature``,
``Fuel_Price``, ``CPI``, ``Unemployment``) cannot ship with the project; this generator reproduces
their structure for development and tests, so that nothing is tuned on data kept apart:

- stores of very different sizes (log-normal levels, about $0.2M to $3.5M a week) with their own
  slow trend (growth or decline) and noise level (multiplicative, with a little week-to-week
  persistence);
- a yearly profile shared by the chain (a January low, a mild summer, the run-up to Christmas) with
  a per-store amplitude, and holiday weeks: Super Bowl, Labor Day, Thanksgiving (Black Friday) and
  the Christmas weeks, whose peaks differ by store; ``Holiday_Flag`` marks the four holiday weeks
  as in the public table (the peak week before Christmas is not flagged there either);
- covariates that differ by store and season: ``Temperature`` (each store's climate and seasonal
  swing), ``Fuel_Price`` (a regional path), ``CPI`` (two regional regimes, slowly rising),
  ``Unemployment`` (each store's level, drifting by quarter); a few stores' sales react to
  temperature;
- blank cells: the covariates of a store go blank for runs of weeks (a feed that stopped), a few
  scattered cells, and a few ``Weekly_Sales`` cells (``blanks`` cells in all).

Dates are the week's Friday written ``dd-mm-YYYY`` as in the public file. Nothing here is labelled:
the benchmark (``bench/analyst.py``) injects the anomalies it scores.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

COLUMNS = ("Store", "Date", "Weekly_Sales", "Holiday_Flag", "Temperature", "Fuel_Price", "CPI", "Unemployment")


def _thanksgiving(year: int) -> dt.date:
    d = dt.date(year, 11, 1)
    d += dt.timedelta(days=(3 - d.weekday()) % 7)  # first Thursday
    return d + dt.timedelta(weeks=3)


def _super_bowl(year: int) -> dt.date:
    d = dt.date(year, 2, 1)
    d += dt.timedelta(days=(6 - d.weekday()) % 7)  # first Sunday of February
    return d


def _labor_day(year: int) -> dt.date:
    d = dt.date(year, 9, 1)
    return d + dt.timedelta(days=(0 - d.weekday()) % 7)


def holiday_weeks(fridays: Any) -> dict[str, np.ndarray]:
    """For weeks ending on the given Fridays: 0/1 arrays per named week (``super_bowl``, ``labor_day``,
    ``thanksgiving``, ``pre_christmas`` (the peak week ending 18-24 December), ``christmas``)."""
    days = [d.date() if hasattr(d, "date") else d for d in fridays]
    out = {k: np.zeros(len(days), dtype=np.int64) for k in
           ("super_bowl", "labor_day", "thanksgiving", "pre_christmas", "christmas")}
    for i, f in enumerate(days):
        week = {f - dt.timedelta(days=k) for k in range(7)}  # Saturday .. Friday
        nxt = {f + dt.timedelta(days=k) for k in range(1, 7)}
        if _super_bowl(f.year) in nxt:  # the public table flags the Friday before the game
            out["super_bowl"][i] = 1
        if _labor_day(f.year) in nxt:
            out["labor_day"][i] = 1
        if _thanksgiving(f.year) in week:
            out["thanksgiving"][i] = 1
        if 18 <= f.day <= 24 and f.month == 12:
            out["pre_christmas"][i] = 1
        if f.month == 12 and 25 <= f.day <= 31:
            out["christmas"][i] = 1
    return out


def store_sales(*, n_stores: int = 45, n_weeks: int = 143, start: str = "2010-02-05", seed: int = 0,
                blanks: int = 1500, sales_blanks: int = 40, noise: tuple[float, float] = (0.03, 0.08),
                holiday_scale: float = 1.0, date_format: str = "%d-%m-%Y") -> Any:
    """The table (a pandas DataFrame with :data:`COLUMNS`, ``n_stores * n_weeks`` rows, store-major as the
    public file), blanks included. ``noise`` is the range of the stores' weekly noise (log scale);
    ``holiday_scale`` scales every holiday lift; ``date_format=None`` keeps the dates as datetimes."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    first = pd.Timestamp(start)
    if first.dayofweek != 4:
        raise ValueError("start must be a Friday (the public table's week date)")
    fridays = pd.date_range(first, periods=n_weeks, freq="7D")
    hol = holiday_weeks(fridays)
    doy = fridays.dayofyear.to_numpy()
    years = (fridays - first).days.to_numpy() / 365.25
    ang = 2 * np.pi * doy / 365.25

    # the chain's yearly profile (log scale) and each store's amplitude of it
    chain = 0.05 * np.cos(ang - 2 * np.pi * 200 / 365.25) - 0.07 * np.exp(-((doy - 20) / 18.0) ** 2) \
        + 0.08 * np.exp(-((doy - 338) / 12.0) ** 2)
    level = np.exp(rng.normal(np.log(1.0e6), 0.65, n_stores)).clip(1.8e5, 3.8e6)
    trend = rng.normal(0.0, 0.04, n_stores)  # log growth per year
    sigma = rng.uniform(*noise, n_stores)
    amp = rng.uniform(0.6, 1.5, n_stores)
    lift = {"super_bowl": (0.02, 0.06), "labor_day": (0.0, 0.04), "thanksgiving": (0.25, 0.55),
            "pre_christmas": (0.35, 0.8), "christmas": (-0.2, 0.05)}
    climate = rng.uniform(35, 75, n_stores)
    swing = rng.uniform(8, 28, n_stores)
    temp_effect = np.where(rng.random(n_stores) < 0.3, rng.normal(0, 0.002, n_stores), 0.0)
    region = rng.integers(0, 5, n_stores)
    fuel_region = np.cumsum(rng.normal(0, 0.03, (5, n_weeks)), axis=1) + 2.7 + 0.6 * years[None, :] \
        + rng.normal(0, 0.15, (5, 1))
    cpi_base = np.where(rng.random(n_stores) < 0.55, rng.uniform(205, 222, n_stores), rng.uniform(126, 133, n_stores))
    unemp = rng.uniform(4.0, 12.0, n_stores)

    frames = []
    for s in range(n_stores):
        temp = climate[s] - swing[s] * np.cos(ang - 2 * np.pi * 20 / 365.25) + rng.normal(0, 4, n_weeks)
        seas = amp[s] * chain
        for k, (lo, hi) in lift.items():
            seas = seas + holiday_scale * rng.uniform(lo, hi) * hol[k]
        ar = np.zeros(n_weeks)
        e = rng.normal(0, sigma[s], n_weeks)
        for t in range(n_weeks):
            ar[t] = e[t] + (0.3 * ar[t - 1] if t else 0.0)
        log_sales = np.log(level[s]) + trend[s] * years + seas + temp_effect[s] * (temp - climate[s]) + ar
        cpi = cpi_base[s] * (1 + 0.02 * years) + np.cumsum(rng.normal(0, 0.05, n_weeks))
        un = unemp[s] + np.repeat(np.cumsum(rng.normal(-0.1, 0.25, n_weeks // 13 + 1)), 13)[:n_weeks]
        frames.append(pd.DataFrame({
            "Store": s + 1, "Date": fridays, "Weekly_Sales": np.round(np.exp(log_sales), 2),
            "Holiday_Flag": (hol["super_bowl"] | hol["labor_day"] | hol["thanksgiving"] | hol["christmas"]),
            "Temperature": np.round(temp, 2), "Fuel_Price": np.round(fuel_region[region[s]], 3),
            "CPI": np.round(cpi, 4), "Unemployment": np.round(un.clip(3.0, 15.0), 3)}))
    df = pd.concat(frames, ignore_index=True)
    _blank_cells(df, rng, blanks, sales_blanks)
    if date_format:
        df["Date"] = df["Date"].dt.strftime(date_format)
    return df


def _blank_cells(df: Any, rng: np.random.Generator, blanks: int, sales_blanks: int) -> None:
    """Blank ``blanks`` cells: runs of weeks of one store's covariate (most of them), scattered cells, and
    ``sales_blanks`` scattered ``Weekly_Sales`` cells."""
    n = len(df)
    cov = ["Temperature", "Fuel_Price", "CPI", "Unemployment"]
    left = max(0, blanks - sales_blanks)
    stores = df["Store"].to_numpy()
    while left > 0:
        c = cov[rng.integers(len(cov))]
        if rng.random() < 0.6:  # a run: a store's feed stopped for some weeks
            s = rng.choice(np.unique(stores))
            rows = np.flatnonzero(stores == s)
            length = int(min(left, rng.integers(4, 30)))
            at = rng.integers(0, max(1, len(rows) - length))
            idx = rows[at:at + length]
        else:
            idx = rng.choice(n, size=int(min(left, 5)), replace=False)
        df.loc[idx, c] = np.nan
        left -= len(idx)
    if sales_blanks:
        df.loc[rng.choice(n, size=sales_blanks, replace=False), "Weekly_Sales"] = np.nan
