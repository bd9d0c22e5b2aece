"""The run's standardiser: fitted on training rows, saved with the run, its inverse written once."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from odcore import data
from odcore.data.scaling import Standardizer
from odcore.runs.spec import resolve

ROOT = Path(__file__).resolve().parents[1]


def test_fit_transform_and_inverse_round_trip():
    rng = np.random.default_rng(0)
    X = rng.normal(5.0, 3.0, size=(200, 4)).astype(np.float32)
    X[:, 2] = 7.0  # a constant column keeps scale 1 and stays constant
    s = Standardizer.fit(X)
    np.testing.assert_allclose(s.mean, X.mean(axis=0), rtol=1e-5)
    assert s.scale[2] == 1.0 and s.scale.dtype == np.float32 and s.active
    Z = s.transform(X)
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z[:, [0, 1, 3]].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(Z[:, [0, 1, 3]].std(axis=0), 1.0, rtol=1e-4)
    np.testing.assert_allclose(Z[:, 2], 0.0)
    np.testing.assert_allclose(s.inverse_transform(Z), X, rtol=1e-5, atol=1e-5)


def test_identity_changes_nothing_and_saves_nothing():
    s = Standardizer.identity()
    X = np.arange(6.0).reshape(3, 2)
    assert not s.active and s.to_arrays() == {}
    np.testing.assert_array_equal(s.transform(X), X.astype(np.float32))
    np.testing.assert_array_equal(s.inverse_transform(X), X)
    assert Standardizer.from_arrays({}) == s == Standardizer.from_arrays(None)


def test_arrays_round_trip_and_refuse_half_a_standardiser():
    s = Standardizer.fit(np.random.default_rng(1).normal(size=(50, 3)))
    assert Standardizer.from_arrays(s.to_arrays()) == s
    with pytest.raises(ValueError, match="both"):
        Standardizer(mean=np.zeros(3))
    with pytest.raises(ValueError, match="shape"):
        Standardizer(mean=np.zeros(3), scale=np.ones(2))


def test_split_fits_it_on_the_rows_fit_sees():
    ds = data.load("breast-cancer")
    sp = data.split(ds, "novelty", seed=0)
    assert sp.scaler == Standardizer.fit(ds.X[sp.train_index])
    np.testing.assert_allclose(sp.inverse_transform(sp.X_test), ds.X[sp.test_index], rtol=1e-4, atol=1e-3)
    pu = data.split(ds, "pu", seed=0)  # the labelled positives and the unlabelled mixture
    assert pu.scaler == Standardizer.fit(np.vstack([ds.X[pu.pos_index], ds.X[pu.train_index]]))
    img = data.split(data.load("digits"), "one-vs-rest", seed=0, inlier_classes=[0])
    assert not img.scaler.active and img.mean is None  # images are not standardised by default


def test_the_run_saves_its_standardiser(tmp_path):
    from odcore.runs.execution import execute
    from odcore.runs.rebuild import load_split
    from odcore.runs.spec import RunSpec
    from odcore.runs.store import RunStore

    store = RunStore(tmp_path / "runs")
    run = store.get(execute(resolve(RunSpec("breast-cancer", "pca", seed=2), store=store), store=store)["run_id"])
    assert run.standardizer() == load_split(run)[1].scaler and run.standardizer().active
    img = store.get(execute(resolve(RunSpec("digits", "pca", protocol="one-vs-rest",
                                    protocol_options={"inlier_classes": [0]}), store=store), store=store)["run_id"])
    assert not img.standardizer().active and not (img.path / "transform.npz").exists()


_INVERSE = re.compile(r"\*\s*[\w.\[\]]*(scale|std|sd)\w*\s*\+\s*[\w.\[\]]*(mean|mu)\b")
_FORWARD = re.compile(r"-\s*[\w.\[\]]*(mean|mu)\w*\s*\)\s*/\s*[\w.\[\]]*(scale|std|sd)\b")


def test_the_standardisation_is_written_in_one_place():
    """``x * scale + mean`` (and its forward form) only in odcore/data/scaling.py; everything else calls it."""
    files = [ROOT / "app.py", *(p for d in ("odcore", "ui", "app_pages", "bench") for p in (ROOT / d).rglob("*.py"))]
    hits = [f"{p.relative_to(ROOT)}:{i}: {line.strip()}" for p in files if p.name != "scaling.py"
            for i, line in enumerate(p.read_text().splitlines(), 1) if _INVERSE.search(line) or _FORWARD.search(line)]
    assert hits == [], "route these through odcore.data.scaling.Standardizer:\n" + "\n".join(hits)
