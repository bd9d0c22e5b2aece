"""Error types raised by odcore.

Every problem with user input (a file, a parameter, a protocol the data cannot support)
raises :class:`InputError` (or a subclass) with a message that says what is wrong and how to
fix it. Callers (the app, the CLI) show ``str(err)``; they never need the traceback.
"""

from __future__ import annotations


class OdcoreError(Exception):
    """Base class of every error odcore raises on purpose."""


class InputError(OdcoreError, ValueError):
    """Bad user input: data, parameters or options. The message names the problem and the fix."""


# The data layer's error type. An alias, so ``except DataError`` and ``except InputError`` agree.
DataError = InputError


class NotFittedError(OdcoreError, AttributeError):
    """A detector was asked to score before ``fit`` was called."""


class TrainingError(OdcoreError, RuntimeError):
    """Training stopped because it could not go on (for example the loss became NaN)."""


class FitCancelled(OdcoreError):
    """Raised inside ``fit`` when the ``cancel`` event is set; the history so far is kept."""
