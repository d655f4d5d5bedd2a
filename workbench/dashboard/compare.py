"""Compare page: two runs of one suite (fixed / regressed / persisting per category and metric, and
the two outputs of an item side by side with a word-level diff and the flagged spans), or many
runs of one suite side by side as a matrix of items by runs.

What counts as fixed or regressed is decided by ``workbench.compare.compare.compare_runs`` (the same
result `workbench compare` prints); this page only lays it out. Every choice is in the URL.
"""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st

from workbench.dashboard.cards import label, meta_table
from workbench.dashboard.common import (
    bottom_pager,
    fmt_p,
    get_reader,
    item_link,
    md_text,
    page_header,
    page_link,
    pager,
    refresh_button,
    run_link,
    url_widget,
)
from workbench.dashboard.render import (
    diff_highlight_html,
    finding_spans,
    findings_html,
    legend_html,
    plain_html,
)
from workbench.errors import WorkbenchError
from workbench.store import queries

# what the dashboard calls each compare_runs transition
STATUSES = {"regressed": "regressed", "fixed": "fixed", "persisting": "still_failing",
            "still passing": "still_passing"}
CONTINUOUS = {"regressed": "regressed", "fixed": "fixed", "unchanged": "unchanged"}
TONES = {"fixed": "fixed", "regressed": "regressed"}
MODES = ("Two runs", "Many runs")
TRANSITION_COLORS = {"fixed": "#59a14f", "regressed": "#e15759", "persisting": "#bab0ac"}


def pick_suite(run_df: pd.DataFrame) -> str | None:
    counts = run_df.groupby("suite_id").size()
    suites = [s for s in counts.index if counts[s] >= 2]
    if not suites:
        st.info("Comparing needs two runs of the same suite; this database has none yet. "
                "`workbench demo --tiny` makes two (a base model and its LoRA adapter).")
        return None
    names = dict(zip(run_df.suite_id, run_df.suite, strict=True))
    return url_widget(st.selectbox, "c_suite", suites[0], "Suite", suites, options=suites,
                      format_func=lambda s: f"{names.get(s) or s} ({s})")


def pick_runs(run_df: pd.DataFrame, suite: str) -> tuple[str, str] | None:
    """Run A (baseline) and run B of the suite; None when they are the same run."""
    runs_of = run_df[run_df.suite_id == suite]
    labels = dict(zip(runs_of.run_id, runs_of.label, strict=True))
    ids = list(labels)
    c1, c2 = st.columns(2)
    run_a = url_widget(c1.selectbox, "c_a", ids[0], "Run A (baseline)", ids, options=ids,
                       format_func=labels.get)
    run_b = url_widget(c2.selectbox, "c_b", ids[-1], "Run B", ids, options=ids,
                       format_func=labels.get)
    if run_a == run_b:
        st.warning("Pick two different runs.")
        return None
    return run_a, run_b


def summary(cmp) -> pd.DataFrame:  # noqa: ANN001 - a workbench.compare.comparison.Comparison
    """Per category: error rates in A and B, fixed, regressed, persisting, p-value (as the CLI
    prints it), verdict ('confounded' when the flags fell only beside shorter outputs or a worse
    task metric) and why."""
    why = cmp.confounded()
    rows = [{
        "category": r.name, "items": r.n, "error rate A": 100 * r.a,
        "error rate B": 100 * r.b, "fixed": r.fixed, "regressed": r.regressed,
        "persisting": r.still_failing, "p-value": fmt_p(r.p_value),
        "verdict": cmp.status(r), "why": why.get(r.name, ""),
    } for r in cmp.rows if r.kind == "category"]
    return pd.DataFrame(rows)


def metrics_table(cmp) -> pd.DataFrame:  # noqa: ANN001
    return pd.DataFrame([{
        "metric": r.name, "items": r.n, "A": r.a, "B": r.b,
        "better": r.better, "fixed": r.fixed, "regressed": r.regressed,
        "p-value": fmt_p(r.p_value), "verdict": r.verdict()} for r in cmp.task_metrics()])


def length_table(length) -> pd.DataFrame:  # noqa: ANN001 - a confounders.OutputLength
    """Output length in A and B: median tokens out (when stored), median words, short share."""
    from workbench.compare.confounders import SHORT_WORDS

    rows = []
    if length.unit == "tokens":
        rows.append(("median tokens out", length.median_tokens_a, length.median_tokens_b))
    rows.append(("median words", length.median_words_a, length.median_words_b))
    rows.append((f"% under {SHORT_WORDS} words", round(100 * length.short_a, 1),
                 round(100 * length.short_b, 1)))
    return pd.DataFrame(rows, columns=["output length", "A", "B"])


def show_verdict(cmp) -> None:  # noqa: ANN001 - a workbench.compare.comparison.Comparison
    """The overall verdict, coloured, with its reason, and what confounds it."""
    verdict, reason = cmp.verdict(), cmp.verdict_reason()
    show = {"better": st.success, "worse": st.error, "same": st.info}.get(verdict, st.warning)
    show(f"Verdict: **{verdict}** — {reason}")
    for cat, why in cmp.confounded().items():
        st.warning(f"Confounded: **{md_text(cat)}** — {md_text(why)}. Fewer flags on shorter answers is what a "
                   "model that learned to say less would also show.")


def transition_chart(table: pd.DataFrame) -> None:
    import altair as alt

    long = table[["category", *TRANSITION_COLORS]].melt(id_vars="category",
                                                         var_name="transition",
                                                         value_name="items")
    chart = alt.Chart(long, height=240).mark_bar().encode(
        x=alt.X("category:N", title="category", axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("transition:N", sort=list(TRANSITION_COLORS)),
        y=alt.Y("items:Q", title="items"),
        color=alt.Color("transition:N", sort=list(TRANSITION_COLORS),
                        scale=alt.Scale(domain=list(TRANSITION_COLORS),
                                        range=list(TRANSITION_COLORS.values())),
                        legend=alt.Legend(orient="bottom", title=None, labelLimit=0)),
        tooltip=["category:N", "transition:N", "items:Q"],
    )
    st.altair_chart(chart, width="stretch")


def show_item(change, outputs: dict, findings: pd.DataFrame, suite: str) -> None:  # noqa: ANN001
    """One item's card: its link, prompt, context, the two outputs with the word diff and the
    flagged spans of the category (every flagged span for a metric), findings, reference."""
    a, b = outputs.get(change.output_id_a, {}), outputs.get(change.output_id_b, {})
    is_cat = change.kind == "category"
    cats = [change.name] if is_cat else None
    side_finds = {}
    for oid in (change.output_id_a, change.output_id_b):
        mine = findings[findings.output_id == oid]
        side_finds[oid] = (mine[mine.category == change.name] if is_cat else mine).to_dict(
            "records")
    tone = TONES.get(change.transition, "neutral")
    left, right = diff_highlight_html(
        a.get("text"), b.get("text"),
        finding_spans(side_finds[change.output_id_a], cats),
        finding_spans(side_finds[change.output_id_b], cats), tone)
    value = "" if is_cat else f" · {change.a:.3g} → {change.b:.3g}"
    with st.container(border=True):
        st.html(f"<div>item {item_link(change.item_id, suite)} · "
                f"<b>{html.escape(change.name)}</b> · {html.escape(change.transition)}"
                f"{html.escape(value)}</div>")
        prompt = a.get("prompt") if isinstance(a.get("prompt"), str) else a.get("rendered_prompt")
        ctx = a.get("context")
        st.html(label("prompt") + plain_html(prompt)
                + ("<details><summary class='wb-label'>context</summary>" + plain_html(ctx)
                   + "</details>" if isinstance(ctx, str) and ctx else ""))
        c1, c2 = st.columns(2)
        for col, side, out, box, oid in ((c1, "A", a, left, change.output_id_a),
                                         (c2, "B", b, right, change.output_id_b)):
            col.html(label(f"run {side} · {out.get('model_name', '')}") + box
                     + meta_table(out) + findings_html(side_finds[oid]))
        ref = a.get("reference")
        if isinstance(ref, str):
            st.html(label("reference") + plain_html(ref))


def browse_items(read, cmp, table: pd.DataFrame, suite: str) -> None:  # noqa: ANN001
    st.subheader("Items")
    metrics = cmp.task_metrics()
    choices = [f"category:{c}" for c in table.category] + [f"metric:{r.name}" for r in metrics]
    if not choices:
        return
    kinds = {f"metric:{r.name}": r for r in metrics}
    c1, c2 = st.columns(2)
    choice = url_widget(c1.selectbox, "c_name", choices[0], "Category or metric", choices,
                        options=choices,
                        format_func=lambda c: c.split(":", 1)[1]
                        + (" (metric)" if c.startswith("metric:") else ""))
    kind, name = choice.split(":", 1)
    row = kinds.get(choice)
    statuses = CONTINUOUS if row is not None and not row.binary else STATUSES
    status = url_widget(c2.radio, "c_status", "regressed", "Transition", list(statuses),
                        options=list(statuses), horizontal=True)
    changes = [c for c in cmp.items(name, statuses[status]) if c.kind == kind]
    limit, offset = pager(len(changes), key="c_pager", sizes=(5, 10, 25), default_size=10)
    page = changes[offset:offset + limit]
    if not page:
        st.info(f"No item is {status} for {md_text(name)}.")
        return
    ids = [c.output_id_a for c in page] + [c.output_id_b for c in page]
    outputs = read(queries.outputs_by_id, ids).set_index("output_id", drop=False)
    found = read(queries.findings_for, ids)
    if kind == "category":
        st.html(legend_html([name]))
    else:
        flagged = sorted(set(found[found.flagged].category))
        if flagged:
            st.html(legend_html(flagged))
    by_id = outputs.to_dict("index")
    for change in page:
        show_item(change, by_id, found, suite)
    bottom_pager(len(changes), "c_pager", offset, limit)


def two_runs(read, run_df: pd.DataFrame, suite: str) -> None:  # noqa: ANN001
    picked = pick_runs(run_df, suite)
    if picked is None:
        return
    from workbench.compare.compare import compare_runs  # only this page needs it

    sizes = run_df.set_index("run_id").n_outputs
    n = int(max(sizes.get(picked[0], 0), sizes.get(picked[1], 0)))
    try:
        with st.spinner(f"Comparing {n:,} items per run…"):  # cached afterwards
            cmp = read(compare_runs, *picked)
    except WorkbenchError as exc:
        st.error(str(exc))
        return
    st.html(f"<div>A: {run_link(picked[0])} · B: {run_link(picked[1])} · "
            f"{cmp.n_shared:,} items both answered</div>")
    show_verdict(cmp)
    for note in cmp.notes:
        st.caption(note)
    table = summary(cmp)
    if table.empty and not cmp.task_metrics():
        st.info("Neither run has findings or metrics to compare.")
        return
    if not table.empty:
        tr = cmp.transitions
        cols = st.columns(3)
        help_ = ("distinct items: an item {} in two categories counts once; an item can be "
                 "fixed in one category and regressed in another")
        cols[0].metric("Items fixed (any category)", f"{len(tr.item_ids('fixed')):,}",
                       help=help_.format("fixed"))
        cols[1].metric("Items regressed (any category)", f"{len(tr.item_ids('regressed')):,}",
                       help=help_.format("regressed"))
        cols[2].metric("Items persisting (any category)",
                       f"{len(tr.item_ids('still_failing')):,}",
                       help=help_.format("still failing"))
        st.caption(f"Distinct items out of {cmp.n_shared:,}; the table counts per category, "
                   "so its columns add up to more when an item changes in several.")
        st.dataframe(table, hide_index=True, column_config={
            "error rate A": st.column_config.NumberColumn(format="%.1f%%"),
            "error rate B": st.column_config.NumberColumn(format="%.1f%%"),
            "p-value": st.column_config.TextColumn(help="exact McNemar test on the paired items"),
        })
        transition_chart(table)
    c1, c2 = st.columns([3, 2])
    c1.subheader("Task metrics")
    if cmp.task_metrics():
        c1.dataframe(metrics_table(cmp), hide_index=True, column_config={
            "A": st.column_config.NumberColumn(format="%.3f"),
            "B": st.column_config.NumberColumn(format="%.3f")})
    else:
        c1.caption("No reference-based metric: the verdict rests on the checks alone.")
    if cmp.length is not None:
        c2.subheader("Output length")
        c2.dataframe(length_table(cmp.length), hide_index=True)
    browse_items(read, cmp, table, suite)


def matrix(long: pd.DataFrame, runs_of: pd.DataFrame, metric: str | None) -> pd.DataFrame:
    """Items by runs: a cell is the output's flagged categories ('' when none; '–' when the run
    did not answer the item), or the metric's value; with a link to each item's page."""
    cols = {r.run_id: f"{r.model_name} · {r.run_id[:8]}" for r in runs_of.itertuples()}
    if metric:
        cell = long.value.map(lambda v: "–" if v != v or v is None else f"{v:.3g}")
    else:
        cell = [", ".join(str(c) for c in f) if hasattr(f, "__iter__")
                and not isinstance(f, str) else "" for f in long.flagged]
    wide = (long.assign(cell=cell).pivot(index="item_id", columns="run_id", values="cell")
            .reindex(columns=[r for r in cols if r in set(long.run_id)]).fillna("–"))
    return wide.rename(columns=cols)


def many_runs(read, run_df: pd.DataFrame, suite: str) -> None:  # noqa: ANN001
    runs_of = run_df[run_df.suite_id == suite]
    labels = dict(zip(runs_of.run_id, runs_of.label, strict=True))
    ids = list(labels)
    chosen = url_widget(st.multiselect, "m_runs", ids[-5:], "Runs", ids, options=ids,
                        format_func=labels.get)
    if len(chosen) < 2:
        st.info("Pick two or more runs.")
        return
    options = read(queries.filter_options)
    metrics = read(queries.metric_names, chosen)
    choices = ["any flag"] + [f"category:{c}" for c in options.categories] \
        + [f"metric:{m}" for m in metrics]
    c1, c2 = st.columns([2, 1])
    what = url_widget(c1.selectbox, "m_what", "any flag", "Cells show", choices,
                      options=choices, format_func=lambda c: c.split(":", 1)[-1]
                      + (" (metric)" if c.startswith("metric:") else ""))
    differ = url_widget(c2.toggle, "m_differ", True, "Only items where the runs differ")
    kind, _, name = what.partition(":")
    category = name if kind == "category" else None
    metric = name if kind == "metric" else None
    long = read(queries.run_matrix, chosen, category=category, metric=metric)
    sel = runs_of[runs_of.run_id.isin(chosen)]
    sel = sel.set_index("run_id").loc[chosen].reset_index()
    if long.empty:
        st.info("These runs have no outputs yet.")
        return
    # per run: how many of its outputs fail (or the metric's mean)
    per_run = long.groupby("run_id").agg(outputs=("item_id", "size"), failed=("failed", "sum"),
                                         mean=("value", "mean"))
    if metric:
        score_name, scores = f"mean {metric}", [per_run["mean"].get(r) for r in chosen]
    else:
        score_name = "outputs flagged" + (f" ({category})" if category else "")
        scores = [int(per_run.failed.get(r, 0)) for r in chosen]
    head = pd.DataFrame({
        "run": [labels[r] for r in chosen],
        "outputs": [int(per_run.outputs.get(r, 0)) for r in chosen],
        score_name: scores,
        "failures": [page_link("failures", f_run=r, f_category=category) for r in chosen],
    })
    st.dataframe(head, hide_index=True, column_config={"failures": st.column_config.LinkColumn(
        display_text="browse ›")})
    if metric:
        spread = long.groupby("item_id").value.agg(lambda v: v.nunique(dropna=False))
    else:
        spread = long.groupby("item_id").failed.nunique()
    wide = matrix(long if not category else long.assign(
        flagged=[[category] if f else [] for f in long.failed]), sel, metric)
    if differ:
        wide = wide[wide.index.isin(spread[spread > 1].index)]
    st.caption(f"{len(wide):,} item(s)" + (" where the runs differ" if differ else "")
               + ". A cell lists the categories flagged in that run's output; – means the run "
                 "did not answer the item. The item column opens the item page.")
    if wide.empty:
        return
    limit, offset = pager(len(wide), key="m_pager", sizes=(25, 50, 100, 500), default_size=50)
    page = wide.iloc[offset:offset + limit]
    links = [page_link("item", item=i, suite=suite) for i in page.index]
    page = page.reset_index(drop=True)
    page.insert(0, "item", links)
    st.dataframe(page, hide_index=True, column_config={
        "item": st.column_config.LinkColumn("item", display_text=r"item=([^&]*)",
                                            help="opens the item page")})
    bottom_pager(len(wide), "m_pager", offset, limit)


def main() -> None:
    page_header("Compare", "Run B against run A on the items both answered, or many runs side "
                           "by side.")
    refresh_button()
    read = get_reader()
    run_df = read(queries.runs)
    suite = pick_suite(run_df)
    if suite is None:
        return
    mode = url_widget(st.radio, "c_mode", MODES[0], "View", MODES, options=MODES,
                      horizontal=True, label_visibility="collapsed")
    if mode == MODES[0]:
        two_runs(read, run_df, suite)
    else:
        many_runs(read, run_df, suite)


if __name__ == "__main__":
    main()
