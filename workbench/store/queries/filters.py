"""The values each failure filter can take: the runs, suites, categories, checks, severities
and tags the failure browser's select boxes offer."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..store import Store
from .overview import runs


@dataclass
class FilterOptions:
    """The values each failure filter can take (what the select boxes offer)."""

    runs: pd.DataFrame
    suites: list[str]
    categories: list[str]
    checks: list[str]
    severities: list[str]
    tags: list[str]


def filter_options(store: Store) -> FilterOptions:
    with store.connect():  # one connection for the few small queries
        cats = store.query_df(
            "SELECT DISTINCT category, check_name, severity FROM findings ORDER BY ALL"
        )
        tags = store.query_df(
            "SELECT DISTINCT unnest(tags) AS tag FROM items WHERE tags IS NOT NULL ORDER BY tag"
        )
        run_df = runs(store)
    sev_order = {"high": 0, "medium": 1, "low": 2, "info": 3}
    return FilterOptions(
        runs=run_df,
        suites=sorted(set(run_df.suite_id.dropna())),
        categories=sorted(set(cats.category.dropna())),
        checks=sorted(set(cats.check_name.dropna())),
        severities=sorted(set(cats.severity.dropna()), key=lambda s: (sev_order.get(s, 9), s)),
        tags=[str(t) for t in tags.tag.dropna()],
    )
