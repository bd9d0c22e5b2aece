"""The papers' published numbers (from METHODS.md), shown beside ours on the Compare page."""

from __future__ import annotations

# (dataset keyword, method, metric) -> value; dataset keywords match file or built-in names
PAPER: dict[tuple[str, str, str], float] = {
    ("thyroid", "drocc", "f1"): 0.78, ("arrhythmia", "drocc", "f1"): 0.69, ("abalone", "drocc", "f1"): 0.68,
    ("thyroid", "deep-svdd", "f1"): 0.73, ("arrhythmia", "deep-svdd", "f1"): 0.54, ("abalone", "deep-svdd", "f1"): 0.62,
    ("thyroid", "ocsvm", "f1"): 0.39, ("arrhythmia", "ocsvm", "f1"): 0.46, ("abalone", "ocsvm", "f1"): 0.48,
    ("kdd", "alad", "f1"): 0.9501, ("kdd", "iforest", "f1"): 0.9294,
    # WALDO Table 1 (AUROC / AUPRC) per outlier ratio nu; the app labels bench rows "kdd (nu=0.05)" etc.
    **{(f"{d} (nu={nu})", "waldo", k): v
       for d, table in {"kdd": {"0.05": (0.9951, 0.8634), "0.1": (0.9965, 0.9567), "0.2": (0.9951, 0.9706),
                                "0.5": (0.9961, 0.9942)},
                        "mnist": {"0.05": (0.9933, 0.9030), "0.1": (0.9977, 0.9807), "0.2": (0.9982, 0.9929),
                                  "0.5": (0.9913, 0.9914)}}.items()
       for nu, pair in table.items() for k, v in zip(("auroc", "auprc"), pair)},
    ("retail", "waldo", "auprc"): 0.46,
}
SOURCES = {
    "drocc": "DROCC Table 2 (F1, one-vs-rest)", "deep-svdd": "DROCC Table 2 baselines",
    "ocsvm": "DROCC Table 2 baselines", "alad": "ALAD, KDD99 top-20% F1", "iforest": "ALAD baseline (KDD99)",
    "waldo": "WALDO Table 1 (per nu) / retail case study",
}


def paper_value(dataset: str, method: str, metric: str) -> float | None:
    d = str(dataset).lower()
    for (key, m, k), v in PAPER.items():
        if m == method and k == metric and key in d:
            return v
    return None


def table():
    import pandas as pd

    return pd.DataFrame([{"data": d, "method": m, "metric": k, "paper": v, "source": SOURCES.get(m, "")}
                         for (d, m, k), v in PAPER.items()])
