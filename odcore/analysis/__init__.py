"""Analysis of scored runs, as plain functions the pages and the tests call without Streamlit.

- :mod:`odcore.analysis.thresholds`: threshold presets and the counts and metrics at a threshold;
- :mod:`odcore.analysis.analyst`: per-feature errors, one-sentence row explanations, table filters;
- :mod:`odcore.analysis.sanity`: plain-language warnings about a run (constant scores, collapse ...).

Scores follow the odcore convention: higher = more anomalous, a row is flagged when
``score > threshold``.
"""
