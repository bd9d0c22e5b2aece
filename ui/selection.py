"""Decoding plotly selection events (``st.plotly_chart(on_select=...)``) into row ids.

Plain functions (no Streamlit import), so the tests check them directly; real clicks are driven by
the browser tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def selected_rows(points: Iterable[Mapping[str, Any]] | None, trace_rows: Sequence[Sequence[int]] | None = None
                  ) -> list[int]:
    """Row ids of the points in a plotly selection event (``event.selection.points``).

    Each point carries the row id in ``customdata`` (a scalar, or the first element of a list),
    which survives plotly splitting a colour-mapped scatter into several traces. Without
    ``customdata``, ``trace_rows[curve_number][point_index]`` maps it. Order is kept, duplicates
    are dropped.
    """
    out: list[int] = []
    for p in points or ():
        cd = p.get("customdata")
        rid: Any = None
        if cd is not None:
            rid = cd[0] if isinstance(cd, (list, tuple)) and cd else cd
        elif trace_rows is not None:
            curve = int(p.get("curve_number", 0))
            idx = p.get("point_index", p.get("point_number"))
            if idx is not None and curve < len(trace_rows):
                rid = trace_rows[curve][int(idx)]
        if rid is None:
            continue
        try:
            rid = int(rid)
        except (TypeError, ValueError):
            continue
        if rid not in out:
            out.append(rid)
    return out
