"""Text never becomes markup: the one place that makes user text (column names, values, file names,
messages that quote them) literal for the two renderers the lab feeds.

- :func:`markdown`: for Streamlit's Markdown (CommonMark + GFM, directives ``:red[...]``, emoji
  ``:smile:``, math ``$...$``, HTML): one line, every meaningful character backslash-escaped, URLs not
  linked; ``ui.widgets.plain`` is this function.
- :func:`plotly`: for Plotly's text (titles, axis titles and tick labels, legends, hover text,
  annotations), which renders a subset of HTML (``<a href>``, ``<b>``, ``<br>``, ``<span style>`` ...)
  and HTML entities: ``&``, ``<`` and ``>`` become entities, so ``<a href=...>`` is shown as typed. A line
  break the lab itself wants in a figure is written ``\\n`` and becomes ``<br>`` only after escaping;
  :func:`odcore.plots.text_only` applies this to every text field of a figure.
"""

from __future__ import annotations

import re
from typing import Any

#: characters with a meaning in Streamlit's Markdown; each is backslash-escaped by :func:`markdown`
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=&\"'^%@/])")


def markdown(text: Any, limit: int | None = 500) -> str:
    """``text`` as literal text for ``st.markdown`` / ``st.error`` & co.: one line, Markdown and HTML
    escaped, at most ``limit`` characters."""
    s = " ".join(str(text).split())
    if limit is not None and len(s) > limit:
        s = s[: limit - 1] + "…"
    s = s.replace("://", ":\u200b//")  # no autolink: a user's URL is shown, never made a link
    return _MARKDOWN.sub(r"\\\1", s)


def plotly(text: Any) -> Any:
    """``text`` as literal Plotly text (``&``, ``<``, ``>`` as entities; ``\\n`` then a line break); anything
    that is not a string is returned as it is."""
    if not isinstance(text, str):
        return text
    if not any(c in text for c in "&<>\n"):
        return text
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")
