"""Resource limits for reading one file, enforced while it streams, before memory is spent.

=========================  =====================  =========================================
setting                    default                what it bounds
=========================  =====================  =========================================
``limits.max_bytes``       1 GiB                  bytes of (decompressed) content read
``limits.max_rows``        5,000,000              rows
``limits.max_columns``     5,000                  columns
``limits.max_cells``       50,000,000             rows x columns
``limits.max_field``       10,000                 characters in one field (quoted fields spanning
                                                  lines included) or one Parquet text value
``limits.max_memory``      1 GiB                  bytes one load holds in memory (decoded columns,
                                                  parsed tables)
``data.load_timeout``      120 s (the app only)   seconds one load may take, checked while it reads
=========================  =====================  =========================================

Every setting has an environment variable (``ODCORE_MAX_ROWS`` ...; see :mod:`odcore.settings`).
A gzip bomb stops at ``max_bytes`` decompressed bytes (or earlier, at the row or field limit), an
``.npz`` or IDX file is refused from its declared shapes before its arrays are read, a Parquet file
from what its columns decode to (dictionary and run-length encodings included: computed from the
metadata first, counted batch by batch while it reads). The message names the limit, the value
found and how to raise it.
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

_KEYS = ("max_bytes", "max_rows", "max_columns", "max_cells", "max_field", "max_memory")


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
    max_memory: int | None = 1 << 30
    deadline: float | None = None
    timeout: float | None = None  # the seconds behind ``deadline``, for the message

    def streaming(self) -> Limits:
        """These limits for a reader that streams in chunks (scoring): rows, bytes and cells unbounded."""
        return replace(self, max_bytes=None, max_rows=None, max_cells=None, max_memory=None)

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

    def check_memory(self, name: str, n: int) -> None:
        """Refuse a load that would hold ``n`` bytes in memory, above ``max_memory``."""
        if self.max_memory is not None and n > self.max_memory:
            raise LimitError(message(name, "max_memory", n, "bytes in memory", self.max_memory, at_least=True))

    def check_field(self, name: str, n: int) -> None:
        """Refuse a field (a text value) of ``n`` characters, above ``max_field``."""
        if self.max_field is not None and n > self.max_field:
            raise LimitError(message(name, "max_field", n, "characters in one field", self.max_field,
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

    def __init__(self, raw: Any, lim: Limits, name: str, *, closing: Any = None):
        self.raw = raw
        self.lim = lim
        self.name = name
        self.count = 0
        self.closing = closing  # closed after ``raw`` (the file under a gzip stream)

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
            if self.closing is not None:
                self.closing.close()
        finally:
            super().close()


class FieldChecker(io.TextIOBase):
    """A text stream over ``text`` that refuses a field longer than ``max_field`` characters.

    Fields are cut as a CSV parser cuts them: at ``sep`` and line breaks, except inside a quoted
    field (``"..."``, ``""`` for a quote), which may span lines. The stream is matched one chunk at a
    time (one regular expression, possessive, no backtracking): the complete fields of a chunk are
    checked, the unfinished last one is carried into the next chunk, and a field that cannot end
    within the limit is refused there, before the parser has buffered it.
    """

    def __init__(self, text: Any, lim: Limits, name: str, sep: str):
        self.text = text
        self.lim = lim
        self.name = name
        self.carry = ""  # the unfinished field at the end of the last chunk
        n = lim.max_field
        self._fields = None
        if n:
            s = re.escape(sep)
            stop = f"{s}\\r\\n"
            spaces = "" if sep == " " else f" {{0,{n}}}+"
            quoted = f'"(?:[^"]|""){{0,{n}}}+'
            plain = f'[^"{stop}][^{stop}]{{0,{n - 1}}}+'
            field = f'{spaces}(?:{quoted}"[^{stop}]{{0,{n}}}+|{plain})?'
            self._fields = re.compile(f"(?:{field}(?:{s}|\\r\\n?|\\n))*+")  # complete fields, each within n
            self._unfinished = re.compile(f'{spaces}(?:{quoted}(?:"[^{stop}]{{0,{n}}}+)?|{plain})?')
            self._long = re.compile(f"[^{stop}]{{{n + 1}}}")
            self._stop = re.compile(f"[{stop}]")
            self._stops = sep + "\r\n"

    def readable(self) -> bool:
        return True

    def _check(self, chunk: str) -> None:
        if self._fields is None or not chunk:
            return
        if '"' not in chunk and '"' not in self.carry:  # no quoting: a field is a run without sep or line break
            first = self._stop.search(chunk)
            head = first.start() if first else len(chunk)
            if len(self.carry) + head > self.lim.max_field or self._long.search(chunk):
                self._refuse()
            if first is None:
                self.carry += chunk
            else:
                self.carry = chunk[max(chunk.rfind(c) for c in self._stops) + 1:]
            return
        text = self.carry + chunk if self.carry else chunk
        rest = text[self._fields.match(text).end():]
        if not self._unfinished.fullmatch(rest):  # what is left is not the start of a field within the limit
            self._refuse()
        self.carry = rest

    def _refuse(self) -> None:
        n = self.lim.max_field or 0
        raise LimitError(message(self.name, "max_field", n + 1, "characters in one field", n, at_least=True))

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
