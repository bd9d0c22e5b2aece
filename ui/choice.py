"""What an ``ensemble`` / ``auto`` run chose and why (its report), and the time estimate before a run: the
tables are plain functions (tested), :func:`show` draws them."""

from __future__ import annotations

from typing import Any

import pandas as pd

#: the columns of the members table, in order, with their headers
MEMBER_COLUMNS = {"name": "detector", "used": "used", "centrality": "centrality", "agreement": "mean agreement",
                  "fit_seconds": "fit s", "reason": "why"}


def members_frame(report: dict[str, Any]) -> pd.DataFrame:
    """One row per member / candidate: used or not, centrality (auto), mean agreement, fit seconds, reason."""
    rows = pd.DataFrame(report.get("members", []))
    cols = [c for c in MEMBER_COLUMNS if c in rows.columns]
    return rows[cols].rename(columns=MEMBER_COLUMNS)


def agreement_frame(report: dict[str, Any]) -> pd.DataFrame:
    """The Spearman agreement matrix of the members' training scores, labelled by detector."""
    agr = report.get("agreement") or {}
    names = list(agr.get("names", []))
    return pd.DataFrame(agr.get("matrix", []), index=names, columns=names).round(2)


def spec_key(spec: Any) -> str:
    """What identifies a run's settings, for "is this still the run that was estimated?" (a Dataset object by
    identity: hashing its content on every rerun would cost more than the question is worth)."""
    import json

    data = spec.data if isinstance(spec.data, str) else f"object:{id(spec.data)}"
    return json.dumps([data, spec.method, spec.protocol, spec.data_options, spec.protocol_options, spec.params,
                       spec.seed], sort_keys=True, default=str)


def show(report: dict[str, Any]) -> None:
    """The report under a run's metrics: the verdict, the lines that explain it, the two tables."""
    import streamlit as st

    with st.container(border=True):
        st.markdown(f"**What was chosen and why** · {report['summary']}")
        for line in report.get("lines", [])[1:]:
            if not line.startswith("  "):  # the per-candidate lines are in the table below
                st.caption(line)
        c1, c2 = st.columns([3, 2])
        c1.dataframe(members_frame(report), hide_index=True, key="choice_members")
        c2.caption("Agreement: Spearman rank correlation of the training scores")
        c2.dataframe(agreement_frame(report), key="choice_agreement")
