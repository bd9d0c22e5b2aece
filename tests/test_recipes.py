"""Recipes: the DROCC boundary lab on small grids."""

from __future__ import annotations

import numpy as np

from odcore.recipes.boundary import boundary_lab


def test_boundary_lab_small_run_returns_panels():
    res = boundary_lab(methods=("ocsvm",), resolution=20)
    (p,) = res["panels"]
    assert p["z"].shape == (20, 20) and np.isfinite(p["z"]).all()
    assert 0.0 <= p["auroc"] <= 1.0 and res["points"].shape == (1024, 2)


def test_boundary_lab_noisy_variant_fixes_the_noise_coordinates():
    res = boundary_lab(noisy=True, methods=("ocsvm",), resolution=10)
    (p,) = res["panels"]
    assert res["noisy"] and "error" not in p and p["z"].shape == (10, 10)
