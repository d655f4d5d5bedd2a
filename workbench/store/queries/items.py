"""One item across every run: the suites that hold it, its row, its outputs and samples, and the
suggestions made from it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from ..store import Store
from .sql import in_clause, json_or_text, parse_metrics


def item_suites(store: Store, item_id: str) -> pd.DataFrame:
    """The suites that hold an item with this id or have an output for it: suite_id, name,
    ``stored`` (the item itself is in the items table) and ``n_runs`` (runs that answered it)."""
    return store.query_df(
        "WITH a AS (SELECT suite_id, true AS stored, 0 AS n FROM items WHERE item_id = ?"
        "   UNION ALL SELECT r.suite_id, false, count(*) FROM outputs o"
        "   JOIN runs r ON r.run_id = o.run_id WHERE o.item_id = ? GROUP BY r.suite_id)"
        " SELECT a.suite_id, s.name, bool_or(a.stored) AS stored, sum(a.n)::BIGINT AS n_runs"
        " FROM a LEFT JOIN suites s ON s.suite_id = a.suite_id"
        " GROUP BY a.suite_id, s.name ORDER BY a.suite_id",
        [item_id, item_id],
    )


def item(store: Store, suite_id: str, item_id: str) -> dict[str, Any] | None:
    """One item of a suite (prompt, messages, reference, context, tags, split, meta), or None."""
    df = store.query_df(
        "SELECT suite_id, item_id, prompt, messages, reference, context, tags, split, meta"
        " FROM items WHERE suite_id = ? AND item_id = ?", [suite_id, item_id])
    if df.empty:
        return None
    row = df.iloc[0].to_dict()
    row["tags"] = [] if row["tags"] is None or isinstance(row["tags"], float) \
        else [str(t) for t in row["tags"]]
    return row


def item_outputs(store: Store, suite_id: str, item_id: str) -> pd.DataFrame:
    """Every run's output for one item of a suite, oldest run first: the output's text, prompt
    as rendered, tokens, latency, finish reason, parsed per-sample metrics, and its run and
    model."""
    df = store.query_df(
        "SELECT o.output_id, o.run_id, o.item_id, o.text, o.rendered_prompt, o.tokens_in,"
        " o.tokens_out, o.latency_s, o.finish_reason, o.cached, o.metrics, r.model_name,"
        " r.model_id, r.status, r.started_at"
        " FROM outputs o JOIN runs r ON r.run_id = o.run_id"
        " WHERE o.item_id = ? AND r.suite_id = ? ORDER BY r.started_at, r.run_id",
        [item_id, suite_id],
    )
    df["metrics"] = [parse_metrics(m) for m in df.metrics]
    return df


def output_samples(store: Store, output_ids: Iterable[str]) -> pd.DataFrame:
    """The further samples (1..K-1) of these outputs: output_id, sample, text, finish_reason,
    tokens_out; by output and sample."""
    ids = list(dict.fromkeys(output_ids))
    if not ids:
        return pd.DataFrame(columns=["output_id", "sample", "text", "finish_reason",
                                     "tokens_out"])
    params: list[Any] = []
    return store.query_df(
        "SELECT output_id, sample, text, finish_reason, tokens_out FROM samples WHERE "
        + in_clause("output_id", ids, params) + " ORDER BY output_id, sample", params)


def item_suggestions(store: Store, item_id: str, suite_id: str | None = None) -> pd.DataFrame:
    """The suggestions built to target this item (it is among their source items), with the set
    and its run; with ``suite_id``, only sets made from a run of that suite (or of no run)."""
    params: list[Any] = [item_id]
    where = ""
    if suite_id:
        where = " AND (r.suite_id = ? OR r.suite_id IS NULL)"
        params.append(suite_id)
    df = store.query_df(
        "SELECT g.suggestion_id, g.set_id, g.category, g.prompt, g.target, g.similarity,"
        " g.source_item_ids, g.source_output_ids, g.provenance, ss.run_id, r.model_name"
        " FROM suggestions g LEFT JOIN suggestion_sets ss ON ss.set_id = g.set_id"
        " LEFT JOIN runs r ON r.run_id = ss.run_id"
        " WHERE list_contains(g.source_item_ids, ?)" + where
        + " ORDER BY ss.created_at DESC, g.set_id, g.suggestion_id",
        params,
    )
    df["provenance"] = [json_or_text(p) for p in df.provenance]
    return df
