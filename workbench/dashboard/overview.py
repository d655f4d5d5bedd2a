"""Overview page: headline counts, models with their lineage, runs, error rate per category."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench.dashboard.common import (
    fmt_metrics,
    get_reader,
    page_header,
    page_link,
    refresh_button,
)
from workbench.dashboard.render import color_scale
from workbench.store import queries, verdicts

EMPTY = ("The database is empty. Fill it with `workbench demo --tiny` (a toy model, about a "
         "minute), `workbench demo` (a real model, a few minutes) or run a suite: "
         "`workbench run --model NAME=PATH --suite SUITE`.")


def main() -> None:
    page_header("Overview", "Models, runs and how often each error category is flagged.")
    refresh_button()
    read = get_reader()
    totals = read(queries.totals)
    model_df = read(queries.models)
    run_df = read(queries.runs)
    rates = read(queries.category_rates)

    cols = st.columns(5)
    cols[0].metric("Models", f"{totals['models']:,}")
    cols[1].metric("Runs", f"{totals['runs']:,}")
    cols[2].metric("Outputs", f"{totals['outputs']:,}")
    cols[3].metric("Outputs flagged", f"{totals['flagged_outputs']:,}")
    cols[4].metric("Suggestions", f"{totals['suggestions']:,}")

    if run_df.empty and model_df.empty:
        st.info(EMPTY)
        return

    st.subheader("Models")
    if model_df.empty:
        st.caption("No models registered.")
    else:
        st.dataframe(
            model_df[["name", "kind", "lineage", "parent_name", "adapter", "base", "model_id",
                      "created_at"]],
            hide_index=True,
            column_config={
                "lineage": st.column_config.TextColumn(
                    "lineage", help="base -> tuned adapters, oldest first"),
                "parent_name": "tuned from", "model_id": "model id", "created_at": "created",
            },
        )

    st.subheader("Runs")
    if run_df.empty:
        st.caption("No runs yet.")
        return
    table = run_df.assign(
        flagged_rate=(run_df.n_flagged / run_df.n_outputs.where(run_df.n_outputs > 0)).round(3),
        metrics=[fmt_metrics(m) for m in run_df.metrics],
        failures=[page_link("failures", f_run=r) for r in run_df.run_id],
    )
    st.dataframe(
        table[["run_id", "failures", "model_name", "model_kind", "suite", "status", "n_outputs",
               "n_flagged", "flagged_rate", "metrics", "started_at", "finished_at"]],
        hide_index=True,
        column_config={
            "run_id": "run id", "model_name": "model", "model_kind": "model kind",
            "n_outputs": "outputs", "n_flagged": "outputs flagged",
            "failures": st.column_config.LinkColumn(
                "failures", help="this run's flagged outputs on the Failures page",
                display_text="browse ›"),
            "flagged_rate": st.column_config.ProgressColumn(
                "flagged rate", help="share of outputs with at least one flagged finding",
                min_value=0.0, max_value=1.0, format="%.2f"),
            "started_at": "started", "finished_at": "finished",
        },
    )

    st.subheader("Error rate per category")
    if rates.empty:
        st.caption("No findings yet: checks run with `workbench run` or `workbench check`.")
    else:
        short = {r.run_id: f"{r.model_name} · {r.run_id[:8]}" for r in run_df.itertuples()}
        rates = rates.assign(run=[short.get(r, r[:8]) for r in rates.run_id])
        rate_chart(rates, list(dict.fromkeys(short.get(r, r) for r in run_df.run_id)))
        st.dataframe(
            rates.pivot_table(index="run", columns="category", values="rate").round(3),
        )
    show_precision(read)


def show_precision(read) -> None:  # noqa: ANN001 - a Reader
    """Each check's precision measured on the reviewers' verdicts (right / reviewed); measured
    only once there is a verdict (it reads every flagged finding)."""
    st.subheader("Check precision on your verdicts")
    prec = read(verdicts.check_precision) if read(verdicts.count_verdicts) else None
    if prec is None or prec.empty or not (prec.reviewed.sum() or prec.missing.sum()):
        st.caption("No verdicts yet: open an item (from Failures or Compare) and mark its "
                   "findings right or wrong. `workbench checks --precision` prints the same "
                   "table.")
        return
    st.dataframe(prec, hide_index=True, column_config={
        "check_name": "check",
        "flagged": st.column_config.NumberColumn("flagged", help="findings the check flagged"),
        "reviewed": st.column_config.NumberColumn(help="flagged findings with a verdict"),
        "precision": st.column_config.ProgressColumn(
            "precision", help="right / reviewed", min_value=0.0, max_value=1.0,
            format="%.2f"),
        "missing": st.column_config.NumberColumn(
            "marked missing", help="outputs a reviewer marked with this category, unflagged"),
    })


def rate_chart(rates: pd.DataFrame, run_order: list[str]) -> None:
    """Bars per run, one per category in its colour (the palette every page uses), with a
    legend and tooltips that give the share as a percentage and the counts behind it."""
    import altair as alt

    domain, colors = color_scale(sorted(rates.category.unique()))
    chart = alt.Chart(rates, height=260).mark_bar().encode(
        x=alt.X("run:N", title=None, sort=run_order, axis=alt.Axis(labelAngle=0, labelLimit=0)),
        xOffset=alt.XOffset("category:N", sort=domain),
        y=alt.Y("rate:Q", title="share of outputs flagged", axis=alt.Axis(format="%")),
        color=alt.Color("category:N", scale=alt.Scale(domain=domain, range=colors),
                        legend=alt.Legend(orient="bottom", title="category", labelLimit=0)),
        tooltip=[alt.Tooltip("run:N"), alt.Tooltip("category:N"),
                 alt.Tooltip("rate:Q", title="flagged", format=".1%"),
                 alt.Tooltip("flagged:Q", title="outputs flagged"),
                 alt.Tooltip("checked:Q", title="outputs checked")],
    )
    st.altair_chart(chart, width="stretch")


if __name__ == "__main__":
    main()
