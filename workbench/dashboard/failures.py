"""Failures page: filter outputs by run, suite, category, check, severity, tag, item and text, sort
them, and page through them as compact rows that expand to the prompt, the highlighted output,
reference, context, findings, tokens, latency and metrics. Under each row, a *Review* box marks
its flagged findings right or wrong and adds a category no check flagged (as on the item page).

Filtering, counting, sorting and paging happen in DuckDB (``queries.failures_page``), so only the
page shown is ever read, however large the database. Every filter, the sort and the page are in
the URL: a view can be bookmarked, shared, and linked to from other pages.
"""

from __future__ import annotations

import streamlit as st

from workbench.dashboard.cards import row_html
from workbench.dashboard.common import (
    bottom_pager,
    get_reader,
    page_header,
    pager,
    refresh_button,
    url_widget,
)
from workbench.dashboard.render import legend_html
from workbench.dashboard.review import review
from workbench.store import queries, verdicts

SORT_LABELS = {"run": "run, then item", "item": "item id", "score": "score (highest first)",
               "severity": "severity (most severe first)", "length": "length (longest first)",
               "tokens": "tokens out (most first)", "latency": "latency (slowest first)"}
EMPTY_DB = ("The database has no outputs yet. Fill it with `workbench demo --tiny` (a toy model, "
            "about a minute) or run a suite: `workbench run --model NAME=PATH --suite SUITE`.")


def filters(options: queries.FilterOptions) -> dict:
    """The sidebar filter widgets (kept in the URL); returns keyword arguments for
    ``queries.failures_page``."""
    sb = st.sidebar
    sb.header("Filters")
    labels = dict(zip(options.runs.run_id, options.runs.label, strict=True))
    run_ids = url_widget(sb.multiselect, "f_run", [], "Run", list(labels),
                         options=list(labels), format_func=lambda r: labels.get(r, r),
                         placeholder="all runs")
    suites = url_widget(sb.multiselect, "f_suite", [], "Suite", options.suites,
                        options=options.suites, placeholder="all suites")
    cats = url_widget(sb.multiselect, "f_category", [], "Category", options.categories,
                      options=options.categories, placeholder="all categories")
    checks = url_widget(sb.multiselect, "f_check", [], "Check", options.checks,
                        options=options.checks, placeholder="all checks")
    sevs = url_widget(sb.multiselect, "f_severity", [], "Severity", options.severities,
                      options=options.severities, placeholder="any severity")
    tags = url_widget(sb.multiselect, "f_tag", [], "Tag", options.tags, options=options.tags,
                      placeholder="any tag")
    item = url_widget(sb.text_input, "f_item", "", "Item id",
                      help="Exact item id(s), comma-separated").strip()
    text = url_widget(sb.text_input, "f_text", "", "Text contains",
                      help="Case-insensitive substring of the output, of the prompt as the "
                           "model saw it, or of the item id").strip()
    flagged_only = url_widget(sb.toggle, "f_flagged", True, "Only flagged outputs",
                              help="Off: every output, flagged or not, that matches")
    items = [i.strip() for i in item.split(",") if i.strip()]
    return dict(run_id=run_ids, suite_id=suites, category=cats, check=checks, severity=sevs,
                tag=tags, item_id=items, text=text or None, flagged_only=flagged_only)


def main() -> None:
    page_header("Failures", "Outputs with flagged findings; each flagged span is highlighted in "
                            "its category's colour, stronger for higher severity.")
    refresh_button()
    read = get_reader()
    if read(queries.totals)["outputs"] == 0:
        st.info(EMPTY_DB)
        return
    options = read(queries.filter_options)
    chosen = filters(options)
    c1, c2, c3 = st.columns([2, 1, 1])
    sort = url_widget(c1.selectbox, "f_sort", "run", "Sort by", list(SORT_LABELS),
                      options=list(SORT_LABELS), format_func=SORT_LABELS.get)
    reverse = url_widget(c2.toggle, "f_reverse", False, "Reverse order")
    open_all = url_widget(c3.toggle, "f_open", False, "Expand all rows")
    descending = queries.SORTS[sort][1] != reverse
    # count first: the paging widgets need the total before the page is read
    total = read(queries.count_failures, **chosen)
    limit, offset = pager(total, key="f_pager")
    if total == 0:
        st.info("No output matches these filters.")
        return
    page = read(queries.failures_page, **chosen, sort=sort, descending=descending, limit=limit,
                offset=offset, total=total)
    wanted = set(chosen["category"] or [])
    shown_cats = sorted(wanted or set(page.findings[page.findings.flagged].category))
    st.html(legend_html(shown_cats))
    judged = read(verdicts.latest_verdicts, list(page.rows.output_id))
    for row in page.rows.to_dict("records"):
        found = page.findings_of(row["output_id"]).to_dict("records")
        st.html(row_html(row, found, wanted, open_=open_all))
        review(row, found, judged, options.categories, expanded=open_all)
    bottom_pager(total, "f_pager", offset, limit)


if __name__ == "__main__":
    main()
