"""Read-only queries behind `workbench compare`: paired outputs and per-item category status."""

from __future__ import annotations

import pandas as pd

from .store import Store


def run_items(store: Store, run_id: str) -> pd.DataFrame:
    """One row per item a run answered: item_id, output_id, metrics (JSON), finish_reason."""
    return store.query_df(
        "SELECT item_id, output_id, metrics, finish_reason FROM outputs WHERE run_id = ?"
        " ORDER BY item_id",
        [run_id],
    )


def category_status(store: Store, run_id: str) -> pd.DataFrame:
    """Per (item, category) of a run: whether any finding of that category flagged its output.

    Findings whose check raised (``error`` set) say nothing about the output and are left out, so
    an item a category's checks could not judge has no row for that category.
    """
    return store.query_df(
        "SELECT o.item_id, o.output_id, f.category, bool_or(f.flagged) AS failed,"
        " count(*) AS n_findings"
        " FROM findings f JOIN outputs o USING (output_id)"
        " WHERE f.run_id = ? AND f.error IS NULL"
        " GROUP BY o.item_id, o.output_id, f.category ORDER BY f.category, o.item_id",
        [run_id],
    )


def run_summary(store: Store, run_id: str) -> dict:
    """The fields of a run that a comparison reports (id, model, suite, status)."""
    df = store.query_df(
        "SELECT r.run_id, r.model_name, r.model_id, r.suite_id, s.name AS suite_name, r.status,"
        " r.started_at FROM runs r LEFT JOIN suites s USING (suite_id) WHERE r.run_id = ?",
        [run_id],
    )
    row = df.iloc[0].to_dict()
    row["started_at"] = None if pd.isna(row["started_at"]) else str(row["started_at"])
    return row
