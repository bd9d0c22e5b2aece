"""Recipes: declarations of runs that name methods, and the figure recipes the app and ``bench/`` share.

- :mod:`odcore.recipes.framework`: :class:`Recipe`, :class:`Training`, budgets, training, results, the
  shipped teaching runs; :mod:`odcore.recipes.folds`: the recipes' data.
- The figures: :mod:`waldo_figures` (WALDO Figs. 1b, 2a, 2b, 4, 5), :mod:`boundary` (DROCC Fig. 1, 2-D and
  noisy 10-D), :mod:`ocnn_figures` (OC-NN Figs. 3-4), :mod:`alad_figures` (ALAD's score ablation),
  :mod:`latent_figures` (one latent map per deep detector).
- :mod:`paper`: the papers' published numbers; :mod:`suites` and :mod:`tables`: the benchmark suites and
  the paper tables of ``odcore reproduce``. (The Train page's presets are the app's: ``ui/presets.py``.)

``python -m odcore.recipes.ship`` rewrites the shipped teaching runs (``odcore/recipes/shipped/``).
"""

from __future__ import annotations

import importlib
from typing import Any

#: the modules that declare figure recipes (each has a ``RECIPES`` tuple)
MODULES = ("waldo_figures", "boundary", "ocnn_figures", "alad_figures", "latent_figures")
_CACHE: dict[str, Any] = {}


def all_recipes() -> dict[str, Any]:
    """Every figure recipe by name, in page order."""
    if not _CACHE:
        for mod in MODULES:
            for r in importlib.import_module(f"odcore.recipes.{mod}").RECIPES:
                _CACHE[r.name] = r
    return dict(_CACHE)


def get(name: str):
    """The recipe called ``name`` (an :class:`~odcore.errors.InputError` lists the names otherwise)."""
    from odcore.errors import InputError

    recipes = all_recipes()
    if name not in recipes:
        raise InputError(f"unknown figure recipe {name!r}; choose one of {', '.join(recipes)}")
    return recipes[name]


def names(page: str | None = None) -> list[str]:
    """Recipe names, optionally only those a page shows."""
    return [n for n, r in all_recipes().items() if page is None or r.page == page]


def sharing(training: str) -> list:
    """The recipes drawn from the training called ``training``."""
    return [r for r in all_recipes().values() if r.training.name == training]


def trainings() -> dict[str, Any]:
    """Every training by name (each shipped once, whatever number of recipes draw from it)."""
    out: dict[str, Any] = {}
    for r in all_recipes().values():
        out.setdefault(r.training.name, r.training)
    return out
