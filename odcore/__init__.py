"""Outlier Lab engine: deep outlier detectors, data, metrics, jobs and a run store.

Importing ``odcore`` is cheap: torch and the other heavy libraries are imported by the
modules that need them.
"""

import logging as _logging

__version__ = "0.1.0"

# a library logs, the application decides where it goes: the app sends it to the server log
# (ui.state.setup_logging); a script without logging configured prints nothing extra
_logging.getLogger(__name__).addHandler(_logging.NullHandler())
