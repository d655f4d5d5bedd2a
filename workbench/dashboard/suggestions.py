"""Suggestions and trainings page: the targeted examples of each suggestion set with why each was
chosen, and the LoRA trainings with their loss curves."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from workbench.dashboard.common import (
    Reader,
    fmt_metrics,
    get_reader,
    md_text,
    page_header,
    page_link,
    pager,
    refresh_button,
    url_widget,
)
from workbench.dashboard.render import color_scale
from workbench.store import queries

REASON_KEYS = ("reason", "why", "rationale", "explanation")


def _failures_text(failures: list) -> str:
    """'similar to 3 failures: hallucination on eval-044 (0.51), ...' from provenance records."""
    shown = []
    for f in failures[:3]:
        if not isinstance(f, dict):
            shown.append(str(f))
            continue
        sim = f.get("similarity")
        sim_s = f" ({float(sim):.2f})" if isinstance(sim, (int, float)) else ""
        shown.append(f"{f.get('category', '?')} on {f.get('item_id', '?')}{sim_s}")
    more = f" (+{len(failures) - 3} more)" if len(failures) > 3 else ""
    noun = "failure" if len(failures) == 1 else "failures"
    return f"targets {len(failures)} {noun}: " + ", ".join(shown) + more


def why(provenance: Any) -> str:
    """A one-line reading of a suggestion's provenance: its reason or the failures it targets
    first, then the other recorded fields."""
    if provenance is None or (isinstance(provenance, float) and provenance != provenance):
        return ""
    if isinstance(provenance, dict):
        parts = [str(provenance[k]) for k in REASON_KEYS if provenance.get(k)]
        failures = provenance.get("failures")
        if isinstance(failures, list) and failures:
            parts.append(_failures_text(failures))
        for k, v in provenance.items():
            if k in REASON_KEYS or k == "failures" or v in (None, "", [], {}):
                continue
            if isinstance(v, list) and all(not isinstance(x, (dict, list)) for x in v):
                parts.append(f"{k}: {', '.join(str(x) for x in v)}")
            elif isinstance(v, (dict, list)):
                parts.append(f"{k}: {len(v)} item(s)")
            else:
                parts.append(f"{k}: {v}")
        return "; ".join(parts)
    if isinstance(provenance, list):
        return "; ".join(why(p) for p in provenance)
    return str(provenance)


def _ids(value: Any) -> str:
    if value is None or isinstance(value, float):
        return ""
    return ", ".join(str(v) for v in list(value))


def show_suggestions(read: Reader) -> None:
    st.subheader("Suggestion sets")
    sets = read(queries.suggestion_sets)
    if sets.empty:
        st.info("No suggestion sets yet: `workbench suggest RUN` turns failures into examples.")
        return
    labels = {r.set_id: f"{r.set_id} · from {r.model_name or r.run_id} · {r.stored} examples"
              + ("" if pd.isna(r.created_at) else f" · {r.created_at:%Y-%m-%d %H:%M}")
              for r in sets.itertuples()}
    set_id = url_widget(st.selectbox, "s_set", next(iter(labels)), "Set", list(labels),
                        options=list(labels), format_func=labels.get)
    row = sets[sets.set_id == set_id].iloc[0]
    cols = st.columns(4)
    cols[0].metric("Examples", int(row.stored))
    dropped = row.n_dropped_contaminated
    cols[1].metric("Dropped (overlap with eval)", "–" if pd.isna(dropped) else int(dropped))
    cols[2].metric("From run", str(row.run_id or "–")[:10])
    cols[3].metric("Pool", str(row.pool or "–"))
    if isinstance(row.run_id, str) and row.run_id:
        st.markdown(f"[The failures of run {row.run_id[:10]}]"
                    f"({page_link('failures', f_run=row.run_id)})")  # ids only: [0-9a-f-]
    if row.export_path:
        st.text(f"Exported to {row.export_path}")
    cats = read(queries.suggestion_categories, set_id)
    if not cats.empty:
        category_chart(cats)
    chosen = url_widget(st.multiselect, "s_category", [], "Category", list(cats.category),
                        options=list(cats.category), placeholder="all categories",
                        help="Examples that target any of these categories")
    total = int(row.stored) if not chosen else read(queries.suggestions, set_id,
                                                    category=chosen, limit=1)[0]
    limit, offset = pager(total, key="s_pager")
    total, page = read(queries.suggestions, set_id, category=chosen, limit=limit, offset=offset)
    if chosen:
        st.caption(f"{total:,} example(s) target {md_text(', '.join(chosen))}.")
    if page.empty:
        st.info("No suggestions in this set." if not chosen else
                "No suggestion of this set targets these categories.")
        return
    table = pd.DataFrame({
        "category": page.category,
        "also targets": [", ".join(c for c in cs if c != main) for cs, main
                         in zip(page.categories, page.category, strict=True)],
        "why": [why(p) for p in page.provenance],
        "prompt": page.prompt,
        "target": page.target,
        "similarity": page.similarity,
        "repaired": page.repaired,
        "source item": [_source_link(v, row.suite_id) for v in page.source_item_ids],
        "source items": [_ids(v) for v in page.source_item_ids],
    })
    # st.dataframe draws cells as text, never as HTML: safe for generated prompts and targets
    st.dataframe(table, hide_index=True, column_config={
        "why": st.column_config.TextColumn("why chosen", width="large"),
        "prompt": st.column_config.TextColumn(width="large"),
        "target": st.column_config.TextColumn(width="large"),
        "similarity": st.column_config.NumberColumn(
            help="similarity to the failure it targets", format="%.3f"),
        "source item": st.column_config.LinkColumn(
            help="the first item whose failure this example targets: opens its item page",
            display_text=r"item=([^&]*)"),
    })


def _source_link(value: Any, suite_id: Any) -> str | None:
    ids = [] if value is None or isinstance(value, float) else list(value)
    if not ids:
        return None
    return page_link("item", item=str(ids[0]),
                     suite=suite_id if isinstance(suite_id, str) else None)


def category_chart(cats: pd.DataFrame) -> None:
    """Examples per category (every category an example targets), in the category colours."""
    import altair as alt

    domain, colors = color_scale(cats.category)
    chart = alt.Chart(cats, height=220).mark_bar().encode(
        x=alt.X("category:N", title="category", sort=domain, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("n:Q", title="examples targeting it"),
        color=alt.Color("category:N", scale=alt.Scale(domain=domain, range=colors),
                        legend=None),
        tooltip=[alt.Tooltip("category:N"), alt.Tooltip("n:Q", title="examples targeting it"),
                 alt.Tooltip("primary:Q", title="filed under it")],
    )
    st.altair_chart(chart, width="stretch")
    st.caption("An example made for an output flagged in several categories counts in each; "
               "the table's first column is the category it is filed under.")


def show_trainings(read: Reader) -> None:
    st.subheader("Trainings")
    df = read(queries.trainings)
    if df.empty:
        st.info("No trainings yet: `workbench train SET` trains a LoRA adapter on a set.")
        return
    st.dataframe(pd.DataFrame({
        "training": df.training_id, "status": df.status, "trainer": df.trainer,
        "from": df.parent_name.fillna(df.parent_model_id),
        "result": df.result_name.fillna(df.result_model_id), "set": df.set_id,
        "adapter": df.adapter_path, "metrics": [fmt_metrics(m) for m in df.metrics],
        "config": [fmt_metrics(c) for c in df.config],
        "started": df.started_at, "finished": df.finished_at,
    }), hide_index=True)
    curves = read(queries.loss_curves)
    if curves.empty:
        st.caption("No loss curve recorded.")
        return
    names = {r.training_id: f"{r.training_id} ({r.result_name or r.parent_name or ''})"
             for r in df.itertuples()}
    wide = (curves.assign(training=[names.get(t, t) for t in curves.training_id])
            .pivot_table(index="step", columns="training", values="loss"))
    st.markdown("**Training loss**")
    st.line_chart(wide, x_label="step", y_label="loss")


def main() -> None:
    page_header("Suggestions & trainings",
                "Targeted training examples built from failures, and the LoRA runs trained on them.")
    refresh_button()
    read = get_reader()
    show_suggestions(read)
    show_trainings(read)


if __name__ == "__main__":
    main()
