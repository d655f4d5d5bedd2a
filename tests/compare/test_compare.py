"""compare_runs and `workbench compare` on synthetic stores with hand-computed statistics."""

from __future__ import annotations

import json
import math

import pytest
from workbench_testing.stores import add_run, add_suite

from workbench.compare.compare import CompareError, compare_runs
from workbench.compare.stats import (
    bootstrap_mean_ci,
    mcnemar_exact,
    paired_bootstrap_ci,
    wilson_ci,
    z_for,
)
from workbench.store import Store


def rep(flagged: bool, **kw) -> dict:
    return {"check": "repetition", "category": "repetition", "flagged": flagged, **kw}


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "cmp.duckdb")


@pytest.fixture
def two_runs(store):
    """20 items. A: repetition on items 0-9, exact_match 1 everywhere.
    B: repetition on items 9 and 10 only (9 fixed, 1 regressed), exact_match 0 on items 0-9."""
    ids = [f"q{i:02d}" for i in range(20)]
    add_suite(store, "demo@1", [{"item_id": i, "prompt": f"question {i}"} for i in ids])
    a = add_run(store, "demo@1", "base", {
        i: {"metrics": {"exact_match": 1.0, "bleu": 0.5}, "findings": [rep(k < 10)]}
        for k, i in enumerate(ids)})
    b = add_run(store, "demo@1", "tuned", {
        i: {"metrics": {"exact_match": 0.0 if k < 10 else 1.0, "bleu": 0.5 + (0.1 if k < 3 else 0)},
            "findings": [rep(k in (9, 10))]}
        for k, i in enumerate(ids)})
    return a, b


# -- statistics against hand-computed values ---------------------------------------------------
def test_wilson_matches_hand_computed():
    z = 1.959963984540054
    assert z_for(0.95) == pytest.approx(z, abs=1e-12)
    # 3/10: centre (0.3 + z^2/20)/(1 + z^2/10), half-width z*sqrt(.021 + z^2/400)/(1 + z^2/10)
    lo, hi = wilson_ci(3, 10)
    d = 1 + z * z / 10
    c, h = (0.3 + z * z / 20) / d, z * math.sqrt(0.021 + z * z / 400) / d
    assert (lo, hi) == pytest.approx((c - h, c + h), abs=1e-12)
    assert (lo, hi) == pytest.approx((0.10779, 0.60322), abs=1e-5)
    # k = 0: the upper bound is z^2 / (n + z^2)
    assert wilson_ci(0, 20) == pytest.approx((0.0, z * z / (20 + z * z)), abs=1e-12)
    assert wilson_ci(20, 20)[1] == 1.0
    assert wilson_ci(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_ci(5, 3)


def test_mcnemar_exact_matches_binomial_sums():
    # b=1, c=9: 2 * (C(10,0) + C(10,1)) / 2^10
    assert mcnemar_exact(1, 9) == pytest.approx(22 / 1024, abs=1e-12)
    assert mcnemar_exact(9, 1) == pytest.approx(22 / 1024, abs=1e-12)
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32, abs=1e-12)
    assert mcnemar_exact(2, 2) == 1.0
    assert mcnemar_exact(0, 0) == 1.0
    # b=3, c=12: 2 * sum_{k<=3} C(15,k) / 2^15 = 2 * (1+15+105+455) / 32768
    assert mcnemar_exact(3, 12) == pytest.approx(2 * 576 / 32768, abs=1e-12)


def test_bootstrap_intervals_are_deterministic_and_cover_the_mean():
    x = [0.0, 1.0] * 50
    lo, hi = bootstrap_mean_ci(x)
    assert lo < 0.5 < hi and (lo, hi) == bootstrap_mean_ci(x)
    assert bootstrap_mean_ci([0.3] * 5) == (0.3, 0.3)
    lo, hi = paired_bootstrap_ci([0.0] * 40, [1.0] * 30 + [0.0] * 10)
    assert 0.5 < lo < 0.75 < hi < 0.95


# -- compare_runs --------------------------------------------------------------------------------
def test_category_row_and_transitions(store, two_runs):
    a, b = two_runs
    cmp = compare_runs(store, a, b)
    assert cmp.n_shared == 20 and cmp.only_a == cmp.only_b == 0
    r = cmp.row("repetition", "category")
    assert (r.n, r.a, r.b) == (20, 0.5, 0.1)
    assert (r.fixed, r.regressed, r.still_failing, r.still_passing) == (9, 1, 1, 9)
    assert r.p_value == pytest.approx(22 / 1024)
    assert r.ci_a == pytest.approx(wilson_ci(10, 20)) and r.ci_b == pytest.approx(wilson_ci(2, 20))
    assert r.verdict(0.05) == "better" and r.verdict(0.01) == "same"
    assert [t.item_id for t in cmp.items("repetition", "regressed")] == ["q10"]
    assert [t.item_id for t in cmp.items("repetition", "still_failing")] == ["q09"]
    assert len(cmp.items("repetition", "fixed")) == 9
    t = cmp.items("repetition", "regressed")[0]
    assert (t.a, t.b, t.output_id_a, t.output_id_b) == (False, True, f"{a}:q10", f"{b}:q10")


def test_metric_rows_binary_and_continuous(store, two_runs):
    a, b = two_runs
    cmp = compare_runs(store, a, b)
    em = cmp.row("exact_match", "metric")
    assert em.binary and (em.a, em.b) == (1.0, 0.5)
    assert (em.fixed, em.regressed, em.still_failing, em.still_passing) == (0, 10, 0, 10)
    assert em.p_value == pytest.approx(2 / 1024)
    assert em.verdict() == "worse"
    bleu = cmp.row("bleu", "metric")
    assert not bleu.binary and bleu.still_failing is None
    assert (bleu.fixed, bleu.regressed, bleu.unchanged) == (3, 0, 17)
    assert bleu.p_value == pytest.approx(0.25)  # sign test: 3 up, 0 down
    assert bleu.delta == pytest.approx(0.3 / 20)
    assert [r.name for r in cmp.regressions(0.05)] == ["exact_match"]
    # repetition fell significantly, but so did exact_match: confounded, not an improvement
    assert cmp.row("repetition").verdict() == "better"
    assert cmp.improvements(0.05) == []
    assert cmp.confounded() == {"repetition": "flags fell while exact_match fell 1 -> 0.5"}
    assert cmp.status(cmp.row("repetition")) == "confounded" and cmp.verdict() == "worse"
    d = cmp.to_dict()
    json.dumps(d)  # serialisable as is
    assert d["regressions"] == ["exact_match"] and len(d["transitions"]) == 60


def test_lower_is_better_metric_direction(store):
    add_suite(store, "s@1", [{"item_id": str(i), "prompt": "p"} for i in range(8)])
    a = add_run(store, "s@1", "m1", {str(i): {"metrics": {"perplexity": 10.0}} for i in range(8)})
    b = add_run(store, "s@1", "m2", {str(i): {"metrics": {"perplexity": 12.0}} for i in range(8)})
    r = compare_runs(store, a, b).row("perplexity")
    assert r.better == "lower" and (r.fixed, r.regressed) == (0, 8)
    assert r.p_value == pytest.approx(2 / 256) and r.verdict() == "worse"
    # lm-eval's per-sample keys: "metric" or "metric,filter"; lists and text are not metrics
    c = add_run(store, "s@1", "m3", {str(i): {"metrics": {
        "ter,strict": 1.0, "acc": 1.0, "bleu": [["ref"], "pred"], "note": "x"}} for i in range(8)})
    d = add_run(store, "s@1", "m4", {str(i): {"metrics": {
        "ter,strict": 2.0, "acc": float(i % 2), "bleu": [["ref"], "pred"]}} for i in range(8)})
    cmp = compare_runs(store, c, d)
    assert {r.name for r in cmp.rows} == {"ter,strict", "acc"}
    assert cmp.row("ter,strict").better == "lower" and cmp.row("acc").regressed == 4


def test_errors_partial_overlap_and_one_sided_categories(store):
    add_suite(store, "s@1", [{"item_id": str(i), "prompt": "p"} for i in range(6)])
    a = add_run(store, "s@1", "m1", {
        str(i): {"findings": [rep(True), {"check": "spell", "category": "misspelling",
                                          "flagged": False}]} for i in range(5)})
    # B misses item 0, its repetition check raised on item 1, and it has no misspelling check
    b = add_run(store, "s@1", "m2", {
        str(i): {"findings": [rep(False, error="boom") if i == 1 else rep(False)]}
        for i in range(1, 6)}, status="running")
    cmp = compare_runs(store, a, b)
    assert (cmp.n_shared, cmp.only_a, cmp.only_b) == (4, 1, 1)
    r = cmp.row("repetition")
    assert r.n == 3 and r.fixed == 3  # items 2, 3, 4; item 1's error finding says nothing
    notes = " ".join(cmp.notes)
    assert "misspelling" in notes and "only checked in run A" in notes and "running" in notes


def test_no_shared_items_is_a_clear_error(store):
    add_suite(store, "s@1", [{"item_id": "x", "prompt": "p"}])
    add_suite(store, "t@1", [{"item_id": "y", "prompt": "p"}])
    a = add_run(store, "s@1", "m", {"x": {}})
    b = add_run(store, "t@1", "m", {"y": {}})
    with pytest.raises(CompareError, match="share no item"):
        compare_runs(store, a, b)


# -- CLI -------------------------------------------------------------------------------------------
def test_cli_table_json_and_gate(store, two_runs, cli):
    a, b = two_runs
    res = cli("compare", a, b, "--db", store.path)
    assert res.exit_code == 0, res.output
    for word in ("repetition", "exact_match", "bleu", "better", "worse", "0.021", "50.0"):
        assert word in res.output
    res = cli("compare", a, b, "--db", store.path, "--json")
    d = json.loads(res.stdout)
    assert d["regressions"] == ["exact_match"]
    rep_row = next(r for r in d["rows"] if r["name"] == "repetition")
    assert rep_row["fixed"] == 9 and rep_row["verdict"] == "better"
    assert rep_row["status"] == "confounded" and "exact_match fell" in rep_row["confounded_reason"]
    assert d["verdict"] == "worse"
    # the gate: exact_match is significantly worse at 0.05, not at 0.001
    assert cli("compare", a, b, "--db", store.path, "--fail-on-regression").exit_code == 1
    res = cli("compare", a, b, "--db", store.path, "--fail-on-regression", "--alpha", "0.001")
    assert res.exit_code == 0
    # reversed, repetition is the regression
    res = cli("compare", b, a, "--db", store.path, "--fail-on-regression", "--json")
    assert res.exit_code == 1 and json.loads(res.stdout)["regressions"] == ["repetition"]
    res = cli("compare", a, b, "--db", store.path, "--items", "regressed")
    assert "q10" in res.output


def test_cli_user_errors_exit_2(store, cli):
    add_suite(store, "s@1", [{"item_id": "x", "prompt": "p"}])
    a = add_run(store, "s@1", "m", {"x": {}})
    res = cli("compare", a, "nope", "--db", store.path)
    assert res.exit_code == 2 and "no run 'nope'" in res.output
    add_suite(store, "t@1", [{"item_id": "y", "prompt": "p"}])
    b = add_run(store, "t@1", "m", {"y": {}})
    res = cli("compare", a, b, "--db", store.path)
    assert res.exit_code == 2 and "share no item" in res.output
    res = cli("compare", a, a, "--db", store.path, "--items", "bogus")
    assert res.exit_code == 2 and "--items" in res.output


def test_metric_direction_comes_from_the_registry(store, monkeypatch):
    """compare asks workbench.check.metrics for a metric's direction; an unregistered metric is read
    as higher-is-better and the comparison says so."""
    from workbench.check import metrics

    monkeypatch.setattr(metrics, "REGISTRY", dict(metrics.REGISTRY))
    metrics.register_metric("typos_per_100", better="lower")
    add_suite(store, "s@1", [{"item_id": str(i), "prompt": "p"} for i in range(8)])
    vals = [{"typos_per_100": 3.0, "house_score": 3.0}, {"typos_per_100": 5.0, "house_score": 5.0}]
    a, b = (add_run(store, "s@1", f"m{k}", {str(i): {"metrics": v} for i in range(8)})
            for k, v in enumerate(vals))
    cmp = compare_runs(store, a, b)
    assert cmp.row("typos_per_100").better == "lower" and cmp.row("typos_per_100").regressed == 8
    assert cmp.row("house_score").better == "higher" and cmp.row("house_score").fixed == 8
    assert [n for n in cmp.notes if "direction" in n] == [
        "metric 'house_score' has no registered direction: read as higher is better "
        "(workbench.check.metrics.register_metric)"]
    assert metrics.direction("ter,strict") == "lower" and metrics.direction("nope") is None
