"""The Store: the one class that owns the DuckDB database.

Every read and write in workbench goes through it: models, suites and items, runs, outputs and
their findings. Its connections (``DatabaseFile``, database.py) are short-lived: one transaction
per write, retried while another process holds the file's lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ..errors import NotFoundError
from .database import DatabaseFile
from .values import from_json, new_id, shown_status, to_json, with_shown_status


def _flagged_categories(source: str, scope: str = "") -> str:
    """Per output of ``source`` (a findings table or frame): the sorted categories of its
    flagged findings, as ``output_id, cats``."""
    return ("SELECT output_id, list(DISTINCT category ORDER BY category) AS cats"
            f" FROM {source} WHERE flagged{' AND ' + scope if scope else ''} GROUP BY output_id")


def refresh_flagged_categories(db: duckdb.DuckDBPyConnection, output_ids: list[str] | None,
                               run_id: str | None = None) -> None:
    """Recompute ``outputs.flagged_categories`` from the stored findings of these outputs (or
    of every output of ``run_id``)."""
    if output_ids is not None:
        db.register("_wb_ids", pd.DataFrame({"output_id": output_ids}))
        scope, params = "output_id IN (SELECT output_id FROM _wb_ids)", []
    else:
        scope, params = "run_id = ?", [run_id]
    try:
        db.execute(
            "UPDATE outputs SET flagged_categories = f.cats FROM ("
            + _flagged_categories("findings", scope) + ") f"
            " WHERE f.output_id = outputs.output_id",
            params,
        )
    finally:
        if output_ids is not None:
            db.unregister("_wb_ids")


# per category of one run's findings: outputs checked, outputs flagged, findings with an error
_CATEGORY_COUNTS = (
    "SELECT category, count(DISTINCT output_id) AS checked,"
    " count(DISTINCT CASE WHEN flagged THEN output_id END) AS flagged,"
    " count(*) FILTER (WHERE error IS NOT NULL) AS errors"
    " FROM findings WHERE run_id = ? GROUP BY category ORDER BY category"
)


def _counts(rows: Any) -> dict[str, dict[str, int]]:
    """{category: {checked, flagged, errors}} from the rows of ``_CATEGORY_COUNTS``."""
    return {str(c): {"checked": int(a), "flagged": int(b), "errors": int(e)}
            for c, a, b, e in rows}


class Store(DatabaseFile):
    """Owns the database file. Every read and write in workbench goes through a Store."""

    # -- models -----------------------------------------------------------------------------
    def upsert_model(self, model_id: str, name: str, *, spec: str | None = None,
                     base: str | None = None, adapter: str | None = None,
                     parent_id: str | None = None, kind: str = "full",
                     meta: dict[str, Any] | None = None) -> str:
        with self.transaction() as db:
            row = db.execute("SELECT model_id FROM models WHERE model_id = ?", [model_id]).fetchone()
            if row:
                # the name a training gave its model stays: it is the lineage's (a run names
                # the model its own way in its runs row)
                db.execute(
                    "UPDATE models SET name = CASE WHEN trained THEN name ELSE ? END,"
                    " spec = CASE WHEN trained THEN spec ELSE coalesce(?, spec) END,"
                    " parent_id = coalesce(?, parent_id) FROM (SELECT model_id AS id,"
                    " json_extract_string(meta, '$.training_id') IS NOT NULL AS trained"
                    " FROM models) t WHERE t.id = models.model_id AND model_id = ?",
                    [name, spec, parent_id, model_id],
                )
            else:
                db.execute(
                    "INSERT INTO models (model_id, name, spec, base, adapter, parent_id, kind, meta)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [model_id, name, spec, base, adapter, parent_id, kind, to_json(meta)],
                )
        return model_id

    def get_model(self, ref: str) -> dict[str, Any]:
        """A model by id, id prefix or name (the most recent with that name)."""
        df = self.query_df(
            "SELECT * FROM models WHERE model_id = ? OR model_id LIKE ? || '%' OR name = ? "
            "ORDER BY (model_id = ?) DESC, created_at DESC LIMIT 1",
            [ref, ref, ref, ref],
        )
        if df.empty:
            raise NotFoundError(f"no model {ref!r} in {self.path}")
        return df.iloc[0].to_dict()

    def list_models(self) -> pd.DataFrame:
        return self.query_df("SELECT * FROM models ORDER BY created_at")

    # -- suites and items -------------------------------------------------------------------
    def upsert_suite(self, suite_id: str, name: str, source: str, path: str | None,
                     fingerprint: str, config: dict[str, Any] | None,
                     items: pd.DataFrame) -> str:
        """Record a suite version and its items (idempotent: the id includes the fingerprint)."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO suites (suite_id, name, source, path, fingerprint, config) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [suite_id, name, source, path, fingerprint, to_json(config)],
            )
            items = items.copy()
            items["suite_id"] = suite_id
            self.insert_df("items", items, db=db)
        return suite_id

    def suite_items(self, suite_id: str, split: str | None = None) -> pd.DataFrame:
        sql = "SELECT * FROM items WHERE suite_id = ?"
        params: list[Any] = [suite_id]
        if split:
            sql += " AND split = ?"
            params.append(split)
        return self.query_df(sql + " ORDER BY item_id", params)

    def get_suite(self, suite_id: str) -> dict[str, Any]:
        df = self.query_df("SELECT * FROM suites WHERE suite_id = ?", [suite_id])
        if df.empty:
            raise NotFoundError(f"no suite {suite_id!r}")
        return df.iloc[0].to_dict()

    # -- runs -------------------------------------------------------------------------------
    def start_run(self, *, model_id: str, model_name: str, suite_id: str, config_key: str,
                  gen_config: dict[str, Any], seed: int | None,
                  versions: dict[str, Any] | None = None,
                  owner: dict[str, Any] | None = None) -> tuple[str, bool]:
        """Resume the unfinished run with the same identity, or start a new one.

        The run records its owner (this process unless ``owner`` is given) beside the library
        versions, so a run left 'running' by a process that died shows as interrupted.
        Returns (run_id, resumed).
        """
        from ..owner import this_process

        versions = {**(versions or {}), "owner": owner or this_process()}
        with self.transaction() as db:
            row = db.execute(
                "SELECT run_id FROM runs WHERE config_key = ? AND status <> 'finished' "
                "ORDER BY started_at DESC LIMIT 1",
                [config_key],
            ).fetchone()
            if row:
                db.execute(
                    "UPDATE runs SET status = 'running', error = NULL, versions = ?"
                    " WHERE run_id = ?", [to_json(versions), row[0]]
                )
                return row[0], True
            run_id = new_id()
            db.execute(
                "INSERT INTO runs (run_id, model_id, model_name, suite_id, config_key, gen_config,"
                " status, seed, started_at, versions) VALUES (?, ?, ?, ?, ?, ?, 'running', ?,"
                " current_timestamp, ?)",
                [run_id, model_id, model_name, suite_id, config_key, to_json(gen_config), seed,
                 to_json(versions)],
            )
            return run_id, False

    def path_exists(self) -> bool:
        """Whether the database exists yet (an in-memory one always does)."""
        return self._memory or Path(self.path).exists()

    def finished_run(self, config_key: str) -> dict[str, Any] | None:
        """The newest finished run with this identity: its row, parsed metrics, output count and
        findings per category ({category: {checked, flagged, errors}}), read on one connection."""
        with self.connect() as db:
            row = db.execute(
                "SELECT r.run_id, r.model_id, r.model_name, r.metrics,"
                " (SELECT count(*) FROM outputs o WHERE o.run_id = r.run_id) AS n_outputs"
                " FROM runs r WHERE r.config_key = ? AND r.status = 'finished'"
                " ORDER BY r.finished_at DESC LIMIT 1",
                [config_key],
            ).fetchone()
            if row is None:
                return None
            metrics = from_json(row[3]) or {}
            counts = _counts(db.execute(_CATEGORY_COUNTS, [row[0]]).fetchall())
        return {"run_id": row[0], "model_id": row[1], "model_name": row[2],
                "metrics": metrics, "n_outputs": int(row[4]), "findings": counts}

    def finish_run(self, run_id: str, metrics: dict[str, Any] | None = None,
                   status: str = "finished", error: str | None = None) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET status = ?, metrics = ?, error = ?, "
                "finished_at = current_timestamp WHERE run_id = ?",
                [status, to_json(metrics), error, run_id],
            )

    def resolve_run(self, ref: str) -> str:
        """A run id from an id or unique prefix ('latest' is the most recent run)."""
        return str(self.row_by_ref("runs", "run_id", "started_at", ref, "run").run_id.iloc[0])

    def row_by_ref(self, table: str, key: str, newest: str, ref: str, what: str,
                   columns: str = "*") -> pd.DataFrame:
        """The one row of ``table`` whose ``key`` is ``ref`` or starts with it ('latest': the
        newest by ``newest``), as a one-row frame; none or several raise NotFoundError."""
        if ref == "latest":
            df = self.query_df(f"SELECT {columns} FROM {table} ORDER BY {newest} DESC LIMIT 1")
        else:
            df = self.query_df(
                f"SELECT {columns} FROM {table} WHERE {key} LIKE ? || '%' ORDER BY {newest} DESC",
                [ref],
            )
        if df.empty:
            raise NotFoundError(f"no {what} {ref!r} in {self.path}")
        if len(df) > 1 and ref not in set(df[key]):
            raise NotFoundError(f"{what} prefix {ref!r} is ambiguous ({len(df)} match)")
        exact = df[df[key] == ref]
        return exact.iloc[:1] if len(exact) else df.iloc[:1]

    def get_run(self, ref: str) -> dict[str, Any]:
        run_id = self.resolve_run(ref)
        df = self.query_df(
            "SELECT r.*, s.name AS suite_name, s.source AS suite_source, m.name AS model_registered_name"
            " FROM runs r LEFT JOIN suites s USING (suite_id) LEFT JOIN models m USING (model_id)"
            " WHERE run_id = ?",
            [run_id],
        )
        row = df.iloc[0].to_dict()
        for k in ("gen_config", "versions", "metrics"):
            row[k] = from_json(row.get(k))
        row["status"] = shown_status(row["status"], row["versions"])
        return row

    def list_runs(self) -> pd.DataFrame:
        """Every run, oldest first; a 'running' run whose process is gone reads 'interrupted'."""
        return with_shown_status(self.query_df(
            "SELECT r.run_id, r.model_name, r.model_id, s.name AS suite, r.suite_id, r.status,"
            " r.started_at, r.finished_at, r.metrics,"
            " (SELECT count(*) FROM outputs o WHERE o.run_id = r.run_id) AS n_outputs,"
            " r.versions FROM runs r LEFT JOIN suites s USING (suite_id) ORDER BY r.started_at"
        ))

    # -- outputs ----------------------------------------------------------------------------
    def done_item_ids(self, run_id: str) -> set[str]:
        df = self.query_df("SELECT item_id FROM outputs WHERE run_id = ?", [run_id])
        return set(df.item_id)

    def cached_outputs(self, cache_keys: list[str]) -> pd.DataFrame:
        """The newest stored answer (an output or a further sample) for each of these cache
        keys (those that exist): cache_key, text, token counts, finish_reason, latency_s."""
        if not cache_keys:
            return pd.DataFrame()
        keys = pd.DataFrame({"cache_key": list(dict.fromkeys(cache_keys))})
        cols = "cache_key, text, tokens_in, tokens_out, finish_reason, latency_s, created_at"
        with self.connect() as db:
            db.register("_wb_keys", keys)
            try:
                return db.execute(
                    "SELECT * FROM (SELECT a.*, row_number() OVER (PARTITION BY a.cache_key"
                    " ORDER BY a.created_at DESC) AS rn FROM ("
                    f" SELECT {cols} FROM outputs JOIN _wb_keys USING (cache_key)"
                    f" UNION ALL SELECT {cols} FROM samples JOIN _wb_keys USING (cache_key)"
                    ") a) WHERE rn = 1"
                ).df().drop(columns=["rn"])
            finally:
                db.unregister("_wb_keys")

    def add_outputs(self, outputs: pd.DataFrame, findings: pd.DataFrame | None = None,
                    samples: pd.DataFrame | None = None) -> None:
        """Store a batch of outputs (with their further samples and their findings) in one
        short transaction."""
        with self.transaction() as db:
            self.insert_outputs(db, outputs, findings)
            if samples is not None and len(samples):
                self.insert_df("samples", samples, db=db)
            if findings is not None and len(findings):
                self.insert_df("findings", findings, db=db)

    def run_samples(self, run_id: str, item_ids: list[str] | None = None) -> pd.DataFrame:
        """A run's further samples (1..K-1): output_id, item_id, sample, text, finish_reason,
        tokens_out, latency_s; ordered by item and sample."""
        sql = ("SELECT output_id, item_id, sample, text, finish_reason, tokens_out, latency_s"
               " FROM samples WHERE run_id = ?")
        params: list[Any] = [run_id]
        if item_ids is not None:
            if not item_ids:
                return pd.DataFrame(columns=["output_id", "item_id", "sample", "text",
                                             "finish_reason", "tokens_out", "latency_s"])
            sql += f" AND item_id IN ({', '.join('?' for _ in item_ids)})"
            params += list(item_ids)
        return self.query_df(sql + " ORDER BY item_id, sample", params)

    def output_texts(self, run_id: str, item_ids: list[str]) -> dict[str, str]:
        """The text of a run's output for each of ``item_ids`` it holds."""
        if not item_ids:
            return {}
        df = self.query_df(
            "SELECT item_id, text FROM outputs WHERE run_id = ? AND item_id IN ("
            + ", ".join("?" for _ in item_ids) + ")", [run_id, *item_ids])
        return dict(zip(df.item_id, df.text, strict=True))

    def insert_outputs(self, db: duckdb.DuckDBPyConnection, outputs: pd.DataFrame,
                       findings: pd.DataFrame | None) -> None:
        """Insert outputs (skipping stored ones) with ``flagged_categories``: the sorted
        categories of each output's flagged findings among ``findings`` (NULL when none), the
        column the failure browser filters on. Computed by DuckDB in the same statement."""
        if outputs is None or not len(outputs):
            return
        if findings is None or not len(findings) or "flagged" not in findings:
            self.insert_df("outputs", outputs, db=db)
            return
        cols = ", ".join(f'"{c}"' for c in outputs.columns if c != "flagged_categories")
        db.register("_wb_df", outputs)
        db.register("_wb_findings", findings[["output_id", "category", "flagged"]])
        try:
            db.execute(
                f"INSERT OR IGNORE INTO outputs ({cols}, flagged_categories)"
                f" SELECT {', '.join('o.' + c for c in cols.split(', '))}, f.cats FROM _wb_df o"
                " LEFT JOIN (" + _flagged_categories("_wb_findings") + ") f"
                " ON f.output_id = o.output_id"
            )
        finally:
            db.unregister("_wb_df")
            db.unregister("_wb_findings")

    def add_findings(self, findings: pd.DataFrame) -> None:
        """Findings of stored outputs (their outputs' flagged categories follow)."""
        if findings is None or not len(findings):
            return
        with self.transaction() as db:
            self.insert_df("findings", findings, db=db)
            refresh_flagged_categories(db, list(findings.output_id.unique()))

    def replace_findings(self, run_id: str, findings: pd.DataFrame) -> None:
        """Replace a run's findings (re-checking a run with new check versions or options)."""
        with self.transaction() as db:
            db.execute("DELETE FROM findings WHERE run_id = ?", [run_id])
            self.insert_df("findings", findings, db=db)
            db.execute(
                "UPDATE outputs SET flagged_categories = NULL WHERE run_id = ?", [run_id]
            )
            refresh_flagged_categories(db, None, run_id)

    def run_outputs(self, run_id: str) -> pd.DataFrame:
        """A run's outputs joined with their items."""
        return self.query_df(
            "SELECT o.*, i.prompt, i.reference, i.context, i.tags, i.split, i.messages"
            " FROM outputs o JOIN runs r USING (run_id)"
            " LEFT JOIN items i ON i.suite_id = r.suite_id AND i.item_id = o.item_id"
            " WHERE o.run_id = ? ORDER BY o.item_id",
            [run_id],
        )

    def run_findings(self, run_id: str, flagged_only: bool = False) -> pd.DataFrame:
        sql = "SELECT f.*, o.item_id FROM findings f JOIN outputs o USING (output_id) WHERE f.run_id = ?"
        if flagged_only:
            sql += " AND f.flagged"
        return self.query_df(sql + " ORDER BY o.item_id, f.check_name", [run_id])

    def findings_by_category(self, run_id: str) -> pd.DataFrame:
        """Per category: outputs checked, outputs flagged, error count."""
        return self.query_df(_CATEGORY_COUNTS, [run_id])

    def category_counts(self, run_id: str) -> dict[str, dict[str, int]]:
        """``findings_by_category`` as {category: {checked, flagged, errors}}."""
        with self.connect() as db:
            return _counts(db.execute(_CATEGORY_COUNTS, [run_id]).fetchall())
