"""The failure browser: the count and one page of the failing outputs in any sort order,
filtered in DuckDB (only one page of rows reaches pandas), and their findings."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..findings import COLUMNS, empty_findings
from ..store import Store
from ..values import from_json
from .sql import Filter, filter_values, in_clause, parse_metrics


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
    if ids := filter_values(run_id):
        run_clauses.append(in_clause("run_id", ids, run_params))
    if ids := filter_values(suite_id):
        run_clauses.append("run_id IN (SELECT run_id FROM runs WHERE "
                           + in_clause("suite_id", ids, run_params) + ")")
    sub: list[str] = []
    sub_params: list[Any] = []
    if flagged_only:
        sub.append("flagged")
    if vals := filter_values(category):
        sub.append(in_clause("category", vals, sub_params))
    if vals := filter_values(check):
        sub.append(in_clause("check_name", vals, sub_params))
    if vals := filter_values(severity):
        sub.append(in_clause("severity", vals, sub_params))
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
    tags = filter_values(tag)
    if tags:
        # only tags need the items table (a join of every output with its item is the most
        # expensive step of the page at a million outputs, so nothing else asks for it)
        joins = (" JOIN runs r ON r.run_id = o.run_id"
                 " LEFT JOIN items i ON i.suite_id = r.suite_id AND i.item_id = o.item_id")
        # any of the chosen tags; list_has_any keeps it one bound list parameter
        clauses.append("list_has_any(coalesce(i.tags, []), ?::VARCHAR[])")
        params.append(tags)
    items = filter_values(item_id)
    if items:
        clauses.append(in_clause("o.item_id", items, params))
    flagged_filter = bool(findings_sql and flagged_only)
    if flagged_filter:
        # flagged outputs (of some categories): each output row holds its flagged categories,
        # so the outputs alone answer it, with no join of every output with its findings; with
        # a check or severity filter too (which only a finding can say) they still narrow the
        # outputs that the join then has to look at
        if cats := filter_values(category):
            clauses.append(_has_category("o.flagged_categories", cats, params))
        else:
            clauses.append("o.flagged_categories IS NOT NULL")
    findings_on_outputs = flagged_filter and not filter_values(check) and not filter_values(severity)
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
    cats = filter_values(category)
    cat_sql = (" AND " + in_clause("category", cats, params)) if cats else ""
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
    if ids := filter_values(run_id):
        where.append(in_clause("run_id", ids, params))
    if ids := filter_values(suite_id):
        where.append("run_id IN (SELECT run_id FROM runs WHERE " + in_clause("suite_id", ids, params)
                     + ")")
    if cats := filter_values(category):
        where.append(in_clause("category", cats, params))
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
                         + in_clause("output_id", ids, id_params), id_params)
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
                  and not filter_values(check) and not filter_values(severity)):
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
    outs = in_clause("output_id", output_ids, params)
    items = in_clause("item_id", list(dict.fromkeys(item_ids)), params)
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
    df["metrics"] = [parse_metrics(m) for m in df.metrics]
    return df


def findings_for(store: Store, output_ids: Iterable[str]) -> pd.DataFrame:
    """Every finding (flagged or not) of these outputs, spans parsed to lists of [start, end]."""
    ids = list(dict.fromkeys(output_ids))
    if not ids:
        return empty_findings()
    params: list[Any] = []
    df = store.query_df(
        f"SELECT {', '.join(COLUMNS)} FROM findings WHERE " + in_clause("output_id", ids, params)
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
