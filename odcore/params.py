"""Declared settings: one :class:`Param` per detector parameter, data option, table option or protocol option.

A setting is written once, with its type (``kind``), its range or choices, its default and one line of
help. Everything else comes from that declaration:

- validation (:meth:`Param.check`): a value in canonical form, or an :class:`~odcore.errors.InputError`
  that names the setting, what is allowed and what was given;
- parsing of text (:meth:`Param.parse`): the CLI's ``--param``, ``--data-option`` and ``--protocol-option``
  ``k=v`` values and the app's form fields all go through it (typed values are only checked);
- the rows of ``odcore methods``, ``odcore describe --options`` and the app's forms (:meth:`Param.row`).

The detectors' constructors are built from their declarations (:mod:`odcore.models.params`); the data
layer declares the readers' options (:mod:`odcore.data.options`), the table preparation's
(:data:`odcore.data.table.OPTIONS`) and each protocol's (:mod:`odcore.data.protocols`). Declaring a new
option is one :class:`Param` line in the declaration it belongs to.

Sizes are bounded (``high``) so that a form or a command line cannot ask for a network that does not
fit in memory.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from odcore.errors import InputError

#: marks "no image-data default"
MISSING: Any = type("MISSING", (), {"__repr__": lambda self: "MISSING"})()

#: ``names``: a list of texts (columns, categories); ``values``: one value or a list of them (class values,
#: label values); ``mapping``: ``{text: text}`` (column -> role); ``json``: any JSON value (a nested record)
KINDS = ("int", "float", "bool", "str", "ints", "shape", "seconds", "names", "values", "mapping", "json")
#: the largest width, code size or number of layers a form or CLI may ask for
MAX_WIDTH = 8192
MAX_LAYERS = 16
_SCALARS = (str, int, float, bool, np.integer, np.floating, np.bool_)


@dataclass(frozen=True)
class Param:
    """One declared setting.

    ``kind``: ``"int"`` (whole number), ``"float"`` (any real number; ints accepted), ``"bool"``, ``"str"``
    (text, usually with ``choices``), ``"ints"`` (a tuple of whole numbers, e.g. hidden widths, at most
    ``max_len`` of them), ``"shape"`` (an image shape ``(C, H, W)``), ``"seconds"`` (a positive number of
    seconds), ``"names"`` (a tuple of texts: ``a,b`` or a list), ``"values"`` (one value or a tuple of
    them), ``"mapping"`` (``{key: text}``: ``a:x,b:y``, ``a=x`` or a dict; each text one of ``values``
    when given), ``"json"`` (any JSON value). ``low`` / ``high`` bound numbers (and each entry of
    ``ints``), open at that end when ``low_open`` / ``high_open``. ``choices`` lists the allowed strings;
    with another kind they are accepted *besides* its values (``"scale"`` or a float; ``"auto"`` or a
    mapping). ``values`` lists the allowed entries of a ``names`` list or a ``mapping``'s texts.
    ``optional`` allows None. ``image_default`` is the value runs on image data get unless the user sets
    it; ``clean_default`` the value runs whose training rows are all normal (the novelty protocols,
    ``odcore.data.clean_training``) get unless the user sets it; ``paper`` the papers' value as text;
    ``group`` sorts the form ("model" first, then "training", then "scoring"; options use it for what they
    belong to).
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
    values: tuple | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown parameter kind {self.kind!r}")

    # ------------------------------------------------------------------ description
    def constraint(self) -> str:
        """What a valid value is, in words (used in every error message)."""
        kind = self.kind
        allowed = f", each {'value ' if kind == 'mapping' else ''}one of {', '.join(map(repr, self.values))}" \
            if self.values else ""
        if kind == "bool":
            text = "true or false"
        elif kind == "str":
            text = f"one of {', '.join(map(repr, self.choices))}" if self.choices else "a text"
        elif kind == "shape":
            text = "an image shape (channels, height, width) of positive whole numbers"
        elif kind == "ints":
            text = f"a list of at most {self.max_len} whole numbers{self._range_text()}"
        elif kind == "names":
            text = "a list of names (a,b,c)" + allowed
        elif kind == "values":
            text = "a value or a list of values (a,b,c)"
        elif kind == "mapping":
            text = "key:value pairs (a:x,b:y)" + allowed
        elif kind == "json":
            text = "a JSON value"
        else:
            what = {"int": "a whole number", "float": "a number", "seconds": "a number of seconds"}[kind]
            text = what + self._range_text()
        if self.choices and kind != "str":
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
        raise :class:`InputError` naming the setting, what is allowed and what was given."""
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
        if kind == "names":
            if isinstance(value, str):
                items = tuple(c.strip() for c in value.split(",") if c.strip()) if "," in value else (value,)
            elif isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
                items = tuple(value)
                if not all(isinstance(v, _SCALARS) for v in items):
                    raise self._bad(value)
                items = tuple(str(v) for v in items)
            else:
                raise self._bad(value)
            if self.values and any(v not in self.values for v in items):
                raise self._bad(value)
            return items
        if kind == "values":
            if isinstance(value, _SCALARS):
                return value.item() if isinstance(value, (np.generic,)) else value
            if isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
                items = tuple(value)
                if not all(isinstance(v, _SCALARS) for v in items):
                    raise self._bad(value)
                return tuple(v.item() if isinstance(v, np.generic) else v for v in items)
            raise self._bad(value)
        if kind == "mapping":
            if isinstance(value, str):
                return self.check(_pairs(value, self))
            if not isinstance(value, Mapping):
                raise self._bad(value)
            out = {str(k).strip(): str(v).strip() for k, v in value.items()}
            if self.values:
                for k, v in out.items():
                    if v not in self.values:
                        raise InputError(f"{self.name}: {v!r} for {k!r} is not allowed; choose one of "
                                         f"{', '.join(map(repr, self.values))}")
            return out
        if kind == "json":
            try:
                json.dumps(value)
            except (TypeError, ValueError):
                raise self._bad(value) from None
            return value
        raise self._bad(value)  # pragma: no cover - kinds are checked in __post_init__

    # ------------------------------------------------------------------ parsing text
    def parse(self, text: Any) -> Any:
        """The typed value of ``text`` (a CLI ``k=v`` value or a form field), checked.

        Non-strings are only checked. ``none`` / ``null`` / an empty field give None for optional
        settings; lists are written ``64,32``, ``[64, 32]`` or ``(64, 32)``; mappings ``a:x,b:y`` or
        a JSON object.
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
            if kind in ("names", "values"):
                if t.startswith("["):
                    return self.check(json.loads(t))
                items = tuple(c.strip() for c in t.split(",") if c.strip())
                return self.check(items[0] if kind == "values" and len(items) == 1 else items)
            if kind == "mapping":
                return self.check(json.loads(t) if t.startswith("{") else _pairs(t, self))
            if kind == "json":
                try:
                    return self.check(json.loads(t))
                except json.JSONDecodeError:
                    return self.check(t)
            # ints / shape
            if t.lower() in ("", "()", "[]", "none"):
                return self.check(())
            body = t.strip("()[] ")
            parts = [p.strip() for p in body.split(",") if p.strip()]
            return self.check(tuple(int(float(p)) if float(p).is_integer() else float(p) for p in parts))
        except InputError:
            if kind in ("mapping", "names", "values"):  # says which entry is wrong
                raise
            raise self._bad(text) from None
        except (ValueError, OverflowError):
            raise self._bad(text) from None


def _pairs(text: str, p: Param) -> dict[str, str]:
    """``"a:x,b:y"`` or ``"a=x,b=y"`` -> ``{"a": "x", "b": "y"}`` (the last ``:`` or ``=`` of an item splits it)."""
    out = {}
    for item in text.split(","):
        if not item.strip():
            continue
        sep = ":" if ":" in item else "="
        key, s, val = item.rpartition(sep)
        if not s or not key.strip():
            raise InputError(f"{p.name}: {item.strip()!r} is not of the form key:value")
        out[key.strip()] = val.strip()
    return out


def _fmt(v: float) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


# ---------------------------------------------------------------------------------- collections
@dataclass(frozen=True)
class Declaration:
    """Ordered settings (a detector's parameters, inherited ones included; a protocol's or a reader's
    options). ``noun`` names them in messages ("parameter", "option")."""

    params: dict[str, Param] = field(default_factory=dict)
    noun: str = "parameter"

    @classmethod
    def of(cls, *params: Param, noun: str = "option") -> Declaration:
        """A declaration of ``params`` in the order given (names must be unique)."""
        out = {p.name: p for p in params}
        if len(out) != len(params):
            raise ValueError("a declaration names a setting twice")
        return cls(out, noun)

    def __iter__(self):
        return iter(self.params.values())

    def __len__(self) -> int:
        return len(self.params)

    def __contains__(self, name: object) -> bool:
        return name in self.params

    def __getitem__(self, name: str) -> Param:
        return self.params[name]

    def __add__(self, other: Declaration) -> Declaration:
        return Declaration({**self.params, **other.params}, self.noun)

    def names(self) -> list[str]:
        return list(self.params)

    def only(self, names: Iterable[str]) -> Declaration:
        """The settings named, in the order given."""
        return Declaration({k: self.params[k] for k in names}, self.noun)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self}

    def help(self) -> dict[str, str]:
        return {p.name: p.help for p in self}

    def rows(self) -> list[dict[str, Any]]:
        return [p.row() for p in self]

    def unknown(self, names: Iterable[str], what: str) -> None:
        """Raise :class:`InputError` for names that are not declared here, listing the valid ones."""
        bad = sorted(set(names) - set(self.params))
        if bad:
            valid = ", ".join(self.params) or f"none (it takes no {self.noun}s)"
            raise InputError(f"unknown {self.noun}(s) {', '.join(bad)} for {what}; valid: {valid}")

    def check(self, values: Mapping[str, Any], what: str) -> dict[str, Any]:
        """Canonical, validated copies of ``values`` (only the names given)."""
        self.unknown(values, what)
        return {k: self.params[k].check(v) for k, v in values.items()}

    def parse(self, texts: Mapping[str, Any], what: str) -> dict[str, Any]:
        """Typed, validated values of text values (the CLI's ``k=v`` pairs, a form); typed values are
        only checked, so a mix of both is fine."""
        self.unknown(texts, what)
        return {k: self.params[k].parse(v) for k, v in texts.items()}

    def image_defaults(self) -> dict[str, Any]:
        return {p.name: p.image_default for p in self if p.image_default is not MISSING}

    def clean_defaults(self) -> dict[str, Any]:
        """The defaults of runs whose training rows are all normal (``Param.clean_default``)."""
        return {p.name: p.clean_default for p in self if p.clean_default is not MISSING}


def parse_pairs(items: Iterable[str] | None, what: str) -> dict[str, str]:
    """``["k=v", ...]`` -> ``{"k": "v"}`` (refuses items without ``=``): the CLI's repeated ``K=V`` flags."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"{what} {item!r} is not of the form key=value")
        out[key.strip()] = value.strip()
    return out


def jsonable_params(values: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as JSON text can hold them (tuples become lists)."""
    return json.loads(json.dumps({k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}))
