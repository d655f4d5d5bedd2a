"""The verdict of a comparison cannot be won by shortening answers: confounded categories, the
overall verdict, the CI gate on task metrics, strict JSON, and the loop's stopping rule."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from workbench_testing.stores import add_run, add_suite

from workbench.compare.compare import compare_runs
from workbench.compare.confounders import OutputLength
from workbench.loop import LoopResult, Round, round_decision
from workbench.store import Store
from workbench.train.training import TrainingOutcome

N = 40
IDS = [f"q{i:02d}" for i in range(N)]
LONG = ("The river rises in the northern hills and runs for many miles past old towns "
        "before it reaches the sea near the harbour of the capital city.")  # 27 words
SHORT = "The Lune."


def hal(flagged: bool) -> dict:
    return {"check": "hallucination", "category": "hallucination", "flagged": flagged}


def outputs(text: str, tokens: int, flagged: set[int], correct: set[int],
            metric: str = "contains") -> dict[str, dict]:
    return {i: {"text": text, "tokens_out": tokens, "findings": [hal(k in flagged)],
                "metrics": {metric: float(k in correct)}} for k, i in enumerate(IDS)}


@pytest.fixture
def store(tmp_path) -> Store:
    s = Store(tmp_path / "verdict.duckdb")
    add_suite(s, "qa@1", [{"item_id": i, "prompt": f"question {i}", "reference": "The Lune"}
                          for i in IDS])
    return s


@pytest.fixture
def shortcut(store):
    """A answers at length, 24 of 40 flagged, 30 correct. B answers in two words: 2 flagged,
    26 correct (4 lost, none gained: not significant on its own, p = 0.125)."""
    a = add_run(store, "qa@1", "base", outputs(LONG, 30, set(range(24)), set(range(30))))
    b = add_run(store, "qa@1", "tuned", outputs(SHORT, 3, {0, 1}, set(range(26))))
    return a, b


def strict_json(text: str) -> dict:
    def no_constant(name: str):
        raise ValueError(f"non-finite number in JSON: {name}")

    return json.loads(text, parse_constant=no_constant)


def test_shorter_answers_and_a_lower_metric_confound_the_flags(store, shortcut):
    a, b = shortcut
    cmp = compare_runs(store, a, b)
    row = cmp.row("hallucination", "category")
    assert (row.fixed, row.regressed) == (22, 0) and row.verdict() == "better"  # the test alone
    contains = cmp.row("contains", "metric")
    assert (contains.a, contains.b, contains.regressed) == (0.75, 0.65, 4)
    assert contains.verdict() == "same"  # not significant: no regression to gate on

    assert cmp.length.unit == "tokens"
    assert (cmp.length.median_tokens_a, cmp.length.median_tokens_b) == (30, 3)
    assert (cmp.length.median_words_a, cmp.length.median_words_b) == (27, 2)
    assert (cmp.length.short_a, cmp.length.short_b) == (0.0, 1.0)

    assert cmp.status(row) == "confounded"
    why = cmp.confounded()["hallucination"]
    assert why == ("flags fell while median output length fell 30 -> 3 tokens and outputs "
                   "under 5 words rose 0% -> 100%; contains fell 0.75 -> 0.65")
    assert cmp.improvements() == [] and cmp.regressions() == []
    assert cmp.verdict() == "inconclusive"
    assert "confounded" in cmp.verdict_reason() and "hallucination" in cmp.verdict_reason()
    assert not any("checks alone" in n for n in cmp.notes)


def test_a_lower_metric_alone_confounds_even_at_the_same_length(store):
    a = add_run(store, "qa@1", "base", outputs(LONG, 30, set(range(24)), set(range(30))))
    b = add_run(store, "qa@1", "tuned", outputs(LONG, 30, {0, 1}, set(range(29))))
    cmp = compare_runs(store, a, b)
    assert cmp.length.shrank() is None
    assert cmp.confounded() == {"hallucination": "flags fell while contains fell 0.75 -> 0.725"}
    assert cmp.verdict() == "inconclusive"


def test_same_length_fewer_flags_metric_held_is_better(store):
    a = add_run(store, "qa@1", "base", outputs(LONG, 30, set(range(24)), set(range(30))))
    b = add_run(store, "qa@1", "tuned", outputs(LONG, 28, {0, 1}, set(range(30))))
    cmp = compare_runs(store, a, b)
    assert cmp.length.shrank() is None and cmp.confounded() == {}
    assert cmp.status(cmp.row("hallucination")) == "better"
    assert [r.name for r in cmp.improvements()] == ["hallucination"]
    assert cmp.verdict() == "better" and cmp.verdict_reason() == (
        "significantly better: hallucination")


def test_shorter_answers_alone_confound_without_a_metric(store):
    """No reference-based metric: the length rule still applies, and a note says the verdict
    rests on the checks alone. Without token counts the median is counted in words."""
    a = add_run(store, "qa@1", "base", {i: {"text": LONG, "findings": [hal(k < 24)]}
                                        for k, i in enumerate(IDS)})
    b = add_run(store, "qa@1", "tuned", {i: {"text": SHORT, "findings": [hal(k < 2)]}
                                         for k, i in enumerate(IDS)})
    cmp = compare_runs(store, a, b)
    assert cmp.task_metrics() == [] and cmp.length.unit == "words"
    assert cmp.confounded()["hallucination"].startswith(
        "flags fell while median output length fell 27 -> 2 words")
    assert cmp.verdict() == "inconclusive"
    assert any("the verdict rests on the checks alone" in n for n in cmp.notes)


def test_length_rule_thresholds():
    def length(med_a, med_b, short_a, short_b):
        return OutputLength(n=100, median_tokens_a=med_a, median_tokens_b=med_b,
                            median_words_a=50, median_words_b=50, short_a=short_a,
                            short_b=short_b)

    assert length(10, 7, 0.1, 0.1).shrank() == "median output length fell 10 -> 7 tokens"
    assert length(10, 7.5, 0.1, 0.1).shrank() is None  # a 25% fall is not sharp
    assert length(10, 9, 0.1, 0.3).shrank() == "outputs under 5 words rose 10% -> 30%"
    assert length(10, 9, 0.1, 0.29).shrank() is None
    assert length(None, 9, 0.0, 0.0).unit == "words"  # no tokens in A: words on both sides


def test_a_significant_metric_drop_is_worse_and_fails_the_gate(store, cli):
    """A task-metric regression alone fails the gate; the category that improved beside it is
    confounded, which does not hide the regression."""
    a = add_run(store, "qa@1", "base", outputs(LONG, 30, set(range(24)), set(range(30))))
    b = add_run(store, "qa@1", "tuned", outputs(LONG, 30, {0, 1}, set(range(18))))
    cmp = compare_runs(store, a, b)
    assert [r.name for r in cmp.regressions()] == ["contains"]
    assert cmp.status(cmp.row("hallucination")) == "confounded"
    assert cmp.verdict() == "worse" and "contains (metric)" in cmp.verdict_reason()
    res = cli("compare", a, b, "--db", store.path, "--fail-on-regression")
    assert res.exit_code == 1, res.output
    assert "verdict: worse" in res.stdout and "confounded" in res.stdout
    # the same two runs with the metric held: nothing to fail on
    c = add_run(store, "qa@1", "tuned2", outputs(LONG, 30, {0, 1}, set(range(30))))
    assert cli("compare", a, c, "--db", store.path, "--fail-on-regression").exit_code == 0


def test_cli_shows_length_confounded_and_strict_json(store, shortcut, cli):
    a, b = shortcut
    res = cli("compare", a, b, "--db", store.path, "--fail-on-regression")
    assert res.exit_code == 0, res.output  # confounded is not a regression
    out = " ".join(res.stdout.split())
    assert "median tokens out 30 3" in out and "under 5 words 0.0% 100.0%" in out
    assert "confounded: hallucination: flags fell while median output length fell 30 -> 3" in out
    assert "verdict: inconclusive" in out

    res = cli("compare", a, b, "--db", store.path, "--json")
    d = strict_json(res.stdout)
    assert d["verdict"] == "inconclusive" and d["improvements"] == []
    row = next(r for r in d["rows"] if r["name"] == "hallucination")
    assert row["verdict"] == "better" and row["status"] == "confounded"
    assert row["confounded_reason"] == d["confounded"]["hallucination"]
    assert d["length"]["median_tokens_a"] == 30 and d["length"]["shrank"]


# -- the loop ---------------------------------------------------------------------------------
def test_round_decision(store, shortcut):
    a, b = shortcut
    shrunk = compare_runs(store, a, b)
    d = round_decision(shrunk, 2)
    assert not d.keep and "contains fell 0.75 -> 0.65" in d.stop
    assert "round 1's adapter stays the best" in d.stop
    assert "the base model stays the best" in round_decision(shrunk, 1).stop

    good = add_run(store, "qa@1", "good", outputs(LONG, 28, {0, 1}, set(range(31))))
    assert round_decision(compare_runs(store, a, good), 2) == round_decision(
        compare_runs(store, a, good), 1)
    assert round_decision(compare_runs(store, a, good), 3).keep
    assert round_decision(compare_runs(store, a, good), 3).stop is None

    same = compare_runs(store, a, a)
    assert round_decision(same, 1).keep and "improved nothing" in round_decision(same, 1).stop
    assert not round_decision(same, 2).keep


def _outcome(k: int, tmp: Path) -> TrainingOutcome:
    return TrainingOutcome(f"t{k}", tmp / f"round-{k}", f"m{k}", f"base-lora-round{k}", "p",
                           "base", [f"s{k}"], {}, {"examples": 5, "first_loss": 1.0,
                                                  "final_loss": 0.5})


def test_loop_stops_when_the_task_metric_falls(store, tmp_path, monkeypatch):
    """Round 1 is better than the base; round 2 answers in two words and loses correct answers:
    the loop stops after round 2 and keeps round 1's adapter as the best."""
    import workbench.loop as loop
    import workbench.run.models
    import workbench.run.runner
    import workbench.run.suites
    import workbench.suggest.suggest
    import workbench.train.training

    base = add_run(store, "qa@1", "base", outputs(LONG, 30, set(range(24)), set(range(30))))
    runs = [add_run(store, "qa@1", "r1", outputs(LONG, 28, set(range(10)), set(range(32)))),
            add_run(store, "qa@1", "r2", outputs(SHORT, 3, {0}, set(range(31))))]
    trained = []

    def train(store_, spec, set_ids, **kw):
        trained.append(list(set_ids))
        return _outcome(len(trained), tmp_path)

    monkeypatch.setattr(workbench.train.training, "train_adapter", train)
    monkeypatch.setattr(workbench.suggest.suggest, "suggest", lambda *a, **kw: SimpleNamespace(
        rows=[1, 2], set_id=f"s{len(trained) + 1}"))
    monkeypatch.setattr(workbench.run.models, "load_model", lambda *a, **kw: object())
    monkeypatch.setattr(workbench.run.runner, "run_suite", lambda *a, **kw: SimpleNamespace(
        run_id=runs[len(trained) - 1]))
    monkeypatch.setattr(workbench.run.suites, "load_suite", lambda p: SimpleNamespace(name="qa"))

    result = loop.run_loop(store, str(tmp_path), tmp_path / "qa.yaml", rounds=3, base_run=base,
                           progress=False)
    assert len(result.rounds) == 2 and len(trained) == 2  # no third round
    assert result.final is result.rounds[0] and result.best_run_id == runs[0]
    assert "round 2 made the task metric worse than round 1 (contains fell 0.8 -> 0.775)" in (
        result.stopped)
    d = strict_json(json.dumps(result.to_dict()))
    assert (d["best"], d["best_run_id"], d["final_round"]) == ("round 1", runs[0], 1)
    assert d["rounds"][1]["confounded_over_previous"]["hallucination"].startswith(
        "flags fell while median output length fell 28 -> 3 tokens")


def test_print_loop_shows_confounded_and_keeps_the_base(store, shortcut, tmp_path, capsys):
    from workbench.cli.loop import print_loop

    a, b = shortcut
    cmp = compare_runs(store, a, b)
    rnd = Round(1, "s1", 2, _outcome(1, tmp_path), b, vs_base=cmp, vs_previous=cmp)
    decision = round_decision(cmp, 1)
    result = LoopResult(a, [rnd], rnd if decision.keep else None, decision.stop, 0.05)
    assert result.final is None and result.best_run_id == a
    print_loop(result)
    out = " ".join(capsys.readouterr().out.split())
    assert "confounded" in out and "hallucination: flags fell while median output length" in out
    assert "output length: median 30 -> 3 tokens" in out and "verdict: inconclusive" in out
    assert "no adapter recommended: the base model stays the best" in out
    assert "stopped: round 1 made the task metric worse than the base" in out
