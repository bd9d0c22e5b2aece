"""Each series' expectation (odcore.series), the series-aware blank fill, the measure / context roles and the
table default, on tiny panels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from odcore.data import table
from odcore.series import cadence_of, expectation, fill_series


def _panel(n_series: int = 5, n_weeks: int = 110, seed: int = 0, levels=None) -> pd.DataFrame:
    """Weekly sales of ``n_series`` stores: a level, a shared yearly profile with a Christmas peak, noise."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2010-01-08", periods=n_weeks, freq="7D")
    woy = dates.isocalendar().week.to_numpy().astype(int)
    shared = 0.1 * np.sin(2 * np.pi * woy / 52) + 0.5 * (woy == 51)
    levels = levels if levels is not None else np.exp(rng.normal(np.log(1e5), 0.8, n_series))
    rows = []
    for s in range(n_series):
        log = np.log(levels[s]) + shared + rng.normal(0, 0.02, n_weeks)
        rows.append(pd.DataFrame({"Store": s + 1, "Date": dates, "Weekly_Sales": np.exp(log),
                                  "Temperature": 50 + 20 * np.cos(2 * np.pi * woy / 52) + s,
                                  "Holiday_Flag": (woy == 51).astype(int)}))
    return pd.concat(rows, ignore_index=True)


def test_expectation_matches_a_direct_computation_of_eq_1():
    from statsmodels.tsa.seasonal import STL

    df = _panel()
    y, k, t = df["Weekly_Sales"].to_numpy(), df["Store"].to_numpy(), df["Date"]
    e = expectation.fit(y, k, t)
    assert e.record["transform"] == "log" and e.record["cadence"]["name"] == "weekly"
    # eq. (1), computed directly: STL trend per store, median over stores per date, slope, slot medians with a 0
    x = np.log(y)
    T = np.concatenate([STL(x[k == s], period=52, robust=True).fit().trend for s in np.unique(k)])
    D = x - T
    C = pd.Series(D).groupby(t.to_numpy()).transform("median").to_numpy()
    slot = np.minimum(t.dt.isocalendar().week.to_numpy().astype(int), 52) - 1
    E = np.empty_like(x)
    for s in np.unique(k):
        m = k == s
        a = e.record["series"][str(s)]["a"]
        assert 0.5 < a < 1.5  # every store follows the shared pattern
        r = D[m] - a * C[m]
        own = {q: np.median(np.r_[r[slot[m] == q], 0.0]) for q in np.unique(slot[m])}
        E[m] = T[m] + a * C[m] + np.array([own[q] for q in slot[m]])
    np.testing.assert_allclose(e.expected, np.exp(E), rtol=1e-9)
    assert np.all(e.low < e.expected) and np.all(e.expected < e.high)
    # the Christmas peak is expected, not flagged
    peak = df["Holiday_Flag"].to_numpy() == 1
    assert np.abs(e.z[peak]).max() < 4 and e.expected[peak].mean() > 1.3 * e.expected[~peak].mean() * 0.9


def test_apply_reproduces_fit_and_continues_a_short_series():
    df = _panel()
    y, k, t = df["Weekly_Sales"].to_numpy(), df["Store"].to_numpy(), df["Date"]
    e = expectation.fit(y, k, t)
    again = expectation.apply(y, k, t, e.record)
    np.testing.assert_allclose(again.z, e.z)
    # four new weeks of store 2 alone: the training trend continued, the training's shared pattern by date/slot
    new = pd.date_range(t.max() + pd.Timedelta(days=7), periods=4, freq="7D")
    last = y[k == 2][-8:].mean()
    short = expectation.apply(np.full(4, last), np.full(4, 2), new, e.record)
    assert np.all(np.abs(short.z) < 6) and np.all(np.isfinite(short.expected))


def test_cadence_and_slots():
    d = pd.date_range("2021-01-04", periods=30, freq="D")
    c = cadence_of(np.zeros(30), d)
    assert c.name == "daily" and c.period == 7 and c.slots(d)[:7].tolist() == list(range(7))
    weekly = cadence_of(np.zeros(5), pd.date_range("2010-01-01", periods=5, freq="7D"))
    assert weekly.name == "weekly" and weekly.period == 52
    black_friday = pd.to_datetime(["2010-11-26", "2011-11-25", "2012-11-23"])  # one slot, every year
    assert len(set(weekly.slots(black_friday).tolist())) == 1


def test_blanks_are_filled_from_their_own_series_never_the_global_median():
    keys = np.array(["a"] * 5 + ["b"] * 5)
    dates = np.tile(pd.date_range("2020-01-03", periods=5, freq="7D").to_numpy(), 2)
    cpi = np.array([130, 131, np.nan, 133, 134, 210, 211, 212, np.nan, np.nan], dtype=float)
    filled, mask = fill_series(cpi, keys, dates)
    assert filled[2] == pytest.approx(132.0)  # interpolated within store a (the global median is 171)
    assert filled[8] == filled[9] == 212.0  # the end of store b: its nearest value
    assert mask.tolist() == [False, False, True, False, False, False, False, False, True, True]
    empty, m2 = fill_series(np.array([np.nan, np.nan, 1.0]), np.array(["x", "x", "y"]), dates[:3])
    assert np.isnan(empty[:2]).all() and not m2.any()  # a series with no value keeps its blanks


def test_table_roles_units_and_filled_cells_are_never_the_reason():
    df = _panel()
    df.loc[3, "Weekly_Sales"] = np.nan  # a blank measure cell
    df.loc[10:14, "Temperature"] = np.nan  # a feed that stopped
    prep = table.from_options(df, roles="auto")
    assert prep.roles["Weekly_Sales"] == "measure" and prep.units["Weekly_Sales"] == "$"
    assert prep.roles["Temperature"] == "context" and prep.roles["Holiday_Flag"] == "context"
    assert prep.missing["Weekly_Sales"] == "series" and prep.missing["Temperature"] == "series"
    res = table.prepare(df, prep)
    assert res.feature_names == ["Weekly_Sales vs expected"]  # context explains, it is not modelled
    meta = res.meta
    assert bool(meta.loc[3, "Weekly_Sales filled"]) and res.X[3, 0] == 0.0
    assert meta.loc[10:14, "Temperature filled"].all() and np.isnan(meta.loc[10:14, "Temperature"]).all()
    assert {"Weekly_Sales expected", "Weekly_Sales low", "Weekly_Sales high", "Weekly_Sales change"} <= set(meta)
    np.testing.assert_allclose(table.apply(df, res.prep).X, res.X)  # scoring the training table: the same rows
    # explicit roles change the proposal for the columns named: a covariate made a measure is watched too
    both = table.prepare(df, table.from_options(df, roles="Temperature:measure"))
    assert both.feature_names == ["Weekly_Sales vs expected", "Temperature vs expected"]


def test_a_planted_anomaly_in_a_small_store_ranks_first():
    from odcore.data.formats import frame_to_dataset
    from odcore.models import create, registry

    df = _panel(n_series=6, levels=np.array([2e6, 1.5e6, 9e5, 7e5, 4e5, 3e3]))
    small = np.flatnonzero((df["Store"] == 6).to_numpy())
    at = small[30]  # an ordinary week of the smallest store (0.1% of the biggest)
    df.loc[at, "Weekly_Sales"] *= 1.35
    df.loc[small[[5, 40, 77]], "Weekly_Sales"] = np.nan  # blanks nearby are filled, never the reason
    ds = frame_to_dataset(df, name="panel", source="test", roles="auto")
    method = registry.recommended("tables")
    model = create(method, random_state=0).fit(ds.X)
    s = model.decision_function(ds.X)
    assert ds.meta["source_row"].to_numpy()[np.argmax(s)] == at


def test_cli_trains_a_weekly_table_without_options_and_scores_it(tmp_path, capsys):
    from odcore import cli

    df = _panel(n_series=4, n_weeks=60)
    df["Date"] = df["Date"].dt.strftime("%d-%m-%Y")
    path = tmp_path / "weekly.csv"
    df.to_csv(path, index=False)
    runs = tmp_path / "runs"
    assert cli.main(["train", "--data", str(path), "--runs-dir", str(runs), "-q", "--json"]) == 0
    import json

    rec = json.loads(capsys.readouterr().out)
    out = tmp_path / "scored.csv"
    assert cli.main(["score", "--runs-dir", str(runs), "--run", rec["run_id"], "--input", str(path),
                     "--output", str(out)]) == 0
    scored = pd.read_csv(out)
    assert {"Store", "Date", "score", "pred"} <= set(scored.columns) and len(scored) == len(df)
    assert scored["Date"].iloc[0] == "2010-01-08"


def test_methods_declare_the_table_default(capsys):
    from odcore import cli
    from odcore.models import registry

    assert cli.main(["methods", "--json"]) == 0
    import json

    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows if "tables" in r["recommended_for"]] == [registry.recommended("tables")]


def test_per_series_scaling_leaves_series_deviations_as_they_are():
    """Series rows are each series' deviation over its own robust spread: per-series scaling is for feature
    columns only (the roles editor says so instead of offering a control that would do nothing)."""
    df = _panel()
    df.loc[7, "Weekly_Sales"] *= 1.5  # a spike: its series' std (not its robust spread) grows
    plain = table.prepare(df, table.from_options(df, roles="auto"))
    scaled = table.prepare(df, table.from_options(df, roles="Temperature:feature", scaling="series"))
    assert scaled.feature_names == ["Temperature", "Weekly_Sales vs expected"]
    np.testing.assert_array_equal(scaled.X[:, 1], plain.X[:, 0])
    t = scaled.X[:, 0]  # the feature column is in each store's own level: mean 0, std 1 per store
    keys = df["Store"].to_numpy()
    assert all(abs(t[keys == s].mean()) < 1e-9 and abs(t[keys == s].std() - 1) < 1e-9 for s in np.unique(keys))
    np.testing.assert_allclose(table.to_units(scaled.prep.to_dict(), scaled.X, scaled.meta)[:, 0],
                               df["Temperature"].to_numpy())
