"""Human verdicts on the checks: a reviewer marks a flagged finding right or wrong, or an output
as missing a category; each check's precision on the project's own data is measured from them.

The verdicts table is append-only: the latest verdict on an (output, check, category) counts.
Recording one is a single short write transaction, safe while a run writes to the same file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from ..errors import ConfigError
from .store import Store
from .values import new_id

VERDICTS = ("right", "wrong", "missing")

# the latest verdict per (output, check, category); check '' stands for NULL (a missing category)
_LATEST = ("SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY output_id,"
           " coalesce(check_name, ''), category ORDER BY created_at DESC, verdict_id DESC) AS _n"
           " FROM verdicts{where}) WHERE _n = 1")


def record_verdict(store: Store, output_id: str, category: str, verdict: str, *,
                   check_name: str | None = None, reviewer: str | None = None,
                   note: str | None = None) -> str:
    """Store one verdict and return its id. 'right'/'wrong' judge the finding of ``check_name``
    on the output; 'missing' says the output has an error of ``category`` that no check
    flagged (no check name). Raises ConfigError on an unknown verdict or output."""
    if verdict not in VERDICTS:
        raise ConfigError(f"unknown verdict {verdict!r}: one of {', '.join(VERDICTS)}")
    if verdict != "missing" and not check_name:
        raise ConfigError("a 'right' or 'wrong' verdict judges one check's finding: name it")
    if not category:
        raise ConfigError("a verdict needs a category")
    verdict_id = "v-" + new_id()
    with store.transaction() as db:
        row = db.execute("SELECT run_id FROM outputs WHERE output_id = ?", [output_id]).fetchone()
        if row is None:
            raise ConfigError(f"no output {output_id!r}")
        db.execute(
            "INSERT INTO verdicts (verdict_id, output_id, run_id, check_name, category, verdict,"
            " reviewer, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())",
            [verdict_id, output_id, row[0], None if verdict == "missing" else check_name,
             category, verdict, reviewer, note],
        )
    return verdict_id


def count_verdicts(store: Store) -> int:
    """How many verdicts are stored (cheap: the overview asks before measuring precision)."""
    return int(store.query_df("SELECT count(*) AS n FROM verdicts").n.iloc[0])


def latest_verdicts(store: Store, output_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """The verdict that counts on each (output, check, category), for these outputs (all when
    None): verdict_id, output_id, run_id, check_name, category, verdict, reviewer, note,
    created_at."""
    params: list[Any] = []
    where = ""
    if output_ids is not None:
        ids = list(dict.fromkeys(output_ids))
        if not ids:
            ids = [""]
        where = f" WHERE output_id IN ({', '.join('?' for _ in ids)})"
        params = ids
    return store.query_df(
        "SELECT verdict_id, output_id, run_id, check_name, category, verdict, reviewer, note,"
        " created_at FROM (" + _LATEST.format(where=where) + ") ORDER BY output_id, check_name,"
        " category", params)


def check_precision(store: Store, run_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Per check and category, from the latest verdicts on its flagged findings: ``reviewed``,
    ``right``, ``wrong``, ``precision`` (right / reviewed; NULL when none is reviewed),
    ``flagged`` (the findings it flagged in these runs) and ``missing`` (outputs a reviewer
    marked as missing the category: errors no check flagged). Only verdicts on findings that
    are still flagged count (a re-run check may have changed its mind)."""
    params: list[Any] = []
    run_where = ""
    if run_ids:
        ids = list(run_ids)
        run_where = f" AND f.run_id IN ({', '.join('?' for _ in ids)})"
        params.extend(ids)
    flagged = store.query_df(
        "SELECT f.check_name, f.category, count(*) AS flagged,"
        " count(v.verdict) AS reviewed,"
        " count(*) FILTER (WHERE v.verdict = 'right') AS right,"
        " count(*) FILTER (WHERE v.verdict = 'wrong') AS wrong"
        " FROM findings f LEFT JOIN (" + _LATEST.format(where=" WHERE verdict <> 'missing'")
        + ") v ON v.output_id = f.output_id AND v.check_name = f.check_name"
        " AND v.category = f.category"
        " WHERE f.flagged" + run_where + " GROUP BY ALL ORDER BY f.category, f.check_name",
        params,
    )
    miss_params: list[Any] = []
    miss_where = " WHERE verdict = 'missing'"
    if run_ids:
        ids = list(run_ids)
        miss_where += f" AND run_id IN ({', '.join('?' for _ in ids)})"
        miss_params.extend(ids)
    missing = store.query_df(
        "SELECT category, count(*) AS missing FROM (" + _LATEST.format(where=miss_where)
        + ") GROUP BY category", miss_params)
    df = flagged.merge(missing, on="category", how="outer")
    for col in ("flagged", "reviewed", "right", "wrong", "missing"):
        df[col] = df[col].fillna(0).astype(int)
    df["check_name"] = df["check_name"].astype(object).where(df["check_name"].notna(), None)
    df["precision"] = [r / n if n else None for r, n in zip(df.right, df.reviewed, strict=True)]
    return df[["check_name", "category", "flagged", "reviewed", "right", "wrong", "precision",
               "missing"]].sort_values(["category", "check_name"], na_position="last"
                                       ).reset_index(drop=True)


def run_verdicts(store: Store, run_id: str) -> pd.DataFrame:
    """The verdicts that count on one run's outputs (what `workbench export` writes)."""
    return store.query_df(
        "SELECT output_id, check_name, category, verdict FROM ("
        + _LATEST.format(where=" WHERE run_id = ?") + ") ORDER BY output_id", [run_id])
