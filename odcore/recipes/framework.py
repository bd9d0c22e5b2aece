"""Figure recipes: one declaration per paper figure, run by the app (teaching budget) and ``bench/`` (full budget).

A :class:`Recipe` says what one figure of a paper needs and what it must show:

- its :class:`Training` (the data, as a fold builder of :mod:`odcore.recipes.folds`, with options; the
  methods with their parameters as :class:`Member` s; the seeds; an optional sweep over one data option),
  shared by the recipes that draw from the same runs (WALDO Figs. 1b, 2a, 4 and 5 use one set of fits);
- its budgets: ``"teaching"`` (what the app ships and CI checks: seconds on 2 CPU cores) and ``"full"``
  (what ``bench/`` runs), each with the parameters and options it changes and its measured time;
- ``extract(fits, options) -> dict``: the figure's data (plain numbers and lists, saved as JSON);
- ``build(data) -> plotly Figure``: an :mod:`odcore.plots` builder;
- ``check(data) -> Check``: the idea the figure exists to show, as a test: whether it shows and by which
  variant (the paper's own, or only our extension);
- ``expect``: the status its teaching run is pinned to (``tests/test_recipes_ideas.py`` checks a fresh run
  against it), and ``finding``: what happens instead, in plain words, where that is not "reproduced".

:func:`verdict` turns a check into the figure's one status (``reproduced`` / ``extension`` / ``not
reproduced``) with its words and colour: Home, the figure's page and BENCHMARKS.md (``bench/figures.py``)
all render that one :class:`Verdict`, never a check's ``ok`` of their own.

:func:`train` fits a training at a budget (one torch thread, so that CPU results are bit-for-bit
reproducible from the recipe and the seed), :func:`run` adds the figure data and the check, and
:func:`result` reads a finished result from the cache folder (``$ODCORE_RUNS_DIR/_recipes``) or, for the
teaching budget with its default settings, from the files shipped inside the package
(``odcore/recipes/shipped/``, written by ``python -m odcore.recipes.ship``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from odcore.errors import FitCancelled, InputError
from odcore.jsonio import atomic_write_json, jsonable

SHIPPED = Path(__file__).resolve().parent / "shipped"
BUDGETS = ("teaching", "full")
#: the models a result folder holds: one folder per fit, ``<sweep value>-<member key>-s<seed>``
MODELS = "models"
SCORES = "scores.npz"
SETTINGS = "settings.json"


# ----------------------------------------------------------------------------------------- declarations
@dataclass(frozen=True)
class Member:
    """One method of a training: its registry ``method``, the ``key`` figures use, its own parameters."""

    key: str
    method: str
    params: Mapping[str, Any] = field(default_factory=dict)
    title: str = ""

    @property
    def label(self) -> str:
        return self.title or self.key


@dataclass(frozen=True)
class Budget:
    """How much a training gets: seeds, parameter changes for every member (only those it declares) and
    per member, option changes, and the measured wall time on the 2-core machine (``seconds``)."""

    name: str
    seeds: tuple[int, ...] = (0,)
    params: Mapping[str, Any] = field(default_factory=dict)
    member_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    what: str = ""


@dataclass(frozen=True)
class Knob:
    """A setting the page offers for live retraining: a member parameter (``target="param"``, set on the
    members named in ``members``, default every member that declares it), a data option (``target="option"``)
    or the seed (``target="seed"``)."""

    name: str
    label: str
    target: str  # "param" | "option" | "seed"
    low: float
    high: float
    step: float = 1.0
    members: tuple[str, ...] = ()
    help: str = ""


@dataclass(frozen=True)
class Training:
    """The fits one or more figures are drawn from."""

    name: str
    fold: str  # name of a fold builder in odcore.recipes.folds
    members: tuple[Member, ...]
    budgets: Mapping[str, Budget]
    options: Mapping[str, Any] = field(default_factory=dict)  # the fold builder's options
    sweep: str | None = None  # an option whose value list gives one fold per value (WALDO Fig. 2b: nu)
    knobs: tuple[Knob, ...] = ()
    monitor: bool = False  # record test metrics after every epoch (WALDO Fig. 5)
    #: the parameter the training time scales with (the simple ETA of :func:`estimate_seconds`)
    cost_param: str = "epochs"

    def budget(self, name: str) -> Budget:
        try:
            return self.budgets[name]
        except KeyError:
            raise InputError(f"training {self.name!r} has no {name!r} budget; choose one of "
                             f"{', '.join(self.budgets)}") from None

    def member(self, key: str) -> Member:
        for m in self.members:
            if m.key == key:
                return m
        raise InputError(f"training {self.name!r} has no member {key!r}; its members are "
                         f"{', '.join(m.key for m in self.members)}")


#: a figure's status: the paper's own variant shows the idea / only our extension shows it / nothing shows it
REPRODUCED, EXTENSION, NOT_REPRODUCED = "reproduced", "extension", "not reproduced"
PAPER_VARIANT, EXTENSION_VARIANT = "paper", "extension"


@dataclass(frozen=True)
class Check:
    """The outcome of a recipe's idea check: ``ok`` (the idea shows), one line that says what was compared,
    the numbers, and ``variant``: who shows the idea when it does, ``"paper"`` (the paper's own method and
    setting) or ``"extension"`` (only a variant of ours, e.g. OC-NN's radial activation)."""

    ok: bool
    summary: str
    values: Mapping[str, Any] = field(default_factory=dict)
    variant: str = PAPER_VARIANT


@dataclass(frozen=True)
class Verdict:
    """A figure's one status and how every client shows it: ``label`` (a few words: Home's table, the page's
    box, BENCHMARKS.md), ``headline`` (one clause that says what the label means), ``colour`` (``"green"``
    only for the paper's own variant, ``"orange"`` for our extension, ``"red"`` for not reproduced) and
    ``badge`` (a coloured mark and the label, for Markdown, which has no colours of its own)."""

    status: str
    label: str
    headline: str
    colour: str

    @property
    def badge(self) -> str:
        return f"{_MARKS[self.colour]} {self.label}"


_MARKS = {"green": "🟢", "orange": "🟠", "red": "🔴"}
_VERDICTS = {
    REPRODUCED: Verdict(REPRODUCED, "reproduced", "the paper's own variant shows the idea", "green"),
    EXTENSION: Verdict(EXTENSION, "only with our extension", "the paper's own variant does not show the idea, a "
                       "variant of ours does", "orange"),
    NOT_REPRODUCED: Verdict(NOT_REPRODUCED, "not reproduced", "the figure does not show the paper's idea", "red"),
}
STATUSES = tuple(_VERDICTS)


def verdict(check: Check) -> Verdict:
    """The status of a figure from its idea check: ``reproduced`` when the check holds with the paper's own
    variant, ``extension`` when it holds only with our extension, ``not reproduced`` otherwise. The one place
    where a status is decided (Home, the figure's page and BENCHMARKS.md call this)."""
    if not check.ok:
        return _VERDICTS[NOT_REPRODUCED]
    return _VERDICTS[REPRODUCED if check.variant == PAPER_VARIANT else EXTENSION]


def verdict_of(status: str) -> Verdict:
    """The :class:`Verdict` of a recorded status (a benchmark record keeps the status, not the check)."""
    try:
        return _VERDICTS[status]
    except KeyError:
        raise InputError(f"unknown figure status {status!r}; choose one of {', '.join(STATUSES)}") from None


@dataclass(frozen=True)
class Recipe:
    """One paper figure: its training, figure data, figure builder and idea check (module docstring)."""

    name: str
    paper: str
    figure: str
    title: str
    page: str
    training: Training
    extract: Callable[[Fits, Mapping[str, Any]], dict]
    build: Callable[[Mapping[str, Any]], Any]
    check: Callable[[Mapping[str, Any]], Check]
    caption: str  # one sentence: what to look for (and, where the idea does not show, that it does not)
    #: the status the teaching run shows (a test checks a fresh teaching run against it)
    expect: str = REPRODUCED
    finding: str = ""  # what happens instead (required unless ``expect`` is reproduced), in plain words
    #: more figures drawn under the first one from the same data (WALDO Fig. 4: the generated images)
    extras: tuple[Callable[[Mapping[str, Any]], Any], ...] = ()

    @property
    def label(self) -> str:
        return f"{self.paper} {self.figure}: {self.title}".strip()


# ----------------------------------------------------------------------------------------- settings
def resolve(training: Training, budget: str = "teaching", *, options: Mapping[str, Any] | None = None,
            params: Mapping[str, Any] | None = None, seeds: Sequence[int] | None = None,
            member_params: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The complete settings of a training at a budget with the user's changes: options, seeds and every
    member's parameters (validated against the method's declaration). ``params`` go to every member that
    declares them, ``member_params`` to the named members. Its hash names the result folder."""
    from odcore.models import registry

    b = training.budget(budget)
    known = {**training.options, **b.options}
    opts = {**known, **(options or {})}
    unknown = set(options or {}) - set(known)
    bad = set(member_params or {}) - {m.key for m in training.members}
    if bad:
        raise InputError(f"training {training.name!r} has no member(s) {', '.join(sorted(bad))}; its members are "
                         f"{', '.join(m.key for m in training.members)}")
    if unknown:
        raise InputError(f"training {training.name!r} has no option(s) {', '.join(sorted(unknown))}; its options "
                         f"are {', '.join(sorted(opts))}")
    members = {}
    for m in training.members:
        decl = registry.declaration(m.method)
        p = {**{k: v for k, v in b.params.items() if k in decl}, **m.params, **b.member_params.get(m.key, {}),
             **{k: v for k, v in (params or {}).items() if k in decl}, **(member_params or {}).get(m.key, {})}
        if "device" in decl:
            p.setdefault("device", "cpu")  # the teaching runs are CPU runs (bit-for-bit reproducible)
        members[m.key] = {"method": m.method, "params": registry.check(m.method, p)}
    return jsonable({"training": training.name, "budget": budget, "options": opts,
                     "seeds": [int(s) for s in (seeds if seeds is not None else b.seeds)], "members": members})


def settings_key(settings: Mapping[str, Any]) -> str:
    """A short hash of resolved settings (names the cache folder of a result)."""
    return hashlib.sha256(json.dumps(jsonable(settings), sort_keys=True).encode()).hexdigest()[:16]


def estimate_seconds(training: Training, settings: Mapping[str, Any]) -> float:
    """Expected wall seconds on 2 CPU cores for ``settings``.

    A deliberately simple estimate: the measured time of the budget, scaled by the number of seeds and by
    the ratio of ``training.cost_param`` (epochs) of each member to the budget's value. (``odcore.runs.eta``,
    which times a few steps of one run, was tried: for the DROCC wave at 20 epochs it said 304 s, and took
    19 s to say it, where the fit takes about 8 s; swap it in here when it fits several small models.)
    """
    budget = training.budget(settings.get("budget", "teaching"))
    ref = resolve(training, budget.name)
    seeds = max(len(settings["seeds"]), 1) / max(len(ref["seeds"]), 1)
    ratios = []
    for key, m in settings["members"].items():
        new = m["params"].get(training.cost_param)
        old = ref["members"].get(key, {}).get("params", {}).get(training.cost_param)
        ratios.append(float(new) / float(old) if new and old else 1.0)
    scale = float(np.mean(ratios)) if ratios else 1.0
    return float(budget.seconds) * seeds * scale


# ----------------------------------------------------------------------------------------- fitting
@dataclass
class Fits:
    """Fitted models of a training: ``models[(sweep value, member key, seed)]`` and ``folds[(sweep value,
    seed)]`` (the data each was fitted on and scored with), plus the resolved ``settings``."""

    settings: dict[str, Any]
    models: dict[tuple[Any, str, int], Any] = field(default_factory=dict)
    folds: dict[tuple[Any, int], Any] = field(default_factory=dict)
    seconds: float = 0.0

    def model(self, key: str, seed: int | None = None, sweep: Any = None):
        seed = self.settings["seeds"][0] if seed is None else seed
        return self.models[(sweep, key, seed)]

    def fold(self, seed: int | None = None, sweep: Any = None):
        seed = self.settings["seeds"][0] if seed is None else seed
        return self.folds[(sweep, seed)]

    def sweep_values(self) -> list:
        return sorted({k[0] for k in self.folds}, key=lambda v: (v is None, v))


def fit_inputs(method: str, model: Any, fold: Any) -> tuple[Any, Any, Any]:
    """``(X, y, X_pos)`` that ``model`` is fitted on from ``fold``, by what its setting uses: positive-unlabelled
    detectors the mixture and the labelled inliers, detectors with labels the labelled rows (semi-supervised ones
    that also take labelled inliers, on a fold without labelled rows: the mixture unlabelled and the inliers), one-class
    detectors the labelled inliers (when the fold has them), the others the (contaminated) mixture."""
    from odcore.models import registry

    if getattr(model, "needs_positives", False):
        return fold.X_mix, None, fold.X_pos
    if getattr(model, "uses_labels", False):
        if fold.X_lab is None and getattr(model, "uses_positives", False) and fold.X_pos is not None:
            # semi-supervised on a positive-unlabelled fold (Deep SAD): the mixture unlabelled, the inliers labelled
            return fold.X_mix, np.zeros(len(fold.X_mix), dtype=np.int64), fold.X_pos
        if fold.X_lab is None:
            raise InputError(f"{method} needs labelled rows and fold {fold.name!r} has none")
        return fold.X_lab, fold.y_lab, None
    if registry.info(method).setting == "one-class" and fold.X_pos is not None:
        return fold.X_pos, None, None
    return fold.X_mix, None, None


def fit_member(method: str, model: Any, fold: Any, *, monitor: bool = False, callbacks=(), cancel=None) -> Any:
    """Fit ``model`` on its part of ``fold`` (:func:`fit_inputs`), monitoring the test rows if asked."""
    X, y, X_pos = fit_inputs(method, model, fold)
    kw: dict[str, Any] = {"callbacks": tuple(callbacks), "cancel": cancel}
    if monitor and fold.y_test is not None:
        kw["monitor"] = (fold.X_test, fold.y_test)
    if X_pos is not None:
        kw["X_pos"] = X_pos
    return model.fit(X, y, **kw) if y is not None else model.fit(X, **kw)


def _fit_key(sweep: Any, key: str, seed: int) -> str:
    """The file-safe name of one fit: ``[<sweep value>-]<member key>-s<seed>`` in lower-case letters, digits,
    dots and hyphens (``0.05-with-advantage-s0``)."""
    import re

    head = "" if sweep is None else (f"{sweep:g}-" if isinstance(sweep, float) else f"{sweep}-")
    return re.sub(r"[^a-z0-9.]+", "-", f"{head}{key}".lower()).strip("-") + f"-s{seed}"


def train(training: Training, budget: str = "teaching", *, options: Mapping[str, Any] | None = None,
          params: Mapping[str, Any] | None = None, seeds: Sequence[int] | None = None,
          member_params: Mapping[str, Mapping[str, Any]] | None = None,
          progress: Callable[[float], Any] | None = None, cancel: threading.Event | None = None,
          threads: int | None = 1) -> Fits:
    """Fit every member of ``training`` at ``budget`` for every seed (and sweep value).

    ``threads``: torch threads while fitting (restored afterwards); one thread keeps CPU results
    identical from run to run, which the shipped teaching runs rely on.
    """
    import torch

    from odcore.models import registry
    from odcore.recipes import folds

    settings = resolve(training, budget, options=options, params=params, seeds=seeds, member_params=member_params)
    opts = settings["options"]
    sweep_values = list(opts[training.sweep]) if training.sweep else [None]
    total = len(sweep_values) * len(settings["seeds"]) * len(settings["members"])
    fits = Fits(settings)
    prev = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    t0 = time.perf_counter()
    done = 0
    try:
        for sv in sweep_values:
            for seed in settings["seeds"]:
                fo = {**opts, **({training.sweep: sv} if training.sweep else {})}
                fold = folds.build(training.fold, fo, seed)
                fits.folds[(sv, seed)] = fold
                for key, m in settings["members"].items():
                    if cancel is not None and cancel.is_set():
                        raise FitCancelled("recipe training cancelled")
                    p = registry.resolve_params(m["method"], m["params"], seed=seed, image_shape=fold.image_shape)
                    model = registry.create(m["method"], **p)
                    base = done

                    def on_epoch(rec: dict, base=base) -> None:
                        if progress is not None and rec.get("epochs"):
                            progress(min((base + rec.get("epoch", 0) / rec["epochs"]) / total, 1.0))

                    fit_member(m["method"], model, fold, monitor=training.monitor, callbacks=(on_epoch,),
                               cancel=cancel)
                    fits.models[(sv, key, seed)] = model
                    done += 1
                    if progress is not None:
                        progress(done / total)
    finally:
        torch.set_num_threads(prev)
    fits.seconds = time.perf_counter() - t0
    return fits


# ----------------------------------------------------------------------------------------- results
@dataclass
class Result:
    """A recipe's figure data and check at some settings, and where it came from."""

    recipe: str
    data: dict[str, Any]
    check: Check
    settings: dict[str, Any]
    seconds: float
    source: str  # "shipped", "cache" or "fresh"
    folder: Path | None = None

    @property
    def verdict(self) -> Verdict:
        """The figure's status at these settings (:func:`verdict` of the check)."""
        return verdict(self.check)

    def figure(self):
        from odcore.recipes import get

        return get(self.recipe).build(self.data)

    def figures(self) -> list:
        """The recipe's figure and its extra figures."""
        from odcore.recipes import get

        r = get(self.recipe)
        return [r.build(self.data)] + [f(self.data) for f in r.extras]


def cache_root() -> Path:
    """Where results of live retraining are kept: ``$ODCORE_RUNS_DIR/_recipes`` (default ``runs/_recipes``)."""
    from odcore.runs.store import ENV_ROOT

    return Path(os.environ.get(ENV_ROOT) or "runs").resolve() / "_recipes"


def folder_for(settings: Mapping[str, Any], *, shipped: bool = False) -> Path:
    root = SHIPPED if shipped else cache_root()
    return root / settings["training"] / ("teaching" if shipped else settings_key(settings))


def _check_to_json(c: Check) -> dict:
    return {"ok": bool(c.ok), "summary": c.summary, "values": jsonable(dict(c.values)), "variant": c.variant,
            "status": verdict(c).status}


def evaluate(recipe: Recipe, fits: Fits) -> tuple[dict, Check]:
    """The figure data and the idea check of ``recipe`` from ``fits``."""
    data = jsonable(recipe.extract(fits, fits.settings["options"]))
    return data, recipe.check(data)


def run(name: str, budget: str = "teaching", *, options: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None, seeds: Sequence[int] | None = None,
        member_params: Mapping[str, Mapping[str, Any]] | None = None,
        progress: Callable[[float], Any] | None = None, cancel: threading.Event | None = None,
        save: bool = True) -> Result:
    """Train ``name``'s training at ``budget`` and compute its figure data and check; with ``save`` the models,
    test scores and the figure data of every recipe of the same training go to the cache folder."""
    from odcore.recipes import get, sharing

    recipe = get(name)
    fits = train(recipe.training, budget, options=options, params=params, seeds=seeds, member_params=member_params,
                 progress=progress, cancel=cancel)
    folder = folder_for(fits.settings) if save else None
    results = {}
    for r in sharing(recipe.training.name):
        data, check = evaluate(r, fits)
        results[r.name] = Result(r.name, data, check, fits.settings, fits.seconds, "fresh", folder)
    if folder is not None:
        write(fits, results, folder)
    return results[name]


def write(fits: Fits, results: Mapping[str, Result], folder: Path) -> Path:
    """Save fits (one model folder each, safetensors + JSON), test scores and results into ``folder``."""
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / MODELS).mkdir(parents=True)
    scores = {}
    for (sv, key, seed), model in fits.models.items():
        name = _fit_key(sv, key, seed)
        model.save(tmp / MODELS / name)
        scores[name] = np.asarray(model.decision_function(fits.folds[(sv, seed)].X_test), dtype=np.float64)
    np.savez(tmp / SCORES, **scores)
    atomic_write_json(tmp / SETTINGS, {"settings": fits.settings, "seconds": round(fits.seconds, 2),
                                       "key": settings_key(fits.settings)})
    for res in results.values():
        write_result(tmp, res)
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, folder)
    return folder


def write_result(folder: Path, res: Result) -> Path:
    """Save one recipe's figure data and check (with its status) as ``<recipe>.json`` in ``folder``."""
    path = folder / f"{res.recipe}.json"
    atomic_write_json(path, {"data": res.data, "check": _check_to_json(res.check)})
    return path


def _read(folder: Path, name: str, source: str) -> Result | None:
    try:
        meta = json.loads((folder / SETTINGS).read_text())
        body = json.loads((folder / f"{name}.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return Result(name, body["data"], _recheck(name, body), meta["settings"], float(meta.get("seconds", 0.0)), source,
                  folder)


def _recheck(name: str, body: Mapping[str, Any]) -> Check:
    """The recipe's check of saved figure data, computed now (so a result saved before a check was tightened
    gets today's verdict); the saved check when the data no longer fits the check."""
    from odcore.recipes import get

    try:
        return get(name).check(body["data"])
    except (KeyError, TypeError, ValueError, IndexError):
        c = body["check"]
        return Check(bool(c["ok"]), c["summary"], c.get("values", {}), c.get("variant", PAPER_VARIANT))


def shipped(name: str) -> Result | None:
    """The teaching-budget result shipped with the package (None when the files are missing)."""
    from odcore.recipes import get

    return _read(SHIPPED / get(name).training.name / "teaching", name, "shipped")


def result(name: str, budget: str = "teaching", *, options: Mapping[str, Any] | None = None,
           params: Mapping[str, Any] | None = None, seeds: Sequence[int] | None = None,
           member_params: Mapping[str, Mapping[str, Any]] | None = None) -> Result | None:
    """A finished result for these settings without training: the shipped one when the settings are the
    shipped teaching ones, else the cached one, else None."""
    from odcore.recipes import get

    recipe = get(name)
    settings = resolve(recipe.training, budget, options=options, params=params, seeds=seeds,
                       member_params=member_params)
    ship = shipped(name)
    if ship is not None and settings_key(ship.settings) == settings_key(settings):
        return ship
    return _read(folder_for(settings), name, "cache")


def load_fits(folder: Path) -> dict[str, Any]:
    """The saved models of a result folder, by fit name (``<member>-s<seed>``, with a sweep prefix)."""
    from odcore.models.base import BaseDetector

    out = {}
    for sub in sorted((folder / MODELS).iterdir()):
        out[sub.name] = BaseDetector.load(sub)
    return out


def saved_scores(folder: Path) -> dict[str, np.ndarray]:
    """The test scores saved beside the models (``scores.npz``), by fit name."""
    with np.load(folder / SCORES, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def fit_names(fits: Fits) -> dict[str, tuple]:
    return {_fit_key(*k): k for k in fits.models}
