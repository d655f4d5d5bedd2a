"""Hostile text in the dashboard, fuzzed: outputs holding HTML/JS render as text (only our own
tags reach the page), and filter inputs cannot change the SQL (the database is unchanged and a
filter never widens the result)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.dashboard.render import findings_html, highlight_html, word_diff_html
from workbench.dashboard.sample import build_sample_db
from workbench.store import Store, queries

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
HOSTILE = st.sampled_from([
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '"><svg onload=alert(1)>',
    "</mark></div><iframe src=javascript:alert(1)>", "&lt;script&gt;", "<!--", "]]>",
    "' OR 1=1 --", "'; DROP TABLE outputs; --", "%", "_", "\\", "\x00", "{{ 7*7 }}",
])
texts = st.lists(HOSTILE | st.text(max_size=20), max_size=6).map("".join)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text.append(data)


def _parse(markup: str) -> _Tags:
    p = _Tags()
    p.feed(markup)
    p.close()
    return p


@FUZZ
@given(text=texts, spans=st.lists(st.tuples(st.integers(-5, 80), st.integers(-5, 80)), max_size=4),
       label=texts)
def test_outputs_render_as_text(text, spans, label):
    out = highlight_html(text, [list(s) for s in spans], [label] * len(spans))
    parsed = _parse(out)
    assert {t for t, _ in parsed.tags} <= {"div", "mark"}
    for _tag, attrs in parsed.tags:  # no event handlers or scripts smuggled in as attributes
        assert {k for k, _ in attrs} <= {"class", "title"}, attrs
    if text:
        assert "".join(parsed.text) == text  # every character shown, as text


@FUZZ
@given(a=texts, b=texts, msg=texts)
def test_diffs_and_findings_render_as_text(a, b, msg):
    left, right = word_diff_html(a, b)
    rows = [{"check_name": msg, "category": msg, "severity": msg, "message": msg,
             "flagged": True, "score": 0.5}]
    for markup in (left, right, findings_html(rows)):
        parsed = _parse(markup)
        assert {t for t, _ in parsed.tags} <= {"div", "mark", "del", "ins", "span", "ul", "li",
                                               "b"}, parsed.tags
        assert all(k in ("class", "title") for _, attrs in parsed.tags for k, _ in attrs)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return build_sample_db(tmp_path_factory.mktemp("dash") / "sample.duckdb", n_items=20)


def _counts(path: str) -> dict[str, int]:
    ro = Store(path, read_only=True)
    return {t: int(ro.query_df(f"SELECT count(*) AS n FROM {t}").n.iloc[0])
            for t in ("models", "runs", "outputs", "findings")}


@settings(FUZZ, max_examples=30)
@given(field=st.sampled_from(["run_id", "suite_id", "category", "check", "severity", "tag",
                              "text"]), value=texts, as_list=st.booleans(),
       limit=st.integers(-3, 500), offset=st.integers(-3, 10_000))
def test_filters_cannot_change_the_sql(sample, field, value, as_list, limit, offset):
    ro = Store(sample.path, read_only=True)
    every = queries.count_failures(ro, flagged_only=False)
    arg = [value] if as_list and field != "text" else value
    n = queries.count_failures(ro, **{field: arg})
    assert 0 <= n <= every
    page = queries.failures_page(ro, **{field: arg}, limit=max(limit, 1), offset=max(offset, 0))
    assert page.total == n and len(page.rows) <= max(limit, 1)


def test_filters_leave_the_database_as_it_was(sample):
    before = _counts(sample.path)
    ro = Store(sample.path, read_only=True)
    for value in ["'; DROP TABLE outputs; --", "x'); DELETE FROM findings; --", "%' OR '1'='1"]:
        for field in ("run_id", "category", "check", "tag", "text"):
            assert queries.count_failures(ro, **{field: value}) == 0
    assert _counts(sample.path) == before


@FUZZ
@given(text=texts, cat=texts, sev=HOSTILE | st.sampled_from(["high", "low", ""]), label=texts,
       spans=st.lists(st.tuples(st.integers(-5, 80), st.integers(-5, 80)), max_size=4),
       other=texts)
def test_category_highlights_and_diffs_render_as_text(text, cat, sev, label, spans, other):
    from workbench.dashboard.render import category_highlight_html, diff_highlight_html, legend_html

    marks = [(a, b, cat, sev if sev in ("high", "low") else "medium", label) for a, b in spans]
    out = category_highlight_html(text, marks)
    parsed = _parse(out)
    assert {t for t, _ in parsed.tags} <= {"div", "mark"}
    assert all(k in ("class", "title") for _, attrs in parsed.tags for k, _ in attrs)
    if text:
        assert "".join(parsed.text) == text
    for markup in (*diff_highlight_html(text, other, marks, marks, "regressed"),
                   legend_html([cat, other])):
        parsed = _parse(markup)
        assert {t for t, _ in parsed.tags} <= {"div", "mark", "del", "ins", "span"}, parsed.tags
        assert all(k in ("class", "title") for _, attrs in parsed.tags for k, _ in attrs)


@FUZZ
@given(model=texts, item=texts, run=texts, text=texts, msg=texts, ref=texts)
def test_failure_rows_render_as_text_and_links_stay_links(model, item, run, text, msg, ref):
    from workbench.dashboard.cards import row_html

    row = {"model_name": model, "item_id": item, "run_id": run, "suite_id": msg, "text": text,
           "prompt": ref, "rendered_prompt": msg, "reference": ref, "context": msg,
           "tokens_out": 3, "latency_s": 0.1, "finish_reason": msg, "metrics": {msg: 1.0},
           "tags": [msg]}
    found = [{"check_name": msg, "category": msg, "severity": "high", "message": msg,
              "flagged": True, "score": 0.5, "spans": [[0, 3]]}]
    parsed = _parse(row_html(row, found, set()))
    assert {t for t, _ in parsed.tags} <= {"details", "summary", "div", "mark", "span", "ul",
                                           "li", "b", "a", "table", "tr", "td", "code"}
    for tag, attrs in parsed.tags:
        keys = {k for k, _ in attrs}
        if tag == "a":  # a link to a page of the dashboard, its values in the query string
            assert keys == {"href", "target"}
            href = dict(attrs)["href"]
            assert href.split("?")[0] in ("item", "failures")
            assert not any(c in href for c in "<>\"' ")
        else:
            assert keys <= {"class", "title", "open"}, (tag, attrs)


@pytest.mark.parametrize("name", ["![x](http://host/y.png)", "[link](javascript:alert(1))",
                                  "<img src=x onerror=alert(1)>", "**bold** _em_ `code` :smile:",
                                  "$x^2$", "# heading"])
def test_untrusted_names_in_markdown_are_text(name):
    """Category and metric names reach st.warning/st.info/st.caption (Markdown): escaped, no
    image is fetched, no link, HTML, emphasis, emoji or LaTeX is read."""
    import re as _re

    from workbench.dashboard.common import md_text

    out = md_text(name)
    assert _re.sub(r"\\(.)", r"\1", out) == name  # nothing lost
    assert not _re.search(r"(?<!\\)[!\[\]()<>*_`:$#]", out)  # every special is escaped
