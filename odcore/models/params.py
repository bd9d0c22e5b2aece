"""Detector parameters: the constructor, ``get_params`` and validation of a detector class from its declaration.

The declaration itself (:class:`Param`, :class:`Declaration`) lives in the core layer, :mod:`odcore.params`,
because data, table and protocol options are declared the same way; this module re-exports it for the
detectors. Every detector lists its parameters as ``Param`` objects (class attribute ``params``;
subclasses add their own and change inherited defaults with ``param_overrides``). From that single
declaration come:

- the constructor: keyword-only, every argument stored unchanged (scikit-learn's convention, so
  ``get_params`` / ``set_params`` / ``clone`` work); :func:`make_init` builds it with a real
  ``inspect.Signature``;
- validation (:meth:`Param.check`), done once per run by ``registry.resolve_params`` (the run's
  :class:`~odcore.runs.spec.ResolvedRun`), and by ``fit`` for detectors built by hand (never in
  ``__init__``: scikit-learn's estimator checks require that construction and ``set_params`` do not raise);
- parsing of text values from the CLI (``--param k=v``) and the app's form (:meth:`Param.parse`);
- the rows of ``odcore methods`` and of the Train page's form (:meth:`Param.row`).
"""

from __future__ import annotations

import inspect
from dataclasses import replace
from typing import Any

from odcore.params import KINDS, MAX_LAYERS, MAX_WIDTH, MISSING, Declaration, Param, jsonable_params

__all__ = ["KINDS", "MAX_LAYERS", "MAX_WIDTH", "MISSING", "Declaration", "Param", "jsonable_params", "collect",
           "make_init", "GROUP_ORDER"]

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
