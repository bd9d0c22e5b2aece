"""The analyst's own table (odcore.data.table): roles proposed, dates parsed, blanks by an explicit policy,
windows checked against a direct computation, per-series scaling, and new data scored with the saved run.

Every file here is written by the test: a messy weekly store panel (store id, a date column, blanks, a
row index), a daily file, a panel with one series 100x bigger than the others.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from odcore import data
from odcore.data import table
from odcore.errors import InputError
from odcore.runs.spec import resolve


def messy_weekly_panel(path, *, stores: int = 5, weeks: int = 48, seed: int = 0, blank_share: float = 0.2):
    """A weekly store-sales table as analysts get them: a row index, a store id, dd-mm-YYYY dates, sales in
    cents, a holiday flag, a store type (text) and economic columns with blanks. Returns the frame written."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2010-02-05", periods=weeks, freq="7D")
    rows = []
    for s in range(1, stores + 1):
        level = 15000.0 * s ** 2
        for d in dates:
            rows.append({"Store": s, "Date": d.strftime("%d-%m-%Y"),
                         "Weekly_Sales": round(level * rng.lognormal(0, 0.05), 2),
                         "Holiday_Flag": int(d.month == 12 and d.day > 20), "Type": "AB"[s % 2],
                         "Temperature": round(rng.normal(60, 10), 2), "Fuel_Price": round(rng.normal(3, 0.2), 3),
                         "CPI": round(rng.normal(210, 3), 7), "Unemployment": round(rng.normal(8, 0.5), 3)})
    df = pd.DataFrame(rows)
    df.loc[rng.random(len(df)) < blank_share, "CPI"] = np.nan
    df.loc[rng.random(len(df)) < 0.03, "Temperature"] = np.nan
    df.insert(0, "Unnamed: 0", np.arange(len(df)))
    df.to_csv(path, index=False)
    return df


@pytest.fixture
def panel(tmp_path):
    p = tmp_path / "walmart_like.csv"
    return p, messy_weekly_panel(p)


# ----------------------------------------------------------------------------- roles and values
def test_roles_are_proposed_from_types_cardinality_and_names(panel):
    path, _ = panel
    prep = table.propose(pd.read_csv(path))
    # with a time column: what is watched (sales) is the measure, the covariates and the store's type its context
    assert prep.roles == {"Unnamed: 0": "id", "Store": "group", "Date": "time", "Weekly_Sales": "measure",
                          "Holiday_Flag": "context", "Type": "context", "Temperature": "context",
                          "Fuel_Price": "context", "CPI": "context", "Unemployment": "context"}
    assert prep.units == {"Weekly_Sales": "$", "Fuel_Price": "$", "Temperature": "°", "Unemployment": "%"}
    assert prep.time_format == "%d-%m-%Y"
    # blanks of measures and context: filled from their own series; columns without blanks: no policy
    assert prep.missing == {"CPI": "series", "Temperature": "series"}
    # without the time column, the same columns are features modelled as they are (the old proposal)
    plain = table.propose(pd.read_csv(path).drop(columns=["Date"]))
    assert plain.roles["Weekly_Sales"] == "feature" and plain.encoding["Type"] == "onehot"
    # 20% blank -> kept as a 0/1 'blank' feature; 3% blank -> the median
    assert plain.missing == {"CPI": "indicator", "Temperature": "median"}
    assert "repeated" in prep.reasons["Store"] and prep.reasons["Date"].startswith("dates")


def test_a_messy_panel_loads_with_every_value_accounted_for(panel):
    path, df = panel
    ds = data.load(path, roles="auto")
    assert ds.n_rows == len(df)  # no row dropped: blanks were filled by their policy
    assert ds.feature_names == ["Weekly_Sales vs expected"]  # the measure's deviation from its series' expectation
    blank = df["CPI"].isna().to_numpy()
    np.testing.assert_array_equal(ds.meta["CPI filled"].to_numpy(), blank)  # filled from the store's own CPI, marked
    plain = data.load(path, roles="Weekly_Sales:feature,Holiday_Flag:feature,Type:feature,Temperature:feature,"
                                  "Fuel_Price:feature,CPI:feature,Unemployment:feature")
    assert plain.feature_names == ["Weekly_Sales", "Holiday_Flag", "Type=A", "Type=B", "Temperature", "Fuel_Price",
                                   "CPI", "CPI (blank)", "Unemployment"]  # features: in the file's order
    j = plain.feature_names.index("CPI")
    np.testing.assert_array_equal(plain.X[:, j + 1], blank.astype(np.float32))  # the indicator marks the blanks
    np.testing.assert_allclose(plain.X[blank, j], np.median(df["CPI"].dropna()), rtol=1e-6)  # the median
    # the row's keys and original values travel with it, at full precision (float64, blanks kept blank)
    assert list(ds.meta.columns[:4]) == ["source_row", "Unnamed: 0", "Store", "Date"]
    assert ds.meta["Date"].iloc[1] == pd.Timestamp("2010-02-12")
    assert ds.meta["CPI"].dtype == np.float64
    np.testing.assert_array_equal(ds.meta["CPI"].to_numpy(), df["CPI"].to_numpy())
    assert f"{int(blank.sum())} blank CPI filled" in ds.notes
    assert ds.table["fitted"]["time_format"] == "%d-%m-%Y"


def test_blanks_need_a_policy_and_drop_keeps_the_file_rows(panel):
    path, df = panel
    with pytest.raises(InputError, match=r"column 'CPI' has \d+ blank value\(s\).*missing=CPI:drop\|series"):
        data.load(path, roles="auto", missing="CPI:refuse")
    ds = data.load(path, roles="auto", missing="drop")
    keep = df["CPI"].notna() & df["Temperature"].notna()
    assert ds.n_rows == int(keep.sum())
    assert ds.meta["source_row"].tolist() == np.flatnonzero(keep.to_numpy()).tolist()  # rows of the file
    assert "CPI (blank)" not in ds.feature_names and not ds.meta["CPI filled"].any()


def test_text_in_a_numeric_column_is_refused_not_coerced(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("store,date,sales\n1,2020-01-06,10\n1,2020-01-13,n.a.\n1,2020-01-20,12\n1,2020-01-27,11\n")
    prep = table.propose(pd.read_csv(p))
    assert prep.roles["sales"] == "ignore" and "like 'n.a.'" in prep.reasons["sales"]
    with pytest.raises(InputError, match=r"'sales' is numeric except for 1 value\(s\) like 'n.a.' \(data rows 2\)"):
        data.load(p, roles="store:group,date:time,sales:feature")


@pytest.mark.parametrize("fmt", ["%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d %b %Y", "%Y%m%d",
                                 "%b %d, %Y", "%Y-%m-%d %H:%M:%S"])
def test_dates_of_common_formats_are_parsed(fmt):
    days = pd.date_range("2021-01-04", periods=40, freq="D")
    s = pd.Series(days.strftime(fmt))
    parsed, found = table.parse_dates(s)
    assert (parsed.to_numpy() == days.to_numpy()).all(), found


def test_ambiguous_day_month_order_is_read_as_the_regular_one_and_said():
    weekly = pd.date_range("2021-01-01", periods=12, freq="7D")  # Jan 1, 8, ... ; day <= 12 only in January
    s = pd.Series([d.strftime("%m/%d/%Y") for d in weekly if d.day <= 12])
    fmt, note = table.detect_date_format(s)
    assert fmt == "%m/%d/%Y" and "ambiguous" in note  # read as weekly dates, not as a scatter of months
    with pytest.raises(InputError, match=r"'when': 1 value\(s\) like '31/31/2021' \(data rows 3\)"):
        table.parse_dates(pd.Series(["01/04/2021", "01/11/2021", "31/31/2021"]), "%m/%d/%Y", column="when")


def test_the_editor_rows_are_the_same_options_as_the_cli(panel):
    path, _ = panel
    auto = data.load(path, roles="auto", scaling="series")
    rows = table.editor_rows(auto.table)
    assert [r["column"] for r in rows][:3] == ["Unnamed: 0", "Store", "Date"]
    again = data.load(path, **table.options_from_rows(rows, scaling="series"))
    assert again.content_hash() == auto.content_hash()
    rows[[r["column"] for r in rows].index("Type")]["role"] = "feature"
    more = data.load(path, **table.options_from_rows(rows, scaling="series"))
    assert "Type=A" in more.feature_names and more.n_features == auto.n_features + 2
    assert any("CPI" in line for line in table.impact(rows, 200))


# ----------------------------------------------------------------------------- windows
def _daily(path, seed=0):
    """Two stores, daily sales from a Wednesday to a Monday five weeks later (partial weeks at both ends)."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2021-03-03", "2021-04-12", freq="D")  # Wed .. Mon
    rows = [{"shop": s, "day": d.strftime("%d/%m/%Y"), "units": float(rng.integers(0, 100))}
            for s in ("north", "south") for d in days]
    df = pd.DataFrame(rows).sample(frac=1.0, random_state=seed)  # any row order
    df.to_csv(path, index=False)
    return df


def test_daily_rows_become_one_row_per_store_and_week_as_computed_directly(tmp_path):
    p = tmp_path / "daily.csv"
    df = _daily(p)
    ds = data.load(p, roles="units:feature", window="week")  # the values as they are (a measure: deviations)
    assert ds.feature_names == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    d = df.assign(day=pd.to_datetime(df["day"], format="%d/%m/%Y"))
    expect = []
    for shop in ("north", "south"):
        mondays = sorted({t - pd.Timedelta(days=t.day_of_week) for t in d["day"]})
        for m in mondays:
            week = d[(d["shop"] == shop) & (d["day"] >= m) & (d["day"] < m + pd.Timedelta(days=7))].sort_values("day")
            if len(week) == 7:
                expect.append((shop, m, week["units"].tolist()))
    got = [(ds.meta["shop"][i], ds.meta["window_start"][i], ds.X[i].tolist()) for i in range(ds.n_rows)]
    assert got == expect and len(got) == 2 * 5
    assert (ds.meta["window_end"] - ds.meta["window_start"] == pd.Timedelta(days=6)).all()
    assert "partial week(s) dropped" in ds.notes


def test_weekly_rows_become_k_week_windows_as_computed_directly(panel):
    path, df = panel
    ds = data.load(path, roles="Weekly_Sales:feature,Temperature:feature", window="weeks", window_weeks=4,
                   missing="median")
    sales = [n for n in ds.feature_names if n.startswith("Weekly_Sales")]
    assert sales == ["Weekly_Sales w1", "Weekly_Sales w2", "Weekly_Sales w3", "Weekly_Sales w4"]
    assert ds.n_rows == 5 * (48 // 4)
    cols = [ds.feature_names.index(n) for n in sales]
    for i in (0, 13, ds.n_rows - 1):
        store, start = ds.meta["Store"][i], ds.meta["window_start"][i]
        rows = df[df["Store"] == store].assign(d=pd.to_datetime(df["Date"], format="%d-%m-%Y"))
        rows = rows[rows["d"] >= start].sort_values("d").head(4)
        np.testing.assert_allclose(ds.X[i, cols], rows["Weekly_Sales"].to_numpy(), rtol=1e-6)
        assert ds.meta["window_end"][i] == rows["d"].iloc[-1]


def test_repeated_dates_in_a_series_are_refused_with_the_fix(tmp_path):
    p = tmp_path / "dup.csv"
    p.write_text("day,units\n" + "".join(f"2021-03-{d:02d},{d}\n" for d in (1, 2, 2, 3, 4, 5, 6, 7, 8)))
    with pytest.raises(InputError, match=r"repeated dates \(2021-03-02\).*role 'group'"):
        data.load(p, roles="auto", window="week")


# ----------------------------------------------------------------------------- per-series scaling
def _panel_with_a_giant(path, seed=0):
    """Six stores of daily sales, one 100x bigger than the rest; store s3 has a stock-out week (planted)."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2022-01-03", periods=7 * 30, freq="D")
    profile = np.array([1.0, 0.9, 1.0, 1.1, 1.3, 1.8, 1.5])
    rows = []
    for s in range(6):
        level = 10_000.0 if s == 0 else 100.0
        v = level * profile[days.day_of_week] * rng.lognormal(0, 0.05, len(days))
        if s == 3:
            v[7 * 12 + 2: 7 * 12 + 7] *= 0.15  # the planted week: sales collapse from Wednesday
        rows += [{"store": f"s{s}", "date": d.date().isoformat(), "sales": round(x, 2)} for d, x in zip(days, v)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return pd.Timestamp(days[7 * 12])


@pytest.mark.parametrize("method", ["knn", "iforest"])
def test_per_series_scaling_ranks_the_small_series_anomaly_first(tmp_path, method):
    from odcore.models import create

    p = tmp_path / "giant.csv"
    planted = _panel_with_a_giant(p)
    first = {}
    for scaling in ("global", "series"):
        ds = data.load(p, roles="sales:feature", window="week", scaling=scaling)
        sp = data.split(ds, "all")
        s = create(method).fit(sp.X_train).decision_function(sp.X_test)
        top = int(np.argmax(s))
        first[scaling] = (ds.meta["store"][top], ds.meta["window_start"][top])
        if scaling == "series":  # each store in its own level: the giant's units no longer dominate
            giant = (ds.meta["store"] == "s0").to_numpy()
            assert abs(float(np.mean(ds.X[giant])) - float(np.mean(ds.X[~giant]))) < 0.5
    assert first["series"] == ("s3", planted)
    if method == "knn":  # globally, distances are in the giant's units: its noise outranks the small store's stock-out
        assert first["global"][0] == "s0"


def test_to_units_inverts_per_series_scaling(tmp_path):
    p = tmp_path / "giant.csv"
    _panel_with_a_giant(p)
    ds = data.load(p, roles="sales:feature", window="week", scaling="series")
    back = table.to_units(ds.table, ds.X.astype(np.float64), ds.meta)
    np.testing.assert_allclose(back, ds.meta[ds.feature_names].to_numpy(), rtol=1e-5)


# ----------------------------------------------------------------------------- known normals and scoring
def test_known_normal_rows_are_the_labelled_inliers(panel):
    path, _ = panel
    ds = data.load(path, roles="auto")
    sp = data.split(ds, "pu", known_normal="before=2010-06-01")
    marked = (ds.meta["Date"] < "2010-06-01").to_numpy()
    assert sp.X_pos.shape[0] == int(marked.sum()) and sp.X_train.shape[0] == int((~marked).sum())
    assert sp.X_test.shape[0] == ds.n_rows  # every row is scored
    assert table.known_normal_mask(ds.meta, "Store=1|2").sum() == 2 * 48
    with pytest.raises(InputError, match=r"known normal rows \(before=1999-01-01\): 0 of"):
        data.split(ds, "pu", known_normal="before=1999-01-01")


def test_scoring_round_trip_gives_the_run_s_scores_for_the_same_rows(panel, tmp_path):
    from odcore.runs import RunSpec, RunStore, execute, score_file

    path, df = panel
    store = RunStore(tmp_path / "runs")
    opts = {"roles": ",".join(f"{c}:feature" for c in ("Weekly_Sales", "Holiday_Flag", "Type", "Temperature",
                                                                 "Fuel_Price", "CPI", "Unemployment")),
            "scaling": "series"}
    rid = execute(resolve(RunSpec(str(path), "iforest", protocol="all", data_options=opts), store=store),
                  store=store)["run_id"]
    run = store.get(rid)
    assert run.config["dataset"]["table"]["scaling"] == "series"
    new = df.iloc[::-1].drop(columns=["Unnamed: 0"]).head(120)  # other order, fewer rows, an unused column gone
    new = new[list(reversed(new.columns))]  # columns in another order: matched by name
    new_path = tmp_path / "new.csv"
    new.to_csv(new_path, index=False)
    out = tmp_path / "scored.parquet"
    stats = score_file(run, new_path, out)
    scored = pd.read_parquet(out)
    assert stats["rows"] == 120 and list(scored.columns[:3]) == ["source_row", "Store", "Date"]
    trained = run.scores.set_index("row_id")["score"]
    ds = data.load(path, **opts)
    key = {(s, d): i for i, (s, d) in enumerate(zip(ds.meta["Store"], ds.meta["Date"]))}
    same = [trained[key[(s, d)]] for s, d in zip(scored["Store"], scored["Date"])]
    np.testing.assert_array_equal(scored["score"].to_numpy(), np.asarray(same))
    assert any("blank CPI filled" in n for n in stats["notes"])
    with pytest.raises(InputError, match=r"lacks column\(s\) CPI \(feature\)"):
        new.drop(columns=["CPI"]).to_csv(new_path, index=False)
        score_file(run, new_path, out)
    unseen = new.assign(Store=new["Store"] + 100)
    unseen.to_csv(new_path, index=False)
    with pytest.raises(InputError, match=r"series '103', '104', '105' were not in the training table"):
        score_file(run, new_path, out)


def test_waldo_learns_from_the_rows_marked_known_normal(panel, tmp_path):
    from odcore.runs import RunSpec, RunStore, execute

    path, df = panel
    store = RunStore(tmp_path / "runs")
    spec = RunSpec(str(path), "waldo", protocol="pu", data_options={"roles": "auto", "scaling": "series"},
                   protocol_options={"known_normal": "before=2010-06-01"}, params={"epochs": 1, "batch_size": 64})
    run = store.get(execute(resolve(spec, store=store), store=store)["run_id"])
    assert run.status == "done" and len(run.scores) == len(df)  # every row scored
    assert run.config["split"]["pos"] == int((pd.to_datetime(df["Date"], format="%d-%m-%Y") < "2010-06-01").sum())


def test_score_carries_the_id_columns_of_a_plain_weekly_rows_run(tmp_path):
    from odcore.runs import RunSpec, RunStore, execute, score_file

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"market": np.repeat(["north", "south"], 30), "week": np.tile(np.arange(30), 2),
                       **{d: rng.integers(10, 50, 60) for d in table.DAYS}})
    p = tmp_path / "weekly.csv"
    df.to_csv(p, index=False)
    store = RunStore(tmp_path / "runs")
    run = store.get(execute(resolve(RunSpec(str(p), "iforest", protocol="all"), store=store), store=store)["run_id"])
    out = tmp_path / "scored.csv"
    score_file(run, p, out)
    scored = pd.read_csv(out)
    assert list(scored.columns[:3]) == ["market", "week", "row_id"]
    assert scored["market"].tolist() == df["market"].tolist()
