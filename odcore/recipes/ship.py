"""Write the shipped teaching runs: ``python -m odcore.recipes.ship [TRAINING ...] [--budget teaching]``.

For each training (default: all) this fits its members at the teaching budget with one torch thread on the
CPU, evaluates every recipe drawn from it, and writes the models (safetensors + JSON), the test scores and
the figure data under ``odcore/recipes/shipped/<training>/teaching/`` (package data: ``pip install .``
carries them). The fits are deterministic on CPU, so the same command reproduces the files bit for bit on
the same machine; ``tests/test_recipes_ideas.py`` checks a fresh run's scores against the shipped ones
within a tolerance (other CPUs may round differently). ``--budget full --out DIR`` writes a full-budget
result elsewhere (``bench/`` uses it); ``--recheck`` rewrites only the saved checks from the saved figure data
(after a recipe's check changed: no fitting).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def ship(training_name: str, *, budget: str = "teaching", out: Path | None = None, log=print) -> dict:
    """Fit ``training_name`` at ``budget`` and write it (default: the shipped folder); returns a summary."""
    from odcore import recipes
    from odcore.recipes import framework

    training = recipes.trainings()[training_name]
    t0 = time.perf_counter()
    fits = framework.train(training, budget)
    results = {}
    for r in recipes.sharing(training_name):
        data, check = framework.evaluate(r, fits)
        results[r.name] = framework.Result(r.name, data, check, fits.settings, fits.seconds, "fresh")
    folder = out / training_name / budget if out is not None else framework.SHIPPED / training_name / "teaching"
    framework.write(fits, results, folder)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    summary = {"training": training_name, "budget": budget, "fit_seconds": round(fits.seconds, 1),
               "seconds": round(time.perf_counter() - t0, 1), "bytes": size, "folder": str(folder),
               "checks": {n: (r.check.ok, r.check.summary) for n, r in results.items()},
               "status": {n: r.verdict.status for n, r in results.items()}}
    log(f"{training_name} ({budget}): fit {fits.seconds:.1f} s, {size / 1e6:.2f} MB in {folder}")
    for n, r in results.items():
        log(f"  {n}: {r.verdict.badge}: {r.check.summary}")
    return summary


def recheck(training_name: str, *, log=print) -> dict[str, str]:
    """Rewrite the checks saved in the shipped run of ``training_name`` from its saved figure data, without
    refitting (after a recipe's check changed); returns each recipe's status."""
    from odcore import recipes
    from odcore.recipes import framework

    folder = framework.SHIPPED / training_name / "teaching"
    out = {}
    for r in recipes.sharing(training_name):
        res = framework.shipped(r.name)  # its check is the recipe's check of the saved data
        if res is None:
            raise FileNotFoundError(f"{folder} has no {r.name}.json: ship {training_name} first")
        framework.write_result(folder, res)
        out[r.name] = res.verdict.status
        log(f"  {r.name}: {res.verdict.badge}: {res.check.summary}")
    return out


def main(argv: list[str] | None = None) -> int:
    from odcore import recipes

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trainings", nargs="*", help=f"default: all ({', '.join(recipes.trainings())})")
    ap.add_argument("--budget", default="teaching", choices=("teaching", "full"))
    ap.add_argument("--out", default=None, help="folder for the results (default for teaching: the package)")
    ap.add_argument("--recheck", action="store_true", help="only rewrite the shipped checks from the saved figure "
                                                           "data (no fitting)")
    a = ap.parse_args(argv)
    names = a.trainings or list(recipes.trainings())
    unknown = [n for n in names if n not in recipes.trainings()]
    if unknown:
        print(f"unknown training(s) {', '.join(unknown)}; choose from {', '.join(recipes.trainings())}",
              file=sys.stderr)
        return 2
    if a.budget == "full" and a.out is None:
        print("--budget full needs --out (the package ships teaching runs only)", file=sys.stderr)
        return 2
    for n in names:
        if a.recheck:
            recheck(n)
        else:
            ship(n, budget=a.budget, out=Path(a.out) if a.out else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
