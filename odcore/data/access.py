"""Which files a server may read on behalf of a browser user: the data roots policy.

The app never opens a path a user typed; it asks :func:`resolve` first. A path is allowed when,
after resolving symlinks and ``..``, it lies inside one of the data roots:

- the shared datasets folder (:func:`shared_data_dir`, env ``ODCORE_DATA_DIR``),
- the folders of the setting ``data.roots`` (env ``ODCORE_DATA_ROOTS``).

Anything else (``/etc/shadow``, ``~/.ssh/id_rsa``, a symlink inside a root that points out of it,
``../../``) is refused with one message that names the setting, and nothing of the file is read.
Only regular files are allowed (no FIFOs or devices, which could block a reader forever).

Open once, then check (:func:`open_checked`): the resolved path is opened once, without following a
symbolic link in its last part (``O_NOFOLLOW``), and the *opened descriptor's* real path
(``/proc/self/fd``) must lie in a root; the readers then read that descriptor and never the name
again, so a file swapped for a symlink between the check and the read reads nothing outside.
:func:`confined` makes every load of the current thread open its files so (the app's loads and jobs).

Uploads are written to a private folder of the server (:func:`uploads_folder`: mode 0700, its own
user, never a symbolic link; by default in the user's cache, not in a world-writable temporary
folder), read through the descriptor that wrote them and unlinked at once; that folder is not a
data root, so no session can read another's upload by its path.

The command line and the library do not go through this policy: whoever runs them can already
read their own files.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from odcore import settings
from odcore.data import files
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
    """The folder uploads are written to while they load (setting ``data.uploads_dir``; default
    ``$XDG_CACHE_HOME/odcore/uploads``, else ``~/.cache/odcore/uploads``)."""
    p = settings.get("data.uploads_dir")
    if p:
        return Path(p).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "odcore" / "uploads"


def private_folder(path: str | os.PathLike) -> Path:
    """``path`` as a folder private to this server: created with mode 0700 when missing; refused when it
    exists as a symbolic link or as anything but a folder, or belongs to another user; an own folder that
    others could read or write is closed to them (0700)."""
    p = Path(path).expanduser().absolute()
    try:
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.mkdir(p, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise InputError(f"the uploads folder {p} cannot be created ({exc.strerror}); set "
                         + settings.how_to_set("data.uploads_dir") + " to a folder the server may write") from None
    st = os.lstat(p)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        what = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a folder"
        raise InputError(f"the uploads folder {p} is {what}; uploads are refused until it is a private folder of "
                         "the server: remove it (it is created again), or set "
                         + settings.how_to_set("data.uploads_dir"))
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        raise InputError(f"the uploads folder {p} belongs to another user; uploads are refused until it is the "
                         "server's own: remove it (it is created again), or set "
                         + settings.how_to_set("data.uploads_dir"))
    if st.st_mode & 0o077:
        os.chmod(p, 0o700)
    return p


def uploads_folder() -> Path:
    """The private uploads folder (:func:`uploads_dir` checked by :func:`private_folder`)."""
    return private_folder(uploads_dir())


def roots() -> list[Path]:
    """The data roots, resolved, in order: shared datasets, then ``data.roots``."""
    out: list[Path] = []
    for p in (shared_data_dir(), *settings.get("data.roots")):
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
        try:
            r = Path(os.path.realpath(cand))
        except OSError as exc:  # a link changed while it was being resolved, a name too long ...
            raise InputError(files.os_message(exc, text)) from None
        if any(inside(r, root) for root in base):
            real = r
            if os.path.lexists(r):
                break
    if real is None:
        raise InputError(refusal(text))
    try:
        st = real.stat()
    except FileNotFoundError:
        raise InputError(f"{_shown(text)!r}: no such file in the data folders; check the name, or pick the file "
                         "with the picker") from None
    except OSError as exc:
        raise InputError(files.os_message(exc, text)) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{_shown(text)!r} is a folder; pick the data file inside it")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{_shown(text)!r} is not a regular file (a device, a pipe or a socket); pick a data file")
    if not os.access(real, os.R_OK):
        raise InputError(f"{_shown(text)!r}: the server has no permission to read it")
    return real


def descriptor_path(fd: int) -> Path | None:
    """The real path of an open descriptor (Linux: ``/proc/self/fd``), or None where it cannot be told."""
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None
    return Path(target.removesuffix(" (deleted)"))


def open_checked(path: str | os.PathLike, *, allowed: list[Path] | None = None) -> files.DataFile:
    """Open a file inside the data roots once and check what was opened; the readers read that descriptor.

    :func:`resolve` first (the messages for paths outside, folders, missing files); then the resolved
    path is opened without following a symbolic link in its last part, the descriptor must be a regular
    file, and its real path (from the descriptor, not the name) must lie in a root: a file or a folder
    swapped for a symbolic link after the check is refused, never read."""
    base = allowed if allowed is not None else roots()
    real = resolve(path, allowed=base)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(real, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # the last part became a symbolic link after the check
            raise InputError(refusal(path)) from None
        raise InputError(files.os_message(exc, path)) from None
    f = files.checked(fd, real, _shown(Path(str(path)).name, 80))
    opened_at = descriptor_path(fd)
    if opened_at is None:  # no /proc: the descriptor must be the file the resolved path names now
        st, now = os.fstat(fd), os.stat(real, follow_symlinks=False)
        ok = (st.st_dev, st.st_ino) == (now.st_dev, now.st_ino) and Path(os.path.realpath(real)) == real
    else:
        ok = any(inside(opened_at, root) for root in base)
    if not ok:
        f.close()
        raise InputError(refusal(path))
    return f


@contextlib.contextmanager
def confined(allowed: list[Path] | None = None) -> Iterator[None]:
    """Within the block, every file this thread's loads open goes through :func:`open_checked` (the app
    wraps its loads and its training jobs in it)."""
    base = allowed if allowed is not None else roots()
    token = files.OPENER.set(lambda p: open_checked(p, allowed=base))
    try:
        yield
    finally:
        files.OPENER.reset(token)


def check_source(source: Any, *, builtins: Collection[str]) -> Any:
    """``source`` (a RunSpec's data) unchanged when it is not a path: a Dataset, a built-in name (one of
    ``builtins``) or a stored dataset (``stored:<hash>``); else the resolved allowed path."""
    if not isinstance(source, str) or source in builtins or source.startswith("stored:"):
        return source
    return str(resolve(source))


def listing(max_files: int = 2_000) -> list[tuple[str, Path]]:
    """Data files under the roots as ``(label, path)``: label = root name / relative path.

    Hidden entries (names starting with '.') are skipped; symlinks that leave their root are not
    listed. At most ``max_files`` entries.
    """
    out: list[tuple[str, Path]] = []
    for root in roots():
        if not root.is_dir():
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
