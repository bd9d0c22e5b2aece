"""Outlier Lab: a browser lab for deep outlier detection (entry point: ``streamlit run app.py``).

Start-up imports only Streamlit and the light helpers; torch, umap and openTSNE load with the
first page that needs them. The page scripts live in ``app_pages/``, not ``pages/``: a folder named
``pages`` next to the entry script switches Streamlit (and AppTest) to the legacy multipage mode, in
which AppTest runs a page file without this script (no sidebar, no tray).
"""

import time

import streamlit as st

from ui import pages, state, tray, widgets

st.set_page_config(page_title="Outlier Lab", page_icon=":material/search:", layout="wide")

t0 = time.perf_counter()
page = st.navigation(pages.navigation())  # the one list of pages: ui/pages.py
me = state.owner()  # read before the page: after st.stop() every Streamlit call raises again
state.setup_logging()
try:
    tray.render()
    page.run()
except Exception as err:  # noqa: BLE001 - a page bug: one line on the page, the traceback in the server log
    widgets.show_error(err)
finally:  # script time of this run (st.stop / st.rerun included), read by bench/app_speed.py and bench/faults.py
    state.SCRIPT_SECONDS[me] = time.perf_counter() - t0
    state.log_script_time(me, page.title, state.SCRIPT_SECONDS[me])
    state.warm_up()  # torch and the detectors load in the background once the first page has drawn (ui/state.py)
