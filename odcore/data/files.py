"""A data file opened once: every reader reads through the one descriptor, never through the name again.

:func:`open_file` opens a path for reading and checks the *opened* file (``fstat``): a folder, a FIFO, a
device or a socket is refused in one line, without blocking (``O_NONBLOCK``: opening a FIFO would wait
for a writer forever). The :class:`DataFile` it returns gives each reader its own stream over the same
descriptor (:meth:`DataFile.stream`, positioned reads with ``os.pread``), so detecting the format,
reading the header, sniffing the delimiter and parsing the rows all read the same file, even if its name
is pointed elsewhere meanwhile (a symlink swapped between the check and the read).

Where a policy decides which files may be read (the app's data roots, :func:`odcore.data.access.confined`),
it installs its opener in :data:`OPENER` for the current thread (a context variable): the policy's opener
opens with ``O_NOFOLLOW`` and checks the descriptor's real path, and every read below goes through it.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import io
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from odcore.errors import InputError

#: the opener of the policy in force in this thread (None: :func:`open_plain`)
OPENER: contextvars.ContextVar[Callable[[Path], DataFile] | None] = contextvars.ContextVar("odcore_data_opener",
                                                                                         default=None)
_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


class FileMissing(InputError):
    """The path names no file."""


def shown_name(path: str | os.PathLike, limit: int = 60) -> str:
    """A file's name for a message: its last part, printable characters only, shortened."""
    name = Path(str(path)).name or str(path)
    clean = "".join(c if c.isprintable() else "?" for c in name)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def os_message(exc: OSError, path: str | os.PathLike) -> str:
    """One line for an ``OSError`` met opening ``path``: what is wrong and what to do."""
    name = shown_name(path)
    code = exc.errno
    if code == errno.ENOENT:
        return f"{name}: no such file; check the path (relative paths start at the working folder)"
    if code == errno.ENAMETOOLONG:
        longest = max((len(part) for part in Path(str(path)).parts), default=0)
        return (f"{name}: the path is too long for the system ({len(str(path)):,} characters, the longest name "
                f"{longest:,}; at most 255 per name); rename the file or move it to a shorter path")
    if code in (errno.EACCES, errno.EPERM):
        return f"{name}: no permission to read it; ask the file's owner or copy it somewhere readable"
    if code == errno.ELOOP:
        return f"{name}: a symbolic link loop (or a link where none is followed); pass the file itself"
    if code == errno.EISDIR:
        return f"{name} is a folder; pass the data file inside it"
    if code == errno.ENOTDIR:
        return f"{name}: a part of the path is not a folder; check the path"
    return f"{name}: cannot be opened ({exc.strerror or type(exc).__name__}); check the path"


class _Positioned(io.RawIOBase):
    """A seekable binary stream over a descriptor with its own position (``os.pread``): several of them
    read one file without disturbing each other."""

    def __init__(self, owner: DataFile, close_owner: bool):
        self.owner = owner
        self.pos = 0
        self.close_owner = close_owner

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = os.pread(self.owner.fd, len(b), self.pos)
        n = len(data)
        b[:n] = data
        self.pos += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            self.pos = offset
        elif whence == io.SEEK_CUR:
            self.pos += offset
        else:
            self.pos = os.fstat(self.owner.fd).st_size + offset
        if self.pos < 0:
            raise OSError(errno.EINVAL, "negative seek position")
        return self.pos

    def tell(self) -> int:
        return self.pos

    def close(self) -> None:
        if not self.closed and self.close_owner:
            self.owner.close()
        super().close()


class DataFile:
    """One opened data file: ``name`` (for messages), ``path`` (as given, for the record), ``size``.

    Read it with :meth:`stream` (a fresh seekable stream at offset 0 for each reader) or :meth:`head`;
    close it with :meth:`close` or a ``with`` block. It never opens its path again."""

    def __init__(self, fd: int, path: str | os.PathLike, name: str | None = None):
        self.fd = fd
        self.path = str(path)
        self.name = name or Path(self.path).name
        st = os.fstat(fd)
        self.size = st.st_size
        self.stamp = f"{st.st_mtime_ns}-{st.st_size}"
        self.closed = False

    def __repr__(self) -> str:
        return f"DataFile({self.path!r}, fd={self.fd})"

    def __enter__(self) -> DataFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                os.close(self.fd)
            except OSError:
                pass

    def stream(self, *, owned: bool = False) -> io.BufferedReader:
        """A buffered, seekable binary stream over the file from its start (``owned``: closing the stream
        closes the file)."""
        return io.BufferedReader(_Positioned(self, owned), buffer_size=1 << 16)

    def head(self, n: int) -> bytes:
        """The first ``n`` bytes (fewer for a shorter file)."""
        return os.pread(self.fd, n, 0)


def checked(fd: int, path: str | os.PathLike, name: str | None = None) -> DataFile:
    """``fd`` as a :class:`DataFile` when it is a regular file; else it is closed and refused in one line."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError as exc:
        os.close(fd)
        raise InputError(os_message(exc, path)) from None
    if not stat.S_ISREG(mode):
        os.close(fd)
        shown = name or shown_name(path)
        if stat.S_ISDIR(mode):
            raise InputError(f"{shown} is a folder; pass the data file inside it")
        raise InputError(f"{shown} is not a regular file (a device, a pipe or a socket); pass a data file")
    return DataFile(fd, path, name)


def open_plain(path: str | os.PathLike, *, nofollow: bool = False) -> DataFile:
    """Open ``path`` for reading (no policy): a regular file, else one line saying what it is."""
    flags = _FLAGS | (getattr(os, "O_NOFOLLOW", 0) if nofollow else 0)
    try:
        fd = os.open(Path(path).expanduser(), flags)
    except OSError as exc:
        cls = FileMissing if exc.errno == errno.ENOENT else InputError
        raise cls(os_message(exc, path)) from None
    return checked(fd, path)


def open_file(path: str | os.PathLike) -> DataFile:
    """Open ``path`` through the policy in force in this thread (:data:`OPENER`), else :func:`open_plain`."""
    opener = OPENER.get()
    return opener(Path(path)) if opener is not None else open_plain(path)


@contextlib.contextmanager
def opened(source: str | os.PathLike | DataFile) -> Iterator[DataFile]:
    """``with opened(path_or_file) as f``: a :class:`DataFile` given is used (and left open), a path is
    opened with :func:`open_file` and closed at the end."""
    if isinstance(source, DataFile):
        yield source
        return
    f = open_file(source)
    try:
        yield f
    finally:
        f.close()


def name_of(source: str | os.PathLike | DataFile) -> str:
    """The file name of a path or a :class:`DataFile` (for messages and dataset names)."""
    return source.name if isinstance(source, DataFile) else Path(source).name


def path_of(source: str | os.PathLike | DataFile) -> str:
    """The path of a path or a :class:`DataFile`, as text (for records)."""
    return source.path if isinstance(source, DataFile) else str(source)
