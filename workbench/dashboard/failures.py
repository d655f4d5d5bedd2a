"""Failures page: filter outputs by run, suite, category, check, severity, tag and text; one page
of them at a time, each with its prompt, highlighted output, reference, context and findings.

Filtering, counting and paging happen in DuckDB (``queries.failures_page``), so only the page
shown is ever read, however large the database.
"""

from __future__ import annotations

import html

import streamlit as st

from workbench.dashboard.common import get_reader, page_header, pager, refresh_button
from workbench.dashboard.render import findings_html, highlight_html, plain_html
from workbench.store import queries


def _label(text: str) -> str:
    return f'<div class="wb-label">{html.escape(text)}</div>'


def filters(options: queries.FilterOptions) -> dict:
    """The sidebar filter widgets; returns keyword arguments for ``queries.failures_page``."""
    sb = st.sidebar
    sb.header("Filters")
    labels = dict(zip(options.runs.run_id, options.runs.label, strict=True))
    run_ids = sb.multiselect("Run", list(labels), format_func=lambda r: labels.get(r, r),
                             key="f_run", placeholder="all runs")
    suites = sb.multiselect("Suite", options.suites, key="f_suite", placeholder="all suites")
    cats = sb.multiselect("Category", options.categories, key="f_category",
                          placeholder="all categories")
    checks = sb.multiselect("Check", options.checks, key="f_check", placeholder="all checks")
    sevs = sb.multiselect("Severity", options.severities, key="f_severity",
                          placeholder="any severity")
    tags = sb.multiselect("Tag", options.tags, key="f_tag", placeholder="any tag")
    text = sb.text_input("Text contains", key="f_text",
                         help="Case-insensitive substring of the output or of the prompt "
                              "as the model saw it").strip()
    flagged_only = sb.toggle("Only flagged outputs", value=True, key="f_flagged",
                             help="Off: every output, flagged or not, that matches")
    return dict(run_id=run_ids, suite_id=suites, category=cats, check=checks, severity=sevs,
                tag=tags, text=text or None, flagged_only=flagged_only)


def show_row(row: dict, found: list[dict], wanted: set[str]) -> None:
    """One output: header, prompt, highlighted output, reference/context, findings."""
    flagged = [f for f in found if f["flagged"]]
    cats = sorted({f["category"] for f in flagged})
    finish = row.get("finish_reason")
    tags = row.get("tags")
    tags = [str(t) for t in tags] if tags is not None and not isinstance(tags, float) else []
    with st.container(border=True):
        # st.html, not st.markdown: names and ids are data too, and markdown would parse them
        st.html(
            f"<div><b>{html.escape(str(row['model_name']))}</b> · item "
            f"<code>{html.escape(str(row['item_id']))}</code> · run "
            f"<code>{html.escape(str(row['run_id'])[:10])}</code> · finish "
            f"<code>{html.escape(finish if isinstance(finish, str) else '-')}</code>"
            + (f" · tags: {html.escape(', '.join(tags))}" if tags else "")
            + (f" · flagged: <b>{html.escape(', '.join(cats))}</b>" if cats else "") + "</div>"
        )
        prompt = row.get("prompt")
        if prompt is None or prompt != prompt:  # NaN when the item is not stored
            prompt = row.get("rendered_prompt")
        # spans of the findings that match the category filter (all flagged ones without one)
        shown = [f for f in flagged if not wanted or f["category"] in wanted]
        spans, names = [], []
        for f in shown:
            for s in f["spans"]:
                spans.append(s)
                names.append(f"{f['category']} ({f['check_name']})")
        st.html(_label("prompt") + plain_html(prompt) + _label("output")
                + highlight_html(row.get("text"), spans, names))
        ref, ctx = row.get("reference"), row.get("context")
        ref = ref if isinstance(ref, str) else None
        ctx = ctx if isinstance(ctx, str) else None
        if ref or ctx:
            c1, c2 = st.columns(2)
            if ref:
                c1.html(_label("reference") + plain_html(ref))
            if ctx:
                c2.html(_label("context") + plain_html(ctx))
        st.html(_label("findings") + findings_html(found))


def main() -> None:
    page_header("Failures", "Outputs with flagged findings; flagged spans are highlighted.")
    refresh_button()
    read = get_reader()
    options = read(queries.filter_options)
    chosen = filters(options)
    # count first: the paging widgets need the total before the page is read
    total = read(queries.count_failures, **chosen)
    limit, offset = pager(total, key="f_pager")
    if total == 0:
        st.info("No output matches these filters.")
        return
    page = read(queries.failures_page, **chosen, limit=limit, offset=offset, total=total)
    wanted = set(chosen["category"] or [])
    for row in page.rows.to_dict("records"):
        found = page.findings_of(row["output_id"]).to_dict("records")
        show_row(row, found, wanted)


if __name__ == "__main__":
    main()
