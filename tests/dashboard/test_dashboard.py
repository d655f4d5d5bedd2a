"""The dashboard: its read-only queries, safe rendering, every page under Streamlit's AppTest, a
writer appending while the dashboard reads, and the `workbench dashboard` command."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from workbench.dashboard import APP_PATH
from workbench.dashboard.render import highlight_html, merge_spans, word_diff_html
from workbench.dashboard.sample import XSS, build_sample_db
from workbench.store import Store, queries

INJECTION = "' OR 1=1 --"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return build_sample_db(tmp_path_factory.mktemp("dash") / "sample.duckdb", n_items=40)


@pytest.fixture
def ro(sample) -> Store:
    return Store(sample.path, read_only=True)


@pytest.fixture
def app(sample, monkeypatch):
    """An AppTest of the whole app (st.navigation) on the sample database."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("WORKBENCH_DB", sample.path)
    at = AppTest.from_file(str(APP_PATH), default_timeout=60)
    return at.run()


def _raw(sample) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Outputs and findings read back whole, to check the paged queries against."""
    s = Store(sample.path, read_only=True)
    outs = pd.concat([s.run_outputs(sample.run_base), s.run_outputs(sample.run_tuned)])
    finds = pd.concat([s.run_findings(sample.run_base), s.run_findings(sample.run_tuned)])
    return outs, finds


def _no_errors(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


# -- rendering --------------------------------------------------------------------------------

def test_highlight_escapes_everything_and_marks_only_spans():
    text = f"{XSS[0]} ok {XSS[1]} & done"
    start = text.index("ok")
    out = highlight_html(text, [[start, start + 2], [0, 8], [4, 12], [500, 900]],
                         ["a<b>", "x", "y", "z"])
    assert "<script" not in out and "<img" not in out
    assert "&lt;script&gt;" in out and "&lt;img src=x onerror=alert(1)&gt;" in out
    assert "&amp; done" in out
    assert out.count("<mark") == 2  # [0,8] and [4,12] merge; [500,900] falls outside the text
    assert '<mark title="x, y">&lt;script&gt;' in out
    assert '<mark title="a&lt;b&gt;">ok</mark>' in out


def test_merge_spans_clips_and_merges():
    assert [(a, b) for a, b, _ in merge_spans([[5, 9], [0, 3], [3, 4], [8, 20], [7, 7]], 12)] \
        == [(0, 4), (5, 12)]
    assert merge_spans([[-5, 2]], 10)[0][:2] == (0, 2)
    assert highlight_html("", [[0, 3]]) == '<div class="wb-text wb-empty">(empty)</div>'
    assert highlight_html(float("nan")) == highlight_html(None) == highlight_html("")


def test_word_diff_marks_removed_and_added_words_escaped():
    left, right = word_diff_html("The capital is Vell <b>.", "The capital is Oram <b>.")
    assert "<del>Vell</del>" in left and "<ins>Oram</ins>" in right
    assert "&lt;b&gt;" in left and "<b>" not in left


# -- queries ----------------------------------------------------------------------------------

def test_overview_queries(ro, sample):
    m = queries.models(ro).set_index("name")
    assert m.loc["tiny-tuned", "lineage"] == "tiny-base -> tiny-tuned"
    assert m.loc["tiny-tuned", "parent_name"] == "tiny-base"
    runs = queries.runs(ro).set_index("run_id")
    outs, finds = _raw(sample)
    for run_id in (sample.run_base, sample.run_tuned):
        flagged = finds[(finds.run_id == run_id) & finds.flagged].output_id.nunique()
        assert runs.loc[run_id, "n_outputs"] == sample.n_items
        assert runs.loc[run_id, "n_flagged"] == flagged
    rates = queries.category_rates(ro, sample.run_base).set_index("category")
    base = finds[finds.run_id == sample.run_base]
    for cat, grp in base.groupby("category"):
        assert rates.loc[cat, "flagged"] == grp.flagged.sum()
        assert rates.loc[cat, "rate"] == pytest.approx(grp.flagged.mean())
    t = queries.totals(ro)
    assert t["outputs"] == 2 * sample.n_items and t["trainings"] == 1


def test_failures_page_counts_pages_and_filters(ro, sample):
    outs, finds = _raw(sample)
    flagged = finds[finds.flagged]
    assert queries.count_failures(ro) == flagged.output_id.nunique()
    # paging: disjoint pages that together cover every match, in a stable order
    seen = []
    total = queries.count_failures(ro, run_id=sample.run_base)
    for offset in range(0, total, 7):
        page = queries.failures_page(ro, run_id=sample.run_base, limit=7, offset=offset)
        assert page.total == total and len(page.rows) <= 7
        seen += list(page.rows.output_id)
    assert len(seen) == len(set(seen)) == total
    assert set(seen) == set(flagged[flagged.run_id == sample.run_base].output_id)
    # every finding of a page's outputs comes with it (flagged or not), spans parsed
    page = queries.failures_page(ro, run_id=sample.run_base, limit=5)
    assert len(page.findings) == 5 * 4
    some = page.findings[page.findings.flagged].iloc[0]
    assert isinstance(some.spans, list) and all(len(s) == 2 for s in some.spans)
    # a category + severity filter needs one finding that has both
    want = flagged[(flagged.category == "hallucination") & (flagged.severity == "high")]
    got = queries.failures_page(ro, category="hallucination", severity="high", limit=1000)
    assert set(got.rows.output_id) == set(want.output_id)
    # tags, checks and text
    math_items = {f"q{i:03d}" for i in range(sample.n_items) if i % 4 == 3}
    got = queries.failures_page(ro, tag=["math"], limit=1000)
    assert set(got.rows.item_id) <= math_items and got.total > 0
    assert queries.count_failures(ro, check="spelling") == \
        flagged[flagged.check_name == "spelling"].output_id.nunique()
    got = queries.failures_page(ro, text="ONERROR", limit=1000)
    assert got.total >= 1 and all("onerror" in t for t in got.rows.text)
    # text and tag filters count in the same pass as the page: same totals, also past the end
    for kw in ({"text": "river"}, {"tag": "geo"}, {"text": "RIVER", "category": "repetition"}):
        n = queries.count_failures(ro, **kw)
        assert n > 0
        assert queries.failures_page(ro, **kw, limit=3).total == n
        assert queries.failures_page(ro, **kw, limit=3, offset=10_000).total == n
    # not only flagged: every output of the run matches
    assert queries.count_failures(ro, run_id=sample.run_base, flagged_only=False) == sample.n_items


@pytest.mark.parametrize("field", ["run_id", "suite_id", "category", "check", "severity", "tag",
                                   "text"])
def test_filter_values_are_bound_not_pasted(ro, field):
    assert queries.count_failures(ro, **{field: INJECTION}) == 0
    page = queries.failures_page(ro, **{field: [INJECTION] if field != "text" else INJECTION})
    assert page.total == 0 and page.rows.empty
    # LIKE wildcards mean nothing either: the text filter is a plain substring
    assert queries.count_failures(ro, text="%") == 0 and queries.count_failures(ro, text="_") == 0


def test_suggestion_and_training_queries(ro, sample):
    total, page = queries.suggestions(ro, sample.set_id, limit=3)
    assert total == queries.suggestion_sets(ro).stored.iloc[0] and len(page) == 3
    assert "reason" in page.provenance.iloc[0]
    cats = queries.suggestion_categories(ro, sample.set_id).set_index("category")
    assert cats.primary.sum() == total  # each example is filed under one category
    # ... and counted under every category it targets (its own and its failures')
    _, every = queries.suggestions(ro, sample.set_id, limit=1000)
    for cat in cats.index:
        targeting = sum(cat in cs for cs in every.categories)
        assert cats.loc[cat, "n"] == targeting
        assert queries.suggestions(ro, sample.set_id, category=cat)[0] == targeting
    assert cats.n.sum() > total  # the sample holds examples made for several categories
    assert all(c == cs[0] or c in cs for c, cs in zip(every.category, every.categories,
                                                      strict=True))
    assert queries.suggestions(ro, INJECTION)[0] == 0
    curves = queries.loss_curves(ro)
    assert list(curves.step) == list(range(1, 41)) and curves.loss.iloc[0] > curves.loss.iloc[-1]
    tr = queries.trainings(ro).iloc[0]
    assert (tr.parent_name, tr.result_name) == ("tiny-base", "tiny-tuned")


def test_outputs_by_id(ro, sample):
    ids = [f"{sample.run_base}-q001", f"{sample.run_tuned}-q001", INJECTION]
    df = queries.outputs_by_id(ro, ids).set_index("output_id")
    assert len(df) == 2 and df.loc[ids[0], "prompt"] == "Which river flows through Oram?"
    assert queries.outputs_by_id(ro, []).empty


# -- pages (AppTest) --------------------------------------------------------------------------

def test_overview_page(app, sample):
    _no_errors(app)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Runs"] == "2" and metrics["Outputs"] == str(2 * sample.n_items)
    models = app.dataframe[0].value
    assert "tiny-base -> tiny-tuned" in set(models.lineage)
    assert set(app.dataframe[1].value.run_id) == {sample.run_base, sample.run_tuned}
    assert len(app.get("vega_lite_chart")) == 1  # error rate per category per run


def test_failures_page_highlights_safely_and_filters(app, sample):
    app.switch_page("failures.py").run()
    _no_errors(app)
    bodies = [h.value for h in app.html]
    outputs = [b for b in bodies if '<div class="wb-label">output</div>' in b]
    assert len(outputs) == 25  # the default page size
    assert any("<mark" in b for b in outputs)
    joined = "".join(bodies)
    assert "<script" not in joined and "<img" not in joined
    # the outputs holding HTML are shown as text, escaped
    app.sidebar.text_input(key="f_text").input("onerror").run()
    _no_errors(app)
    hits = [h.value for h in app.html if "onerror" in h.value]
    assert hits and all("&lt;img src=x onerror=alert(1)&gt;" in h for h in hits)
    assert not any("<img" in h for h in hits)
    # category filter: the count shown is the query's count
    app.sidebar.text_input(key="f_text").input("").run()
    app.sidebar.multiselect(key="f_category").set_value(["repetition"]).run()
    _no_errors(app)
    expected = queries.count_failures(Store(sample.path, read_only=True), category="repetition")
    assert any(f"of {expected:,}" in m.value for m in app.markdown)
    # spans shown are those of the chosen category
    marks = [h.value for h in app.html if "<mark" in h.value]
    assert marks and all("repetition" in m for m in marks)
    # an injection attempt as a filter value matches nothing and breaks nothing
    app.sidebar.text_input(key="f_text").input(INJECTION).run()
    _no_errors(app)
    assert [i.value for i in app.info] == ["No output matches these filters."]


def test_failures_page_paging(app, sample):
    app.switch_page("failures.py").run()
    app.sidebar.multiselect(key="f_run").set_value([sample.run_base]).run()
    total = queries.count_failures(Store(sample.path, read_only=True), run_id=sample.run_base)
    app.selectbox(key="f_pager_size").set_value(10).run()
    app.number_input(key="f_pager_page").set_value(3).run()  # the last page
    _no_errors(app)
    shown = [h for h in app.html if '<div class="wb-label">output</div>' in h.value]
    assert len(shown) == total - 20
    app.number_input(key="f_pager_page").set_value(99).run()  # beyond the end: the last page
    _no_errors(app)


@pytest.mark.slow
def test_compare_page_uses_compare_runs(app, sample):
    from workbench.compare.compare import compare_runs

    app.switch_page("compare.py").run()
    _no_errors(app)
    table = app.dataframe[0].value.set_index("category")
    cmp = compare_runs(Store(sample.path, read_only=True), sample.run_base, sample.run_tuned)
    for row in cmp.rows:
        if row.kind == "category":
            assert table.loc[row.name, "fixed"] == row.fixed
            assert table.loc[row.name, "regressed"] == row.regressed
            assert table.loc[row.name, "persisting"] == row.still_failing
            assert table.loc[row.name, "verdict"] == cmp.status(row)
    shown = [m.value for m in (*app.success, *app.warning, *app.error, *app.info)]
    assert any(f"**{cmp.verdict()}**" in v and cmp.verdict_reason() in v for v in shown)
    length = next(d.value for d in app.dataframe if "output length" in d.value.columns)
    length = length.set_index("output length")
    assert length.loc["median words", "B"] == cmp.length.median_words_b
    app.selectbox(key="c_name").set_value("category:hallucination").run()
    app.radio(key="c_status").set_value("fixed").run()
    _no_errors(app)
    fixed = cmp.items("hallucination", "fixed")
    sides = [h.value for h in app.html if "run A ·" in h.value or "run B ·" in h.value]
    assert len(sides) == 2 * min(len(fixed), 10)
    # the base output had the invented founding story; the tuned one dropped it
    assert any("<del>" in s and "founded" in s for s in sides)


def test_suggestions_page(app, sample):
    app.switch_page("suggestions.py").run()
    _no_errors(app)
    table = app.dataframe[0].value
    total, _ = queries.suggestions(Store(sample.path, read_only=True), sample.set_id)
    assert len(table) == min(total, 25)
    assert all("failure on" in w and re.search(r"targets \d+ failures?: ", w)
               for w in table["why"])
    assert len(app.get("vega_lite_chart")) == 2  # examples per category, the loss curve
    trainings = app.dataframe[1].value
    assert list(trainings.result) == ["tiny-tuned"]


def test_empty_and_missing_database(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    Store(tmp_path / "empty.duckdb")
    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "empty.duckdb"))
    at = AppTest.from_file(str(APP_PATH), default_timeout=60).run()
    assert not at.exception and any("empty" in i.value for i in at.info)
    for page in ("failures.py", "compare.py", "suggestions.py"):
        at.switch_page(page).run()
        assert not at.exception and not at.error and at.info
    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "missing.duckdb"))
    at = AppTest.from_file(str(APP_PATH), default_timeout=60).run()
    assert not at.exception
    assert [e.value for e in at.error] == [f"database not found: {tmp_path / 'missing.duckdb'}"]


@pytest.mark.slow
def test_new_rows_appear_on_refresh(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    ids = build_sample_db(tmp_path / "grow.duckdb", n_items=6)
    monkeypatch.setenv("WORKBENCH_DB", ids.path)
    at = AppTest.from_file(str(APP_PATH), default_timeout=60).run()
    before = {m.label: m.value for m in at.metric}["Outputs"]
    at.switch_page("failures.py").run()
    count = queries.count_failures(Store(ids.path, read_only=True))
    assert any(f"of {count:,}" in m.value for m in at.markdown)
    # a run writes while the dashboard is open (the app holds no connection between reruns)
    out = pd.DataFrame({"output_id": ["new-1"], "run_id": [ids.run_base], "item_id": ["zz"],
                        "text": ["fresh"], "cache_key": ["new-1"]})
    fnd = pd.DataFrame({"output_id": ["new-1"], "run_id": [ids.run_base], "check_name": ["length"],
                        "category": ["length"], "flagged": [True], "score": [0.9]})
    Store(ids.path).add_outputs(out, fnd)
    at.sidebar.button(key="wb_refresh").click().run()
    _no_errors(at)
    assert any(f"of {count + 1:,}" in m.value for m in at.markdown)
    at.switch_page("overview.py").run()
    assert {m.label: m.value for m in at.metric}["Outputs"] == str(int(before) + 1)


def test_category_rates_count_outputs_once_when_several_checks_share_a_category(tmp_path):
    s = Store(tmp_path / "multi.duckdb")
    rows = []
    for n in range(4):  # two checks report 'length'; output 0 is flagged by both
        for check, flagged in (("a", n in (0, 1)), ("b", n in (0, 2))):
            rows.append({"output_id": f"o{n}", "run_id": "r", "check_name": check,
                         "category": "length", "flagged": flagged, "score": 0.5})
        rows.append({"output_id": f"o{n}", "run_id": "r", "check_name": "rep",
                     "category": "repetition", "flagged": n == 3, "score": 0.5})
    s.add_findings(pd.DataFrame(rows))
    rates = queries.category_rates(s).set_index("category")
    assert rates.loc["length", ["checked", "flagged"]].tolist() == [4, 3]
    assert rates.loc["repetition", ["checked", "flagged"]].tolist() == [4, 1]
    assert rates.loc["length", "rate"] == pytest.approx(0.75)
    assert queries.category_rates(s, INJECTION).empty


# -- reading while a run writes ---------------------------------------------------------------

WRITER = textwrap.dedent("""
    import sys, time
    import pandas as pd
    from workbench.store import Store
    path, run_id, batches = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = Store(path)
    for b in range(batches):
        ids = [f"{run_id}-w{b}-{i}" for i in range(50)]
        outs = pd.DataFrame({"output_id": ids, "run_id": run_id,
                             "item_id": [f"w{b}-{i}" for i in range(50)],
                             "text": "a written output", "cache_key": ids})
        finds = pd.DataFrame({"output_id": ids, "run_id": run_id, "check_name": "repetition",
                              "category": "repetition", "flagged": True, "score": 0.9,
                              "severity": "high", "spans": "[[0, 1]]", "message": "m"})
        store.add_outputs(outs, finds)
        print(b, flush=True)
        time.sleep(0.05)
""")


@pytest.mark.slow
def test_dashboard_reads_while_a_run_writes(tmp_path):
    path = tmp_path / "live.duckdb"
    ids = build_sample_db(path, n_items=8)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), ids.run_tuned, "8"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ro = Store(path, read_only=True, lock_timeout=30)
    counts, reads = [], 0
    try:
        while True:
            finished = writer.poll() is not None  # so the last read comes after the last write
            with ro.connect():  # one page render's worth of reads
                queries.totals(ro)
                queries.runs(ro)
                counts.append(queries.count_failures(ro, run_id=ids.run_tuned))
                queries.failures_page(ro, run_id=ids.run_tuned, limit=10)
            reads += 1
            if finished and reads >= 3:
                break
            time.sleep(0.2)  # a refresh, not a busy loop: leave the writer its turn
        out, err = writer.communicate(timeout=60)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == 0, err
    assert out.split() == [str(b) for b in range(8)]  # every write went through
    assert reads >= 3 and counts == sorted(counts)  # no read failed; rows only ever appear
    assert counts[-1] == queries.count_failures(ro, run_id=ids.run_tuned)
    assert counts[-1] >= 8 * 50


# -- the command ------------------------------------------------------------------------------

def test_streamlit_command_is_headless_and_passes_the_db():
    from workbench.dashboard.server import streamlit_command

    cmd = streamlit_command("/x/db.duckdb", 8600, "127.0.0.1")
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4] == str(APP_PATH)
    assert cmd[cmd.index("--server.headless") + 1] == "true"
    assert cmd[cmd.index("--server.port") + 1] == "8600"
    assert cmd[-3:] == ["--", "--db", "/x/db.duckdb"]


def _workbench() -> list[str]:
    script = Path(sys.executable).with_name("workbench")
    return [str(script)] if script.exists() else [
        sys.executable, "-c", "from workbench.cli import main; main()"]


def test_dashboard_command_refuses_a_missing_database(tmp_path):
    res = subprocess.run([*_workbench(), "dashboard", "--db", str(tmp_path / "nope.duckdb"),
                          "--no-browser"], capture_output=True, text=True, timeout=60)
    assert res.returncode != 0
    assert "database not found" in res.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_dashboard_command_serves_and_stops(sample):
    port = free_port()
    proc = subprocess.Popen([*_workbench(), "dashboard", "--db", sample.path, "--port",
                             str(port), "--no-browser"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()  # printed once the server answers
        assert url == f"http://localhost:{port}", proc.stderr.read() if not url else url
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=10) as r:
            assert r.read() == b"ok"
    finally:
        proc.terminate()
        proc.wait(30)
    # the server went down with the command
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                break
        time.sleep(0.2)
    else:
        pytest.fail("the dashboard server is still listening after the command stopped")


def test_sample_database_is_demo_like(sample):
    s = Store(sample.path, read_only=True)
    spans = json.loads(s.run_findings(sample.run_base, flagged_only=True).spans.iloc[0])
    assert spans and all(b > a for a, b in spans)
    assert os.path.exists(sample.path)
