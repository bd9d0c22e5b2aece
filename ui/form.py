"""Training forms generated from the declarations: one widget per declared setting (:class:`odcore.params.Param`),
the one mapping every training form of the app uses (the Train page's parameters and protocol options, the Flagged
rows page's training form).

The mapping, by ``kind``:

- ``int`` / ``float`` / ``seconds``: a number input bounded by the declared range (an open bound is checked by the
  declaration, and the field says so under it);
- ``bool``: a toggle; an optional one (None = decided by the data) a select of auto / yes / no;
- ``str`` with ``choices``: a select; other text and the list kinds (``names``, ``values``, ``mapping``,
  ``json``): a text input read by :meth:`Param.parse`;
- ``ints`` (layer widths) and ``shape``: a text input of comma-separated whole numbers (``64, 32``);
- an optional setting (None allowed) gets a toggle "NAME: auto / none" above its field: on, the value is None
  and the field is greyed out (a number field then shows "auto / none"); a number that may also be a named choice
  (``max_samples='auto'``, ``gamma='scale'``) gets a select of the choices and "a number".

Form state that holds under load (issue 25: settings lost when reruns interrupt each other): every widget has a
stable key (:func:`key`) that names what it holds (the method or protocol and the context its default comes from);
its first value is put into session state before it is drawn, once (never ``value=``, which Streamlit would set
against the state on later reruns); there is no ``on_change`` callback; and what a page submits is read from the
widgets in the script run that handles the click, so a Start button always sends exactly what the form shows.
A value a button sets (a preset) goes through :func:`put`, before the widget is drawn. The submit button itself is
keyed by the form's shape (:func:`submit_key`: its data, method and protocol): a click on a button the browser drew
for another shape (a Method changed, its rerun not yet drawn, fields of the old method still on screen) reaches a
widget that no longer exists and starts nothing; the page then shows the new form, whose button starts what it shows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import streamlit as st

from odcore.errors import InputError
from odcore.params import MISSING, Param

#: never on a form: the seed has its own field, the image shape comes from the data, the device from the app
HIDDEN = ("random_state", "input_shape", "device")
#: written by the app, not typed (a retraining's marks)
HIDDEN_OPTIONS = ("marks",)
#: the text of "a number" in the select of a number that may also be a named choice
NUMBER = "a number"
#: an optional bool's select
_TRISTATE = {"auto": None, "yes": True, "no": False}


def key(prefix: str, name: str, suffix: str = "") -> str:
    """The widget key of setting ``name`` (its toggle / mode select: ``key(...) + "-auto"``)."""
    return f"{prefix}-{name}{suffix}"


def submit_key(name: str, *shape: str) -> str:
    """The key of form ``name``'s submit button while the form has ``shape`` (data, method, protocol ...)."""
    return "-".join((name, *map(str, shape)))


def submit(label: str, name: str, *shape: str, **kwargs: Any) -> bool:
    """The submit button of form ``name`` keyed by its ``shape`` (:func:`submit_key`); True when it was clicked.

    A click on the button drawn for the form's previous shape (the browser still showed it) starts nothing and says
    so: that button is drawn once more, out of sight, only to read its click."""
    drawn = f"_form_drawn-{name}"
    now, before = submit_key(name, *shape), st.session_state.get(drawn)
    if before and before != now:
        slot = st.empty()
        stale = slot.button(label, key=before)
        slot.empty()
        if stale:
            st.warning("The form changed as you pressed the button (its fields were still being drawn): nothing "
                       "started. Check the form and press it again.")
    st.session_state[drawn] = now
    return st.button(label, key=now, **kwargs)


def default_of(p: Param, *, image: bool = False, clean: bool = False) -> Any:
    """The value a run gets when the form leaves ``p`` alone, as :func:`odcore.models.registry.resolve_params`
    gives it: the image-data default on image data, the clean-rows default when the training rows are all normal."""
    if clean and p.clean_default is not MISSING:
        return p.clean_default
    if image and p.image_default is not MISSING:
        return p.image_default
    return p.default


# ---------------------------------------------------------------------------------- value <-> widget state
def _specials(p: Param) -> list[Any]:
    """The non-number values of a number setting: its named choices, then None when optional."""
    return [*(p.choices or ()), *([None] if p.optional else [])]


def _special_label(v: Any) -> str:
    return "auto / none" if v is None else str(v)


def _text(p: Param, value: Any) -> str:
    """``value`` as the text field of ``p`` shows it (a list as ``64, 32``, a mapping as ``a:x, b:y``)."""
    if value is None:
        return ""
    if p.kind == "json":
        return json.dumps(value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}:{v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _number(p: Param, value: Any) -> int | float:
    return int(value) if p.kind == "int" else float(value)


def _placeholder(p: Param) -> int | float:
    """The number a field shows while its value is a special one (None, 'auto'): inside the declared range."""
    lo, hi = p.low, p.high
    if lo is None:
        return _number(p, 0 if hi is None or hi >= 0 else hi)
    if hi is not None and hi <= 1:
        return _number(p, lo + (hi - lo) / 10)
    return _number(p, lo + 1 if p.low_open else lo)


def widget_states(p: Param, value: Any, k: str) -> dict[str, Any]:
    """The widget states that show ``value`` (typed) for setting ``p`` under key ``k``."""
    kind = p.kind
    if kind == "bool":
        return {k: {None: "auto", True: "yes", False: "no"}[value] if p.optional else bool(value)}
    if kind == "str" and p.choices:
        return {k: "auto" if value is None else value}
    if kind in ("int", "float", "seconds"):
        specials = _specials(p)
        special = value is None or isinstance(value, str)
        out = {k: _placeholder(p) if special else _number(p, value)}
        if len(specials) == 1:
            out[k + "-auto"] = special
        elif specials:
            out[k + "-auto"] = _special_label(value) if special else NUMBER
        return out
    out = {k: _text(p, value)}
    if p.optional:
        out[k + "-auto"] = value is None
    return out


def put(p: Param, k: str, value: Any) -> None:
    """Show ``value`` in the field of ``p`` (key ``k``) on its next draw (a preset; call before it is drawn)."""
    for wk, v in widget_states(p, value, k).items():
        st.session_state[wk] = v


def _init(p: Param, k: str, value: Any) -> None:
    """Put the first value into the field's state, once (later reruns keep what the user set)."""
    for wk, v in widget_states(p, value, k).items():
        if wk not in st.session_state:
            st.session_state[wk] = v


# ---------------------------------------------------------------------------------- one field
def _step(p: Param, default: Any) -> int | float:
    if p.kind == "int":
        return 1
    d = abs(float(default)) if isinstance(default, (int, float)) and not isinstance(default, bool) else 0.0
    return 10.0 ** math.floor(math.log10(d)) if d > 0 else 0.01


def _as_declared(p: Param, v: float) -> int | float:
    """A float field's number as the declaration reads it: a whole number above 1 stays whole (scikit-learn reads
    ``max_samples=256`` as a count and ``256.0`` as a share, as :meth:`Param.parse` does for ``"256"``)."""
    return int(v) if p.kind != "int" and float(v).is_integer() and v > 1 else v


def field(p: Param, k: str, default: Any, where: Any = st, help_text: str | None = None) -> Any:
    """Draw the widget(s) of ``p`` under key ``k`` (first showing ``default``) in ``where`` and return its typed,
    checked value; raises :class:`InputError` (naming the setting and what is allowed) for an invalid entry."""
    _init(p, k, default)
    label = p.name
    tip = f"{help_text or p.help} — {p.constraint()}" + (f" · paper: {p.paper}" if p.paper else "")
    kind = p.kind
    if kind == "bool":
        if p.optional:
            return _TRISTATE[where.selectbox(label, list(_TRISTATE), key=k, help=tip)]
        return p.check(where.toggle(label, key=k, help=tip))
    if kind == "str" and p.choices:
        options = (["auto"] if p.optional else []) + list(p.choices)
        v = where.selectbox(label, options, key=k, help=tip)
        return None if p.optional and v == "auto" else p.check(v)
    if kind in ("int", "float", "seconds"):
        specials = _specials(p)
        special: list = []  # [the special value] when one is chosen (None is one)
        if len(specials) == 1:
            if where.toggle(f"{label}: {_special_label(specials[0])}", key=k + "-auto", help=tip):
                special = specials
        elif specials:
            labels = {_special_label(s): s for s in specials}
            pick = where.selectbox(f"{label}: mode", [*labels, NUMBER], key=k + "-auto", help=tip)
            if pick != NUMBER:
                special = [labels[pick]]
        if special:  # the number field is not drawn (its state goes; it starts again from _init when turned off)
            where.number_input(label, value=None, placeholder=_special_label(special[0]), disabled=True,
                               key=k + "-off", label_visibility="collapsed")
            return p.check(special[0])
        number = where.number_input(
            label, min_value=None if p.low is None else _number(p, p.low),
            max_value=None if p.high is None else _number(p, p.high), step=_step(p, default),
            format=None if kind == "int" else "%g", key=k, help=tip,
            label_visibility="collapsed" if specials else "visible")
        return p.check(int(number) if kind == "int" else _as_declared(p, number))
    auto = p.optional and where.toggle(f"{label}: auto / none", key=k + "-auto", help=tip)
    hint = {"ints": "comma-separated whole numbers, e.g. 64, 32 (empty: none)", "shape": "channels, height, width",
            "names": "a, b, c", "mapping": "key:value, key:value"}.get(kind)
    text = where.text_input(label, key=k, help=tip, placeholder=hint, disabled=bool(auto),
                            label_visibility="collapsed" if p.optional else "visible")
    if auto:
        return None
    if not text.strip():  # an empty list of widths, or no value
        return p.check(()) if kind in ("ints", "shape") else p.parse(text)
    return p.parse(text)


def fields(params: Iterable[Param], *, prefix: str, suffix: str = "", defaults: Mapping[str, Any] | None = None,
           image: bool = False, clean: bool = False, columns: int = 3, notes: Mapping[str, str] | None = None,
           skip: Iterable[str] = HIDDEN) -> tuple[dict[str, Any], dict[str, str]]:
    """Draw a field for every setting of ``params`` (but ``skip``) in ``columns`` columns; keys ``prefix-NAME
    suffix``. Each field first shows ``defaults[NAME]`` where given, else the default a run gets
    (:func:`default_of`). Returns ``(values, errors)``: the typed value of every valid field and, per invalid
    field, its message (also shown under the field)."""
    skip, defaults, notes = set(skip), dict(defaults or {}), dict(notes or {})
    shown = [p for p in params if p.name not in skip]
    cols = st.columns(columns) if shown else []
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for i, p in enumerate(shown):
        col = cols[i % columns]
        default = defaults.get(p.name, default_of(p, image=image, clean=clean))
        extra = ("-clean" if clean and p.clean_default is not MISSING else "")
        try:
            values[p.name] = field(p, key(prefix, p.name, suffix + extra), default, col,
                                   f"{p.help} ({notes[p.name]})" if p.name in notes else None)
        except InputError as err:
            errors[p.name] = str(err)
            col.error(str(err), icon=":material/error:")
    return values, errors


def requested(params: Iterable[Param], values: Mapping[str, Any], *, image: bool = False,
              clean: bool = False) -> dict[str, Any]:
    """The values of ``values`` a run request must carry: those that differ from what the run would get without
    them (:func:`default_of`), so the resolved run holds exactly what the form showed."""
    decl = {p.name: p for p in params}
    return {k: v for k, v in values.items()
            if k in decl and not _same(v, default_of(decl[k], image=image, clean=clean))}


def _same(a: Any, b: Any) -> bool:
    """Equal as settings: lists and tuples alike, 2 and 2.0 alike, True never 1."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def method_fields(method: str, *, prefix: str, image: bool = False, clean: bool = False, columns: int = 3,
                  defaults: Mapping[str, Any] | None = None,
                  notes: Mapping[str, str] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The form of ``method``'s declared parameters (keys ``prefix-METHOD-NAME``, ``-image`` on image data), the
    model's first, then training, then scoring. Returns ``(the parameters the request carries, errors)``."""
    from odcore.models import registry

    order = {"model": 0, "training": 1, "scoring": 2}
    decl = sorted(registry.declaration(method), key=lambda p: order.get(p.group, 3))
    values, errors = fields(decl, prefix=f"{prefix}-{method}", suffix="-image" if image else "", defaults=defaults,
                            image=image, clean=clean, columns=columns, notes=notes)
    chosen = requested(decl, values, image=image, clean=clean)
    for name in defaults or {}:  # a page's own first value (not the declared default) is sent as shown
        if name in values:
            chosen[name] = values[name]
    return chosen, errors
