"""Detectors. Use :mod:`odcore.models.registry` to list and create them by name."""

from odcore.models.registry import available, create, get_class, info, param_table

__all__ = ["available", "create", "get_class", "info", "param_table"]
