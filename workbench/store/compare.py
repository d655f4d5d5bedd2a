"""Read-only queries behind `workbench compare`: paired outputs and per-item category status."""

from __future__ import annotations

import pandas as pd

from .store import Store, from_json


def category_table(store: Store, run_a: str, run_b: str) -> tuple[list[str], pd.DataFrame]:
    """Per item both runs answered: each run's output and, per error category, whether a
    finding of that category flagged it. Returns (categories, frame) where the frame has
    item_id, output_id_a, output_id_b and, for the i-th category, ``a{i}``/``b{i}``: True
    (flagged), False (judged, not flagged) or NULL (no judged finding). Ordered by item.

    Findings whose check raised (``error`` set) say nothing about the output and are left out.
    One row per item pair, not one per item and category: two runs of 500,000 items pair up in
    DuckDB in seconds.
    """
    cats = list(store.query_df(
        "SELECT DISTINCT category FROM findings WHERE run_id IN (?, ?) AND error IS NULL"
        " ORDER BY category", [run_a, run_b]).category)
    # the SQL holds only generated aliases (a0, b0, ...); category names are bound values
    agg = "".join(f", bool_or(flagged) FILTER (WHERE category = ?) AS c{i}"
                  for i in range(len(cats)))
    sel = "".join(f", fa.c{i} AS a{i}, fb.c{i} AS b{i}" for i in range(len(cats)))
    df = store.query_df(
        f"WITH f AS (SELECT run_id, output_id{agg} FROM findings"
        "   WHERE run_id IN (?, ?) AND error IS NULL GROUP BY run_id, output_id),"
        " o AS (SELECT run_id, output_id, item_id FROM outputs WHERE run_id IN (?, ?))"
        f" SELECT oa.item_id, oa.output_id AS output_id_a, ob.output_id AS output_id_b{sel}"
        " FROM o oa JOIN o ob ON ob.item_id = oa.item_id AND ob.run_id = ?"
        " LEFT JOIN f fa ON fa.output_id = oa.output_id AND fa.run_id = oa.run_id"
        " LEFT JOIN f fb ON fb.output_id = ob.output_id AND fb.run_id = ob.run_id"
        " WHERE oa.run_id = ? ORDER BY oa.item_id",
        [*cats, run_a, run_b, run_a, run_b, run_b, run_a],
    )
    return cats, df


def item_counts(store: Store, run_a: str, run_b: str) -> tuple[int, int, int]:
    """(items both runs answered, items only run A answered, items only run B answered)."""
    df = store.query_df(
        "SELECT count(*) FILTER (WHERE in_a AND in_b) AS shared,"
        " count(*) FILTER (WHERE in_a AND NOT in_b) AS only_a,"
        " count(*) FILTER (WHERE in_b AND NOT in_a) AS only_b"
        " FROM (SELECT item_id, bool_or(run_id = ?) AS in_a, bool_or(run_id = ?) AS in_b"
        "       FROM outputs WHERE run_id IN (?, ?) GROUP BY item_id)",
        [run_a, run_b, run_a, run_b],
    )
    return int(df.shared.iloc[0]), int(df.only_a.iloc[0]), int(df.only_b.iloc[0])


def metric_pairs(store: Store, run_a: str, run_b: str) -> pd.DataFrame:
    """The numeric per-sample metrics (``outputs.metrics`` JSON) of two runs, paired by metric
    and item: metric, item_id, output_id_a/_b, value_a/_b, ordered by metric, item.

    A value is a number or a boolean (as 0/1) and finite; metrics that are not JSON objects are
    skipped. A side is NULL where that run has no value of the metric for the item (an outer
    join, so a metric only one run reports still shows up).
    """
    return store.query_df(
        "WITH m AS (SELECT o.run_id, o.item_id, o.output_id, j.key AS metric,"
        "   CASE WHEN j.type = 'BOOLEAN' THEN (j.value = 'true')::DOUBLE"
        "   ELSE j.value::DOUBLE END AS value"
        "   FROM outputs o, json_each(CASE WHEN json_valid(o.metrics)"
        "     AND json_type(o.metrics) = 'OBJECT' THEN o.metrics ELSE '{}' END) j"
        "   WHERE o.run_id IN (?, ?) AND o.metrics IS NOT NULL"
        "   AND j.type IN ('BOOLEAN', 'BIGINT', 'UBIGINT', 'DOUBLE')),"
        " v AS (SELECT * FROM m WHERE isfinite(value)),"
        " a AS (SELECT * FROM v WHERE run_id = ?), b AS (SELECT * FROM v WHERE run_id = ?)"
        " SELECT coalesce(a.metric, b.metric) AS metric, coalesce(a.item_id, b.item_id) AS item_id,"
        " a.output_id AS output_id_a, b.output_id AS output_id_b,"
        " a.value AS value_a, b.value AS value_b"
        " FROM a FULL JOIN b ON b.metric = a.metric AND b.item_id = a.item_id"
        " ORDER BY metric, item_id",
        [run_a, run_b, run_a, run_b],
    )


def run_summary(store: Store, run_id: str) -> dict:
    """The fields of a run that a comparison reports (id, model, suite, status)."""
    df = store.query_df(
        "SELECT r.run_id, r.model_name, r.model_id, r.suite_id, s.name AS suite_name, r.status,"
        " r.started_at, r.versions, r.gen_config, m.kind AS model_kind FROM runs r"
        " LEFT JOIN suites s USING (suite_id) LEFT JOIN models m USING (model_id)"
        " WHERE r.run_id = ?",
        [run_id],
    )
    row = df.iloc[0].to_dict()
    row["started_at"] = None if pd.isna(row["started_at"]) else str(row["started_at"])
    versions = from_json(row.pop("versions")) or {}
    gen = from_json(row.pop("gen_config")) or {}
    kind = row.pop("model_kind")
    # where generation ran: recorded since runs name it; before, a served model was "openai"
    # and an lm-eval run names its lm-eval backend in its generation config
    row["backend"] = (versions.get("backend") or gen.get("backend")
                      or ("openai" if kind == "served" else "hf"))
    if versions.get("engine_version"):
        row["backend"] += f" {versions['engine_version']}"
    return row


def output_lengths(store: Store, run_a: str, run_b: str, short_words: int = 5) -> pd.DataFrame:
    """Output length over the items both runs answered, one row per run (``side`` 'a', 'b'):
    n, n_tokens (outputs with a token count), median_tokens (of those; NULL when none),
    median_words, and short (outputs of fewer than ``short_words`` words; an empty output has
    none). Words are runs of characters other than space, tab, newline and carriage return
    (split and filtered rather than matched by a regex: about three times faster)."""
    words = ("len(list_filter(string_split(translate(coalesce(text, ''), chr(9) || chr(10) ||"
             " chr(13), '   '), ' '), lambda w: w <> ''))")
    return store.query_df(
        "WITH s AS (SELECT item_id FROM outputs WHERE run_id IN (?, ?) GROUP BY item_id"
        "   HAVING bool_or(run_id = ?) AND bool_or(run_id = ?)),"
        f" o AS (SELECT 'a' AS side, tokens_out, {words} AS words FROM outputs"
        "   WHERE run_id = ? AND item_id IN (SELECT item_id FROM s)"
        f"   UNION ALL SELECT 'b', tokens_out, {words} FROM outputs"
        "   WHERE run_id = ? AND item_id IN (SELECT item_id FROM s))"
        " SELECT side, count(*) AS n, count(tokens_out) AS n_tokens,"
        " median(tokens_out) AS median_tokens, median(words) AS median_words,"
        " count(*) FILTER (WHERE words < ?) AS short FROM o GROUP BY side ORDER BY side",
        [run_a, run_b, run_a, run_b, run_a, run_b, short_words],
    )
