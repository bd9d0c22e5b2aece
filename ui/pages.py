"""The app's pages, listed once: ``app.py`` builds its navigation from :data:`PAGES`, the AppTest tests render
each of them, and ``bench/app_speed.py`` / ``bench/faults.py`` time and visit them (their URL paths and the
heading each page draws). Streamlit is imported only by :func:`navigation`, so the benches read the list
without it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    """One page: ``stem`` of its script in ``app_pages/``, the navigation ``title`` and ``icon``, the
    ``heading`` the page draws (its title unless it says otherwise), ``default`` for the landing page."""

    stem: str
    title: str
    icon: str
    heading: str = ""
    default: bool = False

    @property
    def script(self) -> str:
        return f"app_pages/{self.stem}.py"

    @property
    def url_path(self) -> str:
        """The page's URL path (the landing page is the root)."""
        return "" if self.default else self.stem

    @property
    def shown_heading(self) -> str:
        return self.heading or self.title


PAGES: tuple[Page, ...] = (
    Page("home", "Home", ":material/home:", heading="Outlier Lab", default=True),
    Page("data", "Data", ":material/table_view:"),
    Page("train", "Train", ":material/model_training:"),
    Page("scores", "Scores", ":material/bar_chart:"),
    Page("latent", "Latent map", ":material/scatter_plot:"),
    Page("boundary", "DROCC boundary lab", ":material/waves:"),
    Page("waldo", "WALDO decoders", ":material/compare:"),
    Page("flagged", "Flagged rows", ":material/flag:"),
    Page("compare", "Compare", ":material/balance:"),
)


def stems() -> list[str]:
    return [p.stem for p in PAGES]


def title(stem: str) -> str:
    """The navigation title of the page whose script is ``app_pages/<stem>.py`` (the stem when none is)."""
    return next((p.title for p in PAGES if p.stem == stem), stem)


def navigation() -> list:
    """``st.Page`` objects for ``st.navigation``, in :data:`PAGES` order."""
    import streamlit as st

    return [st.Page(p.script, title=p.title, icon=p.icon, default=p.default) for p in PAGES]
