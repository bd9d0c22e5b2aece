"""Label-free choice among detectors under the novelty protocol: Goix's Excess-Mass / Mass-Volume criteria
(``odcore.models.auto.em_mv_scores``) against the detectors' AUROC, per file and seed.

For each dataset (a file of a group, or a class of MNIST / Fashion-MNIST one-vs-rest) and seed: the novelty
split (fit on normal rows), each candidate fitted on the training rows and scored on the test rows (its
AUROC: the truth, never used by the choice), and the criteria computed on the training rows only (a held-out
share of them judges candidates fitted on the rest). The records say, for each rule, which candidate it
picks; the summary compares the mean AUROC of each rule with the best single candidate's, per group.

    OMP_NUM_THREADS=1 python -m bench.label_free_choice --groups dev --seeds 2 --json bench/results/lfc_dev.json
    OMP_NUM_THREADS=1 python -m bench.label_free_choice --from-json bench/results/lfc_*.json

Groups: ``dev`` (the twelve ADBench files of the development suite: the rule is tuned here), ``odds`` (the
suite's three ODDS files), ``mnist`` / ``fashion_mnist`` (one-vs-rest, ten classes each), ``kdd`` (KDD Cup 99,
the ALAD protocol's classes: attacks normal, ``normal.`` the anomaly; ``--max-rows`` random training and test
rows, the full novelty split has 277k training rows).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time
from pathlib import Path

import numpy as np

from bench.common import machine, save_json

DEFAULT_CANDIDATES = "knn,lof,iforest,ecod"
#: criterion variants: Goix's uniform box over feature subsets (as published), the same without the columns of
#: fewer than 10 values, and the product of the marginals as the reference measure (all columns at once)
VARIANTS = {"uniform": {}, "uniform-dense": {"min_distinct": 10}, "marginals": {"reference": "marginals"}}


def datasets(group: str):
    """(label, path, protocol, protocol options) of a group."""
    from odcore.data import shared_data_dir
    from odcore.recipes.suites import ADBENCH_FILES, ODDS_FILES

    root = Path(shared_data_dir())
    if group == "dev":
        return [(f.split("/")[-1].split(".")[0], str(root / f), "novelty", {}) for f in ADBENCH_FILES]
    if group == "odds":
        return [(f.split("/")[-1].split(".")[0], str(root / f), "novelty", {}) for f in ODDS_FILES]
    if group in ("mnist", "fashion_mnist"):
        path = str(root / group / "t10k-images-idx3-ubyte.gz")
        return [(f"{group}-{c}", path, "one-vs-rest", {"inlier_classes": [c]}) for c in range(10)]
    if group == "kdd":
        return [("kddcup99", str(root / "kddcup99" / "kddcup.data_10_percent.gz"), "novelty", {})]
    raise SystemExit(f"unknown group {group!r}")


def run_one(label, path, protocol, options, seed, names, a) -> dict:
    from odcore import data, metrics
    from odcore.models import registry
    from odcore.models.auto import em_mv_scores, injection_scores

    ds = data.load(path)
    sp = data.split(ds, protocol, seed=seed, **options)
    X, Xt, yt = sp.X_train, sp.X_test, np.asarray(sp.y_test)
    if a.max_rows and (len(X) > a.max_rows or len(Xt) > a.max_rows):  # KDD Cup 99: 277k training rows
        sub = np.random.default_rng(2000 + seed)
        X = X[np.sort(sub.permutation(len(X))[:a.max_rows])]
        keep = np.sort(sub.permutation(len(Xt))[:a.max_rows])
        Xt, yt = Xt[keep], yt[keep]

    def make(name):
        decl = registry.declaration(name)
        return registry.create(name, **({"random_state": seed} if "random_state" in decl else {}))

    rec = {"dataset": label, "seed": seed, "n_train": int(len(X)), "d": int(X.shape[1]), "auroc": {}, "fit_s": {}}
    for name in names + a.extra.split(",") * bool(a.extra):
        t0 = time.process_time()
        det = make(name).fit(X)
        rec["auroc"][name] = float(metrics.auroc(yt, det.decision_function(Xt)))
        rec["fit_s"][name] = round(time.process_time() - t0, 2)
    rng = np.random.default_rng(1000 + seed)
    perm = rng.permutation(len(X))
    n_h = max(2, int(round(a.heldout_share * len(X))))
    held, fit = X[perm[:n_h]][:a.max_heldout], X[perm[n_h:]][:a.max_fit]
    rec["criteria"], rec["criteria_s"] = {}, {}
    for variant in a.variants.split(","):
        kw = dict(VARIANTS[variant])
        t0 = time.process_time()
        crit = em_mv_scores(fit, held, names, make, n_uniform=a.n_uniform, max_features=a.max_features,
                            n_subsets=a.n_subsets, seed=seed, **kw)
        rec["criteria_s"][variant] = round(time.process_time() - t0, 2)
        rec["criteria"][variant] = {k: [float(v) for v in vals] for k, vals in crit.items() if k != "columns"}
    if a.injection:
        t0 = time.process_time()
        crit = injection_scores(fit, held, names, make, seed=seed, types=INJECTION_TYPES)
        rec["injection"] = {k: [float(v) for v in vals] for k, vals in crit["auroc"].items()}
        rec["injection_s"] = round(time.process_time() - t0, 2)
    rec["candidates"] = names
    return rec


#: the injection types recorded: criterion 'injection''s own (odcore.models.auto.INJECTION_TYPES) and local
#: noise of a quarter and a whole standard deviation
INJECTION_TYPES = ("global", "dependency", "local-0.25", "local-0.5", "local-1")


def _variants(rec: dict) -> list[str]:
    return ["uniform"] if "em_rank" in rec["criteria"] else list(rec["criteria"])


def _crit(rec: dict, variant: str) -> dict:
    return rec["criteria"] if "em_rank" in rec["criteria"] else rec["criteria"][variant]


def _injection_pick(rec: dict, types: tuple[str, ...]) -> int:
    """The candidate with the best mean rank of its AUROCs against the injected anomalies of ``types``."""
    from scipy.stats import rankdata

    return int(np.argmin(np.mean([rankdata(-np.asarray(rec["injection"][t])) for t in types], axis=0)))


def summarise(records: list[dict]) -> str:
    """Mean AUROC per group of: each candidate, the best single candidate, and each rule's pick."""
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(r["group"], []).append(r)
    out = []
    for g, rr in groups.items():
        names = rr[0]["candidates"]
        singles = {n: float(np.mean([r["auroc"][n] for r in rr])) for n in rr[0]["auroc"]}
        best = max((v, n) for n, v in singles.items() if n in names)
        rules = {}
        for v in _variants(rr[0]):
            rules[f"{v}: EM"] = lambda r, v=v: int(np.argmin(_crit(r, v)["em_rank"]))
            rules[f"{v}: MV"] = lambda r, v=v: int(np.argmin(_crit(r, v)["mv_rank"]))
            rules[f"{v}: EM + MV ranks"] = lambda r, v=v: int(np.argmin(np.add(_crit(r, v)["em_rank"],
                                                                                _crit(r, v)["mv_rank"])))
        if len(_variants(rr[0])) > 1:  # every reference's EM and MV ranks together
            rules["all references: EM + MV ranks"] = lambda r: int(np.argmin(np.sum(
                [np.add(_crit(r, v)["em_rank"], _crit(r, v)["mv_rank"]) for v in _variants(r)], axis=0)))
        if "injection" in rr[0]:
            def inj(types):
                return functools.partial(_injection_pick, types=types)
            from odcore.models.auto import INJECTION_TYPES as RULE

            for label, types in (("all types", INJECTION_TYPES), (" + ".join(RULE) + ", auto's rule", RULE)):
                rules[f"injection ({label}): mean AUROC rank"] = inj(types)
            for t in INJECTION_TYPES:
                rules[f"injection ({t})"] = inj((t,))
        rules["oracle (per dataset, uses labels)"] = lambda r, names=names: int(np.argmax([r["auroc"][n]
                                                                                          for n in names]))
        out.append(f"#### {g}: {len({r['dataset'] for r in rr})} datasets x {len({r['seed'] for r in rr})} seeds\n")
        out.append("| detector or rule | mean AUROC | vs best single | picks |")
        out.append("|---|---|---|---|")
        for n, v in sorted(singles.items(), key=lambda kv: -kv[1]):
            out.append(f"| {n} | {v:.4f} | {v - best[0]:+.4f} | |")
        for rule, pick in rules.items():
            idx = [pick(r) for r in rr]
            v = float(np.mean([r["auroc"][names[i]] for r, i in zip(rr, idx)]))
            counts = {names[i]: idx.count(i) for i in sorted(set(idx))}
            out.append(f"| {rule} | {v:.4f} | {v - best[0]:+.4f} | {counts} |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--groups", default="dev")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--candidates", default=DEFAULT_CANDIDATES)
    ap.add_argument("--extra", default="", help="more detectors to score (not candidates), e.g. dte")
    ap.add_argument("--heldout-share", type=float, default=0.3)
    ap.add_argument("--max-fit", type=int, default=2000)
    ap.add_argument("--max-heldout", type=int, default=1000)
    ap.add_argument("--n-uniform", type=int, default=2000)
    ap.add_argument("--max-features", type=int, default=5)
    ap.add_argument("--n-subsets", type=int, default=10)
    ap.add_argument("--variants", default="uniform", help=f"criterion variants, comma-separated: {', '.join(VARIANTS)}")
    ap.add_argument("--max-rows", type=int, default=0,
                    help="random subsets of at most this many training and test rows (0: all; KDD Cup 99 needs it)")
    ap.add_argument("--only", default="", help="comma-separated dataset labels to run (default: all of the groups)")
    ap.add_argument("--injection", action="store_true",
                    help="also the candidates' AUROC against synthetic anomalies injected into held-out rows")
    ap.add_argument("--json", default=None)
    ap.add_argument("--from-json", nargs="*", default=None)
    a = ap.parse_args()
    if a.from_json:
        records = [r for p in a.from_json for r in json.loads(Path(p).read_text())["records"]]
        print(summarise(records))
        return
    header = machine(omp_num_threads=os.environ.get("OMP_NUM_THREADS", "unset"))
    names = [n for n in a.candidates.split(",") if n]
    started = time.time()
    records = []
    for group in a.groups.split(","):
        for label, path, protocol, options in datasets(group):
            if a.only and label not in a.only.split(","):
                continue
            for seed in range(a.seeds):
                rec = run_one(label, path, protocol, options, seed, names, a)
                rec["group"] = group
                records.append(rec)
                print(json.dumps({k: rec[k] for k in ("group", "dataset", "seed", "auroc", "criteria_s")}), flush=True)
                save_json({"header": header, "settings": vars(a), "records": records}, a.json)
    header.update(seconds=round(time.time() - started, 1), load_end=round(os.getloadavg()[0], 2))
    save_json({"header": header, "settings": vars(a), "records": records}, a.json)
    print(summarise(records))


if __name__ == "__main__":
    main()
