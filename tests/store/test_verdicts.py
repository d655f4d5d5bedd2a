"""Human verdicts on the checks: stored (latest wins), exported, measured as each check's
precision (`workbench checks --precision`, the overview), and recorded from the item page."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from workbench.dashboard import APP_PATH
from workbench.dashboard.sample import build_sample_db
from workbench.errors import ConfigError
from workbench.store import Store
from workbench.store.runs import export_frame
from workbench.store.verdicts import check_precision, latest_verdicts, record_verdict


@pytest.fixture
def sample(tmp_path):
    return build_sample_db(tmp_path / "v.duckdb", n_items=12)


def _flagged(sample, category="hallucination"):
    f = Store(sample.path, read_only=True).run_findings(sample.run_base, flagged_only=True)
    return f[f.category == category].reset_index(drop=True)


def test_latest_verdict_counts_and_precision_is_right_over_reviewed(sample):
    store = Store(sample.path)
    hal = _flagged(sample)
    assert len(hal) >= 3
    a, b, c = hal.iloc[0], hal.iloc[1], hal.iloc[2]
    record_verdict(store, a.output_id, a.category, "wrong", check_name=a.check_name)
    record_verdict(store, a.output_id, a.category, "right", check_name=a.check_name)  # wins
    record_verdict(store, b.output_id, b.category, "right", check_name=b.check_name)
    record_verdict(store, c.output_id, c.category, "wrong", check_name=c.check_name)
    record_verdict(store, c.output_id, "toxicity", "missing")
    latest = latest_verdicts(store)
    assert len(latest) == 4  # one per (output, check, category)
    assert latest.set_index("output_id").loc[a.output_id, "verdict"] == "right"
    prec = check_precision(store).set_index("category")
    row = prec.loc["hallucination"]
    assert (row.reviewed, row.right, row.wrong) == (3, 2, 1)
    assert row.precision == pytest.approx(2 / 3)
    assert row.flagged == len(
        Store(sample.path, read_only=True).run_findings(sample.run_base, flagged_only=True)
        .query("category == 'hallucination'")) + len(
        Store(sample.path, read_only=True).run_findings(sample.run_tuned, flagged_only=True)
        .query("category == 'hallucination'"))
    assert prec.loc["toxicity", "missing"] == 1 and prec.loc["toxicity", "reviewed"] == 0
    assert pd.isna(prec.loc["length", "precision"])  # nothing reviewed: no precision
    # only this run's verdicts
    assert check_precision(store, [sample.run_tuned]).reviewed.sum() == 0


def test_bad_verdicts_are_refused(sample):
    store = Store(sample.path)
    hal = _flagged(sample).iloc[0]
    with pytest.raises(ConfigError, match="unknown verdict"):
        record_verdict(store, hal.output_id, hal.category, "maybe", check_name=hal.check_name)
    with pytest.raises(ConfigError, match="name it"):
        record_verdict(store, hal.output_id, hal.category, "right")
    with pytest.raises(ConfigError, match="no output"):
        record_verdict(store, "' OR 1=1 --", "x", "missing")
    assert latest_verdicts(store).empty


def test_export_carries_the_verdicts(sample):
    store = Store(sample.path)
    hal = _flagged(sample).iloc[0]
    record_verdict(store, hal.output_id, hal.category, "wrong", check_name=hal.check_name)
    record_verdict(store, hal.output_id, "toxicity", "missing")
    df = export_frame(store, sample.run_base).set_index("output_id")
    finds = df.loc[hal.output_id, "findings"]
    mine = [f for f in finds if f["check"] == hal.check_name]
    assert [f["verdict"] for f in mine] == ["wrong"]
    assert all(f["verdict"] is None for f in finds if f["check"] != hal.check_name)
    assert df.loc[hal.output_id, "missing"] == ["toxicity"]


def test_checks_precision_command(sample, cli):
    store = Store(sample.path)
    hal = _flagged(sample).iloc[0]
    res = cli("checks", "--precision", "--db", sample.path)
    assert res.exit_code == 0 and "no verdicts yet" in res.output
    record_verdict(store, hal.output_id, hal.category, "wrong", check_name=hal.check_name)
    res = cli("checks", "--precision", "--db", sample.path, "--json")
    rows = {r["category"]: r for r in json.loads(res.stdout)["precision"]}
    assert rows["hallucination"]["reviewed"] == 1 and rows["hallucination"]["precision"] == 0.0
    assert rows["length"]["precision"] is None


def test_verdict_recorded_on_the_item_page_changes_the_precision(sample, monkeypatch):
    from streamlit.testing.v1 import AppTest

    hal = _flagged(sample).iloc[0]
    monkeypatch.setenv("WORKBENCH_DB", sample.path)
    at = AppTest.from_file(str(APP_PATH), default_timeout=90)
    assert any("No verdicts yet" in c.value for c in at.run().caption)
    item_id = hal.output_id.split("-", 1)[1]
    at.query_params["item"] = item_id
    at.switch_page("item.py")
    at.run()
    assert not at.exception and not at.error
    key = f"v|{hal.output_id}|{hal.check_name}|{hal.category}|wrong"
    at.button(key=key).click().run()
    assert not at.exception and not at.error
    assert at.button(key=key).disabled  # it is the verdict now
    judged = latest_verdicts(Store(sample.path, read_only=True))
    assert list(judged.verdict) == ["wrong"] and judged.output_id.iloc[0] == hal.output_id
    # a category no check flagged, marked as missing
    missing = at.selectbox(key=f"m|{hal.output_id}|cat")
    assert "hallucination" not in missing.options  # it is flagged: judged above, not missing
    missing.set_value(missing.options[0]).run()
    at.button(key=f"m|{hal.output_id}|go").click().run()
    assert not at.exception and not at.error
    assert len(latest_verdicts(Store(sample.path, read_only=True))) == 2
    at.switch_page("overview.py").run()
    prec = at.dataframe[-1].value.set_index("category")
    assert prec.loc["hallucination", "reviewed"] == 1
    assert prec.loc["hallucination", "precision"] == 0.0


def test_verdicts_recorded_on_the_failures_rows(sample, monkeypatch):
    """Each row of the Failures page has the item page's Review box: a flagged finding marked
    right, a missing category added, both stored and shown, the page still filtered."""
    from streamlit.testing.v1 import AppTest

    from workbench.store import queries

    ro = Store(sample.path, read_only=True)
    page = queries.failures_page(ro, run_id=sample.run_base, category="hallucination",
                                 limit=25)
    first = page.rows.output_id.iloc[0]
    finding = page.findings[(page.findings.output_id == first) & page.findings.flagged
                            & (page.findings.category == "hallucination")].iloc[0]
    monkeypatch.setenv("WORKBENCH_DB", sample.path)
    at = AppTest.from_file(str(APP_PATH), default_timeout=90)
    at.query_params["f_run"] = sample.run_base
    at.query_params["f_category"] = "hallucination"
    at.switch_page("failures.py")
    at.run()
    assert not at.exception and not at.error
    rows = [h.value for h in at.html if '<details class="wb-row"' in h.value]
    boxes = [e for e in at.expander if e.label.startswith("Review the checks on this output")]
    assert len(boxes) == len(rows) == page.total and all("(0 verdict(s))" in b.label
                                                         for b in boxes)
    key = f"v|{first}|{finding.check_name}|hallucination|right"
    at.button(key=key).click().run()
    assert not at.exception and not at.error
    assert at.button(key=key).disabled  # it is the verdict now
    assert not at.button(key=key.replace("|right", "|wrong")).disabled
    judged = latest_verdicts(Store(sample.path, read_only=True))
    assert list(zip(judged.output_id, judged.check_name, judged.category, judged.verdict,
                    strict=True)) == [(first, finding.check_name, "hallucination", "right")]
    boxes = [e for e in at.expander if e.label.startswith("Review the checks on this output")]
    assert sum("(1 verdict(s))" in b.label for b in boxes) == 1
    # the filters hold after the write: the same rows
    assert len([h for h in at.html if '<details class="wb-row"' in h.value]) == len(rows)
    # a category no check flagged on this output, marked as missing
    missing = at.selectbox(key=f"m|{first}|cat")
    assert "hallucination" not in missing.options
    missing.set_value(missing.options[0]).run()
    at.button(key=f"m|{first}|go").click().run()
    assert not at.exception and not at.error
    judged = latest_verdicts(Store(sample.path, read_only=True))
    assert sorted(judged.verdict) == ["missing", "right"]
    assert judged[judged.verdict == "missing"].category.iloc[0] == missing.options[0]
    # the precision the overview shows counts it
    at.switch_page("overview.py").run()
    prec = at.dataframe[-1].value.set_index("category")
    assert prec.loc["hallucination", "reviewed"] == 1
    assert prec.loc["hallucination", "precision"] == 1.0
