"""Exports safe for spreadsheets and text that never becomes markup (issue 25).

- The CSV exports meant for people (the ranking, the scored file) neutralise text cells a spreadsheet would
  run (``=``, ``+``, ``-``, ``@``, tab, carriage return first) with a leading apostrophe; numbers stay numbers;
  the Parquet export keeps every value exact.
- Column names, values and user text reach Plotly figures as literal text (``odcore.markup.plotly`` through
  ``odcore.plots.text_only``) and Streamlit Markdown escaped (``odcore.markup.markdown``): one helper each,
  in one place.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from bench.hostile import FORMULAS, MARKUP_NAMES


def _frame() -> pd.DataFrame:
    n = len(FORMULAS)
    return pd.DataFrame({"rank": np.arange(1, n + 1), "score": np.linspace(-2.5, 3.25, n),
                         "store": list(FORMULAS), "note": ["plain", "-", "a=b", "x+1", "@", "ok"],
                         "day": pd.date_range("2024-01-01", periods=n), "flag": [True, False] * (n // 2),
                         "=cmd|' /C calc'!A0": np.arange(n) - 3})


def test_the_csv_export_neutralises_formulas_and_keeps_numbers():
    from odcore.analysis.analyst import FORMULA_START, export_bytes

    frame = _frame()
    back = pd.read_csv(io.BytesIO(export_bytes(frame, "csv")), keep_default_na=False, dtype=str)
    for cell in back["store"]:
        assert cell.startswith("'") and cell[1:].startswith(FORMULA_START), cell
    assert sorted(back["store"].str[1:]) == sorted(FORMULAS)  # the text itself is kept after the apostrophe
    assert list(back["note"]) == ["plain", "'-", "a=b", "x+1", "'@", "ok"]
    assert back.columns[-1] == "'=cmd|' /C calc'!A0"  # a column name is a cell too
    np.testing.assert_allclose(back["score"].astype(float), frame["score"])  # -2.5 stays the number -2.5
    assert back["score"].iloc[0] == "-2.5" and back["'=cmd|' /C calc'!A0"].iloc[0] == "-3"


def test_the_parquet_export_keeps_values_exact():
    from odcore.analysis.analyst import export_bytes

    frame = _frame()
    back = pd.read_parquet(io.BytesIO(export_bytes(frame, "parquet")))
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)


def test_a_loaded_table_of_formulas_exports_safely(tmp_path):
    """The hostile corpus' formulas.csv through the loader into the ranking export."""
    import odcore.data
    from bench.hostile import CORPUS
    from odcore.analysis import analyst

    case = next(c for c in CORPUS if c.name == "formulas.csv")
    case.write(tmp_path / case.name)
    ds = odcore.data.load(tmp_path / case.name, meta_columns="store")
    table = analyst.ranked_table(np.arange(ds.n_rows, dtype=float), 1.0, keys=ds.meta)
    back = pd.read_csv(io.BytesIO(analyst.export_bytes(table, "csv")), dtype=str, keep_default_na=False)
    assert len(back) == ds.n_rows and len(back["store"].unique()) == len(FORMULAS)
    for cell in back.stack():
        assert not cell.startswith(analyst.FORMULA_START), cell


def _texts(fig) -> list[str]:
    """Every string of a figure's JSON except the builders' own hover templates."""
    out = []

    def walk(node, key=""):
        if isinstance(node, dict):
            for k, v in node.items():
                if k != "hovertemplate":
                    walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str):
            out.append(node)

    walk(json.loads(fig.to_json()))
    return out


@pytest.mark.parametrize("builder", ["row_profile", "scatter_map", "row_against", "metric_bars", "image_rows",
                                     "compare_curves"])
def test_user_text_reaches_figures_as_text(builder):
    from odcore import plots

    names = list(MARKUP_NAMES)
    v = np.arange(3.0)
    fig = {
        "row_profile": lambda: plots.row_profile(v, {names[1]: v + 1}, names, title=names[0]),
        "scatter_map": lambda: plots.scatter_map(np.random.default_rng(0).normal(size=(6, 2)), np.arange(6),
                                                 np.array(names * 2), hover=names * 2, color_name=names[2],
                                                 title=names[0]),
        "row_against": lambda: plots.row_against(v, {names[0]: v + 1}, np.array([0.2, 0.3, 0.5]), names,
                                                 title=names[1]),
        "metric_bars": lambda: plots.metric_bars(pd.DataFrame({"method": names, "auroc": [0.5, 0.6, 0.7]}),
                                                 "auroc", title=names[2]),
        "image_rows": lambda: plots.image_rows({n: np.zeros((1, 4)) for n in names}, (1, 2, 2), title=names[0]),
        "compare_curves": lambda: plots.compare_curves({n: [{"epoch": 1, "loss": 1.0}] for n in names}, "loss"),
    }[builder]()
    texts = _texts(fig)
    joined = " ".join(texts)
    for tag in ("<a ", "<b>", "<img", "<br>next"):
        assert tag not in joined, (builder, tag, [t for t in texts if tag in t][:3])
    assert "&lt;a href" in joined or "&lt;b&gt;" in joined  # the names are there, as text


def test_one_escaping_helper_each_in_one_place():
    """The Markdown helper of the pages is odcore.markup's; the figures' own line breaks survive."""
    from odcore import markup, plots
    from ui.widgets import plain

    assert plain("<b>x</b> [a](b)") == markup.markdown("<b>x</b> [a](b)")
    assert markup.plotly("a<b>&c\nd") == "a&lt;b&gt;&amp;c<br>d"
    fig = plots.boundary_panels([{"title": "<i>p</i>", "xs": [0, 1], "ys": [0, 1], "z": [[0, 1], [1, 0]]}])
    bars = [t for t in _texts(fig) if "training points" in t or "rank" in t]
    assert all("<br>" in t and "&lt;" not in t for t in bars), bars
    assert "&lt;i&gt;p&lt;/i&gt;" in " ".join(_texts(fig))
