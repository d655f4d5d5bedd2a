"""Queries behind `workbench suggest`: a run's failures, and suggestion sets in and out."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .store import Store
from .values import from_json


def run_failures(store: Store, run_id: str, metrics: bool = True) -> pd.DataFrame:
    """Every flagged finding of a run with its output and item (one row per finding).

    With ``metrics``, also one row per output that a pass/fail task metric (every value of it in
    the run is 0 or 1: exact_match, answer, lm-eval acc...) scored 0, as category
    ``metric:<name>``: a wrong answer no check flags is a failure too.
    """
    findings = (
        "SELECT f.category, f.check_name, f.score, f.spans, f.message, f.evidence,"
        " o.output_id, o.item_id, o.text, o.finish_reason,"
        " i.prompt, i.context, i.reference, i.messages, i.split"
        " FROM findings f JOIN outputs o USING (output_id) JOIN runs r ON r.run_id = o.run_id"
        " LEFT JOIN items i ON i.suite_id = r.suite_id AND i.item_id = o.item_id"
        " WHERE f.run_id = ? AND f.flagged AND f.error IS NULL"
    )
    if not metrics:
        return store.query_df(findings + " ORDER BY f.category, o.item_id, f.check_name",
                              [run_id])
    metric_rows = (
        "m AS (SELECT o.output_id, t.k AS metric,"
        "  TRY_CAST(json_extract_string(o.metrics, '$.\"' || t.k || '\"') AS DOUBLE) AS v"
        "  FROM outputs o, unnest(json_keys(o.metrics)) AS t(k)"
        "  WHERE o.run_id = ? AND o.metrics IS NOT NULL),"
        " pass_fail AS (SELECT metric FROM m GROUP BY metric HAVING bool_and(v IN (0, 1)))"
    )
    wrong = (
        "SELECT 'metric:' || m.metric AS category, m.metric AS check_name, 1.0 AS score,"
        " NULL AS spans, 'the ' || m.metric || ' metric scored 0' AS message, NULL AS evidence,"
        " o.output_id, o.item_id, o.text, o.finish_reason,"
        " i.prompt, i.context, i.reference, i.messages, i.split"
        " FROM m JOIN pass_fail USING (metric) JOIN outputs o USING (output_id)"
        " JOIN runs r ON r.run_id = o.run_id"
        " LEFT JOIN items i ON i.suite_id = r.suite_id AND i.item_id = o.item_id"
        " WHERE m.v = 0"
    )
    df = store.query_df(
        f"WITH {metric_rows} SELECT * FROM ({findings} UNION ALL BY NAME {wrong})"
        " ORDER BY category, item_id, check_name",
        [run_id, run_id],
    )
    # missing values as None, as the findings-only query gives them (not NaN in a str column)
    return df.astype(object).where(df.notna(), None)


def category_rates(store: Store, run_id: str) -> pd.DataFrame:
    """Per category: items judged (by a check that did not raise) and items flagged."""
    return store.query_df(
        "SELECT f.category, count(DISTINCT o.item_id) AS checked,"
        " count(DISTINCT CASE WHEN f.flagged THEN o.item_id END) AS flagged"
        " FROM findings f JOIN outputs o USING (output_id)"
        " WHERE f.run_id = ? AND f.error IS NULL GROUP BY f.category ORDER BY f.category",
        [run_id],
    )


def split_outputs(store: Store, run_id: str, split: str) -> pd.DataFrame:
    """A run's outputs on the items of one split (e.g. 'train'), with their flagged categories."""
    return store.query_df(
        "SELECT o.output_id, o.item_id, o.text, o.finish_reason,"
        " coalesce(list(DISTINCT f.category) FILTER (WHERE f.flagged AND f.error IS NULL),"
        " []::VARCHAR[]) AS flagged"
        " FROM outputs o JOIN runs r USING (run_id)"
        " JOIN items i ON i.suite_id = r.suite_id AND i.item_id = o.item_id"
        " LEFT JOIN findings f ON f.output_id = o.output_id"
        " WHERE o.run_id = ? AND i.split = ? GROUP BY ALL ORDER BY o.item_id",
        [run_id, split],
    )


def save_set(store: Store, set_row: dict[str, Any], rows: pd.DataFrame) -> None:
    """Store a suggestion set and its rows in one transaction."""
    with store.transaction() as db:
        store.insert_df("suggestion_sets", pd.DataFrame([set_row]), db=db, or_ignore=False)
        if len(rows):
            store.insert_df("suggestions", rows, db=db, or_ignore=False)


def get_set(store: Store, ref: str) -> dict[str, Any]:
    """A suggestion set by id or unique prefix ('latest' is the newest)."""
    df = store.row_by_ref("suggestion_sets", "set_id", "created_at", ref, "suggestion set")
    row = df.iloc[0].to_dict()
    row["config"] = from_json(row.get("config"))
    return row


def sets_of_run(store: Store, run_id: str) -> list[dict[str, Any]]:
    """The suggestion sets drawn from a run, newest first, configs parsed."""
    df = store.query_df(
        "SELECT * FROM suggestion_sets WHERE run_id = ? ORDER BY created_at DESC, set_id",
        [run_id])
    rows = df.to_dict("records")
    for row in rows:
        row["config"] = from_json(row.get("config"))
    return rows


def list_sets(store: Store) -> pd.DataFrame:
    return store.query_df("SELECT * FROM suggestion_sets ORDER BY created_at")


def set_rows(store: Store, set_id: str) -> pd.DataFrame:
    """The suggestions of a set, in the order they were exported."""
    return store.query_df(
        "SELECT * FROM suggestions WHERE set_id = ? ORDER BY suggestion_id", [set_id]
    )


def set_messages(store: Store, set_id: str) -> list[dict[str, Any]]:
    """The set as training records: [{"messages": [...]}, ...] (what the exported JSONL holds)."""
    return [{"messages": from_json(m)} for m in set_rows(store, set_id).messages]
