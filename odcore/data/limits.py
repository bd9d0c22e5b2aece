"""Resource limits for reading one file, enforced while it streams, before memory is spent.

=========================  =====================  =========================================
setting                    default                what it bounds
=========================  =====================  =========================================
``limits.max_bytes``       1 GiB                  bytes of (decompressed) content read
``limits.max_rows``        5,000,000              rows
``limits.max_columns``     5,000                  columns
``limits.max_cells``       50,000,000             rows x columns
``limits.max_field``       10,000                 characters in one field of a text file
``data.load_timeout``      120 s (the app only)   seconds one load may take
=========================  =====================  =========================================

Every setting has an environment variable (``ODCORE_MAX_ROWS`` ...; see :mod:`odcore.settings`).
A gzip bomb stops at ``max_bytes`` decompressed bytes (or earlier, at the row or field limit), an
``.npz`` or IDX file is refused from its declared shapes before its arrays are read. The message
names the limit, the value found and how to raise it.
"""

from __future__ import annotations

import io
import re
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from odcore import settings
from odcore.errors import InputError

_KEYS = ("max_bytes", "max_rows", "max_columns", "max_cells", "max_field")


class LimitError(InputError):
    """A file is larger than a configured limit (the message names the limit and how to raise it)."""


@dataclass(frozen=True)
class Limits:
    """The bounds one read works under (``None``: unbounded). ``deadline`` is a ``time.monotonic()``
    value after which the read stops (set by the app's load timeout)."""

    max_bytes: int | None = 1 << 30
    max_rows: int | None = 5_000_000
    max_columns: int | None = 5_000
    max_cells: int | None = 50_000_000
    max_field: int | None = 10_000
    deadline: float | None = None
    timeout: float | None = None  # the seconds behind ``deadline``, for the message

    def streaming(self) -> Limits:
        """These limits for a reader that streams in chunks (scoring): rows, bytes and cells unbounded."""
        return replace(self, max_bytes=None, max_rows=None, max_cells=None)

    def with_timeout(self, seconds: float | None) -> Limits:
        """These limits with a deadline ``seconds`` from now."""
        if seconds is None:
            return replace(self, deadline=None, timeout=None)
        return replace(self, deadline=time.monotonic() + float(seconds), timeout=float(seconds))

    # ------------------------------------------------------------------ checks
    def check_shape(self, name: str, rows: int | None = None, columns: int | None = None, *,
                    at_least: bool = False) -> None:
        """Refuse ``rows`` / ``columns`` / ``rows x columns`` above the limits (``at_least``: counted
        so far by a reader that stops there)."""
        if rows is not None and self.max_rows is not None and rows > self.max_rows:
            raise LimitError(message(name, "max_rows", rows, "rows", self.max_rows, at_least=at_least))
        if columns is not None and self.max_columns is not None and columns > self.max_columns:
            raise LimitError(message(name, "max_columns", columns, "columns", self.max_columns))
        if rows is not None and columns is not None and self.max_cells is not None and rows * columns > self.max_cells:
            raise LimitError(message(name, "max_cells", rows * columns, "cells (rows x columns)", self.max_cells,
                                     at_least=at_least))

    def check_bytes(self, name: str, n: int) -> None:
        """Refuse ``n`` content bytes above ``max_bytes``."""
        if self.max_bytes is not None and n > self.max_bytes:
            raise LimitError(message(name, "max_bytes", n, "bytes of content", self.max_bytes,
                                     at_least=True))

    def check_time(self, name: str) -> None:
        """Stop when the deadline has passed."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise LimitError(f"{name}: loading took longer than {self.timeout or 0:g} s and was stopped; load a "
                             "smaller file, or ask the administrator to raise "
                             + settings.how_to_set("data.load_timeout"))


def message(name: str, key: str, value: int, unit: str, limit: int, *, at_least: bool = False) -> str:
    """'<file>: <value> <unit> is more than the limit of <limit> (limits.<key>); ... how to raise it'."""
    found = f"at least {value:,}" if at_least else f"{value:,}"
    return (f"{name}: {found} {unit} is more than the limit of {limit:,}; use a smaller file (a sample of the "
            f"rows, fewer columns) or raise the limit with {settings.how_to_set('limits.' + key)}")


def current() -> Limits:
    """The limits of the settings (:mod:`odcore.settings`), without a deadline."""
    return Limits(**{k: settings.get(f"limits.{k}") for k in _KEYS})


_TLS = threading.local()


class using:
    """``with limits.using(lim): ...``: loads in this thread run under ``lim`` (the app's timeout)."""

    def __init__(self, lim: Limits):
        self.lim = lim

    def __enter__(self) -> Limits:
        _stack().append(self.lim)
        return self.lim

    def __exit__(self, *exc: Any) -> None:
        _stack().pop()


def _stack() -> list[Limits]:
    if not hasattr(_TLS, "stack"):
        _TLS.stack = []
    return _TLS.stack


def active() -> Limits:
    """The limits in force in this thread: the innermost :class:`using`, else :func:`current`."""
    stack = _stack()
    return stack[-1] if stack else current()


# ---------------------------------------------------------------------------------- streams
class LimitedReader(io.RawIOBase):
    """A binary stream over ``raw`` that counts the bytes it hands out and stops at the limits.

    Raises :class:`LimitError` once more than ``max_bytes`` bytes were read, or when the
    deadline passed (checked every read).
    """

    def __init__(self, raw: Any, lim: Limits, name: str):
        self.raw = raw
        self.lim = lim
        self.name = name
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self.raw.read(len(b))
        n = len(data)
        b[:n] = data
        self.count += n
        self.lim.check_bytes(self.name, self.count)
        self.lim.check_time(self.name)
        return n

    def close(self) -> None:
        try:
            self.raw.close()
        finally:
            super().close()


class FieldChecker(io.TextIOBase):
    """A text stream over ``text`` that refuses a field longer than ``max_field`` characters.

    A field is a run of characters without ``sep`` or a line break (quotes are not parsed, so a
    quoted field holding the delimiter counts as two: the check is never stricter than the file).
    """

    def __init__(self, text: Any, lim: Limits, name: str, sep: str):
        self.text = text
        self.lim = lim
        self.name = name
        self.run = 0  # length of the field running at the end of the last chunk
        n = lim.max_field
        stop = re.escape(sep) + r"\r\n"
        self._long = re.compile(f"[^{stop}]{{{n + 1}}}") if n else None
        self._stop = re.compile(f"[{stop}]")
        self._stops = sep + "\r\n"

    def readable(self) -> bool:
        return True

    def _check(self, chunk: str) -> None:
        if self._long is None or not chunk:
            return
        n = self.lim.max_field
        first = self._stop.search(chunk)
        head = first.start() if first else len(chunk)
        if self.run + head > n or self._long.search(chunk):
            raise LimitError(message(self.name, "max_field", max(self.run + head, n + 1), "characters in one field",
                                     n, at_least=True))
        if first is None:
            self.run += len(chunk)
        else:
            last = max(chunk.rfind(c) for c in self._stops)
            self.run = len(chunk) - last - 1

    def read(self, size: int | None = -1) -> str:
        chunk = self.text.read(-1 if size is None else size)
        self._check(chunk)
        return chunk

    def readline(self, size: int | None = -1) -> str:
        line = self.text.readline(-1 if size is None else size)
        self._check(line)
        return line

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def close(self) -> None:
        try:
            self.text.close()
        finally:
            super().close()
