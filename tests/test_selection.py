"""Selection-to-row mapping of plotly selection events (ui.selection, no Streamlit needed)."""

from __future__ import annotations

from ui.selection import selected_rows


def test_selected_rows_reads_customdata_across_split_traces():
    # px.scatter(color=...) splits points into traces: point_index is per trace, customdata is the row id
    points = [{"curve_number": 1, "point_index": 0, "customdata": [17]},
              {"curve_number": 0, "point_index": 0, "customdata": 4},
              {"curve_number": 1, "point_index": 0, "customdata": [17]}]
    assert selected_rows(points) == [17, 4]


def test_selected_rows_falls_back_to_trace_mapping():
    trace_rows = [[0, 2, 4], [1, 3]]
    points = [{"curve_number": 1, "point_index": 1}, {"curve_number": 0, "point_number": 2}]
    assert selected_rows(points, trace_rows) == [3, 4]
    assert selected_rows(None) == []
    assert selected_rows([{"curve_number": 0}]) == []
