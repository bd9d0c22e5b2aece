"""Named run settings the app offers (the Train page's presets) and the nearest working protocol for a dataset.

Declarations only: pages read them and never name a method themselves. Figure recipes with their
budgets and idea checks live beside them in :mod:`odcore.recipes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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

#: one sentence on why OC-NN's activation decides the synthetic figure (the Train page shows it with the presets)
OCNN_ACTIVATION_NOTE = ("With the paper's activations (linear, sigmoid, ReLU) OC-NN's exact objective ranks the "
                        "wide N(0, 10²) anomalies as the most normal rows, because <w, g(Vx)> grows with the norm "
                        "of x; the bounded radial exp(-t²), like the OC-SVM's RBF kernel, can put them below r.")

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


# ----------------------------------------------------------------------------------------- working protocol
@dataclass
class ProtocolChoice:
    """A protocol and options that split the data, and (when they differ from what was asked) why."""

    protocol: str
    options: dict[str, Any] = field(default_factory=dict)
    message: str | None = None


def _splits(ds, protocol: str, options: dict[str, Any]) -> str | None:
    """None when ``ds`` splits by ``protocol`` with ``options``, else the reason it does not."""
    from odcore.data import split

    try:
        split(ds, protocol, seed=0, **options)
        return None
    except InputError as err:
        return str(err)


def working_protocol(ds, method: str, protocol: str, options: dict[str, Any] | None = None) -> ProtocolChoice:
    """The nearest protocol and options to ``protocol`` / ``options`` that ``method`` can run on ``ds``.

    A protocol that needs outlier labels the data lack is kept with ``inlier_classes`` (the smallest class)
    when the data have classes (pu stays pu; a one-class protocol becomes one-vs-rest), else replaced by
    ``all``; a method that needs labelled inliers gets the ``pu`` protocol. The message names the option
    that was set and how to change it.
    """
    from odcore.data import protocol_defaults
    from odcore.models import registry

    opts = {k: v for k, v in dict(options or {}).items() if k in protocol_defaults(protocol)}
    needs_pos = bool(getattr(registry.get_class(method), "needs_positives", False))
    if needs_pos and protocol != "pu":
        opts, first = {}, f"{registry.info(method).title} needs labelled inliers, so the protocol is 'pu'"
        protocol = "pu"
    else:
        first = None
    why = _splits(ds, protocol, opts)
    if why is None:
        return ProtocolChoice(protocol, opts, f"{first}." if first else None)
    classes = getattr(ds, "classes", None)
    if classes is not None and len(set(map(str, classes))) > 1:
        import numpy as np

        inlier = np.unique(np.asarray(classes))[0].item()
        target = "pu" if protocol == "pu" else "one-vs-rest"
        new = {**({k: v for k, v in opts.items() if k in protocol_defaults(target)}), "inlier_classes": [inlier]}
        if target == "pu" and new.get("nu") is None:
            new["nu"] = 0.1
        if _splits(ds, target, new) is None:
            what = "" if target == protocol else f"the {protocol!r} protocol needs outlier labels, so "
            extra = " and nu=0.1, the outlier share of the mixture" if target == "pu" and "nu" not in opts else ""
            return ProtocolChoice(target, new, (f"{first}; " if first else "") + (
                f"{ds.name} has classes but no outlier labels: {what}the {target!r} protocol now treats class "
                f"{inlier} as the inliers (protocol option inlier_classes={inlier}{extra}); set inlier_classes to "
                "choose the normal class."))
    if not needs_pos and _splits(ds, "all", {}) is None:
        return ProtocolChoice("all", {}, (f"{first}; " if first else "") + (
            f"{ds.name} has no outlier labels to test with: using the 'all' protocol (fit and score every row, no "
            "metrics); load the data with a label column (label_column=) to evaluate."))
    raise InputError(why)
