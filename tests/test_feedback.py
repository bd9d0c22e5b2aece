"""Retraining with the analyst's marks (odcore.runs.feedback): the re-ranking's equation and its invariants (a
row marked expected falls to the typical level, a confirmed one rises to the top, rows far from every mark keep
their score), its save / load, a retrained run that records its marks and whose expected rows leave the
flags, WALDO's known normals, and what moved between the two runs and why."""

from __future__ import annotations

import json

import numpy as np
import pytest

from odcore.data import marks as M
from odcore.errors import InputError
from odcore.runs import feedback
from odcore.runs import rerank as R
from odcore.runs.execution import execute
from odcore.runs.marks import MarkStore
from odcore.runs.rebuild import load_model, load_split
from odcore.runs.spec import RunSpec, resolve
from odcore.runs.store import RunStore
from tests.test_marks import row_of, weekly


def test_rerank_equation():
    s = np.array([0.0, 1.0, 5.0, 9.0])
    m, t = 1.0, 10.0
    w_e, w_c = np.array([1.0, 0.0, 0.5, 0.0]), np.array([0.0, 0.0, 0.0, 1.0])
    out = R.rerank(s, w_e, w_c, m, t)
    np.testing.assert_allclose(out, [0.0, 1.0, 5.0 - 0.5 * 4.0, 10.0])  # below m unchanged; half the excess; top


def test_similarity_is_one_at_a_mark_decays_with_its_neighbour_rank_and_ends():
    rng = np.random.default_rng(0)
    P = rng.normal(size=(200, 3))
    marks = P[:1]
    D = R._neighbour_distances(marks, P, k=5)
    w, near, own = R.similarity(P, marks, D, k=5, strength=0.5)
    assert own.tolist() == [True] + [False] * 199
    d = np.sqrt(((P - marks[0]) ** 2).sum(axis=1))
    rank = np.argsort(np.argsort(d, kind="stable"), kind="stable")  # 0 = the mark itself
    assert w[0] == 1.0 and (near == 0).all()  # the marked row takes the mark's full weight
    inside = (rank < D.shape[1]) & (rank > 0)
    np.testing.assert_allclose(w[inside], 0.5 * np.exp(-rank[inside] / 5.0))
    assert (w[rank >= D.shape[1]] == 0).all()


def test_propagation_strength_is_what_the_marks_support():
    s, m, t = np.array([1.0, 1.2, 1.1, 1.3]), 0.0, 2.0
    y = np.array([0, 0, 1, 1])  # two expected marks, two confirmed (one of them below an expected one)
    near_expected_are_anomalies = np.array([0.0, 0.0, 0.9, 0.9])  # leave-one-out weights from the other marks
    a_e, a_c, how = R.calibrate(s, y, near_expected_are_anomalies, np.zeros(4), m, t)
    assert a_e == 0.0 and a_c == R.DEFAULT_STRENGTH and "checked" in how  # carrying expected marks would hurt
    a_e, a_c, _ = R.calibrate(s, y, np.zeros(4), near_expected_are_anomalies, m, t)
    assert a_c > 0.0  # confirmed marks whose neighbours are the other anomalies carry
    a_e, a_c, how = R.calibrate(s[:3], y[:3], np.zeros(3), np.zeros(3), m, t)
    assert (a_e, a_c) == (R.DEFAULT_STRENGTH, R.DEFAULT_STRENGTH) and "default" in how  # one confirmed: no check


@pytest.fixture()
def trained(tmp_path):
    """A table with three planted spikes, a kNN run on every row, and its store."""
    ds = weekly(stores=8, weeks=52, seed=1)
    X = ds.X.copy()
    spikes = [row_of(ds, s, d) for s, d in ((1, "2011-03-04"), (2, "2011-04-01"), (4, "2011-05-06"))]
    X[spikes, 1] += 80.0  # a temperature no week had
    ds.X = X
    store = RunStore(tmp_path)
    res = execute(resolve(RunSpec(data=ds, method="knn", protocol="all", params={"contamination": 0.05}),
                          store=store), store=store)
    return ds, store, store.get(res["run_id"]), spikes


def _top(run, n):
    return run.scores.sort_values("score", ascending=False, kind="stable")["row_id"].head(n).tolist()


def test_retrain_with_marks_moves_the_marked_rows_records_them_and_says_why(trained):
    ds, store, run, spikes = trained
    top = _top(run, 6)
    assert run.scores.set_index("row_id").loc[spikes, "pred"].all()
    ms = MarkStore(store)
    expected = [r for r in top if r not in spikes][:2] + [spikes[0]]  # a spike the analyst knows: a promotion
    ms.add_rows(ds, expected, "expected", reason="promotion", author="a")
    confirmed = sorted(run.scores.loc[run.scores["pred"] == 0, "row_id"])[:1]  # an unflagged row the analyst knows
    ms.add_rows(ds, confirmed, "confirmed", note="stock-out", author="a")
    res = feedback.retrain(run, store=store, author="a")
    new = store.get(res["run_id"])
    assert res["info"]["expected"] == 3 and res["info"]["confirmed"] == 1 and res["info"]["from"] == run.id
    used = feedback.used_marks(new)
    assert sorted(m["id"] for m in used["marks"]) == sorted(m.id for m in ms.list(ds).marks)
    assert used["used"]["rerank"] == ["expected", "confirmed"] and used["used"]["fit"] == []
    sc = new.scores.set_index("row_id")
    base = run.scores.set_index("row_id")["score"]
    model = load_model(new)
    assert isinstance(model, R.Reranked)
    _, split = load_split(new)
    assert model.median == pytest.approx(np.median(model.base.decision_function(split.X_train)))
    assert (sc.loc[expected, "pred"] == 0).all()  # every expected row left the flags ...
    np.testing.assert_allclose(sc.loc[expected, "score"], model.median, rtol=1e-9)  # ... to the typical level
    assert sc["score"].idxmax() == confirmed[0] and sc.loc[confirmed[0], "pred"] == 1  # the confirmed row is first
    assert model.labels_.sum() == pytest.approx(model.base.labels_.sum(), abs=1)  # the flagged share stays the same
    np.testing.assert_allclose(model.decision_function(split.X_test), sc.loc[split.test_index, "score"], rtol=1e-6)
    infl = model.influence(split.X_test)
    far = (infl["w_expected"] == 0) & (infl["w_confirmed"] == 0)
    assert far.sum() > ds.n_rows // 3
    np.testing.assert_allclose(sc.loc[split.test_index[far], "score"], base.loc[split.test_index[far]])  # untouched
    moved = feedback.moved(run, new)
    left = moved[moved["change"] == "left"]
    assert len(left) >= 3
    for r in expected:
        hit = left[(left["Store"] == str(ds.meta["Store"].iloc[r]))
                   & (left["Date"] == M.canonical(ds.meta["Date"].iloc[[r]])[0])]
        assert len(hit) == 1 and hit["why"].iloc[0].startswith("marked expected (promotion)")
    entered = moved[moved["change"] == "entered"]
    assert entered["why"].str.contains("marked confirmed \\(stock-out\\)").sum() == 1
    rank = feedback.ranking(new, store=store)
    assert rank.iloc[0]["mark"] == "confirmed" and (rank["mark"] == "expected").sum() == 3
    assert list(rank.columns[:2]) == ["Store", "Date"] and rank["rank"].is_monotonic_increasing


def test_retrain_refuses_without_marks_and_on_another_tables_marks(trained):
    ds, store, run, _ = trained
    with pytest.raises(M.MarksError, match="no marks yet"):
        feedback.retrain_spec(run, store=store)
    stray = [M.Mark(key={"Store": "9", "Date": "2011-03-04"}, kind="expected")]
    with pytest.raises(M.MarksError, match="no row has the key Store 9"):
        feedback.retrain_spec(run, store=store, marks=stray)
    wrong = [M.Mark(key={"market": "M1", "week": "3"}, kind="expected")]
    with pytest.raises(M.MarksError, match="another table"):
        feedback.retrain_spec(run, store=store, marks=wrong)
    # a damaged marks file: reported, ignored, never fatal
    p = MarkStore(store).path(M.identity(ds))
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text('{"format": "odcore-marks", "version": 1, "marks": 3}')
    with pytest.raises(M.MarksError, match="damaged"):
        feedback.retrain_spec(run, store=store)
    # the limited-negatives detector needs a confirmed row
    lf = execute(resolve(RunSpec(data=ds, method="drocc-lf", protocol="all", params={"epochs": 1}), store=store),
                 store=store)
    with pytest.raises(M.MarksError, match="confirm at least one"):
        feedback.retrain_spec(store.get(lf["run_id"]), store=store,
                              marks=[M.Mark(key={"Store": "1", "Date": "2011-03-04"}, kind="expected")])


def test_detectors_that_learn_from_marks_get_them_in_fit(trained):
    ds, store, run, spikes = trained
    keys = [M.normalise_key(ds, {"Store": ds.meta["Store"].iloc[r], "Date": ds.meta["Date"].iloc[r]})
            for r in spikes]
    marks = [M.Mark(key=keys[0], kind="confirmed")] + [M.Mark(key=k, kind="expected") for k in (
        {"Store": "1", "Date": "2011-01-07"}, {"Store": "2", "Date": "2011-01-07"})]
    base = execute(resolve(RunSpec(data=ds, method="deep-sad", protocol="all", params={"epochs": 1, "hidden": (8,),
                                                                              "rep_dim": 4}), store=store), store=store)
    res = feedback.retrain(store.get(base["run_id"]), store=store, marks=marks)
    used = store.get(res["run_id"]).config["marks_used"]
    assert used["fit"] == ["expected", "confirmed"]  # Deep SAD: labelled normals and labelled anomalies
    waldo = execute(resolve(RunSpec(data=ds, method="waldo", protocol="pu", protocol_options={"known_normal":
                                                                                         "before=2011-04-01"},
                            params={"epochs": 1}), store=store), store=store)
    spec, info = feedback.retrain_spec(store.get(waldo["run_id"]), store=store, marks=marks)
    assert spec.protocol == "pu" and spec.protocol_options["known_normal"] == "before=2011-04-01"
    res = execute(resolve(spec, store=store), store=store)
    new = store.get(res["run_id"])
    assert new.config["marks_used"]["fit"] == ["expected"]
    _, split = load_split(new)
    assert spikes[0] not in split.pos_index  # confirmed, though before the known-normal date
    assert row_of(ds, 2, "2011-01-07") in split.pos_index


def test_train_marks_on_the_command_line(trained, tmp_path, capsys):
    from odcore import cli

    ds, store, run, spikes = trained
    path = tmp_path / "weekly.csv"
    frame = ds.meta.reset_index(drop=True)[["Store", "Date", "Sales", "Temp"]].copy()
    frame["Date"] = frame["Date"].dt.strftime("%Y-%m-%d")
    frame.to_csv(path, index=False)
    common = ["--data", str(path), "--data-option", "roles=Store:group,Date:time,Sales:feature,Temp:feature",
              "--runs-dir", str(store.root)]
    assert cli.main(["marks", "add", *common, "--key", "Store=1", "--key", "Date=2011-03-04", "--kind",
                     "expected"]) == 0
    capsys.readouterr()
    rc = cli.main(["train", *common, "--method", "pca", "--marks", "-q", "--json"])
    out = capsys.readouterr().out
    assert rc == 0
    new = store.get(json.loads(out)["run_id"])
    assert new.config["spec"]["protocol"] == "all" and len(feedback.used_marks(new)["marks"]) == 1
    assert cli.main(["train", *common, "--method", "pca", "--marks", "--protocol", "novelty", "-q"]) == 2
    assert "--marks retrains on every row" in capsys.readouterr().err


def test_a_damaged_rerank_file_is_one_message(trained):
    ds, store, run, _ = trained
    res = feedback.retrain(run, store=store, marks=[M.Mark(key={"Store": "1", "Date": "2011-03-04"},
                                                           kind="expected")])
    new = store.get(res["run_id"])
    (new.model_dir / R.RERANK_ARRAYS).write_bytes(b"garbage")
    with pytest.raises(InputError, match="re-ranking saved with the model is damaged"):
        load_model(new)
