"""Named run settings the app offers (the Train page's presets, the WALDO page's Fig. 5 trio).

Declarations only: pages read them and never name a method themselves. Figure recipes with their
budgets and idea checks live beside them in :mod:`odcore.recipes`.
"""

from __future__ import annotations

from typing import Any

#: Train page presets: data, method, protocol, options and parameters of one run each
TRAIN_PRESETS: dict[str, dict[str, Any]] = {
    "WALDO Table 1 (digits, inlier 0, nu = 0.1)": dict(
        data="digits", method="waldo", protocol="pu",
        protocol_options={"inlier_classes": [0], "nu": 0.1}, params={"epochs": 20}),
    "OC-NN Fig. 3 (Gaussian 512-d)": dict(data="gaussian-ocnn", method="ocnn", protocol="unsupervised", params={}),
    "Deep SVDD (breast cancer, novelty)": dict(data="breast-cancer", method="deep-svdd", protocol="novelty",
                                               params={}),
    "Autoencoder, 1 epoch (quick check)": dict(data="breast-cancer", method="autoencoder", protocol="unsupervised",
                                               params={"epochs": 1}),
}

#: the detectors the Flagged rows page proposes first, in order, among those that fit the rows: WALDO when labels
#: give known inliers (the paper's retail case study), else the autoencoder (reconstruction errors explain each day)
FLAGGED_DEFAULT_METHODS = ("waldo", "autoencoder")

#: WALDO Fig. 5: the two-decoder models against WAE-GAN on the same split
WALDO_FIG5 = dict(data="digits", protocol="pu", protocol_options={"inlier_classes": [0], "nu": 0.1},
                  methods=("waldo", "cora", "wae-gan"), params={"epochs": 10})


def waldo_fig5_specs() -> list:
    """One RunSpec per method of :data:`WALDO_FIG5`."""
    from odcore.runs.spec import RunSpec

    f = WALDO_FIG5
    return [RunSpec(data=f["data"], method=m, protocol=f["protocol"], protocol_options=dict(f["protocol_options"]),
                    params=dict(f["params"])) for m in f["methods"]]
