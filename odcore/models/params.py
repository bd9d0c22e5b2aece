"""Declared detector parameters: one :class:`Param` per constructor argument, written once.

Every detector lists its parameters as ``Param`` objects (class attribute ``params``; subclasses
add their own and change inherited defaults with ``param_overrides``). From that single
declaration come:

- the constructor: keyword-only, every argument stored unchanged (scikit-learn's convention, so
  ``get_params`` / ``set_params`` / ``clone`` work); :func:`make_init` builds it with a real
  ``inspect.Signature``;
- validation (:meth:`Param.check`), done in ``fit`` and, before any run record exists, by
  ``registry.create`` / ``registry.resolve_params`` (never in ``__init__``: scikit-learn's
  estimator checks require that construction and ``set_params`` do not raise);
- parsing of text values from the CLI (``--param k=v``) and the app's form (:meth:`Param.parse`);
- the rows of ``odcore methods`` and of the Train page's form (:meth:`Param.row`).

Sizes are bounded (``high``) so that a form or a command line cannot ask for a network that
does not fit in memory.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from odcore.errors import InputError

#: marks "no image-data default"
MISSING: Any = type("MISSING", (), {"__repr__": lambda self: "MISSING"})()

KINDS = ("int", "float", "bool", "str", "ints", "shape", "seconds")
#: the largest width, code size or number of layers a form or CLI may ask for
MAX_WIDTH = 8192
MAX_LAYERS = 16


@dataclass(frozen=True)
class Param:
    """One constructor parameter of a detector.

    ``kind``: ``"int"`` (whole number), ``"float"`` (any real number; ints accepted),
    ``"bool"``, ``"str"`` (text, usually with ``choices``), ``"ints"`` (a tuple of whole numbers,
    e.g. hidden widths, at most ``max_len`` of them), ``"shape"`` (an image shape ``(C, H, W)``),
    ``"seconds"`` (a positive number of seconds). ``low`` / ``high`` bound numbers (and each entry
    of ``ints``), open at that end when ``low_open`` / ``high_open``. ``choices`` lists the allowed
    strings; with a numeric kind they are accepted *besides* numbers (``"scale"`` or a float).
    ``optional`` allows None. ``image_default`` is the value runs on image data get unless the user
    sets it; ``clean_default`` the value runs whose training rows are all normal (the novelty protocols,
    ``odcore.data.clean_training``) get unless the user sets it; ``paper`` the papers' value as text;
    ``group`` sorts the form ("model" first, then "training", then "scoring").
    """

    name: str
    default: Any
    help: str
    kind: str = "float"
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple | None = None
    optional: bool = False
    max_len: int = MAX_LAYERS
    image_default: Any = MISSING
    clean_default: Any = MISSING
    paper: str = ""
    group: str = "model"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown parameter kind {self.kind!r}")

    # ------------------------------------------------------------------ description
    def constraint(self) -> str:
        """What a valid value is, in words (used in every error message)."""
        if self.kind == "bool":
            text = "true or false"
        elif self.kind == "str":
            text = f"one of {', '.join(map(repr, self.choices))}" if self.choices else "a text"
        elif self.kind == "shape":
            text = "an image shape (channels, height, width) of positive whole numbers"
        elif self.kind == "ints":
            text = f"a list of at most {self.max_len} whole numbers{self._range_text()}"
        else:
            what = {"int": "a whole number", "float": "a number", "seconds": "a number of seconds"}[self.kind]
            text = what + self._range_text()
            if self.choices:
                text += f", or one of {', '.join(map(repr, self.choices))}"
        if self.optional:
            text += ", or None"
        return text

    def _range_text(self) -> str:
        lo, hi = self.low, self.high
        if lo is None and hi is None:
            return ""
        if hi is None:
            return f" {'>' if self.low_open else '>='} {_fmt(lo)}"
        if lo is None:
            return f" {'<' if self.high_open else '<='} {_fmt(hi)}"
        return f" in {'(' if self.low_open else '['}{_fmt(lo)}, {_fmt(hi)}{')' if self.high_open else ']'}"

    def row(self, *, image: bool = False) -> dict[str, Any]:
        """A plain dict for tables and forms: name, default (the image default on image data), help,
        kind, range, choices, paper value, group."""
        default = self.default
        help_text = self.help
        if image and self.image_default is not MISSING:
            default = self.image_default
            help_text = f"{self.help} (image data: {self.image_default!r}; other data: {self.default!r})"
        if self.clean_default is not MISSING:
            help_text = (f"{help_text} (training rows all normal, e.g. the novelty protocol: {self.clean_default!r}; "
                         f"otherwise: {default!r})")
        return {"name": self.name, "default": default, "help": help_text, "kind": self.kind, "low": self.low,
                "high": self.high, "choices": list(self.choices) if self.choices else None,
                "optional": self.optional, "paper": self.paper, "group": self.group,
                "constraint": self.constraint()}

    # ------------------------------------------------------------------ validation
    def _bad(self, value: Any) -> InputError:
        return InputError(f"{self.name} must be {self.constraint()}, got {value!r}")

    def _in_range(self, v: float) -> bool:
        if not math.isfinite(v):
            return False
        if self.low is not None and (v < self.low or (self.low_open and v == self.low)):
            return False
        if self.high is not None and (v > self.high or (self.high_open and v == self.high)):
            return False
        return True

    def check(self, value: Any) -> Any:
        """Return ``value`` in canonical form (lists become tuples, numpy scalars Python numbers), or
        raise :class:`InputError` naming the parameter, what is allowed and what was given."""
        if value is None:
            if self.optional:
                return None
            raise self._bad(value)
        if isinstance(value, str) and self.choices and value in self.choices:
            return value
        kind = self.kind
        if kind == "bool":
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            raise self._bad(value)
        if kind == "str":
            if not isinstance(value, str):
                raise self._bad(value)
            if self.choices:
                raise self._bad(value)
            return value
        if kind == "int":
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise self._bad(value)
            if not self._in_range(float(value)):
                raise self._bad(value)
            return int(value)
        if kind in ("float", "seconds"):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise self._bad(value)
            if not self._in_range(float(value)):
                raise self._bad(value)
            return value.item() if isinstance(value, (np.integer, np.floating)) else value
        if kind in ("ints", "shape"):
            if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
                raise self._bad(value)
            items = tuple(value)
            if kind == "shape":
                if len(items) != 3:
                    raise self._bad(value)
                ok = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 < v <= 1 << 16
                         for v in items)
            else:
                ok = len(items) <= self.max_len and all(
                    isinstance(v, (int, np.integer)) and not isinstance(v, bool) and self._in_range(float(v))
                    for v in items)
            if not ok:
                raise self._bad(value)
            return tuple(int(v) for v in items)
        raise self._bad(value)  # pragma: no cover - kinds are checked in __post_init__

    # ------------------------------------------------------------------ parsing text
    def parse(self, text: Any) -> Any:
        """The typed value of ``text`` (a CLI ``k=v`` value or a form field), checked.

        Non-strings are only checked. ``none`` / ``null`` / an empty field give None for optional
        parameters; lists are written ``64,32``, ``[64, 32]`` or ``(64, 32)``.
        """
        if not isinstance(text, str):
            return self.check(text)
        t = text.strip()
        if self.optional and t.lower() in ("none", "null", ""):
            return None
        if self.choices and t in self.choices:
            return t
        kind = self.kind
        try:
            if kind == "bool":
                low = t.lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
                raise ValueError(t)
            if kind == "int":
                f = float(t)
                if not f.is_integer():
                    raise ValueError(t)
                return self.check(int(f))
            if kind in ("float", "seconds"):
                # "256" stays a whole number (scikit-learn reads max_samples=256 as a count, 256.0 as a share)
                return self.check(int(t) if t.lstrip("+-").isdigit() else float(t))
            if kind == "str":
                return self.check(t)
            # ints / shape
            if t.lower() in ("", "()", "[]", "none"):
                return self.check(())
            body = t.strip("()[] ")
            parts = [p.strip() for p in body.split(",") if p.strip()]
            return self.check(tuple(int(float(p)) if float(p).is_integer() else float(p) for p in parts))
        except (ValueError, OverflowError):
            raise self._bad(text) from None


def _fmt(v: float) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


# ---------------------------------------------------------------------------------- collections
@dataclass(frozen=True)
class Declaration:
    """The ordered parameters of one detector class (inherited ones included, overrides applied)."""

    params: dict[str, Param] = field(default_factory=dict)

    def __iter__(self):
        return iter(self.params.values())

    def __contains__(self, name: str) -> bool:
        return name in self.params

    def __getitem__(self, name: str) -> Param:
        return self.params[name]

    def names(self) -> list[str]:
        return list(self.params)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self}

    def unknown(self, names: Iterable[str], what: str) -> None:
        """Raise :class:`InputError` for names that are not parameters, listing the valid ones."""
        bad = sorted(set(names) - set(self.params))
        if bad:
            raise InputError(f"unknown parameter(s) {', '.join(bad)} for {what}; valid: {', '.join(self.params)}")

    def check(self, values: Mapping[str, Any], what: str) -> dict[str, Any]:
        """Canonical, validated copies of ``values`` (only the names given)."""
        self.unknown(values, what)
        return {k: self.params[k].check(v) for k, v in values.items()}

    def parse(self, texts: Mapping[str, Any], what: str) -> dict[str, Any]:
        """Typed, validated values of text values (the CLI's ``--param k=v``, a form)."""
        self.unknown(texts, what)
        return {k: self.params[k].parse(v) for k, v in texts.items()}

    def image_defaults(self) -> dict[str, Any]:
        return {p.name: p.image_default for p in self if p.image_default is not MISSING}

    def clean_defaults(self) -> dict[str, Any]:
        """The defaults of runs whose training rows are all normal (``Param.clean_default``)."""
        return {p.name: p.clean_default for p in self if p.clean_default is not MISSING}


GROUP_ORDER = {"model": 0, "training": 1, "scoring": 2}


def collect(cls: type) -> Declaration:
    """The declaration of ``cls``: the ``params`` of every class in its MRO (a subclass's entry of the
    same name replaces the base's), then each class's ``param_overrides`` (new defaults, or a dict of
    Param fields), base classes first. Model parameters come first, then training and scoring."""
    merged: dict[str, Param] = {}
    for klass in reversed(cls.__mro__):
        for p in klass.__dict__.get("params", ()) or ():
            merged[p.name] = p
        for name, over in (klass.__dict__.get("param_overrides", {}) or {}).items():
            if name not in merged:
                raise TypeError(f"{klass.__name__}.param_overrides names {name!r}, which is not a parameter")
            merged[name] = replace(merged[name], **over) if isinstance(over, dict) else replace(
                merged[name], default=over)
    ordered = sorted(merged.values(), key=lambda p: GROUP_ORDER.get(p.group, 1))
    return Declaration({p.name: p for p in ordered})


def make_init(cls: type, decl: Declaration):
    """A keyword-only ``__init__`` storing every declared parameter unchanged, with its signature."""
    names = tuple(decl.names())
    defaults = decl.defaults()

    def __init__(self, **params: Any) -> None:
        unknown = [k for k in params if k not in defaults]
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword argument(s) {', '.join(unknown)}; "
                            f"its parameters are: {', '.join(names)}")
        for name in names:
            setattr(self, name, params.get(name, defaults[name]))

    sig = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    sig += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=defaults[n]) for n in names]
    __init__.__signature__ = inspect.Signature(sig)  # type: ignore[attr-defined]
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__module__ = cls.__module__
    __init__.__doc__ = "Parameters (keyword-only, stored unchanged):\n\n" + "\n".join(
        f"- ``{p.name}`` = {p.default!r}: {p.help}" for p in decl)
    return __init__


def jsonable_params(values: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as JSON text can hold them (tuples become lists)."""
    return json.loads(json.dumps({k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}))
