"""Outlier Lab engine: deep outlier detectors, data, metrics, jobs and a run store.

Importing ``odcore`` is cheap: torch and the other heavy libraries are imported by the
modules that need them.
"""

__version__ = "0.1.0"
