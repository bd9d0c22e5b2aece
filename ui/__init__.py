"""Small Streamlit helpers for the app, split by concern (state, job tray, widgets).

Only the app imports this package; the engine ``odcore`` never imports Streamlit.
"""
