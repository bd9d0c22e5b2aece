"""What every benchmark script shares: the machine header of a record and writing the record."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np


def load() -> float:
    """The 1-minute load average (recorded beside every timing: this machine is shared)."""
    return round(os.getloadavg()[0], 2)


def machine(**extra: Any) -> dict[str, Any]:
    """The header of a benchmark record: processor, cores, date and the load at the start."""
    return {"machine": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "date": time.strftime("%Y-%m-%d %H:%M"), "load_start": load(), **extra}


def minmax_scaler(X):
    """Min-max scaling fitted on the rows ``X`` (as a function of a matrix); a constant column keeps
    scale 1. Rows scaled later may fall outside [0, 1]."""
    lo, hi = X.min(0), X.max(0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    return lambda A: (A - lo) / span


def save_json(obj: Any, path: str | Path | None) -> None:
    """Write a benchmark record as indented JSON when a path was given (``--json``)."""
    if path:
        Path(path).write_text(json.dumps(obj, indent=1))
