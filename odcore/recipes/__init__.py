"""Recipes: several models trained and scored together for one paper figure.

:mod:`odcore.recipes.boundary`: the DROCC boundary lab (DROCC, DROCC-LF, OC-SVM and Deep SVDD on the
sine wave, Fig. 1 of the DROCC paper).
"""
