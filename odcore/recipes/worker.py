"""Retraining a recipe in a child process, so that the app's own threads do not slow it down.

Small networks make thousands of short torch calls per second; in a thread of the app's process each call
waits for the interpreter lock held by the server's busy threads (measured: DROCC's wave at 20 epochs took
234 s in an app job thread against 17 s in its own process on the same loaded machine). :func:`run` starts
``python -m odcore.recipes.worker`` with the settings as JSON, reads its progress lines, terminates it on
cancel, and returns the result it wrote to the cache folder (the same as :func:`framework.run`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from odcore.errors import FitCancelled, TrainingError

PROGRESS = "progress "


def run(name: str, budget: str = "teaching", *, options: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None, seeds: Sequence[int] | None = None,
        member_params: Mapping[str, Mapping[str, Any]] | None = None,
        progress: Callable[[float], Any] | None = None, cancel: threading.Event | None = None):
    """:func:`odcore.recipes.framework.run` in a child process; returns its cached :class:`~framework.Result`."""
    from odcore.jsonio import jsonable
    from odcore.recipes import framework

    spec = jsonable({"name": name, "budget": budget, "options": options, "params": params, "seeds": seeds,
                     "member_params": member_params})
    proc = subprocess.Popen([sys.executable, "-m", "odcore.recipes.worker", json.dumps(spec)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    watcher = None
    if cancel is not None:
        def watch() -> None:
            while proc.poll() is None:
                if cancel.wait(0.5):
                    proc.terminate()
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(PROGRESS) and progress is not None:
            progress(float(line[len(PROGRESS):]))
    err = proc.stderr.read() if proc.stderr is not None else ""
    code = proc.wait()
    if cancel is not None and cancel.is_set():
        raise FitCancelled("recipe retraining cancelled")
    if code != 0:
        last = [ln for ln in err.strip().splitlines() if ln.strip()][-1:] or [f"exit code {code}"]
        raise TrainingError(f"retraining {name} failed: {last[0]}")
    res = framework.result(name, budget, options=options, params=params, seeds=seeds, member_params=member_params)
    if res is None:
        raise TrainingError(f"retraining {name} finished but wrote no result")
    return res


def main(argv: list[str] | None = None) -> int:
    from odcore.recipes import framework

    spec = json.loads((argv or sys.argv[1:])[0])

    def report(f: float) -> None:
        print(f"{PROGRESS}{f:.4f}", flush=True)

    framework.run(spec["name"], spec.get("budget", "teaching"), options=spec.get("options"),
                  params=spec.get("params"), seeds=spec.get("seeds"), member_params=spec.get("member_params"),
                  progress=report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
