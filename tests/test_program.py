"""Scoring without torch (odcore.program): a saved detector's score program gives the detector's own
scores within float32 rounding, whatever the rows' memory layout; detectors it cannot express write none;
the scoring command then imports neither torch, scikit-learn nor pandas; runs it must not serve (marks,
a pinned CUDA device, rows with NaN) go to the detector itself."""

import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from odcore import program
from odcore.errors import InputError
from odcore.models import registry
from odcore.runs import RunSpec, RunStore, execute
from odcore.runs.scoring import Scorer, fast_program
from odcore.runs.spec import resolve
from tests.test_registry import NAMES, data, fit, tiny

ROOT = Path(__file__).resolve().parents[1]


def saved(name: str, tmp_path: Path, **extra):
    model = fit(tiny(name, **extra), data(80, 5))
    model.save(tmp_path / name)
    return model, program.load(tmp_path / name)


def test_every_saved_program_scores_as_its_detector(tmp_path):
    X = data(300, 5, seed=4) * 3
    writers = set()
    for name in NAMES:
        model, got = saved(name, tmp_path)
        if got is None:
            continue
        writers.add(name)
        prog, threshold = got
        assert threshold == model.threshold_, name
        want = model.decision_function(X)
        for layout in (X, np.asfortranarray(X)):
            np.testing.assert_allclose(prog.score(layout, batch_size=64), want, rtol=1e-5, atol=1e-5, err_msg=name)
    np.testing.assert_array_equal(X, data(300, 5, seed=4) * 3)  # the callers' rows are left as they were
    # the networks that reduce to plain layers write one; the others (convolutions, PyOD, ensembles) do not
    assert {"autoencoder", "deep-svdd", "deep-sad", "drocc", "drocc-lf"} <= writers
    assert not writers & {"waldo", "alad", "ensemble", "auto", "knn", "pyod-autoencoder"}
    # a soft-boundary Deep SVDD subtracts R^2 (Eq. 3): the program carries it
    model, (prog, _) = saved("deep-svdd", tmp_path, objective="soft-boundary")
    np.testing.assert_allclose(prog.score(X), model.decision_function(X), rtol=1e-5, atol=1e-5)


def test_convolutions_and_unknown_steps_write_or_load_none(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.random((40, 64)).astype(np.float32)
    model = registry.create("autoencoder", epochs=1, batch_size=16, input_shape=(1, 8, 8), device="cpu").fit(images)
    model.save(tmp_path / "conv")
    assert "score_program" not in json.loads((tmp_path / "conv" / "config.json").read_text())["state"]
    assert program.load(tmp_path / "conv") is None
    with pytest.raises(program.ProgramError, match="unknown step 'conv2d'"):
        program.Program({"version": 1, "steps": [{"op": "conv2d"}], "score": {"op": "row_mse"}}, {})
    with pytest.raises(program.ProgramError, match="lack 'w'"):
        program.Program({"version": 1, "steps": [{"op": "linear", "weight": "w"}], "score": {"op": "row_mse"}}, {})


@pytest.fixture(scope="module")
def run_and_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("prog")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(5.0, 3.0, size=(400, 6)), columns=[f"f{i}" for i in range(6)])
    frame.to_parquet(d / "rows.parquet", index=False)
    store = RunStore(d / "runs")
    spec = RunSpec(str(d / "rows.parquet"), "autoencoder", params={"epochs": 2, "batch_size": 64}, monitor=False)
    return store.get(execute(resolve(spec, store=store), store=store)["run_id"]), d


def test_the_scoring_command_imports_no_torch_sklearn_or_pandas(run_and_file):
    run, d = run_and_file
    code = ("import sys; from odcore import cli; rc = cli.main(sys.argv[1:]); "
            "print(sorted(m for m in ('torch', 'sklearn', 'pandas', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, "score", "--run", run.id, "--runs-dir", str(d / "runs"),
                          "--input", str(d / "rows.parquet"), "--output", str(d / "scored.parquet")],
                         capture_output=True, text=True, cwd=str(ROOT), timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
    scored = pd.read_parquet(d / "scored.parquet")
    want = Scorer(run).model.decision_function(Scorer(run).scaler.transform(
        pd.read_parquet(d / "rows.parquet").to_numpy(np.float32)))
    np.testing.assert_allclose(scored["score"].to_numpy(), want, rtol=1e-5, atol=1e-6)


def test_rows_with_nan_go_to_the_detector_and_its_message(run_and_file):
    run, _ = run_and_file
    scorer = Scorer(run)
    assert scorer.program is not None
    X = np.ones((5, 6), dtype=np.float32)
    X[2, 3] = np.nan
    with pytest.raises(InputError, match="NaN"):
        scorer.score_batch((X, None))


def test_marks_or_a_cuda_device_keep_the_detector(run_and_file, tmp_path):
    run, _ = run_and_file
    assert fast_program(run) is not None
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for f in Path(run.model_dir).iterdir():
        (model_dir / f.name).write_bytes(f.read_bytes())
    fake = types.SimpleNamespace(model_dir=model_dir, config={"params": {"device": "auto"}})
    assert fast_program(fake) is not None
    assert fast_program(types.SimpleNamespace(model_dir=model_dir, config={"params": {"device": "cuda:0"}})) is None
    (model_dir / "rerank.json").write_text("{}")  # a run trained with the analyst's marks re-ranks with its detector
    assert fast_program(fake) is None
