"""Does the analyst's judgement teach the model? A simulated analyst marks flags, the model retrains, repeat.

The loop of the Flagged rows page, run headless with the library calls the page makes
(``odcore.runs.marks`` / ``odcore.runs.feedback``): on a labelled table whose labels the models never see,

1. train the method on every row (round 0: no marks);
2. each round, the analyst reviews the 20 highest-scored rows not reviewed yet and marks each one by the
   truth: *confirmed* when it is a labelled anomaly, *expected* otherwise;
3. retrain from the round-0 run's spec with every mark so far (``feedback.retrain_spec``), 5 rounds.

After each round, per method, on the rows nobody has reviewed yet (what is left to find):

- ``P@k``: precision in the top k, k = the anomalies left among those rows; ``AUPRC`` on them;
- ``found``: the labelled anomalies among all rows reviewed so far (the active anomaly discovery measure:
  true anomalies in the first B rows shown, Das et al., ICDM 2016 / TKDD 2020).

Two references, as the issue asks: **no feedback** (the round-0 ranking, every row, unchanged) and
**remove reviewed** (the round-0 ranking with the rows reviewed so far taken out: what an analyst gets
by working down the list, with the same review effort; its ``found`` counts the round-0 ranking's top
20 x round rows). ``remove (same rows)`` scores the feedback arm's unreviewed rows with the round-0 model:
the difference to ``feedback`` on identical rows is what retraining added.

Data: ``injected`` is ``bench.analyst``'s Walmart-like weekly store table (45 stores x 143 weeks, 1.7% of the
store-weeks injected: spikes, dips, level shifts, flattened and shifted holiday peaks; generator and
injection seeds = the seed), prepared as the app prepares it (``roles=auto``: each store's sales against its
own expectation); ``injected-heldout`` its held-out variant (30 stores x 160 weeks, other noise, never tuned
on); ``retail`` the synthetic retail panel (``odcore.data.retail``, 52 markets x 198 weeks, each market
scaled on its own; labels = the WALDO paper's weekend rule, ~0.6% of weeks).

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python -m bench.feedback --data injected --seeds 3 \\
        --json bench/results/feedback_injected.json --markdown bench/results/feedback_injected_table.md
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import machine

ROUNDS, BATCH = 5, 20


# ---------------------------------------------------------------------------------- data
def retail(seed: int, *, n_markets: int = 52, n_weeks: int = 198):
    """The synthetic retail panel as a prepared table, each market in its own level, and its labels."""
    from odcore.data.retail import retail_table

    ds = retail_table(scaling="series", seed=seed, n_markets=n_markets, n_weeks=n_weeks)
    return ds, np.asarray(ds.y)


def injected(seed: int, name: str = "storesales"):
    """``bench.analyst``'s weekly store table (issue 21) with its injected store-week anomalies, prepared as the
    app prepares it (``roles=auto``: each store's sales against its own expectation), and the injected labels."""
    from bench import analyst

    frame, info = analyst.load_file(name, seed)
    df, y, _ = analyst.inject(frame, info, seed=1000 + seed)
    ds, src = analyst.lab_rows(df, info)
    return ds, np.asarray(y)[src]


DATA = {"injected": injected, "injected-heldout": lambda seed: injected(seed, "storesales-heldout"),
        "retail": retail}


# ---------------------------------------------------------------------------------- methods
def page_default(ds) -> tuple[str, dict[str, Any]]:
    """The Flagged rows page's default detector on an unlabelled table and the parameters its form gives
    (``ui.flagged.train_form``: the registry's default for tables, else the first of
    ``ui.presets.FLAGGED_DEFAULT_METHODS`` that needs no labels; 20 epochs, a code narrower than the row)."""
    from odcore.models import registry
    from ui import presets

    table_default = (registry.recommended("tables"),) if getattr(ds, "table", None) else ()
    method = next(m for m in (*table_default, *presets.FLAGGED_DEFAULT_METHODS) if registry.info(m).setting != "pu")
    defaults = registry.defaults(method)
    params: dict[str, Any] = {}
    if "epochs" in defaults:
        params["epochs"] = 20
    if "latent" in defaults:
        narrow = max(2, ds.n_features // 2)
        params["latent"] = min(int(defaults.get("latent") or narrow), narrow)
    return method, params


def methods(ds, names: list[str]) -> dict[str, tuple[str, str, dict, dict]]:
    """label -> (method, protocol, protocol options, parameters)."""
    import pandas as pd

    d = pd.to_datetime(ds.meta[next(c for c in ds.meta.columns if pd.api.types.is_datetime64_any_dtype(ds.meta[c]))])
    first_third = f"before={(d.min() + (d.max() - d.min()) / 3).date()}"  # the page's hint for WALDO
    default, default_params = page_default(ds)
    table = {
        "waldo": ("waldo", "pu", {"known_normal": first_third}, {"epochs": 20}),
        "page default": (default, "all", {}, default_params),
        "deep-sad": ("deep-sad", "all", {}, {"epochs": 20}),
        "iforest": ("iforest", "all", {}, {}),
    }
    return {k: table[k] for k in names}


# ---------------------------------------------------------------------------------- one simulated analyst
def _metrics(y: np.ndarray, s: np.ndarray) -> dict[str, float]:
    from odcore import metrics

    k = int(y.sum())
    if k == 0 or k == len(y):
        return {"p_at_k": float("nan"), "auprc": float("nan")}
    return {"p_at_k": float(metrics.precision_at_k(y, s, k)), "auprc": float(metrics.auprc(y, s))}


def _known_placed(y: np.ndarray, s: np.ndarray, reviewed: np.ndarray) -> np.ndarray:
    """The whole list as the analyst has it: the reviewed rows at their known places (confirmed above every row,
    expected below), the others by the scores ``s``."""
    out = np.asarray(s, dtype=np.float64).copy()
    lo, hi = out.min(), out.max()
    span = hi - lo + 1.0
    out[reviewed] = np.where(y[reviewed] == 1, hi + span, lo - span)
    return out


def _scores(run) -> np.ndarray:
    sc = run.scores.sort_values("row_id")
    return sc["score"].to_numpy(dtype=np.float64)


def simulate(ds, y: np.ndarray, spec: tuple[str, str, dict, dict], *, seed: int, rounds: int = ROUNDS,
             batch: int = BATCH) -> list[dict[str, Any]]:
    """The rounds of one method on one table (module docstring); one record per round (round 0: no marks)."""
    from odcore.data import marks as M
    from odcore.runs import feedback
    from odcore.runs import rerank as R
    from odcore.runs.execution import execute
    from odcore.runs.rebuild import load_model, load_split
    from odcore.runs.rerank import Reranked
    from odcore.runs.spec import RunSpec, resolve
    from odcore.runs.store import RunStore

    method, protocol, popts, params = spec
    blind = dataclasses.replace(ds, y=None)  # the models never see the labels
    cols = M.key_columns(blind)
    meta = blind.meta.reset_index(drop=True)
    with tempfile.TemporaryDirectory(prefix="odcore-feedback-") as tmp:
        store = RunStore(tmp)
        t0 = time.perf_counter()
        res = execute(resolve(RunSpec(data=blind, method=method, protocol=protocol, protocol_options=dict(popts),
                                      params=dict(params), seed=seed, monitor=False), store=store), store=store)
        base_run = store.get(res["run_id"])
        base = _scores(base_run)
        assert len(base) == len(y), "every row must be scored"
        base_order = np.argsort(-base, kind="stable")
        out = [{"round": 0, "reviewed": 0, "found": 0, "found_base": 0, "seconds": time.perf_counter() - t0,
                "list": {arm: _metrics(y, base) for arm in ("feedback", "remove", "none")},
                "feedback": _metrics(y, base), "fit_only": None, "remove": _metrics(y, base),
                "remove_same": _metrics(y, base), "none": _metrics(y, base)}]
        reviewed: list[int] = []
        marks: list[M.Mark] = []
        current = base
        for r in range(1, rounds + 1):
            seen = np.zeros(len(y), dtype=bool)
            seen[reviewed] = True
            order = [i for i in np.argsort(-current, kind="stable") if not seen[i]][:batch]
            for i in order:
                key = M.normalise_key(blind, {c: meta[c].iloc[i] for c in cols})
                marks.append(M.Mark(key=key, kind="confirmed" if y[i] == 1 else "expected", author="bench"))
            reviewed.extend(int(i) for i in order)
            t0 = time.perf_counter()
            spec_r, _ = feedback.retrain_spec(base_run, store=store, marks=marks)
            res = execute(resolve(spec_r, store=store), store=store)
            run = store.get(res["run_id"])
            current = _scores(run)
            seconds = time.perf_counter() - t0
            left = np.ones(len(y), dtype=bool)
            left[reviewed] = False
            model = load_model(run)
            fit_only, strengths = None, {}
            if isinstance(model, Reranked):
                _, split = load_split(run)
                assert (split.test_index == np.arange(len(y))).all()
                fit_scores = np.asarray(model.base.decision_function(split.X_test), dtype=np.float64)
                if run.config.get("marks_used", {}).get("fit"):
                    fit_only = _metrics(y[left], fit_scores[left])
                P = model.codes(split.X_test)
                for a in (0.0, 1.0):  # the same marks carried to no neighbour / at full strength (ablation)
                    w_e, _, w_c, _ = model.weights(P, a, a)
                    alt = R.rerank(fit_scores, w_e, w_c, model.median, model.top)
                    strengths[f"alpha {a:g}"] = _metrics(y[left], alt[left])
                strengths["chosen"] = [model.alpha_expected, model.alpha_confirmed]
            base_left = np.ones(len(y), dtype=bool)
            base_left[base_order[: r * batch]] = False
            seen_base = base_order[: r * batch]
            out.append({"round": r, "reviewed": len(reviewed), "found": int(y[reviewed].sum()),
                        "found_base": int(y[seen_base].sum()), "seconds": seconds,
                        "list": {"feedback": _metrics(y, _known_placed(y, current, np.asarray(reviewed))),
                                 "remove": _metrics(y, _known_placed(y, base, seen_base)),
                                 "none": _metrics(y, base)},
                        "feedback": _metrics(y[left], current[left]), "fit_only": fit_only,
                        "strengths": strengths,
                        "remove": _metrics(y[base_left], base[base_left]),
                        "remove_same": _metrics(y[left], base[left]), "none": _metrics(y, base),
                        "marks_used": run.config.get("marks_used")})
    return out


# ---------------------------------------------------------------------------------- report
def _mean(records: list[dict], path: tuple[str, ...]) -> float:
    vals = []
    for rec in records:
        v: Any = rec
        for p in path:
            v = None if v is None else v.get(p)
        if v is not None and not (isinstance(v, float) and np.isnan(v)):
            vals.append(float(v))
    return float(np.mean(vals)) if vals else float("nan")


def _f(v: float, d: int = 3) -> str:
    return "-" if np.isnan(v) else f"{v:.{d}f}"


def markdown(result: dict[str, Any]) -> str:
    """Per method and round, the means over seeds: anomalies found, P@k and AUPRC of the three arms."""
    lines = ["| method | round | reviewed | found: feedback | found: round-0 order | P@k feedback | P@k remove "
             "reviewed | P@k remove (same rows) | P@k no feedback | AUPRC feedback | AUPRC remove reviewed | "
             "AUPRC remove (same rows) | AUPRC no feedback | retrain s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, per_seed in result["methods"].items():
        rounds = max(len(s) for s in per_seed)
        for r in range(rounds):
            recs = [s[r] for s in per_seed if len(s) > r]
            lines.append(
                f"| {label} | {r} | {recs[0]['reviewed']} | {_f(_mean(recs, ('found',)), 1)} | "
                f"{_f(_mean(recs, ('found_base',)), 1)} | "
                + " | ".join(_f(_mean(recs, (arm, m))) for m in ("p_at_k", "auprc")
                             for arm in ("feedback", "remove", "remove_same", "none"))
                + f" | {_f(_mean(recs, ('seconds',)), 1)} |")
    lines += ["", "The whole list the analyst has after each round, on every row (k = every injected row): the "
              "reviewed rows at their known places (confirmed first, expected last), the others by the arm's "
              "scores; no feedback = the round-0 list as it is (mean over seeds):", "",
              "| method | round | P@k feedback | P@k remove reviewed | P@k no feedback | AUPRC feedback | "
              "AUPRC remove reviewed | AUPRC no feedback |", "|---|---|---|---|---|---|---|---|"]
    for label, per_seed in result["methods"].items():
        for r in range(max(len(s) for s in per_seed)):
            recs = [s[r] for s in per_seed if len(s) > r]
            cells = [_f(_mean(recs, ("list", arm, m))) for m in ("p_at_k", "auprc")
                     for arm in ("feedback", "remove", "none")]
            lines.append(f"| {label} | {r} | " + " | ".join(cells) + " |")
    lines += ["", "The propagation strength: the marks carried to no neighbour (alpha 0: each mark holds on its own "
              "row only), at the strength the marks support (chosen, the product), at full strength (alpha 1); the "
              "same marks and unreviewed rows, mean over seeds (chosen alpha_E / alpha_C per seed):", "",
              "| method | round | P@k alpha 0 | P@k chosen | P@k alpha 1 | AUPRC alpha 0 | AUPRC chosen | "
              "AUPRC alpha 1 | chosen (alpha_E / alpha_C) |", "|---|---|---|---|---|---|---|---|---|"]
    paths = (("strengths", "alpha 0", "p_at_k"), ("feedback", "p_at_k"), ("strengths", "alpha 1", "p_at_k"),
             ("strengths", "alpha 0", "auprc"), ("feedback", "auprc"), ("strengths", "alpha 1", "auprc"))
    for label, per_seed in result["methods"].items():
        for r in range(1, max(len(s) for s in per_seed)):
            recs = [s[r] for s in per_seed if len(s) > r]
            chosen = ", ".join("/".join(f"{a:g}" for a in (x.get("strengths") or {}).get("chosen", [])) for x in recs)
            lines.append(f"| {label} | {r} | " + " | ".join(_f(_mean(recs, path)) for path in paths)
                         + f" | {chosen} |")
    abl = [(label, s) for label, s in result["methods"].items() if any(r.get("fit_only") for r in s[0])]
    if abl:
        lines += ["", "Detectors that learn from the marks in fit: the retrained model's own scores (fit only) "
                  "against fit + re-ranking (the run's scores), on the same unreviewed rows:", "",
                  "| method | round | P@k fit only | P@k fit + re-rank | AUPRC fit only | AUPRC fit + re-rank |",
                  "|---|---|---|---|---|---|"]
        for label, per_seed in abl:
            for r in range(1, max(len(s) for s in per_seed)):
                recs = [s[r] for s in per_seed if len(s) > r]
                lines.append(f"| {label} | {r} | {_f(_mean(recs, ('fit_only', 'p_at_k')))} | "
                             f"{_f(_mean(recs, ('feedback', 'p_at_k')))} | {_f(_mean(recs, ('fit_only', 'auprc')))} | "
                             f"{_f(_mean(recs, ('feedback', 'auprc')))} |")
    return "\n".join(lines) + "\n"


def gains(result: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per method: feedback minus each reference after round 1 and after the last round (means over seeds)."""
    out = {}
    for label, per_seed in result["methods"].items():
        last = min(len(s) for s in per_seed) - 1
        g = {}
        for r in (1, last):
            recs = [s[r] for s in per_seed]
            for m in ("p_at_k", "auprc"):
                fb = _mean(recs, ("feedback", m))
                for ref in ("remove", "remove_same", "none"):
                    g[f"{m} r{r} vs {ref}"] = fb - _mean(recs, (ref, m))
            g[f"found r{r} vs round-0 order"] = _mean(recs, ("found",)) - _mean(recs, ("found_base",))
            for m in ("p_at_k", "auprc"):
                for ref in ("remove", "none"):
                    g[f"whole list {m} r{r} vs {ref}"] = (_mean(recs, ("list", "feedback", m))
                                                          - _mean(recs, ("list", ref, m)))
        out[label] = g
    return out


def summary(results: dict[str, dict[str, Any]]) -> str:
    """The compact table of several runs of this script (``label -> result``): per data and method, after round 1 and
    after the last round, the anomalies found (feedback / the round-0 order), the whole list's P@k and AUPRC
    (feedback / remove reviewed / no feedback) and the P@k of the rows left to review (feedback / remove)."""
    lines = ["| data | method | after round | found: feedback / round-0 order | whole list P@k: feedback / remove / "
             "none | whole list AUPRC: feedback / remove / none | P@k of the rows left: feedback / remove |",
             "|---|---|---|---|---|---|---|"]
    for data, res in results.items():
        for label, per_seed in res["methods"].items():
            last = min(len(s) for s in per_seed) - 1
            for r in (1, last):
                recs = [s[r] for s in per_seed]
                cell = {(arm, m): _f(_mean(recs, ("list", arm, m))) for arm in ("feedback", "remove", "none")
                        for m in ("p_at_k", "auprc")}
                left = {arm: _f(_mean(recs, (arm, "p_at_k"))) for arm in ("feedback", "remove")}
                lines.append(
                    f"| {data} | {label} | {r} ({recs[0]['reviewed']} rows reviewed) | "
                    f"{_f(_mean(recs, ('found',)), 1)} / {_f(_mean(recs, ('found_base',)), 1)} | "
                    + " / ".join(cell[(a, "p_at_k")] for a in ("feedback", "remove", "none")) + " | "
                    + " / ".join(cell[(a, "auprc")] for a in ("feedback", "remove", "none")) + " | "
                    f"{left['feedback']} / {left['remove']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", choices=list(DATA), default="injected")
    ap.add_argument("--methods", default="waldo,page default,deep-sad,iforest")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    ap.add_argument("--batch", type=int, default=BATCH)
    ap.add_argument("--small", action="store_true", help="a small panel (12 markets x 60 weeks) for a quick look")
    ap.add_argument("--json", default=None)
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--summarise", nargs="+", default=None, metavar="LABEL=JSON",
                    help="print the compact table of earlier runs (their --json files) and stop")
    args = ap.parse_args(argv)
    if args.summarise:
        print(summary({k: json.loads(Path(v).read_text()) for k, v in (a.split("=", 1) for a in args.summarise)}))
        return
    names = [m.strip() for m in args.methods.split(",") if m.strip()]
    result: dict[str, Any] = {**machine(), "data": args.data, "rounds": args.rounds, "batch": args.batch,
                              "seeds": args.seeds, "methods": {}}
    started = time.time()
    for seed in range(args.seeds):
        ds, y = (retail(seed, n_markets=12, n_weeks=60) if args.small and args.data == "retail"
                 else DATA[args.data](seed))
        specs = methods(ds, names)
        result.setdefault("rows", int(ds.n_rows))
        result.setdefault("anomalies", []).append(int(y.sum()))
        for label, spec in specs.items():
            result.setdefault("specs", {})[label] = {"method": spec[0], "protocol": spec[1],
                                                     "protocol_options": spec[2], "params": spec[3]}
            recs = simulate(ds, y, spec, seed=seed, rounds=args.rounds, batch=args.batch)
            result["methods"].setdefault(label, []).append(recs)
            print(f"seed {seed} {label}: " + "  ".join(
                f"r{r['round']} found {r['found']}/{r['found_base']} P@k {_f(r['feedback']['p_at_k'], 2)}/"
                f"{_f(r['remove']['p_at_k'], 2)}" for r in recs), flush=True)
    result["seconds"] = round(time.time() - started, 1)
    import os

    result["load_end"] = round(os.getloadavg()[0], 2)
    result["gains"] = gains(result)
    table = markdown(result)
    print(table)
    print(json.dumps(result["gains"], indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=float))
    if args.markdown:
        Path(args.markdown).write_text(table)


if __name__ == "__main__":
    main()
