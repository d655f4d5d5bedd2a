"""Overview page: headline counts, models with their lineage, runs, error rate per category."""

from __future__ import annotations

import streamlit as st

from workbench.dashboard.common import fmt_metrics, get_reader, page_header, refresh_button
from workbench.store import queries


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
        st.info("The database is empty. Run a suite first: `workbench run ...` or `workbench demo`.")
        return

    st.subheader("Models")
    if model_df.empty:
        st.caption("No models registered.")
    else:
        st.dataframe(
            model_df[["name", "kind", "lineage", "parent_name", "adapter", "base", "model_id",
                      "created_at"]],
            hide_index=True,
            column_config={"lineage": st.column_config.TextColumn(
                "lineage", help="base -> tuned adapters, oldest first")},
        )

    st.subheader("Runs")
    if run_df.empty:
        st.caption("No runs yet.")
        return
    table = run_df.assign(
        flagged_rate=(run_df.n_flagged / run_df.n_outputs.where(run_df.n_outputs > 0)).round(3),
        metrics=[fmt_metrics(m) for m in run_df.metrics],
    )
    st.dataframe(
        table[["run_id", "model_name", "model_kind", "suite", "status", "n_outputs", "n_flagged",
               "flagged_rate", "metrics", "started_at", "finished_at"]],
        hide_index=True,
        column_config={"flagged_rate": st.column_config.ProgressColumn(
            "flagged rate", help="share of outputs with at least one flagged finding",
            min_value=0.0, max_value=1.0, format="%.2f")},
    )

    st.subheader("Error rate per category")
    if rates.empty:
        st.caption("No findings yet: checks run with `workbench run` or `workbench check`.")
        return
    labels = dict(zip(run_df.run_id, run_df.label, strict=True))
    rates = rates.assign(run=[labels.get(r, r) for r in rates.run_id])
    chart = rates.pivot_table(index="category", columns="run", values="rate", fill_value=0.0)
    st.bar_chart(chart, stack=False, y_label="share of outputs flagged", x_label="category")
    st.dataframe(
        rates.pivot_table(index="run", columns="category", values="rate").round(3),
    )


if __name__ == "__main__":
    main()
