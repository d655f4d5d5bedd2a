"""Writes and reads for lm-eval runs: the per-sample record lm-eval logs, beside outputs."""

from __future__ import annotations

import pandas as pd

from .store import Store
from .values import from_json


def add_lmeval_results(
    store: Store, outputs: pd.DataFrame, samples: pd.DataFrame, findings: pd.DataFrame | None = None
) -> None:
    """Store an lm-eval run's outputs, lm-eval's sample records and findings in one transaction."""
    with store.transaction() as db:
        store.insert_outputs(db, outputs, findings)
        store.insert_df("lmeval_samples", samples, db=db)
        if findings is not None and len(findings):
            store.insert_df("findings", findings, db=db)


def run_samples(store: Store, run_id: str, task: str | None = None) -> pd.DataFrame:
    """lm-eval's sample records of a run (JSON columns decoded), joined with the output text."""
    sql = (
        "SELECT s.*, o.text, o.rendered_prompt, i.reference FROM lmeval_samples s"
        " JOIN outputs o USING (output_id) JOIN runs r ON r.run_id = s.run_id"
        " LEFT JOIN items i ON i.suite_id = r.suite_id AND i.item_id = s.item_id"
        " WHERE s.run_id = ?"
    )
    params: list = [run_id]
    if task is not None:
        sql += " AND s.task = ?"
        params.append(task)
    df = store.query_df(sql + " ORDER BY s.task, s.doc_id", params)
    for col in ("target", "arguments", "resps", "filtered_resps", "metrics"):
        df[col] = [from_json(v) for v in df[col]]
    return df
