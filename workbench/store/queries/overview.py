"""The overview: models, runs with their status and label, category rates, totals, and the
database's data version (what a cached read depends on)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..store import Store
from ..values import INTERRUPTED, from_json, shown_status, with_shown_status
from .sql import Filter, filter_values, in_clause


def models(store: Store) -> pd.DataFrame:
    """Registered models with their parent's name and the lineage chain (base -> ... -> model)."""
    df = store.query_df(
        "SELECT m.model_id, m.name, m.kind, m.spec, m.base, m.adapter, m.parent_id,"
        " p.name AS parent_name, m.created_at"
        " FROM models m LEFT JOIN models p ON p.model_id = m.parent_id"
        " ORDER BY m.created_at, m.name"
    )
    by_id = dict(zip(df.model_id, zip(df.name, df.parent_id, strict=True), strict=True))

    def chain(model_id: str) -> str:
        names, seen, cur = [], set(), model_id
        while cur is not None and cur in by_id and cur not in seen:  # guard against cycles
            seen.add(cur)
            name, parent = by_id[cur]
            names.append(str(name))
            cur = parent if isinstance(parent, str) else None
        if cur is not None and cur not in by_id:
            names.append(cur[:10])  # a parent that is not registered: show its id
        return " -> ".join(reversed(names))

    df["lineage"] = [chain(m) for m in df.model_id]
    return df


def runs(store: Store, suite_id: str | None = None) -> pd.DataFrame:
    """Runs with model, suite, output count and the number of outputs with a flagged finding."""
    params: list[Any] = []
    where = ""
    if suite_id:
        where = " WHERE r.suite_id = ?"
        params.append(suite_id)
    df = store.query_df(
        "WITH o AS (SELECT run_id, count(*) AS n_outputs FROM outputs GROUP BY run_id),"
        " f AS (SELECT run_id, count(DISTINCT output_id) AS n_flagged FROM findings"
        "       WHERE flagged GROUP BY run_id)"
        " SELECT r.run_id, r.model_name, r.model_id, m.kind AS model_kind, s.name AS suite,"
        " r.suite_id, r.status, r.started_at, r.finished_at, r.metrics,"
        " coalesce(o.n_outputs, 0) AS n_outputs, coalesce(f.n_flagged, 0) AS n_flagged,"
        " r.versions FROM runs r LEFT JOIN suites s ON s.suite_id = r.suite_id"
        " LEFT JOIN models m ON m.model_id = r.model_id"
        " LEFT JOIN o ON o.run_id = r.run_id LEFT JOIN f ON f.run_id = r.run_id"
        + where + " ORDER BY r.started_at, r.run_id",
        params,
    )
    df = with_shown_status(df)  # 'interrupted': left running by a process that is gone
    df["metrics"] = [from_json(m) or {} for m in df.metrics]
    df["label"] = [run_label(r) for r in df.itertuples()]
    return df


def run_label(row: Any) -> str:
    """A short human label for a run row: 'model · suite · run_id[:8]'."""
    return f"{row.model_name} · {row.suite or row.suite_id} · {row.run_id[:8]}"


def category_rates(store: Store, run_ids: Filter = None) -> pd.DataFrame:
    """Per run and category: outputs checked, outputs flagged, and the error rate."""
    params: list[Any] = []
    where = ""
    ids = filter_values(run_ids)
    if ids:
        where = " WHERE " + in_clause("run_id", ids, params)
    cols = ["run_id", "category", "checked", "flagged", "rate"]
    with store.connect():
        # An output has one finding per check, so per check plain counts are output counts.
        # count(DISTINCT output_id) is many times slower at millions of rows: it is only
        # run for the categories that several checks report on.
        per_check = store.query_df(
            "SELECT run_id, category, check_name, count(*) AS checked,"
            " count(*) FILTER (WHERE flagged) AS flagged FROM findings" + where
            + " GROUP BY ALL", params)
        n_checks = per_check.groupby(["run_id", "category"]).check_name.transform("size")
        single = per_check[n_checks == 1][["run_id", "category", "checked", "flagged"]]
        multi = per_check[n_checks > 1][["run_id", "category"]].drop_duplicates()
        parts = [single]
        for run, cat in multi.itertuples(index=False):
            parts.append(store.query_df(
                "SELECT run_id, category, count(DISTINCT output_id) AS checked,"
                " count(DISTINCT output_id) FILTER (WHERE flagged) AS flagged FROM findings"
                " WHERE run_id = ? AND category = ? GROUP BY ALL", [run, cat]))
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols[:4])
    if df.empty:
        return pd.DataFrame(columns=cols)
    df["rate"] = df.flagged / df.checked
    return df.sort_values(["run_id", "category"]).reset_index(drop=True)[cols]


def totals(store: Store) -> dict[str, int]:
    """Headline counts for the overview."""
    df = store.query_df(
        "SELECT (SELECT count(*) FROM models) AS models, (SELECT count(*) FROM runs) AS runs,"
        " (SELECT count(*) FROM outputs) AS outputs,"
        " (SELECT count(DISTINCT output_id) FROM findings WHERE flagged) AS flagged_outputs,"
        " (SELECT count(*) FROM findings WHERE flagged) AS flagged_findings,"
        " (SELECT count(*) FROM suggestions) AS suggestions,"
        " (SELECT count(*) FROM trainings) AS trainings"
    )
    return {k: int(v) for k, v in df.iloc[0].items()}


def data_version(store: Store) -> tuple:
    """A cheap fingerprint of the database's contents: it changes when rows are added, a run
    finishes or findings are replaced, so a reader can cache results until it changes."""
    row = store.query_df(
        "SELECT (SELECT count(*) FROM models) AS models, (SELECT count(*) FROM runs) AS runs,"
        " (SELECT string_agg(run_id || status || coalesce(finished_at::VARCHAR, ''), ','"
        "   ORDER BY run_id) FROM runs) AS run_states,"
        " (SELECT count(*) FROM items) AS items, (SELECT count(*) FROM outputs) AS outputs,"
        " (SELECT count(*) FROM findings) AS findings,"
        " (SELECT max(rowid) FROM findings) AS findings_rowid,"  # moves when findings are replaced
        " (SELECT count(*) FROM suggestions) AS suggestions,"
        " (SELECT count(*) FROM suggestion_sets) AS sets,"
        " (SELECT count(*) FROM trainings) AS trainings,"
        " (SELECT string_agg(training_id || coalesce(status, ''), ',' ORDER BY training_id)"
        "   FROM trainings) AS training_states,"
        " (SELECT count(*) FROM verdicts) AS verdicts"
    ).iloc[0]
    # a run whose process died reads 'interrupted' with no write to the file: count those too
    running = store.query_df("SELECT run_id, versions FROM runs WHERE status = 'running'")
    gone = ",".join(sorted(r for r, v in zip(running.run_id, running.versions, strict=True)
                           if shown_status("running", v) == INTERRUPTED))
    return (*(None if pd.isna(v) else (v.item() if hasattr(v, "item") else v)
              for v in row.tolist()), gone)
