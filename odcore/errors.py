"""Error types raised by odcore.

Every problem with user input (a file, a parameter, a protocol the data cannot support)
raises :class:`InputError` (or a subclass) with a message that says what is wrong and how to
fix it. Callers (the app, the CLI) show ``str(err)``; they never need the traceback.

``NotFittedError`` subclasses scikit-learn's ``NotFittedError`` (so scikit-learn and PyOD code
that catches theirs catches ours). It is created on first use: importing scikit-learn costs
about 1.5 s, which ``import odcore.errors`` must not pay.
"""

from __future__ import annotations


class OdcoreError(Exception):
    """Base class of every error odcore raises on purpose."""


#: the longest message an InputError keeps: a longer one (a quoted value of a damaged file) is cut in its middle,
#: so the start (what is wrong) and the end (the fix) stay
MAX_MESSAGE = 1_000


def quoted(value: object, limit: int = 60) -> str:
    """``repr(str(value))`` for a message, at most ``limit`` characters (a user's value may be megabytes long)."""
    text = repr(str(value)[: limit + 1])
    return text if len(text) <= limit else text[: limit - 4] + "…" + text[-1]


class InputError(OdcoreError, ValueError):
    """Bad user input: data, parameters or options. The message names the problem and the fix.

    A message longer than :data:`MAX_MESSAGE` characters is shortened in its middle."""

    def __init__(self, *args: object):
        if args and isinstance(args[0], str) and len(args[0]) > MAX_MESSAGE:
            text = args[0]
            args = (f"{text[: MAX_MESSAGE * 2 // 3]} … {text[-(MAX_MESSAGE // 3 - 3):]}", *args[1:])
        super().__init__(*args)


class InputTypeError(InputError, TypeError):
    """Bad input of the wrong type (for example non-numeric values where numbers are needed).

    Both a ``ValueError`` (as every :class:`InputError`) and a ``TypeError`` (as NumPy and
    scikit-learn raise for the same problem), so callers of either convention catch it."""


# The data layer's error type. An alias, so ``except DataError`` and ``except InputError`` agree.
DataError = InputError


class TrainingError(OdcoreError, RuntimeError):
    """Training stopped because it could not go on (for example the loss became NaN)."""


class FitCancelled(OdcoreError):
    """Raised inside ``fit`` when the ``cancel`` event is set; the history so far is kept."""


def __getattr__(name: str):
    if name == "NotFittedError":
        from sklearn.exceptions import NotFittedError as _SklearnNotFitted

        cls = type("NotFittedError", (OdcoreError, _SklearnNotFitted), {
            "__module__": __name__,
            "__doc__": "A detector was asked to score before ``fit`` was called (a scikit-learn NotFittedError)."})
        globals()["NotFittedError"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
