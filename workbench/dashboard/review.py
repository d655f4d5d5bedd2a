"""The *Review* box of an output, on the Item and Failures pages: a reviewer marks each flagged
finding right or wrong, or the output as missing a category no check flagged.

Each click is one call of ``verdicts.record_verdict`` (the dashboard's only write, one short
transaction); the verdicts shown are ``verdicts.latest_verdicts`` of the page's outputs.
"""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st

from workbench.dashboard.common import write
from workbench.store import verdicts


def review(row: dict, found: list[dict], judged: pd.DataFrame, categories: list[str], *,
           expanded: bool = False) -> None:
    """A reviewer's verdicts on one output: each flagged finding right or wrong, and a category
    no check flagged marked as missing. Stored at once (the dashboard's only write), as one
    short transaction; the page then reruns and shows the verdict."""
    oid = row["output_id"]
    flagged = [f for f in found if f["flagged"]]
    mine = judged[judged.output_id == oid]
    latest = {(v.check_name, v.category): v.verdict for v in mine.itertuples()
              if v.verdict != "missing"}
    missing = sorted(mine[mine.verdict == "missing"].category)
    n_done = len(latest) + len(missing)
    with st.expander(f"Review the checks on this output ({n_done} verdict(s))",
                     expanded=expanded):
        for f in flagged:
            key = f"v|{oid}|{f['check_name']}|{f['category']}"
            now = latest.get((f["check_name"], f["category"]))
            c1, c2, c3 = st.columns([5, 1, 1])
            c1.html(f"<div><b>{html.escape(str(f['category']))}</b> flagged by "
                    f"<code>{html.escape(str(f['check_name']))}</code> · your verdict: "
                    f"<b>{html.escape(now or 'none yet')}</b></div>")
            for col, verdict, text in ((c2, "right", "✓ Right"), (c3, "wrong", "✗ Wrong")):
                col.button(text, key=f"{key}|{verdict}", disabled=now == verdict,
                           on_click=write, args=(verdicts.record_verdict, oid, f["category"],
                                                 verdict),
                           kwargs={"check_name": f["check_name"]},
                           help=f"the {f['category']} flag is {verdict}")
        if not flagged:
            st.caption("No check flagged this output.")
        others = [c for c in categories if c not in {f["category"] for f in flagged}
                  and c not in missing]
        if missing:
            st.caption("Marked as missing: " + ", ".join(missing))
        if others:
            c1, c2 = st.columns([5, 2])
            cat = c1.selectbox("A category no check flagged", others, key=f"m|{oid}|cat",
                               index=None, placeholder="pick a category")
            c2.button("Mark as missing", key=f"m|{oid}|go", disabled=cat is None,
                      on_click=write, args=(verdicts.record_verdict, oid, cat, "missing"))
