"""The paper figures at their full budget (or the teaching one): the same recipes the app shows.

    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python -m bench.figures waldo-fig1b drocc-fig1 --budget full
    PYTHONPATH=. .venv/bin/python -m bench.figures --table        # bench/results/figures.md from the JSON records

Each name is a recipe or a training (``odcore.recipes``); every recipe drawn from the same training is
evaluated from the one fit. The result (models, scores, figure data, check) goes to
``bench/results/figures/<training>/<budget>/`` and one JSON record per recipe and budget to
``bench/results/figures.json``; ``--table`` writes the teaching and full results side by side. The settings
are the recipes' own: this script holds none.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
RECORDS = RESULTS / "figures.json"


def _records() -> list[dict]:
    return json.loads(RECORDS.read_text()) if RECORDS.exists() else []


def run(names: list[str], budget: str) -> list[dict]:
    from odcore import recipes
    from odcore.recipes.ship import ship

    trainings = []
    for n in names:
        t = recipes.trainings().get(n) or recipes.get(n).training
        if t.name not in trainings:
            trainings.append(t.name)
    out = []
    for t in trainings:
        if budget == "teaching":
            s = ship(t)  # the teaching budget is what the package ships
        else:
            s = ship(t, budget=budget, out=RESULTS / "figures")
        for name, (ok, summary) in s["checks"].items():
            out.append({"recipe": name, "training": t, "budget": budget, "ok": ok, "status": s["status"][name],
                        "summary": summary,
                        "fit_seconds": s["fit_seconds"], "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
                        "command": f"python -m bench.figures {t} --budget {budget}"})
    recs = [r for r in _records() if not any(r["recipe"] == o["recipe"] and r["budget"] == o["budget"] for o in out)]
    RECORDS.write_text(json.dumps(recs + out, indent=1))
    return out


def table() -> str:
    """The teaching / full table: each cell is the figure's verdict (:func:`odcore.recipes.framework.verdict`,
    the badge Home and the figure's page show) and the check's numbers. The teaching column is the run the
    package ships (what the app shows); the full column the records of ``--budget full``."""
    from odcore import recipes
    from odcore.recipes import framework

    recs = {(r["recipe"], r["budget"]): r for r in _records()}
    lines = ["| figure | teaching budget (the shipped run the app shows) | full budget |", "|---|---|---|"]
    for name, r in recipes.all_recipes().items():
        ship, rec = framework.shipped(name), recs.get((name, "teaching"))
        when = f", {rec['date']}" if rec else ""
        teach = "not shipped" if ship is None else \
            f"{ship.verdict.badge}: {ship.check.summary} ({ship.seconds:.0f} s{when})"
        full = recs.get((name, "full"))
        if full is None:
            cell = "not run"
        elif "status" not in full:  # recorded before the verdicts; its check has changed since
            cell = (f"not run with today's check (the run of {full['date']}, {full['fit_seconds']:.0f} s, measured: "
                    f"{full['summary']})")
        else:
            cell = (f"{framework.verdict_of(full['status']).badge}: {full['summary']} ({full['fit_seconds']:.0f} s, "
                    f"{full['date']})")
        lines.append(f"| {r.label} | {teach} | {cell} |")
    return "\n".join(lines)


HEADER = RESULTS / "figures.notes"  # the prose above the table (markdown written by hand; not a .md: bench.collect)


def write_md() -> Path:
    """bench/results/figures.md: the notes, then the teaching / full table of the records."""
    notes = HEADER.read_text().rstrip() + "\n\n" if HEADER.exists() else "## Paper figures (recipes)\n\n"
    out = RESULTS / "figures.md"
    out.write_text(notes + table() + "\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="recipes or trainings (default with --budget: all)")
    ap.add_argument("--budget", default=None, choices=("teaching", "full"))
    ap.add_argument("--table", action="store_true", help="print the teaching / full table of the records")
    ap.add_argument("--write", action="store_true", help="write bench/results/figures.md (notes + table)")
    a = ap.parse_args()
    if a.budget:
        from odcore import recipes

        for rec in run(a.names or list(recipes.trainings()), a.budget):
            print(f"{rec['recipe']} ({rec['budget']}): {rec['status']}: {rec['summary']}")
    if a.write:
        print(f"wrote {write_md()}")
    if a.table or not (a.budget or a.write):
        print(table())


if __name__ == "__main__":
    main()
