"""Benchmark suites (declarations that name methods): ``odcore bench --suite NAME``.

``adbench-dev``: the development suite of ``../shared/datasets`` — the twelve ADBench "Classical"
files (Han et al., *ADBench: Anomaly Detection Benchmark*, NeurIPS 2022, Datasets and Benchmarks) and
the three ODDS files — under the novelty protocol (fit on normal rows) and the unsupervised one (fit
on a contaminated 70 % split), with our deep detectors beside PyOD's ports of the same methods on the
same splits, the classical detectors ADBench ranks highest, and ``ensemble`` / ``auto``. One setting per
method for the whole suite: every method runs at its defaults, except PyOD's deep ports (``PYOD_BUDGET``).
"""

from __future__ import annotations

from odcore.runs.suite import Suite

ADBENCH_FILES = tuple(f"adbench/{name}.npz" for name in (
    "7_Cardiotocography", "12_fault", "18_Ionosphere", "22_magic.gamma", "23_mammography", "27_PageBlocks",
    "32_shuttle", "35_SpamBase", "41_Waveform", "43_WDBC", "44_Wilt", "47_yeast"))
ODDS_FILES = ("odds/thyroid.mat", "odds/arrhythmia.mat", "odds/cardio.mat")

#: classical detectors (ADBench's leaders first), combinations, our deep detectors, PyOD's deep ports
#: (not the one-class SVM: quadratic in the rows, 40-80 s per fit on shuttle's 32k rows, and the weakest
#: of these on the development pool, BENCHMARKS.md)
CLASSICAL = ("iforest", "knn", "lof", "hbos", "ecod", "copod", "pca")
COMBINED = ("ensemble", "auto")
OURS_DEEP = ("autoencoder", "deep-svdd", "alad", "dte")
PYOD_DEEP = ("pyod-autoencoder", "pyod-deep-svdd", "pyod-alad")

#: PyOD's deep ports get the training budget of ours (50 epochs of 256-row batches) instead of PyOD's defaults:
#: at those (batch 32; Deep SVDD 100 epochs) one fit of PyOD's Deep SVDD on 8,600 rows took 116 s, which alone
#: would take the suite past its 20 minutes. PyOD's ALAD counts minibatches as epochs: it keeps its 200 steps,
#: of 256 rows (2,000 steps, our 50 epochs of a 10k-row table, took 146 s per fit on the loaded machine)
PYOD_BUDGET = {"pyod-autoencoder": {"epoch_num": 50, "batch_size": 256},
               "pyod-deep-svdd": {"epochs": 50, "batch_size": 256},
               "pyod-alad": {"batch_size": 256}}

SUITES = {
    "adbench-dev": Suite(
        name="adbench-dev", files=ADBENCH_FILES + ODDS_FILES, protocols=("novelty", "unsupervised"),
        methods=CLASSICAL + COMBINED + OURS_DEEP + PYOD_DEEP, seeds=3, params=PYOD_BUDGET,
        versus=COMBINED + ("autoencoder",),
        description="12 ADBench Classical files + 3 ODDS files; novelty and unsupervised protocols"),
}


def get(name: str) -> Suite:
    """The suite called ``name`` (an :class:`~odcore.errors.InputError` lists the names otherwise)."""
    from odcore.errors import InputError

    if name not in SUITES:
        raise InputError(f"unknown suite {name!r}; choose one of: {', '.join(SUITES)}")
    return SUITES[name]
