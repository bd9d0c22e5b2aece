"""Honest defaults (issue 23): a detector whose defaults score below mean AUROC 0.6 on the development files
carries a declared warning (``MethodInfo.caution``, shown on the Train page and by ``odcore methods``); the bench
script's tables."""

import json
from pathlib import Path

import numpy as np
import pytest

from bench import default_auroc as da
from odcore.models import registry

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results" / "default_auroc.json"


def _means() -> dict[str, float]:
    saved = json.loads(RESULTS.read_text())
    files, seeds = saved["header"]["files"], saved["header"]["seeds"]
    return {s["method"]: s["mean"] for s in da.summary(saved["records"], files, seeds)
            if "@" not in s["method"] and s["method"] in registry.METHODS}


@pytest.mark.skipif(not RESULTS.exists(), reason="bench/results/default_auroc.json not written yet")
def test_every_default_below_the_floor_carries_a_warning():
    low = {m: round(v, 3) for m, v in _means().items() if v < da.FLOOR}
    missing = {m: v for m, v in low.items() if not registry.info(m).caution}
    assert missing == {}, (f"defaults below mean AUROC {da.FLOOR} on the development files without a declared caution "
                           f"(change the default or declare MethodInfo.caution): {missing}")


@pytest.mark.skipif(not RESULTS.exists(), reason="bench/results/default_auroc.json not written yet")
def test_the_measurement_covers_every_detector_that_runs_on_clean_rows():
    means = _means()
    runs, pu = da.table_methods()
    assert set(pu) >= {"waldo"}  # the pu detectors need labelled inliers and a mixture
    assert not set(pu) & set(means)
    # series variants that only change the flagged share score like their base detector
    left = set(runs) - set(means) - {"mcd-series"}
    assert left == set(), f"defaults not measured on the development files: {sorted(left)}"


def test_summary_and_pair_table_on_records():
    recs = [{"dataset": f, "method": m, "seed": s, "auroc": a, "fit_seconds": 1.0}
            for f, base in (("a", 0.9), ("b", 0.5)) for s in (0, 1)
            for m, a in (("x", base + 0.01 * s), ("y", base - 0.1))]
    recs.append({"dataset": "b", "method": "z", "seed": 0, "auroc": None, "timeout": 9.0})
    summ = {s["method"]: s for s in da.summary(recs, ["a", "b"], [0, 1])}
    assert summ["x"]["mean"] == pytest.approx(np.mean([0.905, 0.505]))
    assert summ["x"]["complete"] and summ["z"]["failed"] == ["b s0 (timeout)"]
    saved = {"header": {"files": ["a", "b"], "seeds": [0, 1]}, "records": recs}
    text = da.pair_table(saved, "x", "y")
    assert "+0.105" in text and "2 wins, 0 ties, 0 losses" in text


def test_fill_replaces_the_placeholder_then_the_block(tmp_path):
    p = tmp_path / "r.md"
    p.write_text(f"before\n{da.PLACEHOLDER}\nafter\n")
    da.fill(str(p), "one\n")
    da.fill(str(p), "two\n")
    body = p.read_text()
    assert "two" in body and "one" not in body and da.PLACEHOLDER not in body and body.endswith("after\n")
