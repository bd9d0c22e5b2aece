"""Deployment settings: every knob an operator sets before letting other people reach the lab.

A setting has a dotted name (``data.roots``), a default, and an environment variable
(``ODCORE_DATA_ROOTS``). It can also be set in a TOML settings file: the path in
``ODCORE_SETTINGS``, else ``outlier_lab.toml`` in the working folder when that file exists::

    [data]
    roots = ["/srv/datasets"]      # more folders the app may read (beside the shared datasets)
    path_field = false              # no free "File path" field in the app: a picker over the roots

    [limits]
    max_rows = 1_000_000

    [runs]
    team_store = true               # every session sees every run

The environment variable wins over the file, the file over the default. Messages about a limit
or a refused path name the setting with :func:`how_to_set`, so a user knows what to ask for.
Nothing here imports anything of odcore: every layer may read its settings.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from odcore.errors import InputError

ENV_FILE = "ODCORE_SETTINGS"
DEFAULT_FILE = "outlier_lab.toml"


@dataclass(frozen=True)
class Setting:
    """One setting: its name, environment variable, default, kind (int, float, bool, paths, str) and help."""

    name: str
    env: str
    default: Any
    kind: str
    help: str


SETTINGS: dict[str, Setting] = {s.name: s for s in (
    Setting("data.roots", "ODCORE_DATA_ROOTS", (), "paths",
            "folders the app may read files from, besides the shared datasets folder and the uploads folder "
            f"(environment: separated by '{os.pathsep}')"),
    Setting("data.uploads_dir", "ODCORE_UPLOADS_DIR", None, "path",
            "folder where uploads are written while they load: private to the server (mode 0700, its own); "
            "default: _uploads in the runs folder"),
    Setting("data.path_field", "ODCORE_PATH_FIELD", True, "bool",
            "show the free 'File path' field on the Data page (false: only the picker over the data roots)"),
    Setting("data.load_timeout", "ODCORE_LOAD_TIMEOUT", 120.0, "float",
            "seconds one file may take to load in the app before it is stopped"),
    Setting("data.max_loads", "ODCORE_MAX_LOADS", None, "int",
            "files the app loads at once (default: as many memory budgets, limits.max_memory, as fit in half "
            "the machine's memory, at most the cores; the rest wait)"),
    Setting("limits.max_bytes", "ODCORE_MAX_BYTES", 1 << 30, "int",
            "bytes of (decompressed) content read from one file"),
    Setting("limits.max_rows", "ODCORE_MAX_ROWS", 5_000_000, "int", "rows of one file"),
    Setting("limits.max_columns", "ODCORE_MAX_COLUMNS", 5_000, "int", "columns of one file"),
    Setting("limits.max_cells", "ODCORE_MAX_CELLS", 50_000_000, "int", "rows x columns of one file"),
    Setting("limits.max_field", "ODCORE_MAX_FIELD", 10_000, "int",
            "characters in one field of a text file or one text value of a Parquet file"),
    Setting("limits.max_memory", "ODCORE_MAX_MEMORY", 1 << 30, "int",
            "bytes one load may hold in memory (decoded columns, parsed tables)"),
    Setting("jobs.max_running", "ODCORE_MAX_JOBS", None, "int",
            "training jobs that run at once in the app (default: one per GPU, else half the cores); the rest queue"),
    Setting("runs.team_store", "ODCORE_TEAM_STORE", False, "bool",
            "every browser session sees every run (default: its own runs and the shared demo runs)"),
)}

_FILE_CACHE: dict[str, tuple[tuple[int, int], dict[str, Any]]] = {}


def settings_file() -> Path:
    """The settings file consulted (it need not exist)."""
    return Path(os.environ.get(ENV_FILE) or DEFAULT_FILE).expanduser()


def _file_values() -> dict[str, Any]:
    """``{"section.key": value}`` from the settings file (cached by modification time)."""
    p = settings_file()
    try:
        st = p.stat()
    except OSError:
        return {}
    key = str(p.resolve())
    stamp = (st.st_mtime_ns, st.st_size)
    hit = _FILE_CACHE.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    try:
        raw = tomllib.loads(p.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"the settings file {p} is not valid TOML ({exc}); fix it or unset {ENV_FILE}") from None
    flat: dict[str, Any] = {}
    for section, values in raw.items():
        if not isinstance(values, dict):
            raise InputError(f"the settings file {p}: {section!r} must be a [section]; see {__name__}")
        for k, v in values.items():
            name = f"{section}.{k}"
            if name not in SETTINGS:
                raise InputError(f"the settings file {p} sets unknown setting {name!r}; known: "
                                 f"{', '.join(SETTINGS)}")
            flat[name] = v
    _FILE_CACHE[key] = (stamp, flat)
    return flat


def _parse(s: Setting, value: Any, where: str) -> Any:
    try:
        if s.kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if s.kind == "int":
            if isinstance(value, bool):
                raise ValueError(value)
            out = int(str(value).replace("_", "")) if not isinstance(value, int) else value
            if out < 1:
                raise ValueError(value)
            return out
        if s.kind == "float":
            out = float(value)
            if not out > 0:
                raise ValueError(value)
            return out
        if s.kind == "paths":
            items = value.split(os.pathsep) if isinstance(value, str) else list(value)
            return tuple(Path(str(v)).expanduser() for v in items if str(v).strip())
        if s.kind == "path":
            return Path(str(value)).expanduser() if str(value).strip() else None
        return str(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: {value!r} is not a valid value for {s.name} ({s.kind}: {s.help})") from None


def get(name: str) -> Any:
    """The value of setting ``name``: environment variable, else settings file, else default."""
    s = SETTINGS[name]
    env = os.environ.get(s.env)
    if env is not None and env.strip() != "":
        return _parse(s, env, f"environment variable {s.env}")
    file_values = _file_values()
    if name in file_values:
        return _parse(s, file_values[name], f"settings file {settings_file()}")
    return s.default


def how_to_set(name: str) -> str:
    """Where an operator changes setting ``name``: for messages."""
    s = SETTINGS[name]
    section, key = name.split(".", 1)
    return f"the setting {key} in [{section}] of {settings_file().name} or the environment variable {s.env}"


def table() -> list[dict[str, Any]]:
    """Every setting with its environment variable, default, current value and help (for docs and tests)."""
    return [{"name": s.name, "env": s.env, "default": s.default, "value": get(s.name), "help": s.help}
            for s in SETTINGS.values()]
