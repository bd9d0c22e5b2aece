"""Parameter search with Ray Tune over the shared training loop's per-epoch reports (``odcore tune``).

Each trial is an ordinary run (:func:`odcore.runs.execution.execute`) with one point of the search
space, stored in the run store like any other run (its config carries ``tune``: the search id, the
trial's values and the objective), so the Compare page lists and compares the trials. Every epoch
record of the shared loop is reported to Tune, and an ASHA scheduler (Li et al., *A System for
Massively Parallel Hyperparameter Tuning*, MLSys 2020) stops the unpromising trials early (their runs
are kept as ``cancelled`` with their history); ``budget`` bounds the whole search in seconds.

Objectives: ``"validation"`` (default, label-free): the epoch's validation loss on held-out training
rows when the detector records one (``val_loss``), else its training loss (``loss``), minimised —
comparable between trials that change the optimisation (learning rate, epochs, batch size); between
trials that change the model's size a smaller loss can also mean a model that reconstructs outliers
better, so prefer a labelled objective there when labels exist. ``"auprc"`` / ``"auroc"``: the
per-epoch metrics on the protocol's labelled test part (monitoring), maximised.

Search spaces (``--space``): ``name=low:high`` (uniform; whole numbers for integer parameters),
``name=low:high:log`` (log-uniform) or ``name=a|b|c`` (a choice), each checked against the method's
declared parameter (its kind and range).
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from odcore.errors import FitCancelled, InputError
from odcore.runs.spec import RunSpec

OBJECTIVES = ("validation", "auprc", "auroc")
RAY_MISSING = "odcore tune needs Ray Tune, an optional dependency: pip install 'odcore[ray]' (or requirements-ray.txt)"


@dataclass(frozen=True)
class Dimension:
    """One searched parameter: a range (``log`` for log-uniform) of its declared kind, or choices."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple | None = None

    def to_tune(self):
        from ray import tune

        if self.choices is not None:
            return tune.choice(list(self.choices))
        if self.kind == "int":
            lo, hi = int(self.low), int(self.high)
            return tune.lograndint(lo, hi + 1) if self.log else tune.randint(lo, hi + 1)
        return tune.loguniform(self.low, self.high) if self.log else tune.uniform(self.low, self.high)

    def describe(self) -> str:
        if self.choices is not None:
            return f"{self.name} in {{{', '.join(map(str, self.choices))}}}"
        return f"{self.name} in [{self.low:g}, {self.high:g}]{' (log)' if self.log else ''}"


def parse_space(method: str, items: Sequence[str]) -> dict[str, Dimension]:
    """``["lr=1e-4:1e-2:log", "latent=2:16", "activation=sigmoid|radial"]`` -> dimensions, each checked
    against the method's declaration (unknown names, kinds that cannot be searched and values out of the
    parameter's range raise :class:`InputError`)."""
    from odcore.models import registry

    decl = registry.declaration(method)
    out: dict[str, Dimension] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name or not text.strip():
            raise InputError(f"--space {item!r} is not of the form name=low:high[:log] or name=a|b|c")
        decl.unknown([name], method)
        p = decl[name]
        text = text.strip()
        if "|" in text or p.kind in ("str", "bool"):
            choices = tuple(p.parse(v) for v in text.split("|") if v.strip())
            if len(choices) < 2:
                raise InputError(f"--space {name}: give at least two choices, as {name}=a|b")
            out[name] = Dimension(name, p.kind, choices=choices)
            continue
        if p.kind not in ("int", "float", "seconds"):
            raise InputError(f"--space {name}: a {p.kind} parameter can only be searched over choices (a|b|c)")
        parts = text.split(":")
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2].strip() != "log"):
            raise InputError(f"--space {item!r}: write {name}=low:high or {name}=low:high:log")
        low, high = (p.parse(v) for v in parts[:2])
        if not low < high:
            raise InputError(f"--space {name}: low ({low}) must be below high ({high})")
        log = len(parts) == 3
        if log and low <= 0:
            raise InputError(f"--space {name}: a log range needs low > 0, got {low}")
        out[name] = Dimension(name, p.kind, float(low), float(high), log)
    if not out:
        raise InputError("give at least one --space name=low:high to search")
    return out


def objective_key(objective: str, record: dict[str, Any]) -> tuple[str, str]:
    """(history key, "min" or "max") of an objective for a history record."""
    if objective == "validation":
        return ("val_loss" if "val_loss" in record else "loss"), "min"
    if objective in ("auprc", "auroc"):
        return f"val_{objective}", "max"
    raise InputError(f"unknown objective {objective!r}; choose one of: {', '.join(OBJECTIVES)}")


def _trial(config: dict[str, Any]) -> None:
    """One Tune trial: a stored run of the search's request with this trial's parameters (resolved here: the
    trial's own request, checked once), every epoch reported."""
    from ray import tune

    from odcore.runs.execution import execute
    from odcore.runs.spec import ResolvedRun, resolve
    from odcore.runs.store import RunStore

    base = ResolvedRun.from_dict(config["run"]).spec()
    spec = RunSpec(**{**base.__dict__, "params": {**base.params, **config["params"]}})
    # no recovery from inside a trial: a trial that Ray stops is not a crash (the driver closes those runs)
    store = RunStore(config["runs_dir"], recover=False)
    run = resolve(spec, store=store)
    run_id = store.new_id(run.method)
    objective = config["objective"]

    last: dict[str, Any] = {}

    def report(rec: dict[str, Any]) -> None:
        key, _ = objective_key(objective, rec)
        value = rec.get(key)
        if value is None or not math.isfinite(float(value)):
            return
        result = {"objective": float(value), "epoch": int(rec["epoch"]), "key": key, "run_id": run_id}
        if rec["epoch"] >= rec["epochs"]:
            # the last epoch is reported once the run is stored: at max_t the scheduler stops the trial, and
            # Ray ends a stopped trial's actor soon after, which cut the scoring and the saved model short
            last.update(result)
            return
        try:
            tune.report(result)
        except SystemExit:  # the scheduler stopped this trial: keep its run, marked cancelled
            raise FitCancelled(f"stopped early by the ASHA scheduler after epoch {rec['epoch']} "
                               f"({key} {float(value):.4g})") from None

    store_tags = {"tune": {"id": config["tune_id"], "values": config["params"], "objective": objective}}
    try:
        res = execute(run, store=store, callbacks=(report,), run_id=run_id, tags=store_tags)
    except FitCancelled:
        return
    if last:
        tune.report(last)
    if config.get("final_report"):  # detectors without epochs report once, from the final metrics
        m = res["metrics"] or {}
        value = m.get(objective)
        if value is not None:
            tune.report({"objective": float(value), "epoch": 1, "key": objective, "run_id": run_id})


def search(run: Any, space: dict[str, Dimension], *, budget: float, samples: int | None = None,
           objective: str = "validation", runs_dir: str | None = None, address: str | None = None,
           max_concurrent: int | None = None, grace_period: int = 1, reduction_factor: int = 3,
           seed: int = 0, progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Search ``space`` for ``run`` (a :class:`~odcore.runs.spec.ResolvedRun`: its data, protocol and fixed
    parameters, checked when it was resolved) within ``budget`` seconds; returns ``{"tune_id", "best",
    "trials"}`` (``best``: the trial with the best objective — its values, run id and objective value)."""
    from odcore.runs.store import RunStore

    if objective not in OBJECTIVES:
        raise InputError(f"unknown objective {objective!r}; choose one of: {', '.join(OBJECTIVES)}")
    if not budget or budget <= 0:
        raise InputError("--budget must be a positive number of seconds")
    deep = run.epochs is not None
    if not deep and objective == "validation":
        raise InputError(f"{run.method} trains in one step, without epoch losses: search it with a labelled "
                         "objective (--objective auprc or auroc) on a protocol with labels")
    if objective != "validation" and not run.monitor:
        raise InputError(f"the {objective} objective reads the per-epoch test metrics: run with monitoring on")
    try:
        import ray
        from ray import tune
        from ray.tune.schedulers import ASHAScheduler
    except ImportError:
        raise InputError(RAY_MISSING) from None
    store = RunStore(runs_dir)
    tune_id = f"tune-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False, include_dashboard=False,
                 runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})
    try:
        max_t = int(run.epochs or 1)
        scheduler = ASHAScheduler(time_attr="epoch", max_t=max_t, grace_period=max(1, min(grace_period, max_t)),
                                  reduction_factor=reduction_factor)
        cfg = {"run": run.to_dict(), "runs_dir": str(store.root), "objective": objective, "tune_id": tune_id,
               "final_report": not deep, "params": {k: d.to_tune() for k, d in space.items()}}
        key_mode = "min" if objective == "validation" else "max"
        tuner = tune.Tuner(
            tune.with_resources(_trial, {"cpu": 1}), param_space=cfg,
            tune_config=tune.TuneConfig(metric="objective", mode=key_mode, scheduler=scheduler,
                                        num_samples=samples or -1, time_budget_s=float(budget),
                                        max_concurrent_trials=max_concurrent,
                                        search_alg=_seeded_search(seed)),
            run_config=tune.RunConfig(storage_path=str(store.root / "_tune"), name=tune_id, verbose=0))
        t0 = _now()
        results = tuner.fit()
    finally:
        if started_here:
            ray.shutdown()
    _close_unfinished(store, tune_id, t0)
    trials = []
    for r in results:
        m = r.metrics or {}
        trials.append({"values": dict(r.config.get("params", {})), "run_id": m.get("run_id"),
                       "objective": m.get("objective"), "epochs": m.get("epoch"), "key": m.get("key")})
    scored = [t for t in trials if t["objective"] is not None]
    best = (min if key_mode == "min" else max)(scored, key=lambda t: t["objective"]) if scored else None
    out = {"tune_id": tune_id, "objective": objective, "best": best, "trials": trials,
           "space": {k: d.describe() for k, d in space.items()}}
    if progress is not None:
        progress(out)
    return out


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def _close_unfinished(store, tune_id: str, since: str) -> None:
    """Trials that Ray stopped (the scheduler, or the search's time budget) between two reports leave their
    runs marked running: mark them cancelled with that reason."""
    for row in store.list_runs(status="running", created_after=since):
        try:
            cfg = store.get(row["id"]).config
        except InputError:
            continue
        if (cfg.get("tune") or {}).get("id") == tune_id:
            store.mark(row["id"], "cancelled", error="stopped by the parameter search (its scheduler or its time "
                                                     "budget) before the trial finished; the history so far is kept")


def _seeded_search(seed: int):
    """Tune's random/grid sampler with a fixed seed, so a search can be repeated."""
    from ray.tune.search.basic_variant import BasicVariantGenerator

    return BasicVariantGenerator(random_state=seed)
