"""JSON and file-writing helpers shared by every layer (imports nothing from odcore).

:func:`jsonable` turns numpy scalars and arrays, tuples and dicts with non-string keys into plain
JSON types, and NaN / infinity into ``None``, so every file odcore writes is standard JSON (Python's
``json`` would otherwise write the non-standard ``NaN``). :func:`atomic_write_bytes` and
:func:`atomic_write_json` write through a temporary file and ``os.replace``, so a reader never sees
a half-written file.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np


def jsonable(v: Any) -> Any:
    """``v`` as plain JSON types: dict keys as strings, tuples and arrays as lists, numpy scalars as
    Python numbers, NaN and infinity as ``None``. Other objects are returned unchanged."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return jsonable(v.tolist())
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return f if math.isfinite(f) else None
    return v


def dataclass_from_dict(cls: Any, d: Any, what: str, *, list_valid: bool = False) -> Any:
    """``cls(**d)`` for a dataclass written by its ``to_dict``: unknown fields refused with one message naming
    them (and the valid ones with ``list_valid``); nested dicts copied."""
    from odcore.errors import InputError

    names = set(cls.__dataclass_fields__)
    unknown = set(d) - names
    if unknown:
        valid = f"; valid: {', '.join(names)}" if list_valid else ""
        raise InputError(f"unknown {what} field(s) {', '.join(sorted(unknown))}{valid}")
    return cls(**{k: (dict(v) if isinstance(v, dict) else v) for k, v in d.items()})


def dumps(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`jsonable` ``(obj)``; refuses NaN, so the text is standard JSON."""
    return json.dumps(jsonable(obj), allow_nan=False, **kwargs)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented standard JSON (see :func:`dumps`), atomically."""
    atomic_write_bytes(path, dumps(obj, indent=1).encode())
