"""The dashboard as an error-analysis tool: state in the URL, links between pages, the item page,
sorting, category colours, the compare views and the suggestions counted over every category
an example targets (AppTest on a synthetic database, and the queries behind each)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from workbench.dashboard import APP_PATH
from workbench.dashboard.common import fmt_p, page_link
from workbench.dashboard.render import (
    PALETTE,
    category_color,
    category_highlight_html,
    diff_highlight_html,
    legend_html,
    word_diff_html,
)
from workbench.dashboard.sample import XSS, build_sample_db
from workbench.store import Store, queries


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return build_sample_db(tmp_path_factory.mktemp("links") / "sample.duckdb", n_items=40)


@pytest.fixture
def ro(sample) -> Store:
    return Store(sample.path, read_only=True)


def _open(sample, monkeypatch, page: str, **params):
    """A fresh session opened on a deep link: ``page?key=value&...``."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("WORKBENCH_DB", sample.path)
    at = AppTest.from_file(str(APP_PATH), default_timeout=90)
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page(page)
    return at.run()


def _ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _rows(at) -> list[str]:
    return [h.value for h in at.html if '<details class="wb-row"' in h.value]


def _item_of(row: str) -> str:
    return re.search(r'href="item\?item=([^&"]+)', row).group(1)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.append(dict(attrs)["href"])


def _hrefs(markup: str) -> list[str]:
    p = _Links()
    p.feed(markup)
    return p.hrefs


# -- rendering --------------------------------------------------------------------------------

def test_each_category_has_one_colour_everywhere():
    assert category_color("hallucination") != category_color("length")
    assert category_color("some-new-check") in PALETTE
    assert category_color("some-new-check") == category_color("some-new-check")
    legend = legend_html(["hallucination", "length"])
    assert "hallucination" in legend and "severity:" in legend and "high" in legend


def test_overlapping_spans_stay_readable_and_severity_sets_intensity():
    text = "one two three four"
    spans = [(0, 13, "hallucination", "high", "h"), (4, 18, "repetition", "low", "r")]
    out = category_highlight_html(text, spans)
    marks = re.findall(r'<mark class="([^"]+)" title="([^"]*)">([^<]*)</mark>', out)
    assert [m[2] for m in marks] == ["one ", "two three", " four"]  # cut at every boundary
    assert "wb-s-high" in marks[0][0] and "wb-s-low" in marks[2][0]
    # where both cover the text: the more severe one's colour, the other underlined, both named
    assert "wb-over" in marks[1][0] and marks[1][1] == "h, r"
    assert "<script" not in category_highlight_html(XSS[0], [(0, 8, "<b>", "high", "<i>")])


def test_a_regressions_new_words_are_not_drawn_green():
    a, b = "The capital is Vell.", "The capital is Vell. It was founded by King Oram."
    _, fixed_b = word_diff_html(a, b)
    _, regressed_b = word_diff_html(a, b, tone="regressed")
    assert "<ins>" in fixed_b  # green: B is the better one
    assert '<ins class="wb-bad">' in regressed_b and "<ins>" not in regressed_b
    left, right = diff_highlight_html(a, b, [], [(21, 48, "hallucination", "high", "h")],
                                      tone="regressed")
    assert '<ins class="wb-bad"><mark class="wb-cat' in right and "founded" in right


def test_p_values_read_as_in_the_cli():
    assert fmt_p(0.00001) == "<0.001" and fmt_p(0.0421) == "0.042" and fmt_p(1.0) == "1.000"
    assert fmt_p(float("nan")) == "–"


def test_links_escape_their_values():
    assert page_link("item", item="a&b c", suite=None) == "item?item=a%26b+c"
    assert page_link("failures", f_run=["r1", "r2"]) == "failures?f_run=r1&f_run=r2"


# -- queries ----------------------------------------------------------------------------------

@pytest.mark.parametrize("sort", list(queries.SORTS))
def test_failures_sort_orders_by_the_value_shown(ro, sort):
    total = queries.count_failures(ro)
    page = queries.failures_page(ro, sort=sort, limit=1000)
    assert page.total == total and len(page.rows) == total
    rows = page.rows
    if sort == "run":
        keys = list(zip(rows.run_id, rows.item_id, strict=True))
        assert keys == sorted(keys)
    elif sort == "item":
        assert list(rows.item_id) == sorted(rows.item_id)
    elif sort in ("length", "tokens", "latency"):
        col = {"length": rows.text.str.len(), "tokens": rows.tokens_out,
               "latency": rows.latency_s}[sort]
        assert list(col) == sorted(col, reverse=True)
    else:
        flagged = page.findings[page.findings.flagged]
        rank = {"high": 3, "medium": 2, "low": 1, "info": 0}
        best = (flagged.groupby("output_id").score.max() if sort == "score" else
                flagged.assign(r=flagged.severity.map(rank)).groupby("output_id").r.max())
        values = [best[o] for o in rows.output_id]
        assert values == sorted(values, reverse=True)
    # reversed, and paged: the same set in the other order, pages disjoint
    back = queries.failures_page(ro, sort=sort, descending=not queries.SORTS[sort][1],
                                 limit=1000)
    assert set(back.rows.output_id) == set(rows.output_id)
    first = queries.failures_page(ro, sort=sort, limit=7)
    second = queries.failures_page(ro, sort=sort, limit=7, offset=7)
    assert list(first.rows.output_id) + list(second.rows.output_id) == \
        list(rows.output_id[:14])


def test_sort_by_score_uses_the_chosen_categories(ro):
    page = queries.failures_page(ro, category="repetition", sort="score", limit=1000)
    rep = page.findings[page.findings.flagged & (page.findings.category == "repetition")]
    values = [rep[rep.output_id == o].score.max() for o in page.rows.output_id]
    assert values == sorted(values, reverse=True)
    with pytest.raises(ValueError, match="unknown sort"):
        queries.failures_page(ro, sort="1; DROP TABLE outputs")


def test_search_finds_item_ids_and_the_item_filter_is_exact(ro, sample):
    got = queries.failures_page(ro, text="q00", flagged_only=False, limit=1000)
    assert set(got.rows.item_id) == {f"q00{i}" for i in range(10)}
    assert got.total == 2 * 10
    assert queries.count_failures(ro, item_id="q005", flagged_only=False) == 2
    assert queries.count_failures(ro, item_id=["q005", "q006"], flagged_only=False) == 4
    assert queries.count_failures(ro, item_id="q00", flagged_only=False) == 0


def test_item_queries(ro, sample):
    suites = queries.item_suites(ro, "q005")
    assert list(suites.suite_id) == [sample.suite_id] and bool(suites.stored.iloc[0])
    outs = queries.item_outputs(ro, sample.suite_id, "q005")
    assert set(outs.run_id) == {sample.run_base, sample.run_tuned}
    assert all(isinstance(m, dict) and "exact_match" in m for m in outs.metrics)
    item = queries.item(ro, sample.suite_id, "q005")
    assert item["prompt"] and item["tags"] == ["geo", "river"]
    assert queries.item(ro, sample.suite_id, "' OR 1=1 --") is None
    sugg = queries.suggestions(ro, sample.set_id, limit=1000)[1]
    targeted = {i for ids in sugg.source_item_ids for i in ids}
    one = sorted(targeted)[0]
    mine = queries.item_suggestions(ro, one, sample.suite_id)
    assert len(mine) == sum(one in list(ids) for ids in sugg.source_item_ids) >= 1
    assert queries.item_suggestions(ro, "nope").empty


def test_run_matrix(ro, sample):
    runs = [sample.run_base, sample.run_tuned]
    long = queries.run_matrix(ro, runs)
    assert len(long) == 2 * sample.n_items
    finds = pd.concat([Store(sample.path, read_only=True).run_findings(r) for r in runs])
    flagged = set(finds[finds.flagged].output_id)
    assert set(long[long.failed].output_id) == flagged
    rep = queries.run_matrix(ro, runs, category="repetition")
    assert set(rep[rep.failed].output_id) == set(
        finds[finds.flagged & (finds.category == "repetition")].output_id)
    em = queries.run_matrix(ro, runs, metric="exact_match")
    assert set(em.value.dropna()) <= {0.0, 1.0} and em.value.notna().all()
    assert queries.metric_names(ro, runs) == ["exact_match"]
    assert queries.run_matrix(ro, runs, metric="' OR 1=1 --").value.isna().all()


# -- pages ------------------------------------------------------------------------------------

def test_failures_filters_come_from_the_url_and_go_back_to_it(sample, monkeypatch, ro):
    at = _open(sample, monkeypatch, "failures.py", f_category="repetition", f_sort="tokens",
               f_run=sample.run_base)
    _ok(at)
    assert at.sidebar.multiselect(key="f_category").value == ["repetition"]
    assert at.sidebar.multiselect(key="f_run").value == [sample.run_base]
    expected = queries.failures_page(ro, category="repetition", run_id=sample.run_base,
                                     sort="tokens", limit=25)
    assert [_item_of(r) for r in _rows(at)] == list(expected.rows.item_id)
    assert any(f"of {expected.total:,}" in m.value for m in at.markdown)
    # a change is written back to the URL, so the view can be bookmarked
    at.sidebar.multiselect(key="f_severity").set_value(["high"]).run()
    _ok(at)
    assert at.query_params["f_severity"] in ("high", ["high"])
    assert at.query_params["f_category"] in ("repetition", ["repetition"])
    # values the data does not hold are dropped, not errors
    at = _open(sample, monkeypatch, "failures.py", f_category="<nope>", f_sort="nope")
    _ok(at)
    assert at.sidebar.multiselect(key="f_category").value == []
    assert at.selectbox(key="f_sort").value == "run"


def test_failures_rows_link_and_show_numbers(sample, monkeypatch):
    at = _open(sample, monkeypatch, "failures.py", f_run=sample.run_base, f_pager_size="10")
    _ok(at)
    rows = _rows(at)
    assert len(rows) == 10
    for row in rows:
        hrefs = _hrefs(row)
        assert f"failures?f_run={sample.run_base}" in hrefs
        assert any(h.startswith("item?item=q") and f"suite={sample.suite_id.replace('@', '%40')}"
                   in h for h in hrefs)
        assert "tokens out:" in row and "latency:" in row and "exact match:" in row
        assert '<div class="wb-label">prompt</div>' in row
    # compact: closed by default, all open on request
    assert not any("<details class=\"wb-row\" open>" in r for r in rows)
    at.toggle(key="f_open").set_value(True).run()
    assert all('<details class="wb-row" open>' in r for r in _rows(at))
    # the legend names the categories flagged on the page
    assert any("wb-legend" in h.value and "hallucination" in h.value for h in at.html)


def test_failures_pager_clamps_and_shows_the_page_it_shows(sample, monkeypatch, ro):
    total = queries.count_failures(ro, run_id=sample.run_base)
    pages = -(-total // 10)
    at = _open(sample, monkeypatch, "failures.py", f_run=sample.run_base, f_pager_size="10",
               f_pager_page="999")
    _ok(at)
    assert at.number_input(key="f_pager_page").value == pages
    assert len(_rows(at)) == total - 10 * (pages - 1)
    # the buttons under the rows move a page back and forth
    at.button(key="f_pager_prev").click().run()
    _ok(at)
    assert at.number_input(key="f_pager_page").value == pages - 1 and len(_rows(at)) == 10
    at.button(key="f_pager_next").click().run()
    assert at.number_input(key="f_pager_page").value == pages


def test_failures_search_finds_an_item_id(sample, monkeypatch):
    at = _open(sample, monkeypatch, "failures.py", f_text="q005", f_flagged="0")
    _ok(at)
    assert sorted(_item_of(r) for r in _rows(at)) == ["q005", "q005"]
    at = _open(sample, monkeypatch, "failures.py", f_item="q005, q006", f_flagged="0")
    assert sorted(_item_of(r) for r in _rows(at)) == ["q005", "q005", "q006", "q006"]


def test_failures_sorted_by_score_on_the_page(sample, monkeypatch, ro):
    at = _open(sample, monkeypatch, "failures.py", f_sort="score", f_pager_size="50")
    _ok(at)
    page = queries.failures_page(ro, sort="score", limit=50)
    assert [_item_of(r) for r in _rows(at)] == list(page.rows.item_id)
    at.toggle(key="f_reverse").set_value(True).run()
    back = queries.failures_page(ro, sort="score", descending=False, limit=50)
    assert [_item_of(r) for r in _rows(at)] == list(back.rows.item_id)


def test_item_page_deep_link(sample, monkeypatch, ro):
    sugg = queries.suggestions(ro, sample.set_id, limit=1000)[1]
    target = sorted({i for ids in sugg.source_item_ids for i in ids})[0]
    at = _open(sample, monkeypatch, "item.py", item=target, suite=sample.suite_id)
    _ok(at)
    joined = "".join(h.value for h in at.html)
    item = queries.item(ro, sample.suite_id, target)
    assert item["prompt"] in joined and item["context"] in joined and item["reference"] in joined
    outs = queries.item_outputs(ro, sample.suite_id, target)
    for text in outs.text:  # each run's output, escaped
        assert text.replace("'", "&#x27;").replace("<", "&lt;").replace(">", "&gt;")[:20] \
            in joined
    assert joined.count('<div class="wb-label">output</div>') == 2
    assert f"failures?f_run={sample.run_base}" in joined
    assert "tokens out:" in joined and "exact match:" in joined
    assert "Suggestions that target it" in [s.value for s in at.subheader]
    assert f"suggestions?s_set={sample.set_id}" in joined
    # without a suite in the link, the only suite holding the id is taken
    at = _open(sample, monkeypatch, "item.py", item=target)
    _ok(at)
    assert at.selectbox(key="suite").value == sample.suite_id
    at = _open(sample, monkeypatch, "item.py", item="no-such-item")
    _ok(at)
    assert at.warning and "No suite holds this item id" in at.warning[0].value
    at = _open(sample, monkeypatch, "item.py")
    _ok(at)
    assert at.info


def test_item_page_escapes_html_outputs(sample, monkeypatch):
    at = _open(sample, monkeypatch, "item.py", item="q005")
    _ok(at)
    joined = "".join(h.value for h in at.html)
    assert "&lt;script&gt;" in joined and "<script" not in joined


def test_empty_database_says_how_to_fill_it(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    Store(tmp_path / "empty.duckdb")
    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "empty.duckdb"))
    at = AppTest.from_file(str(APP_PATH), default_timeout=60)
    at.switch_page("failures.py")
    at.run()
    _ok(at)
    assert [i.value for i in at.info] and "workbench demo --tiny" in at.info[0].value
    assert "No output matches" not in at.info[0].value


def test_compare_counts_distinct_items_and_formats_p(sample, monkeypatch, ro):
    from workbench.compare.compare import compare_runs

    at = _open(sample, monkeypatch, "compare.py")
    _ok(at)
    cmp = compare_runs(ro, sample.run_base, sample.run_tuned)
    metrics = {m.label: m.value for m in at.metric}
    fixed = {c.item_id for r in cmp.rows if r.kind == "category"
             for c in cmp.items(r.name, "fixed")}
    assert metrics["Items fixed (any category)"] == f"{len(fixed):,}"
    table = at.dataframe[0].value.set_index("category")
    assert int(metrics["Items fixed (any category)"]) <= table.fixed.sum()
    for r in cmp.rows:
        if r.kind == "category":
            assert table.loc[r.name, "p-value"] == fmt_p(r.p_value)
    assert any("<0.001" == p or re.fullmatch(r"\d\.\d{3}", p) for p in table["p-value"])


def test_compare_metric_changes_are_browsable(sample, monkeypatch, ro):
    from workbench.compare.compare import compare_runs

    cmp = compare_runs(ro, sample.run_base, sample.run_tuned)
    fixed = cmp.items("exact_match", "fixed")
    assert fixed  # the tuned run gets more answers right
    at = _open(sample, monkeypatch, "compare.py", c_name="metric:exact_match",
               c_status="fixed")
    _ok(at)
    cards = [h.value for h in at.html if "<b>exact_match</b> · fixed" in h.value]
    assert len(cards) == min(10, len(fixed))
    assert {_item_of(c) for c in cards} == {c.item_id for c in fixed[:10]}
    # the cards carry the context and each side's flagged spans
    joined = "".join(h.value for h in at.html)
    assert "<summary class='wb-label'>context</summary>" in joined
    assert '<mark class="wb-cat' in joined


def test_compare_regressed_cards_do_not_draw_new_errors_green(sample, monkeypatch, ro):
    from workbench.compare.compare import compare_runs

    cmp = compare_runs(ro, sample.run_base, sample.run_tuned)
    cat = next(r.name for r in cmp.rows if r.kind == "category" and r.regressed)
    at = _open(sample, monkeypatch, "compare.py", c_name=f"category:{cat}",
               c_status="regressed")
    _ok(at)
    sides = [h.value for h in at.html if "run B ·" in h.value]
    assert sides and all("<ins>" not in s for s in sides)
    assert any('<ins class="wb-bad">' in s for s in sides)


def test_many_runs_side_by_side(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    ids = build_sample_db(tmp_path / "many.duckdb", n_items=12)
    store = Store(ids.path)
    # a third run of the same suite: a copy of the tuned run's outputs, none flagged
    outs = store.run_outputs(ids.run_tuned).copy()
    run3, _ = store.start_run(model_id=ids.tuned_model, model_name="tiny-tuned-2",
                              suite_id=ids.suite_id, config_key="third", gen_config={}, seed=1)
    outs = outs.assign(run_id=run3, output_id=[f"{run3}-{i}" for i in outs.item_id],
                       cache_key=[f"c3-{i}" for i in outs.item_id])
    store.add_outputs(outs[["output_id", "run_id", "item_id", "text", "cache_key", "metrics"]],
                      pd.DataFrame(columns=["output_id", "run_id", "check_name", "category",
                                            "flagged", "score"]))
    store.finish_run(run3, {})
    monkeypatch.setenv("WORKBENCH_DB", ids.path)
    at = AppTest.from_file(str(APP_PATH), default_timeout=90)
    at.query_params["c_mode"] = "Many runs"
    at.query_params["m_differ"] = "0"
    at.switch_page("compare.py")
    at.run()
    _ok(at)
    assert at.multiselect(key="m_runs").value == [ids.run_base, ids.run_tuned, run3]
    head, grid = at.dataframe[0].value, at.dataframe[1].value
    assert list(head.outputs) == [12, 12, 12]
    assert len(grid) == 12 and grid.shape[1] == 1 + 3  # item link, one column per run
    assert all(grid.iloc[:, -1] == "")  # the third run has no flag
    assert grid["item"].iloc[0].startswith("item?item=q000")
    at.toggle(key="m_differ").set_value(True).run()
    differ = at.dataframe[1].value
    assert 0 < len(differ) <= 12
    assert all(len(set(r)) > 1 for r in differ.iloc[:, 1:].itertuples(index=False))


def test_suggestions_count_every_category_an_example_targets(sample, monkeypatch, ro):
    cats = queries.suggestion_categories(ro, sample.set_id).set_index("category")
    secondary = next(c for c in cats.index if cats.loc[c, "primary"] < cats.loc[c, "n"])
    at = _open(sample, monkeypatch, "suggestions.py", s_category=secondary)
    _ok(at)
    table = at.dataframe[0].value
    assert len(table) == cats.loc[secondary, "n"]
    assert all(c == secondary or secondary in also
               for c, also in zip(table.category, table["also targets"], strict=True))
    assert all(link.startswith("item?item=") for link in table["source item"])
