"""Runs side by side: outputs by id, the item-by-run matrix and the per-sample metric names.
Which items were fixed or regressed is decided in workbench.compare.compare (compare_runs); the
dashboard only reads the texts of the items it shows."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from ..store import Store
from .sql import filter_values, in_clause, parse_metrics


def outputs_by_id(store: Store, output_ids: Iterable[str]) -> pd.DataFrame:
    """These outputs with their run, tokens, latency, parsed metrics, item prompt, reference and
    context (in no set order)."""
    ids = list(dict.fromkeys(output_ids))
    if not ids:
        return pd.DataFrame(columns=["output_id", "run_id", "item_id", "text", "finish_reason",
                                     "rendered_prompt", "model_name", "prompt", "reference",
                                     "context"])
    params: list[Any] = []
    df = store.query_df(
        "SELECT o.output_id, o.run_id, o.item_id, o.text, o.finish_reason, o.rendered_prompt,"
        " o.tokens_in, o.tokens_out, o.latency_s, o.cached, o.metrics,"
        " r.model_name, i.prompt, i.reference, i.context"
        " FROM outputs o JOIN runs r ON r.run_id = o.run_id"
        " LEFT JOIN items i ON i.suite_id = r.suite_id AND i.item_id = o.item_id"
        " WHERE " + in_clause("o.output_id", ids, params),
        params,
    )
    df["metrics"] = [parse_metrics(m) for m in df.metrics]
    return df


def run_matrix(store: Store, run_ids: Sequence[str], *, category: str | None = None,
               metric: str | None = None) -> pd.DataFrame:
    """Many runs side by side, in long form: one row per (item, run) that the runs answered,
    with ``flagged`` (the output's flagged categories, a list), ``failed`` (flagged in
    ``category``, or in any category when None) and, with ``metric``, ``value`` (that
    per-sample metric as a number; NULL when the output has none).

    Reads only the outputs of these runs, by run, and their stored flagged categories: no join
    with the findings.
    """
    ids = filter_values(list(run_ids))
    if not ids:
        return pd.DataFrame(columns=["item_id", "run_id", "output_id", "flagged", "failed",
                                     "value"])
    params: list[Any] = []
    failed = "(o.flagged_categories IS NOT NULL AND len(o.flagged_categories) > 0)"
    if category:
        failed = "coalesce(list_contains(o.flagged_categories, ?), false)"
        params.append(category)
    value = "NULL::DOUBLE"
    if metric:
        # the metric's name is a bound JSON path; a boolean reads as 0/1, text as NULL
        value = ("CASE WHEN NOT json_valid(o.metrics) THEN NULL"
                 " WHEN json_type(o.metrics, ?) = 'BOOLEAN'"
                 " THEN (json_extract_string(o.metrics, ?) = 'true')::DOUBLE"
                 " ELSE TRY_CAST(json_extract_string(o.metrics, ?) AS DOUBLE) END")
        params.extend(["$." + json.dumps(str(metric))] * 3)
    where = in_clause("o.run_id", ids, params)
    return store.query_df(
        f"SELECT o.item_id, o.run_id, o.output_id, o.flagged_categories AS flagged,"
        f" {failed} AS failed, {value} AS value FROM outputs o WHERE {where}"
        " ORDER BY o.item_id, o.run_id",
        params,
    )


def metric_names(store: Store, run_ids: Sequence[str]) -> list[str]:
    """The per-sample metric names the outputs of these runs hold (numbers and booleans)."""
    ids = filter_values(list(run_ids))
    if not ids:
        return []
    params: list[Any] = []
    df = store.query_df(
        "SELECT DISTINCT j.key AS name FROM (SELECT metrics FROM outputs WHERE "
        + in_clause("run_id", ids, params) + " AND metrics IS NOT NULL AND json_valid(metrics)"
        " AND json_type(metrics) = 'OBJECT' USING SAMPLE 2000 ROWS) o, json_each(o.metrics) j"
        " WHERE j.type IN ('BOOLEAN', 'BIGINT', 'UBIGINT', 'DOUBLE') ORDER BY name",
        params,
    )
    return [str(n) for n in df.name]
