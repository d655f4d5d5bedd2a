"""The real-model demo suite (facts) and the `answer` metric it is scored by."""

from __future__ import annotations

import json

import pytest

from workbench.check.metrics import answer, check_metric_names, score
from workbench.demo import FACTS_SUITE, facts
from workbench.run.suites import load_suite


def test_shipped_data_is_what_the_generator_writes():
    shipped = [json.loads(x) for x in (FACTS_SUITE.parent / "facts.jsonl").read_text().splitlines()]
    assert shipped == facts.generate()


def test_suite_loads_with_both_splits_and_every_item_answerable_from_its_context():
    suite = load_suite(FACTS_SUITE)
    assert not suite.problems
    assert len(suite.split("eval")) == facts.N_EVAL and len(suite.split("train")) == facts.N_TRAIN
    kinds = {it.tags[0] for it in suite.split("eval")}
    assert kinds == {"river", "mountain", "town"}
    for it in suite.items:
        answers = it.extra["answer"]
        assert answers and all(a.lower() in it.context.lower() for a in answers)
        assert answer(it.reference, answers) == 1.0  # the reference itself scores
    limits = [it for it in suite.split("eval") if "one sentence" in it.prompt
              or "at most 15 words" in it.prompt]
    assert limits, "some items set an explicit limit"


def test_eval_and_train_names_are_disjoint():
    suite = load_suite(FACTS_SUITE)

    def names(items):
        return {w for it in items for w in it.prompt.replace("?", " ").split() if w[0].isupper()}

    shared = names(suite.split("eval")) & names(suite.split("train"))
    assert shared <= {"How", "Which", "What", "Where", "In", "Describe", "Answer", "Mount"}


def test_answer_metric_reads_the_item_field_as_whole_words():
    assert answer("The Grith river is 774 miles long.", ["774"]) == 1.0
    assert answer("The Grith river is 7740 miles long.", ["774"]) == 0.0
    assert answer("It flows into lake saemaex", "Saemaex") == 1.0
    assert answer("It flows into Lake Saem.", ["Saemaex", "Lake Saemaex"]) == 0.0
    got = score("It is 774 miles long.", "The Grith river is 774 miles long.",
                ["answer", "exact_match"], {"answer": ["774"]})
    assert got == {"answer": 1.0, "exact_match": 0.0}
    # no answer field: the metric is left out rather than scored 0; no reference: likewise
    assert score("x", None, ["answer", "exact_match"], {}) == {}
    assert check_metric_names(["answer"]) == ["answer"]


def test_unknown_metric_names_the_item_metrics_too():
    from workbench.errors import SuiteError

    with pytest.raises(SuiteError, match="answer"):
        check_metric_names(["nope"])
