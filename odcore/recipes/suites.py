"""Benchmark suites (declarations that name methods): ``odcore bench --suite NAME``.

``adbench-dev``: the development suite of ``../shared/datasets`` — the twelve ADBench "Classical"
files (Han et al., *ADBench: Anomaly Detection Benchmark*, NeurIPS 2022, Datasets and Benchmarks) and
the three ODDS files — under the novelty protocol (fit on normal rows) and the unsupervised one (fit
on a contaminated 70 % split), with our deep detectors beside PyOD's ports of the same methods on the
same splits, the classical detectors ADBench ranks highest, and ``ensemble`` / ``auto``. One setting per
method for the whole suite: every method runs at its defaults.
"""

from __future__ import annotations

from odcore.runs.suite import Suite

ADBENCH_FILES = tuple(f"adbench/{name}.npz" for name in (
    "7_Cardiotocography", "12_fault", "18_Ionosphere", "22_magic.gamma", "23_mammography", "27_PageBlocks",
    "32_shuttle", "35_SpamBase", "41_Waveform", "43_WDBC", "44_Wilt", "47_yeast"))
ODDS_FILES = ("odds/thyroid.mat", "odds/arrhythmia.mat", "odds/cardio.mat")

#: classical detectors (ADBench's leaders first), combinations, our deep detectors, PyOD's deep ports
CLASSICAL = ("iforest", "knn", "lof", "hbos", "ecod", "copod", "ocsvm", "pca")
COMBINED = ("ensemble", "auto")
OURS_DEEP = ("autoencoder", "deep-svdd", "alad")
PYOD_DEEP = ("pyod-autoencoder", "pyod-deep-svdd", "pyod-alad")

SUITES = {
    "adbench-dev": Suite(
        name="adbench-dev", files=ADBENCH_FILES + ODDS_FILES, protocols=("novelty", "unsupervised"),
        methods=CLASSICAL + COMBINED + OURS_DEEP + PYOD_DEEP, seeds=3, versus=COMBINED + ("autoencoder",),
        description="12 ADBench Classical files + 3 ODDS files; novelty and unsupervised protocols"),
}


def get(name: str) -> Suite:
    """The suite called ``name`` (an :class:`~odcore.errors.InputError` lists the names otherwise)."""
    from odcore.errors import InputError

    if name not in SUITES:
        raise InputError(f"unknown suite {name!r}; choose one of: {', '.join(SUITES)}")
    return SUITES[name]
