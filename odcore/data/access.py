"""Which files a server may read on behalf of a browser user: the data roots policy.

The app never opens a path a user typed; it asks :func:`resolve` first. A path is allowed when,
after resolving symlinks and ``..``, it lies inside one of the data roots:

- the shared datasets folder (:func:`shared_data_dir`, env ``ODCORE_DATA_DIR``),
- the uploads folder (setting ``data.uploads_dir``), where uploads are written while they load,
- the folders of the setting ``data.roots`` (env ``ODCORE_DATA_ROOTS``).

Anything else (``/etc/shadow``, ``~/.ssh/id_rsa``, a symlink inside a root that points out of it,
``../../``) is refused with one message that names the setting, and nothing of the file is read.
Only regular files are allowed (no FIFOs or devices, which could block a reader forever).

The command line and the library do not go through this policy: whoever runs them can already
read their own files.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import Any

from odcore import settings
from odcore.errors import InputError

#: files the picker lists (what the loaders read); others in a root are not shown
PICKABLE = (".csv", ".csv.gz", ".tsv", ".txt", ".gz", ".parquet", ".pq", ".npz", ".npy", ".mat", "ubyte",
            ".data", ".data_10_percent")


def shared_data_dir() -> Path:
    """Folder of the shared real datasets: env ``ODCORE_DATA_DIR``, else ``<repo>/../shared/datasets``."""
    env = os.environ.get("ODCORE_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def uploads_dir() -> Path:
    """The folder uploads are written to while they load (setting ``data.uploads_dir``)."""
    p = settings.get("data.uploads_dir")
    return Path(p) if p else Path(tempfile.gettempdir()) / "odcore-uploads"


def roots() -> list[Path]:
    """The data roots, resolved, in order: shared datasets, uploads, then ``data.roots``."""
    out: list[Path] = []
    for p in (shared_data_dir(), uploads_dir(), *settings.get("data.roots")):
        r = Path(os.path.realpath(Path(p).expanduser()))
        if r not in out:
            out.append(r)
    return out


def _shown(text: str, limit: int = 120) -> str:
    """A user's path for a message: printable characters only, shortened."""
    clean = "".join(c if c.isprintable() else "?" for c in str(text))
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


def refusal(path: str | os.PathLike) -> str:
    """The message for a path outside the data roots."""
    return (f"{_shown(str(path))!r} is outside the data folders this server may read; pick a file with the "
            "picker, upload it, or ask the administrator to add its folder with "
            + settings.how_to_set("data.roots"))


def inside(path: Path, root: Path) -> bool:
    """True when the resolved ``path`` lies in the resolved ``root`` (or is it)."""
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def resolve(path: str | os.PathLike, *, allowed: list[Path] | None = None) -> Path:
    """The real path of ``path`` when it is a regular file inside a data root; else :class:`InputError`.

    A relative path is looked up in each root in turn (``odds/thyroid.mat`` finds the shared
    file); symlinks and ``..`` are resolved before the check, so neither can leave a root.
    """
    text = str(path).strip()
    if not text:
        raise InputError("no path given; type the path of a file inside the data folders, or pick one")
    if "\x00" in text:
        raise InputError("the path holds a NUL character; type a plain file path")
    base = allowed if allowed is not None else roots()
    p = Path(text).expanduser()
    candidates = [p] if p.is_absolute() else [r / p for r in base]
    real = None
    for cand in candidates:
        r = Path(os.path.realpath(cand))
        if any(inside(r, root) for root in base):
            real = r
            if r.exists():
                break
    if real is None:
        raise InputError(refusal(text))
    try:
        st = real.stat()
    except FileNotFoundError:
        raise InputError(f"{_shown(text)!r}: no such file in the data folders; check the name, or pick the file "
                         "with the picker") from None
    except OSError as exc:
        raise InputError(f"{_shown(text)!r}: cannot be read ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{_shown(text)!r} is a folder; pick the data file inside it")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{_shown(text)!r} is not a regular file (a device, a pipe or a socket); pick a data file")
    if not os.access(real, os.R_OK):
        raise InputError(f"{_shown(text)!r}: the server has no permission to read it")
    return real


def check_source(source: Any, *, builtins: Collection[str]) -> Any:
    """``source`` (a RunSpec's data) unchanged when it is not a path: a Dataset, a built-in name (one of
    ``builtins``) or a stored dataset (``stored:<hash>``); else the resolved allowed path."""
    if not isinstance(source, str) or source in builtins or source.startswith("stored:"):
        return source
    return str(resolve(source))


def listing(max_files: int = 2_000) -> list[tuple[str, Path]]:
    """Data files under the roots as ``(label, path)``: label = root name / relative path.

    Hidden entries (names starting with '.') are skipped, so are the uploads in progress; symlinks
    that leave their root are not listed. At most ``max_files`` entries.
    """
    out: list[tuple[str, Path]] = []
    up = Path(os.path.realpath(uploads_dir()))
    for root in roots():
        if root == up or not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or not name.lower().endswith(PICKABLE):
                    continue
                p = Path(dirpath) / name
                real = Path(os.path.realpath(p))
                if not inside(real, root) or not real.is_file():
                    continue
                out.append((f"{root.name}/{p.relative_to(root)}", real))
                if len(out) >= max_files:
                    return out
    return out
