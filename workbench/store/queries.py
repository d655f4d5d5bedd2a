"""Read-only queries for the dashboard (and any other reader): every filter is a bound parameter.

Filtering, counting and paging happen in DuckDB; only one page of rows ever reaches pandas, so
the failure browser stays fast on a database with a million outputs. Functions take a Store
(usually opened ``read_only=True``) and return DataFrames or small dataclasses.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .findings import COLUMNS, empty_findings
from .store import INTERRUPTED, Store, from_json, shown_status, with_shown_status

Filter = str | Sequence[str] | None


def _values(value: Filter) -> list[str]:
    """A filter value as a list: None/'' mean no filter, a string means one value."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if v is not None and v != ""]


def _in(column: str, values: list[str], params: list[Any]) -> str:
    """``column IN (?, ?, ...)``: only placeholders go into the SQL, the values are bound."""
    params.extend(values)
    return f"{column} IN ({', '.join('?' for _ in values)})"


# -- overview --------------------------------------------------------------------------------

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
    ids = _values(run_ids)
    if ids:
        where = " WHERE " + _in("run_id", ids, params)
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


# -- failures ---------------------------------------------------------------------------------

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


@dataclass
class FailurePage:
    """One page of the failure browser: the total match count, the rows, and their findings."""

    total: int
    rows: pd.DataFrame
    findings: pd.DataFrame
    limit: int
    offset: int
    filters: dict[str, Any] = field(default_factory=dict)

    def findings_of(self, output_id: str) -> pd.DataFrame:
        return self.findings[self.findings.output_id == output_id]


def _has_category(column: str, cats: list[str], params: list[Any]) -> str:
    """``column`` (a list of categories) holds any of ``cats``: one ``list_contains`` per
    category. DuckDB scans a million lists about 4x faster than with one ``list_has_any``
    over a bound list."""
    params.extend(cats)
    return "(" + " OR ".join(f"list_contains({column}, ?)" for _ in cats) + ")"


def _like(text: str) -> str:
    """A substring pattern for ILIKE ... ESCAPE '\\': the user's %, _ and \\ match themselves."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass
class _FailureSql:
    """The pieces of a failure query; every value is in ``params``, in placeholder order."""

    joins: str          # joins the WHERE needs (runs and items, only for a tag filter)
    where: str
    params: list[Any]
    findings_sql: str | None  # flagged/finding filters as one query over findings, if any
    findings_params: list[Any]
    output_level: bool  # whether a filter needs the outputs' rows themselves (tag, text)
    findings_on_outputs: bool = False  # the outputs' flagged categories answer the findings


def _failure_sql(*, run_id: Filter, suite_id: Filter, category: Filter, check: Filter,
                 severity: Filter, tag: Filter, text: str | None,
                 flagged_only: bool, item_id: Filter = None) -> _FailureSql:
    run_clauses: list[str] = []  # apply to outputs and to findings alike (both have run_id)
    run_params: list[Any] = []
    if ids := _values(run_id):
        run_clauses.append(_in("run_id", ids, run_params))
    if ids := _values(suite_id):
        run_clauses.append("run_id IN (SELECT run_id FROM runs WHERE "
                           + _in("suite_id", ids, run_params) + ")")
    sub: list[str] = []
    sub_params: list[Any] = []
    if flagged_only:
        sub.append("flagged")
    if vals := _values(category):
        sub.append(_in("category", vals, sub_params))
    if vals := _values(check):
        sub.append(_in("check_name", vals, sub_params))
    if vals := _values(severity):
        sub.append(_in("severity", vals, sub_params))
    findings_sql = None
    findings_params: list[Any] = []
    if sub:
        # one finding must satisfy all finding filters together (a flagged *hallucination*
        # that is *high*, not any flag plus any high); the run filters narrow it early
        findings_sql = "SELECT output_id FROM findings WHERE " + " AND ".join(run_clauses + sub)
        findings_params = run_params + sub_params

    clauses = ["o." + c for c in run_clauses]
    params = list(run_params)
    joins = ""
    tags = _values(tag)
    if tags:
        # only tags need the items table (a join of every output with its item is the most
        # expensive step of the page at a million outputs, so nothing else asks for it)
        joins = (" JOIN runs r ON r.run_id = o.run_id"
                 " LEFT JOIN items i ON i.suite_id = r.suite_id AND i.item_id = o.item_id")
        # any of the chosen tags; list_has_any keeps it one bound list parameter
        clauses.append("list_has_any(coalesce(i.tags, []), ?::VARCHAR[])")
        params.append(tags)
    items = _values(item_id)
    if items:
        clauses.append(_in("o.item_id", items, params))
    flagged_filter = bool(findings_sql and flagged_only)
    if flagged_filter:
        # flagged outputs (of some categories): each output row holds its flagged categories,
        # so the outputs alone answer it, with no join of every output with its findings; with
        # a check or severity filter too (which only a finding can say) they still narrow the
        # outputs that the join then has to look at
        if cats := _values(category):
            clauses.append(_has_category("o.flagged_categories", cats, params))
        else:
            clauses.append("o.flagged_categories IS NOT NULL")
    findings_on_outputs = flagged_filter and not _values(check) and not _values(severity)
    if text:
        # the output, the prompt as rendered for the model (which holds the item's prompt), or
        # the item id. DuckDB runs a plain ILIKE '%word%' about 2.5x faster than one with an
        # ESCAPE clause (a full scan of a million outputs): escape only when the text needs it
        esc = " ESCAPE '\\'" if any(c in text for c in "%_\\") else ""
        clauses.append(f"(o.text ILIKE ?{esc} OR o.rendered_prompt ILIKE ?{esc}"
                       f" OR o.item_id ILIKE ?{esc})")
        params.extend([_like(text)] * 3 if esc else [f"%{text}%"] * 3)
    if findings_sql and not findings_on_outputs:
        clauses.append(f"o.output_id IN ({findings_sql})")
        params.extend(findings_params)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    return _FailureSql(joins, where, params, findings_sql, findings_params,
                       bool(tags or text or items), findings_on_outputs)


def _matches(q: _FailureSql) -> str:
    """``m``: the keys of every output that passes the filters, found in one pass."""
    return ("WITH m AS MATERIALIZED (SELECT o.output_id, o.run_id, o.item_id FROM outputs o"
            + q.joins + q.where + ") ")


def count_failures(store: Store, *, run_id: Filter = None, suite_id: Filter = None,
                   category: Filter = None, check: Filter = None, severity: Filter = None,
                   tag: Filter = None, text: str | None = None, flagged_only: bool = True,
                   item_id: Filter = None) -> int:
    """How many outputs match the failure filters (see ``failures_page``)."""
    q = _failure_sql(run_id=run_id, suite_id=suite_id, category=category, check=check,
                     severity=severity, tag=tag, text=text, flagged_only=flagged_only,
                     item_id=item_id)
    if q.findings_sql and not q.output_level and not q.findings_on_outputs:
        # a check or severity filter, nothing that needs the outputs table: count distinct
        # outputs in findings alone
        sql = "SELECT count(DISTINCT output_id) AS n FROM (" + q.findings_sql + ")"
        return int(store.query_df(sql, q.findings_params).n.iloc[0])
    sql = "SELECT count(*) AS n FROM outputs o" + q.joins + q.where
    return int(store.query_df(sql, q.params).n.iloc[0])


_KEYS = "run_id, item_id, output_id"  # the browser's order: by run, then item
_ORDER = " ORDER BY o.run_id, o.item_id, o.output_id"


# the failure browser's sort orders: key -> (SQL expression over o/f, descending by default)
SORTS: dict[str, tuple[str, bool]] = {
    "run": ("", False),  # by run, then item (the default order)
    "item": ("o.item_id", False),
    "score": ("f.score", True),
    "severity": ("f.severity_rank", True),
    "length": ("length(o.text)", True),
    "tokens": ("o.tokens_out", True),
    "latency": ("o.latency_s", True),
}
_SEVERITY_RANK = ("CASE severity WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1"
                  " WHEN 'info' THEN 0 END")


def _sorted_ids(store: Store, q: _FailureSql, sort: str, descending: bool, category: Filter,
                limit: int, offset: int) -> tuple[list[str], list[str]]:
    """The page's (output ids, item ids) in a sort order other than the default.

    An order on the outputs' own columns is one top-N over the filtered outputs (DuckDB pushes
    the page's bound into the scan, so the tie-breaking keys are read for few rows). Only for a
    score or severity order are the matches materialised and their flagged findings (of the
    chosen categories, when some are) read, by key, and reduced to one value each.
    """
    expr, _ = SORTS[sort]
    direction = "DESC" if descending else "ASC"
    params = list(q.params)
    if not expr.startswith("f."):
        page = store.query_df(
            "SELECT o.output_id, o.item_id FROM outputs o" + q.joins + q.where
            + f" ORDER BY {expr} {direction} NULLS LAST, o.run_id, o.item_id, o.output_id"
            " LIMIT ? OFFSET ?", [*params, limit, offset])
        return list(page.output_id), list(page.item_id)
    cats = _values(category)
    cat_sql = (" AND " + _in("category", cats, params)) if cats else ""
    findings = (", f AS (SELECT output_id, max(score) AS score,"
                f" max({_SEVERITY_RANK}) AS severity_rank FROM findings"
                " WHERE flagged AND output_id IN (SELECT output_id FROM m)" + cat_sql
                + " GROUP BY output_id)")
    m = ("WITH m AS MATERIALIZED (SELECT o.output_id, o.run_id, o.item_id FROM outputs o"
         + q.joins + q.where + ")")
    sql = (m + findings + " SELECT m.output_id, m.item_id FROM m LEFT JOIN f USING (output_id)"
           f" ORDER BY {expr} {direction} NULLS LAST, m.run_id, m.item_id, m.output_id"
           " LIMIT ? OFFSET ?")
    page = store.query_df(sql, [*params, limit, offset])
    return list(page.output_id), list(page.item_id)


def _sorted_by_findings(store: Store, sort: str, descending: bool, run_id: Filter,
                        suite_id: Filter, category: Filter, limit: int,
                        offset: int) -> tuple[list[str], list[str]]:
    """A score or severity page when only run, suite and category filters apply: the matches
    are exactly the outputs with a flagged finding of those categories, so the findings alone
    give the order (the outputs are read for the page's rows only). Ties by run, then output
    id.

    Largest first (the natural order), an output's first finding in the findings ordered by
    (value, run, output) holds its largest value, so the first distinct outputs of that order
    are the page: a top-N of the findings with no grouping, widened until it holds enough
    distinct outputs (an output can have several flagged findings). Smallest first, the
    findings are grouped per output."""
    params: list[Any] = []
    where = ["flagged"]
    if ids := _values(run_id):
        where.append(_in("run_id", ids, params))
    if ids := _values(suite_id):
        where.append("run_id IN (SELECT run_id FROM runs WHERE " + _in("suite_id", ids, params)
                     + ")")
    if cats := _values(category):
        where.append(_in("category", cats, params))
    value = "score" if sort == "score" else _SEVERITY_RANK
    if descending:
        need = offset + limit
        n = need
        while True:
            top = store.query_df(
                f"SELECT output_id FROM findings WHERE {' AND '.join(where)}"
                f" ORDER BY {value} DESC NULLS LAST, run_id, output_id LIMIT ?", [*params, n])
            ids = list(dict.fromkeys(top.output_id))
            if len(ids) >= need or len(top) < n:
                break
            n *= 2
        ids = ids[offset:need]
    else:
        top = store.query_df(
            f"SELECT output_id, any_value(run_id) AS run_id, max({value}) AS k FROM findings"
            f" WHERE {' AND '.join(where)} GROUP BY output_id"
            " ORDER BY k ASC NULLS LAST, run_id, output_id LIMIT ? OFFSET ?",
            [*params, limit, offset])
        ids = list(top.output_id)
    if not ids:
        return [], []
    id_params: list[Any] = []
    got = store.query_df("SELECT output_id, item_id FROM outputs WHERE "
                         + _in("output_id", ids, id_params), id_params)
    item_of = dict(zip(got.output_id, got.item_id, strict=True))
    ids = [i for i in ids if i in item_of]  # a finding whose output is gone is skipped
    return ids, [item_of[i] for i in ids]


def failures_page(store: Store, *, run_id: Filter = None, suite_id: Filter = None,
                  category: Filter = None, check: Filter = None, severity: Filter = None,
                  tag: Filter = None, text: str | None = None, flagged_only: bool = True,
                  item_id: Filter = None, sort: str = "run", descending: bool | None = None,
                  limit: int = 25, offset: int = 0, total: int | None = None) -> FailurePage:
    """Outputs matching the filters (by default those with a flagged finding), one page of them.

    Each filter takes one value or a list (any of them matches); ``text`` is a case-insensitive
    substring of the output, of its rendered prompt or of its item id; ``item_id`` is exact.
    Pass ``total`` when it is already known (from ``count_failures``) to skip counting again.
    Ordered by run, then item, unless ``sort`` names another of ``SORTS``: item, score (the
    highest flagged score, of the chosen categories), severity (the most severe flagged finding),
    length (characters), tokens (tokens out) or latency; ``descending`` defaults to each
    order's natural direction (largest first, item ids A to Z). Outputs without a value last.
    """
    limit = max(1, min(int(limit), 1000))
    offset = max(0, int(offset))
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}: one of {', '.join(SORTS)}")
    if descending is None:
        descending = SORTS[sort][1]
    filters = dict(run_id=run_id, suite_id=suite_id, category=category, check=check,
                   severity=severity, tag=tag, text=text, flagged_only=flagged_only,
                   item_id=item_id)
    q = _failure_sql(**filters)
    with store.connect():
        if sort != "run" or descending:
            if total is None:
                total = count_failures(store, **filters)
            if sort == "run":  # run and item, the other way round
                sql = ("SELECT o.output_id, o.item_id FROM outputs o" + q.joins + q.where
                       + " ORDER BY o.run_id DESC, o.item_id DESC, o.output_id DESC"
                       " LIMIT ? OFFSET ?")
                got = store.query_df(sql, [*q.params, limit, offset])
                ids, items = list(got.output_id), list(got.item_id)
            elif (sort in ("score", "severity") and flagged_only and not q.output_level
                  and not _values(check) and not _values(severity)):
                ids, items = _sorted_by_findings(store, sort, descending, run_id, suite_id,
                                                 category, limit, offset)
            else:
                ids, items = _sorted_ids(store, q, sort, descending, category, limit, offset)
            rows = _page_rows(store, ids, items)
            order = {oid: n for n, oid in enumerate(ids)}
            rows = (rows.assign(_o=[order[o] for o in rows.output_id]).sort_values("_o")
                    .drop(columns="_o").reset_index(drop=True))
            found = findings_for(store, list(rows.output_id))
            return FailurePage(total=total, rows=rows, findings=found, limit=limit,
                               offset=offset, filters=filters)
        if q.output_level:
            # A text or tag filter scans every output: the matches are found once, then
            # counted and paged from that one pass, in one row (also past the last page).
            count = "(SELECT count(*) FROM m)" if total is None else "NULL"
            got = store.query_df(
                _matches(q) + f"SELECT {count} AS n, list(output_id ORDER BY {_KEYS}) AS ids,"
                f" list(item_id ORDER BY {_KEYS}) AS items"
                f" FROM (SELECT * FROM m ORDER BY {_KEYS} LIMIT ? OFFSET ?)",
                [*q.params, limit, offset],
            ).iloc[0]
            if total is None:
                total = int(got.n)
            ids = list(got.ids) if isinstance(got.ids, Iterable) else []
            items = list(got["items"]) if isinstance(got["items"], Iterable) else []
        else:
            if total is None:
                total = count_failures(store, **filters)
            page = store.query_df(
                "SELECT o.output_id, o.item_id FROM outputs o" + q.where + _ORDER
                + " LIMIT ? OFFSET ?",
                [*q.params, limit, offset],
            )
            ids, items = list(page.output_id), list(page.item_id)
        rows = _page_rows(store, ids, items)
        found = findings_for(store, list(rows.output_id))
    return FailurePage(total=total, rows=rows, findings=found, limit=limit, offset=offset,
                       filters=filters)


def _page_rows(store: Store, output_ids: list[str], item_ids: list[str]) -> pd.DataFrame:
    """The wide columns of a page's outputs, in the failure browser's order.

    Both tables are narrowed by literal key lists before joining: a join on the keys alone
    would hash all of outputs and items (a million rows each) to find fifty.
    """
    params: list[Any] = []
    if not output_ids:  # the same columns, no rows
        output_ids, item_ids = [""], [""]
        where = " WHERE false"
    else:
        where = ""
    outs = _in("output_id", output_ids, params)
    items = _in("item_id", list(dict.fromkeys(item_ids)), params)
    df = store.query_df(
        # materialised: a page of ids is read through the primary keys' indexes; joined
        # unmaterialised, DuckDB scans every output with a filter instead (about 10x slower)
        "WITH o AS MATERIALIZED (SELECT output_id, run_id, item_id, text, finish_reason,"
        " tokens_in, tokens_out, latency_s, cached, metrics, rendered_prompt FROM outputs"
        f"   WHERE {outs}),"
        " i AS MATERIALIZED (SELECT suite_id, item_id, prompt, reference, context, tags"
        f"   FROM items WHERE {items})"
        " SELECT o.output_id, o.run_id, o.item_id, o.text, o.finish_reason, o.tokens_in,"
        " o.tokens_out, o.latency_s, o.cached, o.metrics,"
        " o.rendered_prompt, r.model_name, r.suite_id, s.name AS suite_name,"
        " i.prompt, i.reference, i.context, i.tags"
        " FROM o JOIN runs r ON r.run_id = o.run_id LEFT JOIN suites s ON s.suite_id = r.suite_id"
        " LEFT JOIN i ON i.suite_id = r.suite_id AND i.item_id = o.item_id" + where + _ORDER,
        params,
    )
    df["metrics"] = [_metrics(m) for m in df.metrics]
    return df


def _metrics(raw: Any) -> dict[str, Any]:
    """An output's per-sample metrics JSON as a dict ({} when absent or not an object)."""
    try:
        value = from_json(raw)
    except (TypeError, json.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def findings_for(store: Store, output_ids: Iterable[str]) -> pd.DataFrame:
    """Every finding (flagged or not) of these outputs, spans parsed to lists of [start, end]."""
    ids = list(dict.fromkeys(output_ids))
    if not ids:
        return empty_findings()
    params: list[Any] = []
    df = store.query_df(
        f"SELECT {', '.join(COLUMNS)} FROM findings WHERE " + _in("output_id", ids, params)
        + " ORDER BY output_id, flagged DESC, score DESC, check_name",
        params,
    )
    df["spans"] = [_spans(s) for s in df.spans]
    return df


def _spans(raw: Any) -> list[list[int]]:
    try:
        value = from_json(raw)
    except (TypeError, json.JSONDecodeError):
        return []
    out = []
    for pair in value or []:
        try:
            a, b = int(pair[0]), int(pair[1])
        except (TypeError, ValueError, IndexError):
            continue
        out.append([a, b])
    return out


# -- compare ----------------------------------------------------------------------------------
# Which items were fixed or regressed is decided in workbench.compare.compare (compare_runs); the
# dashboard only reads the texts of the items it shows.

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
        " WHERE " + _in("o.output_id", ids, params),
        params,
    )
    df["metrics"] = [_metrics(m) for m in df.metrics]
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
    ids = _values(list(run_ids))
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
    where = _in("o.run_id", ids, params)
    return store.query_df(
        f"SELECT o.item_id, o.run_id, o.output_id, o.flagged_categories AS flagged,"
        f" {failed} AS failed, {value} AS value FROM outputs o WHERE {where}"
        " ORDER BY o.item_id, o.run_id",
        params,
    )


def metric_names(store: Store, run_ids: Sequence[str]) -> list[str]:
    """The per-sample metric names the outputs of these runs hold (numbers and booleans)."""
    ids = _values(list(run_ids))
    if not ids:
        return []
    params: list[Any] = []
    df = store.query_df(
        "SELECT DISTINCT j.key AS name FROM (SELECT metrics FROM outputs WHERE "
        + _in("run_id", ids, params) + " AND metrics IS NOT NULL AND json_valid(metrics)"
        " AND json_type(metrics) = 'OBJECT' USING SAMPLE 2000 ROWS) o, json_each(o.metrics) j"
        " WHERE j.type IN ('BOOLEAN', 'BIGINT', 'UBIGINT', 'DOUBLE') ORDER BY name",
        params,
    )
    return [str(n) for n in df.name]


# -- one item across every run ---------------------------------------------------------------

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
    df["metrics"] = [_metrics(m) for m in df.metrics]
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
        + _in("output_id", ids, params) + " ORDER BY output_id, sample", params)


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
    df["provenance"] = [_json_or_text(p) for p in df.provenance]
    return df


# -- suggestions and trainings ----------------------------------------------------------------

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
    if vals := _values(category):
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
    df["provenance"] = [_json_or_text(p) for p in df.provenance]
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


def _json_or_text(raw: Any) -> Any:
    try:
        return from_json(raw)
    except (TypeError, json.JSONDecodeError):
        return raw


def trainings(store: Store) -> pd.DataFrame:
    """Trainings with parent/result model names; config and metrics parsed."""
    df = store.query_df(
        "SELECT t.training_id, t.status, t.trainer, t.set_id, t.parent_model_id,"
        " p.name AS parent_name, t.result_model_id, m.name AS result_name, t.adapter_path,"
        " t.started_at, t.finished_at, t.config, t.metrics"
        " FROM trainings t LEFT JOIN models p ON p.model_id = t.parent_model_id"
        " LEFT JOIN models m ON m.model_id = t.result_model_id"
        " ORDER BY t.started_at, t.training_id"
    )
    df["config"] = [_json_or_text(c) for c in df.config]
    df["metrics"] = [_json_or_text(c) for c in df.metrics]
    return df


def loss_curves(store: Store, training_ids: Filter = None) -> pd.DataFrame:
    """Loss curves in long form: training_id, step, loss."""
    params: list[Any] = []
    where = ""
    if ids := _values(training_ids):
        where = " WHERE " + _in("training_id", ids, params)
    raw = store.query_df("SELECT training_id, loss_curve FROM trainings" + where, params)
    rows = []
    for tid, curve in zip(raw.training_id, raw.loss_curve, strict=True):
        for point in _json_or_text(curve) or []:
            try:
                rows.append((tid, int(point[0]), float(point[1])))
            except (TypeError, ValueError, IndexError):
                continue
    return pd.DataFrame(rows, columns=["training_id", "step", "loss"])
