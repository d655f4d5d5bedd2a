"""Suggestion sets and their suggestions, paged and filtered by the categories they target."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..store import Store
from ..values import from_json
from .sql import Filter, filter_values, json_or_text


def suggestion_sets(store: Store) -> pd.DataFrame:
    """Suggestion sets, newest first, with the run they came from."""
    df = store.query_df(
        "SELECT ss.set_id, ss.run_id, r.model_name, r.suite_id, ss.pool, ss.n_suggestions,"
        " ss.n_dropped_contaminated, ss.export_path, ss.created_at, ss.config,"
        " (SELECT count(*) FROM suggestions g WHERE g.set_id = ss.set_id) AS stored"
        " FROM suggestion_sets ss LEFT JOIN runs r ON r.run_id = ss.run_id"
        " ORDER BY ss.created_at DESC, ss.set_id"
    )
    df["config"] = [from_json(c) for c in df.config]
    return df


# every category an example targets: its own, and those its provenance records (the categories
# of a prompt picked for several failures, and each targeted failure's category)
_TARGETS = ("list_filter(list_distinct(list_concat([category],"
            " coalesce(json_extract_string(_p, '$.categories[*]'), []),"
            " coalesce(json_extract_string(_p, '$.failures[*].category'), []))),"
            " lambda c: c IS NOT NULL)")
_WITH_P = ("(SELECT *, CASE WHEN json_valid(provenance) AND json_type(provenance) = 'OBJECT'"
           " THEN provenance ELSE '{}' END AS _p FROM suggestions WHERE set_id = ?)")


def suggestions(store: Store, set_id: str, *, category: Filter = None, limit: int = 50,
                offset: int = 0) -> tuple[int, pd.DataFrame]:
    """One page of a set's suggestions: (total, rows) with provenance parsed from JSON and
    ``categories``, every category the example targets. A category filter matches any of them.
    """
    params: list[Any] = [set_id]
    where = ""
    if vals := filter_values(category):
        where = " WHERE list_has_any(categories, ?::VARCHAR[])"
        params.append(vals)
    base = f"(SELECT *, {_TARGETS} AS categories FROM {_WITH_P})"
    with store.connect():
        total = int(store.query_df(f"SELECT count(*) AS n FROM {base}" + where,
                                   params).n.iloc[0])
        df = store.query_df(
            "SELECT suggestion_id, category, categories, prompt, target, source_item_ids,"
            f" source_output_ids, pool_row, similarity, repaired, provenance FROM {base}" + where
            + " ORDER BY category, suggestion_id LIMIT ? OFFSET ?",
            [*params, max(1, int(limit)), max(0, int(offset))],
        )
    df["provenance"] = [json_or_text(p) for p in df.provenance]
    df["categories"] = [[str(c) for c in cats] if cats is not None else [] for cats in
                        df.categories]
    return total, df


def suggestion_categories(store: Store, set_id: str) -> pd.DataFrame:
    """Examples per category, counting every category an example targets (an example made for
    a hallucination and a misspelling counts in both): category, n, and ``primary`` (examples
    filed under it)."""
    return store.query_df(
        f"SELECT c AS category, count(*) AS n, count(*) FILTER (WHERE c = category) AS primary"
        f" FROM (SELECT category, unnest({_TARGETS}) AS c FROM {_WITH_P})"
        " GROUP BY c ORDER BY c",
        [set_id],
    )
