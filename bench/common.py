"""What every benchmark script shares: the machine header of a record and writing the record."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any


def load() -> float:
    """The 1-minute load average (recorded beside every timing: this machine is shared)."""
    return round(os.getloadavg()[0], 2)


def machine(**extra: Any) -> dict[str, Any]:
    """The header of a benchmark record: processor, cores, date and the load at the start."""
    return {"machine": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "date": time.strftime("%Y-%m-%d %H:%M"), "load_start": load(), **extra}


def save_json(obj: Any, path: str | Path | None) -> None:
    """Write a benchmark record as indented JSON when a path was given (``--json``)."""
    if path:
        Path(path).write_text(json.dumps(obj, indent=1))
