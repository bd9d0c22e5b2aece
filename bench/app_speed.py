"""App speed: start-up to health, each page's first render, script time of a rerun while a job trains.

Usage: ``OMP_NUM_THREADS=1 python -m bench.app_speed [--repeats 3] [--markdown bench/results/app.md]``
and ``OMP_NUM_THREADS=1 python -m bench.app_speed --slider [--moves 15] [--json bench/results/app_slider.json]``

- start to health: ``streamlit run app.py`` in a subprocess until ``/_stcore/health`` answers ok;
- first render: a fresh AppTest session per page in a process where the engine is already imported
  (run store with one-epoch runs, data loaded), i.e. what a user sees after the first page; the very
  first page that imports torch is reported separately (cold);
- rerun while training: a 1000-epoch autoencoder job runs in the shared job registry while each page
  reruns; median of ``--repeats`` reruns. Times are script times measured by app.py around
  the sidebar and the page (what a rerun costs the server), not browser drawing. The same reruns
  without a job show how much of the cost is contention with the training thread.
- ``--slider``: what a person waits for after moving the Scores page's threshold slider, in Chromium against
  ``streamlit run app.py``: from the key press (one slider step) until the histogram's threshold line is
  drawn at the new threshold and the script has stopped (the counts and the ROC marker come with it); median and
  worst of ``--moves`` moves on a Deep SVDD-sized test set (digits one-vs-rest, 1,672 rows) and on every
  week of the retail panel (10,296 rows).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from ui import pages

ROOT = Path(__file__).resolve().parents[1]
PAGES = [p.stem for p in pages.PAGES]  # the app's one list of pages


def start_to_health() -> float:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.headless", "true"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).read() == b"ok":
                    return time.perf_counter() - t0
            except OSError:
                time.sleep(0.05)
            if time.perf_counter() - t0 > 60:
                raise RuntimeError("no health answer within 60 s")
    finally:
        proc.terminate()
        proc.wait(10)


def session(page: str, run_ids: dict):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["run_id"] = run_ids["digits"] if page in ("waldo", "latent") else run_ids["ae"]
    at.run()
    return at


def timed_run(at, page: str | None = None) -> float:
    """Script time of one run, as app.py measures it (``ui.state.SCRIPT_SECONDS`` per session)."""
    from ui import state

    if page and page != "home":
        at.switch_page(f"app_pages/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return float(state.SCRIPT_SECONDS[at.session_state["owner"]])


#: JavaScript: the histogram's threshold line (it moves with every slider step) and whether the script runs
_SHOWN = """() => {
  const lines = [...document.querySelectorAll('.js-plotly-plot')].map(
    gd => ((gd.layout && gd.layout.shapes) || []).map(s => String(s.x0)).join(',')).filter(t => t).join('|');
  const running = document.querySelector('[data-testid="stStatusWidget"]') ? 'running' : 'idle';
  return lines + '#' + running;
}"""


def slider_moves(rows: bool, moves: int) -> dict:
    """Milliseconds from a slider key press until the page shows the new threshold (see the module's doc)."""
    from playwright.sync_api import sync_playwright

    from bench.faults import ARGS, CHROMIUM, App, settle
    from odcore.runs.execution import execute
    from odcore.runs.spec import RunSpec, resolve
    from odcore.runs.store import RunStore

    runs = Path(tempfile.mkdtemp(prefix="app-slider-")) / "runs"
    store = RunStore(runs)
    specs = [RunSpec(data="digits", method="iforest", protocol="one-vs-rest",
                     protocol_options={"inlier_classes": [0]}, params={})]
    if rows:  # every row of the retail panel scored (10,296 weeks)
        specs.append(RunSpec(data="retail-synthetic", method="iforest", protocol="all", params={}))
    out = {}
    for spec in specs:
        rid = execute(resolve(spec, store=store), store=store)["run_id"]
        n = len(store.get(rid).scores)
        script_log = runs.parent / f"script-{rid}.log"
        app = App(runs, ODCORE_SCRIPT_LOG=str(script_log))
        app.start()
        try:
            with sync_playwright() as p:
                b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
                page = b.new_context(viewport={"width": 1400, "height": 1600}).new_page()
                page.set_default_timeout(120_000)
                page.goto(f"{app.url}/scores")
                page.get_by_role("heading", name="Your runs").wait_for()
                page.locator(".js-plotly-plot").last.wait_for()
                settle(page)
                page.wait_for_timeout(1500)
                settle(page)
                thumb = page.get_by_role("slider").first
                thumb.focus()
                times = []
                for i in range(moves):
                    before = page.evaluate(_SHOWN)
                    t0 = time.perf_counter()
                    thumb.press("ArrowRight" if i % 4 < 2 else "ArrowLeft")
                    page.wait_for_function(
                        """([fn, before]) => { const [line, state] = eval(fn)().split('#');
                           return state === 'idle' && line !== '' && line !== before.split('#')[0]; }""",
                        arg=[_SHOWN, before], polling="raf", timeout=30_000)
                    times.append(1000 * (time.perf_counter() - t0))
                    page.wait_for_timeout(300)
                b.close()
        finally:
            app.stop()
        lines = script_log.read_text().split() if script_log.exists() else []
        server = [1000 * float(lines[i + 3]) for i in range(0, len(lines) - 3, 4) if lines[i + 2] == "Scores_workbench"]
        if not server:  # the page without its fragment: every move reruns the whole page (its first run left out)
            server = [1000 * float(lines[i + 3]) for i in range(0, len(lines) - 3, 4) if lines[i + 2] == "Scores"][1:]
        server = server[-moves:]  # the moves' reruns of the workbench fragment (the page's own run is logged apart)
        cpu = [1000 * float(lines[i + 3]) for i in range(0, len(lines) - 3, 4)
               if lines[i + 2] == "Scores_workbench_cpu"][-moves:]
        out[f"{spec.data} ({n:,} scored rows)"] = {
            "rows": n, "ms": [round(t, 1) for t in times], "median_ms": round(statistics.median(times), 1),
            "max_ms": round(max(times), 1), "server_median_ms": round(statistics.median(server), 1) if server else None,
            "server_cpu_median_ms": round(statistics.median(cpu), 1) if cpu else None,
            "full_page_runs": sum(1 for i in range(0, len(lines) - 3, 4) if lines[i + 2] == "Scores")}
    return out


def slider_markdown(results: list[dict], json_path: str) -> str:
    """The slider measurements (every labelled run of ``--slider`` kept in ``json_path``) as a Markdown table."""
    lines = ["# Scores: a threshold slider move", "",
             "What a person waits for after one step of the Scores page's threshold slider (arrow key), in headless "
             "Chromium against `streamlit run app.py` on the 2-core development machine: from the key press until "
             "the histogram's threshold line is drawn at the new value and the script has stopped. *Server* is the "
             "script time of the rerun (since the change: the workbench fragment alone), *CPU* its thread's CPU time "
             "(less sensitive to the load than the wall clock). The machine is shared: "
             "the load average is given, and the browser and the server ran at `nice -n 19`, so the median is "
             "inflated by other people's work; the fastest moves show what an idle machine gives. Goal: 300 ms.", "",
             f"Command: `OMP_NUM_THREADS=1 nice -n 19 python -m bench.app_speed --slider --moves 20 --label ... "
             f"--json {json_path} --markdown bench/results/app_slider.md`", "",
             "| when | code | run (scored rows) | moves | median, ms | fastest, ms | slowest, ms | server median, ms "
             "| server CPU, ms | full page reruns | load |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    notes = [r["note"] for r in results if "note" in r]
    for r in results:
        for name, v in r.get("runs", {}).items():
            server, cpu = v.get("server_median_ms"), v.get("server_cpu_median_ms")
            lines.append(f"| {r['date']} | {r['label']} | {name} | {len(v['ms'])} | {v['median_ms']:.0f} | "
                         f"{min(v['ms']):.0f} | {v['max_ms']:.0f} | {'-' if server is None else f'{server:.0f}'} | "
                         f"{'-' if cpu is None else f'{cpu:.0f}'} | "
                         f"{v.get('full_page_runs', '-')} | {r['load']:.1f} |")
    return "\n".join(lines + [""] + [f"- {n}" for n in notes]) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--slider", action="store_true", help="time a threshold slider move on Scores in Chromium")
    ap.add_argument("--moves", type=int, default=15)
    ap.add_argument("--no-large", action="store_true", help="only the digits run (not the 10,296-row retail run)")
    ap.add_argument("--label", default="", help="what was measured (before / after a change)")
    ap.add_argument("--json", default=None, help="append the slider result to this JSON list")
    args = ap.parse_args()
    if args.slider:
        import json

        res = {"label": args.label, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "load": round(os.getloadavg()[0], 2), "runs": slider_moves(not args.no_large, args.moves)}
        print(json.dumps(res, indent=1))
        if args.json:
            p = Path(args.json)
            old = json.loads(p.read_text()) if p.exists() else []
            p.write_text(json.dumps(old + [res], indent=1) + "\n")
            if args.markdown:
                Path(args.markdown).write_text(slider_markdown(old + [res], args.json))
        return
    health = [start_to_health() for _ in range(args.repeats)]

    os.environ["ODCORE_RUNS_DIR"] = tempfile.mkdtemp(prefix="app-speed-")
    from odcore.runs.execution import execute
    from odcore.runs.spec import RunSpec, resolve
    from odcore.runs.store import RunStore

    t0 = time.perf_counter()
    store = RunStore()
    specs = {"ae": RunSpec(data="breast-cancer", method="autoencoder", params={"epochs": 1}),
             "digits": RunSpec(data="digits", method="waldo", protocol="pu",
                               protocol_options={"inlier_classes": [0], "nu": 0.1}, params={"epochs": 1}),
             "retail": RunSpec(data="retail-synthetic", method="waldo", protocol="pu", params={"epochs": 1})}
    ids = {k: execute(resolve(spec, store=store), store=store)["run_id"] for k, spec in specs.items()}
    setup = time.perf_counter() - t0
    cold = timed_run(session("home", ids), "scores")  # first page to load a run in this process
    first, idle = {}, {}
    for p in PAGES:
        at = session("home", ids)
        first[p] = timed_run(at, p)
        idle[p] = statistics.median(timed_run(at) for _ in range(args.repeats))

    from ui import state

    reg = state.registry()
    job = reg.submit(resolve(RunSpec(data="digits", method="autoencoder", params={"epochs": 1000}), store=reg.store),
                     owner="bench")
    while reg.get(job).state != "running" or reg.get(job).epoch < 1:
        time.sleep(0.2)
    rerun = {}
    for p in PAGES:
        at = session("home", ids)
        timed_run(at, p)
        rerun[p] = statistics.median(timed_run(at) for _ in range(args.repeats))
    epoch_seen = reg.get(job).epoch
    reg.cancel(job, "bench")
    reg.wait(job, 30)

    lines = [
        "# App speed", "",
        f"Machine: 2-core AMD EPYC (Zen 1) CPU, no GPU, shared with five other helpers' benchmarks (load "
        f"average {os.getloadavg()[0]:.1f} at the end). Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "", "Command: `OMP_NUM_THREADS=1 .venv/bin/python -m bench.app_speed --repeats "
        f"{args.repeats} --markdown bench/results/app.md`", "",
        f"- `streamlit run app.py` to `/_stcore/health` ok: {', '.join(f'{h:.2f}' for h in health)} s "
        f"(median {statistics.median(health):.2f} s; goal < 20 s)",
        f"- one-epoch runs for the measurement (autoencoder, WALDO digits, WALDO retail): {setup:.1f} s",
        f"- cold first render of Scores (imports torch, loads a model in this process): {cold:.2f} s", "",
        "| page | first render, s (goal < 2) | rerun, no job, s | rerun while a job trains, s (goal < 0.15) |",
        "|---|---|---|---|",
    ]
    lines += [f"| {p} | {first[p]:.3f} | {idle[p]:.3f} | {rerun[p]:.3f} |" for p in PAGES]
    lines += ["", f"The training job reached epoch {epoch_seen} while the pages reran. Times are script times "
              "measured by app.py (sidebar + page), in AppTest sessions; the browser's drawing is not included."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)


if __name__ == "__main__":
    main()
