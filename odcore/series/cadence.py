"""The spacing of a table's dates and the slot of each date in its yearly or weekly cycle."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: cadence name -> (typical days between observations, slots per cycle, what a slot is)
CADENCES: dict[str, tuple[float, int, str]] = {
    "daily": (1.0, 7, "day of the week"),
    "weekly": (7.0, 52, "week of the year"),
    "monthly": (30.4, 12, "month of the year"),
    "quarterly": (91.3, 4, "quarter of the year"),
    "irregular": (0.0, 1, "none"),
}


@dataclass(frozen=True)
class Cadence:
    """How often a series is observed: ``name`` (one of :data:`CADENCES`), ``period`` (slots per cycle:
    7 days, 52 weeks, 12 months) and ``days`` (the median spacing, in days)."""

    name: str
    period: int
    days: float

    @property
    def slot_name(self) -> str:
        return CADENCES[self.name][2]

    @property
    def period_label(self) -> str:
        """What one period of the series is called in a sentence ("week", "day", "month")."""
        return {"daily": "day", "weekly": "week", "monthly": "month", "quarterly": "quarter"}.get(self.name, "period")

    def slots(self, dates: Any) -> np.ndarray:
        """Each date's slot in its cycle (0 .. period - 1): the day of the week (Monday 0), the ISO week of the
        year (week 53 folded into 52: weeks keep their weekday structure, so Thanksgiving's week is the same
        slot every year), the month or the quarter."""
        import pandas as pd

        d = pd.DatetimeIndex(pd.to_datetime(np.asarray(dates)))
        if self.name == "daily":
            return d.day_of_week.to_numpy().astype(np.int64)
        if self.name == "weekly":
            return (np.minimum(d.isocalendar().week.to_numpy().astype(np.int64), 52) - 1).astype(np.int64)
        if self.name == "monthly":
            return (d.month.to_numpy() - 1).astype(np.int64)
        if self.name == "quarterly":
            return ((d.month.to_numpy() - 1) // 3).astype(np.int64)
        return np.zeros(len(d), dtype=np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "period": int(self.period), "days": float(self.days)}

    @classmethod
    def from_dict(cls, d: Any) -> Cadence:
        return cls(str(d["name"]), int(d["period"]), float(d["days"]))


def cadence_of(keys: Any, dates: Any) -> Cadence:
    """The cadence of a panel: the median spacing of consecutive dates within each series (``keys``),
    read as daily (about 1 day), weekly (5-9 days), monthly (25-35), quarterly (80-100) or irregular."""
    import pandas as pd

    t = pd.to_datetime(pd.Series(np.asarray(dates))).to_numpy().astype("datetime64[s]").astype(np.int64)
    k = np.asarray(keys).astype(str)
    order = np.lexsort((t, k))
    t, k = t[order], k[order]
    same = k[1:] == k[:-1]
    gaps = np.diff(t)[same] / 86400.0
    gaps = gaps[gaps > 0]
    days = float(np.median(gaps)) if gaps.size else 0.0
    if 0.5 <= days <= 1.5:
        name = "daily"
    elif 5 <= days <= 9:
        name = "weekly"
    elif 25 <= days <= 35:
        name = "monthly"
    elif 80 <= days <= 100:
        name = "quarterly"
    else:
        name = "irregular"
    return Cadence(name, CADENCES[name][1], days)
