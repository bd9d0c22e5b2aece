"""App speed: start-up to health, each page's first render, script time of a rerun while a job trains.

Usage: ``OMP_NUM_THREADS=1 python -m bench.app_speed [--repeats 3] [--markdown bench/results/app.md]``

- start to health: ``streamlit run app.py`` in a subprocess until ``/_stcore/health`` answers ok;
- first render: a fresh AppTest session per page in a process where the engine is already imported
  (run store with one-epoch runs, data loaded), i.e. what a user sees after the first page; the very
  first page that imports torch is reported separately (cold);
- rerun while training: a 1000-epoch autoencoder job runs in the shared job registry while each page
  reruns; median of ``--repeats`` reruns. Times are script times measured by app.py around
  the sidebar and the page (what a rerun costs the server), not browser drawing. The same reruns
  without a job show how much of the cost is contention with the training thread.
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()
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
