"""Benchmark suites (odcore.runs.suite, odcore.recipes.suites) and ``odcore bench --suite``: the same
splits for every method, per-file tables, average ranks, Demšar's critical difference, wins / ties / losses."""

import json
from pathlib import Path

import numpy as np
import pytest

from odcore.cli import main
from odcore.errors import InputError
from odcore.recipes import suites
from odcore.runs import suite as S


def fake_data_dir(root: Path) -> Path:
    """The adbench-dev layout with tiny synthetic files (rows with a few wide outliers), in both formats."""
    import scipy.io

    rng = np.random.default_rng(0)
    for rel in suites.SUITES["adbench-dev"].files:
        X = rng.normal(size=(60, 3))
        y = np.zeros(60)
        y[:6] = 1
        X[:6] *= 6
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".npz":
            np.savez(path, X=X, y=y)
        else:
            scipy.io.savemat(path, {"X": X, "y": y.reshape(-1, 1)})
    return root


def rec(dataset, method, auroc, seed=0, protocol="novelty"):
    return {"dataset": dataset, "method": method, "protocol": protocol, "seed": seed, "auroc": auroc,
            "auprc": auroc / 2, "fit_seconds": 1.0}


def test_the_development_suite_is_the_shared_files_under_two_protocols():
    s = suites.get("adbench-dev")
    assert len(s.files) == 15 and s.protocols == ("novelty", "unsupervised") and s.seeds >= 2
    assert {"pyod-autoencoder", "pyod-deep-svdd", "pyod-alad", "autoencoder", "deep-svdd", "alad", "ensemble",
            "auto", "knn", "iforest"} <= set(s.methods)
    with pytest.raises(InputError, match="unknown suite 'nope'; choose one of: adbench-dev"):
        suites.get("nope")


def test_missing_files_are_refused_together_with_the_fix(tmp_path):
    with pytest.raises(InputError, match="15 file\\(s\\) missing under .*set ODCORE_DATA_DIR"):
        S.resolve_files(suites.get("adbench-dev"), tmp_path)


def test_every_method_of_a_file_protocol_and_seed_gets_the_same_split(tmp_path):
    cells = S.suite_cells(suites.get("adbench-dev"), data_dir=fake_data_dir(tmp_path), seeds=2,
                          methods=["iforest", "knn"], protocols=["novelty"])
    assert len(cells) == 15 * 2 * 2
    first = [c for c in cells if c["dataset"] == "thyroid"]
    assert {(c["run"]["method"], c["run"]["seed"]) for c in first} == {(m, s) for m in ("iforest", "knn")
                                                                         for s in (0, 1)}
    assert {c["run"]["data"] for c in first} == {str(tmp_path / "odds/thyroid.mat")}


def test_ranks_critical_difference_and_win_tie_loss_against_direct_computations():
    V = np.array([[0.9, 0.8, 0.7], [0.6, 0.9, 0.5], [0.8, 0.8, 0.4]])
    np.testing.assert_allclose(S.average_ranks(V), [(1 + 2 + 1.5) / 3, (2 + 1 + 1.5) / 3, 3.0])
    # Demšar 2006, Table 5: q_0.05 = 2.343 for 3 classifiers
    assert S.critical_difference(3, 10) == pytest.approx(2.343 * np.sqrt(3 * 4 / 60), rel=1e-3)
    assert S.win_tie_loss(V, 0, 1) == (1, 1, 1) and S.win_tie_loss(V, 0, 2) == (3, 0, 0)


def test_summary_and_markdown_tables():
    records = [rec(f, m, a, seed=s) for s in (0, 1) for f, row in
               (("a", (0.9, 0.7, 0.5)), ("b", (0.8, 0.85, 0.6)), ("c", (0.7, 0.6, 0.65)))
               for m, a in zip(("knn", "ensemble", "hbos"), row)]
    summ = S.summarize(records, versus=("ensemble",))["novelty"]
    assert summ["methods"] == ["knn", "ensemble", "hbos"] and summ["seeds"] == 2
    np.testing.assert_allclose(summ["mean_auroc"], [0.8, 0.7166667, 0.5833333], rtol=1e-6)
    assert summ["fit_seconds"] == [6.0, 6.0, 6.0]  # 3 files x 2 seeds
    assert summ["win_tie_loss"]["ensemble"] == {"knn": (1, 0, 2), "hbos": (2, 0, 1)}
    md = S.markdown_report(records, versus=("ensemble",))
    assert "| a | **0.900** | 0.700 | 0.500 |" in md and "| **mean AUROC** | **0.800** |" in md
    assert "Nemenyi critical difference" in md and "`ensemble` against each method" in md


def test_bench_suite_writes_records_and_the_report(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("ODCORE_DATA_DIR", str(fake_data_dir(tmp_path / "data")))
    out_json, out_md = tmp_path / "s.json", tmp_path / "s.md"
    code = main(["bench", "--suite", "adbench-dev", "--methods", "iforest,knn", "--seeds", "1",
                 "--protocol", "novelty", "--param", "n_estimators=20", "--json", str(out_json),
                 "--markdown", str(out_md), "--no-eta"])
    assert code == 0, capsys.readouterr().err
    recs = json.loads(out_json.read_text())
    assert len(recs) == 15 * 2 and {r["protocol"] for r in recs} == {"novelty"}
    assert {r["dataset"] for r in recs} == {Path(f).stem for f in suites.get("adbench-dev").files}
    md = out_md.read_text()
    assert md.startswith("Machine: ") and "load average" in md and "#### Protocol `novelty`" in md
    assert main(["bench", "--suite", "adbench-dev", "--data", "x.csv"]) == 2
    assert "leave out --data" in capsys.readouterr().err


def test_bench_prints_an_eta_before_it_starts(capsys):
    code = main(["bench", "--data", "breast-cancer", "--methods", "iforest", "--seeds", "1",
                 "--param", "n_estimators=10"])
    err = capsys.readouterr().err
    assert code == 0 and "ETA: about" in err and "for 1 runs" in err
    assert err.index("ETA: about") < err.index("bench")  # before the progress bar starts
