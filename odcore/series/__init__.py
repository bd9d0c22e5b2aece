"""Each series' own pattern: what every period was expected to be, and how far it strayed.

An analyst's question about a table of store-weeks is rarely "which rows are unusual among all
rows" but "which store-weeks broke *their own* pattern": a store's sales against its level, trend,
season, holidays and what every other store did that week. This package (data layer: it imports
only the core helpers, numpy, pandas and statsmodels) answers it for the table preparation
(:mod:`odcore.data.table`), which turns the answer into the rows every detector sees:

- :mod:`~odcore.series.cadence`: the spacing of the dates (daily, weekly, monthly) and the slot of
  each date in its cycle (day of week, week of year, month);
- :mod:`~odcore.series.fill`: blanks filled from their own series (interpolation over time within
  the series, else the series' median), never from other series, and marked;
- :mod:`~odcore.series.expectation`: per series and measure, the expected value of each period and
  its band, and the standardised deviation of the actual from it (:func:`fit`, :func:`apply`).

Import cost: statsmodels is imported inside the functions that fit a trend, never at import time.
"""

from __future__ import annotations

from odcore.series.cadence import Cadence, cadence_of
from odcore.series.expectation import Expectation, apply, fit
from odcore.series.fill import fill_series

__all__ = ["Cadence", "cadence_of", "Expectation", "fit", "apply", "fill_series"]
