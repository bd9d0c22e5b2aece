"""Named run settings the app offers: the Train page's presets, the notes it shows beside a method, the detectors
the Flagged rows page proposes first.

Declarations only (they name methods, as the recipes do): pages read them and never name a method themselves.
The engine's part (the nearest protocol a dataset can run) is :func:`odcore.runs.spec.working_protocol`.
"""

from __future__ import annotations

from typing import Any

from odcore.errors import InputError

#: Train page presets: data, method, protocol, options and parameters of one run each. Every one starts a run
#: that succeeds (tests/test_recipes_presets.py runs each with one epoch).
TRAIN_PRESETS: dict[str, dict[str, Any]] = {
    "WALDO Table 1 (digits, inlier 0, nu = 0.1)": dict(
        data="digits", method="waldo", protocol="pu",
        protocol_options={"inlier_classes": [0], "nu": 0.1}, params={"epochs": 60, "lr": 1e-3, "batch_size": 32}),
    "OC-NN Fig. 3, the paper's sigmoid (Gaussian 512-d)": dict(
        data="gaussian-ocnn", method="ocnn", protocol="all",
        params={"activation": "sigmoid", "hidden": 128, "epochs": 100, "batch_size": 200, "lr": 1e-3}),
    "OC-NN Fig. 3, radial activation exp(-t²) (Gaussian 512-d)": dict(
        data="gaussian-ocnn", method="ocnn", protocol="all",
        params={"activation": "radial", "hidden": 128, "epochs": 100, "batch_size": 200, "lr": 1e-3}),
    "DROCC (digits, one-vs-rest: 0 normal)": dict(
        data="digits", method="drocc", protocol="one-vs-rest", protocol_options={"inlier_classes": [0]},
        params={"epochs": 30, "ascent_num_steps": 10, "lr": 1e-3}),
    "Deep SVDD (breast cancer, novelty)": dict(data="breast-cancer", method="deep-svdd", protocol="novelty",
                                               params={}),
    "Autoencoder, 1 epoch (quick check)": dict(data="breast-cancer", method="autoencoder", protocol="unsupervised",
                                               params={"epochs": 1}),
}

#: one sentence on why OC-NN's activation decides the synthetic figure (the Train page shows it with the method)
OCNN_ACTIVATION_NOTE = ("With the paper's activations (linear, sigmoid, ReLU) OC-NN's exact objective ranks the "
                        "wide N(0, 10²) anomalies as the most normal rows, because <w, g(Vx)> grows with the norm "
                        "of x; the bounded radial exp(-t²), like the OC-SVM's RBF kernel, can put them below r. "
                        "Radial is therefore the default; the paper's sigmoid is one field (or preset) away.")

#: what the Train page says under a method's name
METHOD_NOTES: dict[str, str] = {"ocnn": OCNN_ACTIVATION_NOTE}

#: the detectors the Flagged rows page proposes first, in order, among those that fit the rows: WALDO when labels
#: give known inliers (the paper's retail case study), else the autoencoder (reconstruction errors explain each day)
FLAGGED_DEFAULT_METHODS = ("waldo", "autoencoder")


def preset_spec(name: str, *, params: dict[str, Any] | None = None, seed: int = 0):
    """The :class:`~odcore.runs.spec.RunSpec` of preset ``name`` (``params`` change some of its parameters)."""
    from odcore.runs.spec import RunSpec

    try:
        p = TRAIN_PRESETS[name]
    except KeyError:
        raise InputError(f"unknown preset {name!r}; choose one of {', '.join(TRAIN_PRESETS)}") from None
    return RunSpec(data=p["data"], method=p["method"], protocol=p["protocol"],
                   data_options=dict(p.get("data_options", {})), protocol_options=dict(p.get("protocol_options", {})),
                   params={**p.get("params", {}), **(params or {})}, seed=seed)
