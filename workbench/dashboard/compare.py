"""Compare page: two runs of one suite, fixed / regressed / persisting per category, and the two
outputs of an item side by side with a word-level diff.

What counts as fixed or regressed is decided by ``workbench.compare.compare_runs`` (the same
result `workbench compare` prints); this page only lays it out.
"""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st

from workbench.dashboard.common import get_reader, page_header, pager, refresh_button
from workbench.dashboard.render import findings_html, plain_html, word_diff_html
from workbench.errors import WorkbenchError
from workbench.store import queries

# compare_runs names; 'persisting' is what the dashboard calls an item that fails in both runs
STATUSES = {"regressed": "regressed", "fixed": "fixed", "persisting": "still_failing",
            "still passing": "still_passing"}


def _label(text: str) -> str:
    return f'<div class="wb-label">{html.escape(text)}</div>'


def pick_runs(run_df: pd.DataFrame) -> tuple[str, str] | None:
    """Suite, then run A (baseline) and run B; None when no suite has two runs."""
    counts = run_df.groupby("suite_id").size()
    suites = [s for s in counts.index if counts[s] >= 2]
    if not suites:
        st.info("Comparing needs two runs of the same suite; this database has none yet.")
        return None
    names = dict(zip(run_df.suite_id, run_df.suite, strict=True))
    suite = st.selectbox("Suite", suites, format_func=lambda s: f"{names.get(s) or s} ({s})",
                         key="c_suite")
    runs_of = run_df[run_df.suite_id == suite]
    labels = dict(zip(runs_of.run_id, runs_of.label, strict=True))
    ids = list(labels)
    c1, c2 = st.columns(2)
    run_a = c1.selectbox("Run A (baseline)", ids, index=0, format_func=labels.get, key="c_a")
    run_b = c2.selectbox("Run B", ids, index=len(ids) - 1, format_func=labels.get, key="c_b")
    if run_a == run_b:
        st.warning("Pick two different runs.")
        return None
    return run_a, run_b


def summary(cmp) -> pd.DataFrame:  # noqa: ANN001 - a workbench.compare.Comparison
    """Per category: error rates in A and B, fixed, regressed, persisting, p-value, verdict
    ('confounded' when the flags fell only beside shorter outputs or a worse task metric) and
    why."""
    why = cmp.confounded()
    rows = [{
        "category": r.name, "items": r.n, "error rate A": round(r.a, 3),
        "error rate B": round(r.b, 3), "fixed": r.fixed, "regressed": r.regressed,
        "persisting": r.still_failing, "p-value": round(r.p_value, 4),
        "verdict": cmp.status(r), "why": why.get(r.name, ""),
    } for r in cmp.rows if r.kind == "category"]
    return pd.DataFrame(rows)


def length_table(length) -> pd.DataFrame:  # noqa: ANN001 - a workbench.confounders.OutputLength
    """Output length in A and B: median tokens out (when stored), median words, short share."""
    from workbench.confounders import SHORT_WORDS

    rows = []
    if length.unit == "tokens":
        rows.append(("median tokens out", length.median_tokens_a, length.median_tokens_b))
    rows.append(("median words", length.median_words_a, length.median_words_b))
    rows.append((f"% under {SHORT_WORDS} words", round(100 * length.short_a, 1),
                 round(100 * length.short_b, 1)))
    return pd.DataFrame(rows, columns=["output length", "A", "B"])


def show_verdict(cmp) -> None:  # noqa: ANN001 - a workbench.compare.Comparison
    """The overall verdict, coloured, with its reason."""
    verdict, reason = cmp.verdict(), cmp.verdict_reason()
    show = {"better": st.success, "worse": st.error, "same": st.info}.get(verdict, st.warning)
    show(f"Verdict: **{verdict}** — {reason}")


def show_item(change, outputs: dict, findings: pd.DataFrame) -> None:  # noqa: ANN001
    a, b = outputs.get(change.output_id_a, {}), outputs.get(change.output_id_b, {})
    with st.container(border=True):
        st.html(f"<div>item <code>{html.escape(str(change.item_id))}</code> · "
                f"<b>{html.escape(change.name)}</b> · {html.escape(change.transition)}</div>")
        prompt = a.get("prompt") if isinstance(a.get("prompt"), str) else a.get("rendered_prompt")
        st.html(_label("prompt") + plain_html(prompt))
        left, right = word_diff_html(a.get("text"), b.get("text"))
        c1, c2 = st.columns(2)
        for col, side, out, box, oid in ((c1, "A", a, left, change.output_id_a),
                                         (c2, "B", b, right, change.output_id_b)):
            mine = findings[(findings.output_id == oid) & (findings.category == change.name)]
            col.html(_label(f"run {side} · {out.get('model_name', '')}") + box
                     + findings_html(mine.to_dict("records")))
        ref = a.get("reference")
        if isinstance(ref, str):
            st.html(_label("reference") + plain_html(ref))


def main() -> None:
    page_header("Compare", "Run B against run A on the items both answered.")
    refresh_button()
    read = get_reader()
    picked = pick_runs(read(queries.runs))
    if picked is None:
        return
    from workbench.compare import compare_runs  # only this page needs it

    sizes = read(queries.runs).set_index("run_id").n_outputs
    n = int(max(sizes.get(picked[0], 0), sizes.get(picked[1], 0)))
    try:
        with st.spinner(f"Comparing {n:,} items per run…"):  # cached afterwards
            cmp = read(compare_runs, *picked)
    except WorkbenchError as exc:
        st.error(str(exc))
        return
    show_verdict(cmp)
    for note in cmp.notes:
        st.caption(note)
    table = summary(cmp)
    if table.empty:
        st.info("Neither run has findings to compare.")
        return
    cols = st.columns(3)
    cols[0].metric("Fixed", int(table.fixed.sum()))
    cols[1].metric("Regressed", int(table.regressed.sum()))
    cols[2].metric("Persisting", int(table.persisting.sum()))
    st.dataframe(table, hide_index=True)
    st.bar_chart(table.set_index("category")[["fixed", "regressed", "persisting"]],
                 y_label="items", x_label="category")
    metrics = cmp.task_metrics()
    c1, c2 = st.columns([3, 2])
    c1.subheader("Task metrics")
    if metrics:
        c1.dataframe(pd.DataFrame([{
            "metric": r.name, "items": r.n, "A": round(r.a, 4), "B": round(r.b, 4),
            "better": r.better, "fixed": r.fixed, "regressed": r.regressed,
            "p-value": round(r.p_value, 4), "verdict": r.verdict()} for r in metrics]),
            hide_index=True)
    else:
        c1.caption("No reference-based metric: the verdict rests on the checks alone.")
    if cmp.length is not None:
        c2.subheader("Output length")
        c2.dataframe(length_table(cmp.length), hide_index=True)

    st.subheader("Items")
    c1, c2 = st.columns(2)
    category = c1.selectbox("Category", list(table.category), key="c_category")
    status = c2.radio("Transition", list(STATUSES), horizontal=True, key="c_status")
    changes = cmp.items(category, STATUSES[status])
    limit, offset = pager(len(changes), key="c_pager", sizes=(5, 10, 25), default_size=10)
    page = changes[offset:offset + limit]
    if not page:
        st.info(f"No item is {status} for {category}.")
        return
    ids = [c.output_id_a for c in page] + [c.output_id_b for c in page]
    outputs = read(queries.outputs_by_id, ids).set_index("output_id", drop=False)
    found = read(queries.findings_for, ids)
    by_id = outputs.to_dict("index")
    for change in page:
        show_item(change, by_id, found)


if __name__ == "__main__":
    main()
