"""The hallucination check's optional judge model: tiny random checkpoints built here, and a
fake judge for the rule that combines its probability with the lexical score."""

from __future__ import annotations

import json
import math

import pytest
from workbench_checks import hallucination
from workbench_checks.hallucination import HallucinationCheck
from workbench_checks.hallucination_judge import Pair, load_judge

from workbench.check.checks import Record
from workbench.check.runner import run_check
from workbench.errors import PluginError

CONTEXT = (
    "The Vell Bridge was built in 1821 by the engineer Mara Quist. It crosses the river Vell "
    "at the old port of Amber, and carries the coast road north to Norland."
)
QUESTION = "When was the Vell Bridge built?"
PAIRS = [
    Pair(CONTEXT, QUESTION, "The Vell Bridge was built in 1821."),
    Pair(CONTEXT, QUESTION, "It was built in 1843 by the Romans."),
    Pair(CONTEXT, "Who built it?", "Mara Quist built it."),
    Pair("A short context.", "", "A much longer output that goes on about other things entirely."),
    Pair(CONTEXT, "Where is it?", "At the old port of Amber."),
]


@pytest.fixture(scope="module")
def tiny_nli_dir(tmp_path_factory, tiny_tokenizer):
    """A random tiny Llama sequence classifier with entailment/neutral/contradiction labels."""
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tiny_tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        pad_token_id=tiny_tokenizer.pad_token_id,
        num_labels=3,
        id2label={0: "contradiction", 1: "entailment", 2: "neutral"},
        label2id={"contradiction": 0, "entailment": 1, "neutral": 2},
    )
    out = tmp_path_factory.mktemp("tiny-nli")
    LlamaForSequenceClassification(config).save_pretrained(out, safe_serialization=True)
    tiny_tokenizer.save_pretrained(out)
    return out


@pytest.mark.parametrize("kind", ["causal", "nli"])
def test_a_local_judge_scores_pairs_in_batches(kind, tiny_model_dir, tiny_nli_dir, one_torch_thread):
    path = tiny_model_dir if kind == "causal" else tiny_nli_dir
    judge = load_judge(path)
    assert judge.kind == kind
    assert load_judge(str(path)) is judge  # loaded once per process
    before = judge.forwards
    batched = judge.scores(PAIRS, batch_size=2)
    assert judge.forwards - before == math.ceil(len(PAIRS) / 2)  # one forward per batch
    assert all(0.0 < s < 1.0 for s in batched)
    alone = [judge.scores([p], batch_size=1)[0] for p in PAIRS]
    # padding changes nothing: batched and one-at-a-time scores agree, in the input order
    assert batched == pytest.approx(alone, abs=1e-4)
    assert len(set(round(s, 6) for s in batched)) > 1


def test_the_judge_runs_on_its_threads_and_restores_the_count(tiny_model_dir, monkeypatch):
    import torch

    judge = load_judge(tiny_model_dir)
    seen: list[int] = []
    forward = judge.model.forward
    monkeypatch.setattr(
        judge.model, "forward", lambda *a, **k: seen.append(torch.get_num_threads()) or forward(*a, **k)
    )
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        judge.scores(PAIRS[:2], batch_size=2)
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_the_context_is_cut_to_the_token_limit(tiny_model_dir, one_torch_thread):
    judge = load_judge(tiny_model_dir)
    long = Pair(CONTEXT * 40, QUESTION, "Built in 1821.")
    enc_full = judge._encode(long, 100_000, 256)["input_ids"]
    enc_cut = judge._encode(long, 32, 256)["input_ids"]
    assert len(enc_cut) < 200 < len(enc_full)


@pytest.mark.parametrize("spec", ["HuggingFaceTB/SmolLM2-135M-Instruct", "roberta-large-mnli"])
def test_a_hub_id_is_refused_in_one_line(spec):
    with pytest.raises(PluginError) as err:
        HallucinationCheck({"judge_model": spec})
    msg = str(err.value)
    assert "\n" not in msg and "never downloaded" in msg and spec in msg


def test_a_folder_that_is_no_checkpoint_is_refused(tmp_path):
    with pytest.raises(PluginError, match="no config.json"):
        HallucinationCheck({"judge_model": str(tmp_path)})
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    with pytest.raises(PluginError, match="neither a sequence-classification"):
        HallucinationCheck({"judge_model": str(tmp_path)})


def test_judge_scores_flow_into_findings(tiny_model_dir, one_torch_thread):
    recs = [
        Record(id=f"r{i}", prompt=p.prompt, output=p.output, context=p.context)
        for i, p in enumerate(PAIRS)
    ]
    recs.append(Record(id="bare", prompt="Hi", output="Hello there."))  # no evidence: not judged
    check = HallucinationCheck(
        {"judge_model": str(tiny_model_dir), "judge_weight": 1.0, "judge_batch_size": 3}
    )
    found = run_check(check, recs)
    expected = load_judge(tiny_model_dir).scores(PAIRS, batch_size=3)
    for f, p in zip(found, expected, strict=False):
        assert f.score == pytest.approx(p, abs=1e-6)  # judge_weight 1: the judge's probability
        assert f.evidence["judge"]["p_unsupported"] == pytest.approx(p, abs=1e-4)
        assert f.evidence["judge"]["model"] == tiny_model_dir.name
        assert "judge model" in f.message
        assert f.flagged == (p >= check.options.threshold)
        if f.flagged:
            assert f.spans
    assert found[-1].score == 0.0 and "judge" not in (found[-1].evidence or {})


class FakeJudge:
    """P(unsupported) read from a table by output; records every call."""

    def __init__(self, table: dict[str, float]):
        self.table = table
        self.calls: list[list[Pair]] = []

    def scores(self, pairs, **kw):  # noqa: ANN001, ANN003
        self.calls.append(list(pairs))
        return [self.table[p.output] for p in pairs]


@pytest.fixture
def fake(tmp_path, monkeypatch):
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    judge = FakeJudge({})
    monkeypatch.setattr(hallucination, "load_judge", lambda *a, **k: judge)

    def check(table: dict[str, float], **options):
        judge.table = table
        return HallucinationCheck({"judge_model": str(tmp_path), **options})

    check.judge = judge
    return check


def _one(check, output: str, context: str | None = CONTEXT):  # noqa: ANN001
    (f,) = check.run([Record(id="r1", prompt=QUESTION, output=output, context=context)])
    return f


def test_combination_the_judge_clears_a_lexical_flag(fake):
    out = "The Vell Bridge was built in 1843."
    assert HallucinationCheck().run([Record("r1", QUESTION, out, context=CONTEXT)]).__next__().flagged
    f = _one(fake({out: 0.05}), out)
    lexical = f.evidence["lexical_score"]
    assert lexical >= 0.55
    assert f.score == pytest.approx(0.5 * lexical + 0.5 * 0.05)
    assert not f.flagged and f.spans == ()
    assert "judge model finds the output supported" in f.message


def test_combination_a_confirmed_lexical_flag_keeps_its_spans(fake):
    out = "The Vell Bridge was built in 1843."
    f = _one(fake({out: 0.9}), out)
    start = out.index("1843")
    assert f.flagged and f.spans == ((start, start + 4),)
    assert "1843" in f.message and "unsupported by the context (P 0.90)" in f.message


def test_combination_a_judge_only_flag_spans_the_output_with_the_judge_as_reason(fake):
    out = "  The Vell Bridge crosses the river Vell at Amber.\n"  # every word is in the context
    f = _one(fake({out: 0.95}, judge_weight=0.6), out)
    assert f.evidence["lexical_score"] < 0.55
    assert f.flagged and f.spans == ((2, len(out.rstrip())),)
    assert f.message.startswith("the judge model finds the output unsupported by the context (P 0.95)")
    # at the default weight a less sure judge does not reach the threshold on its own
    f = _one(fake({out: 0.7}), out)
    assert f.score == pytest.approx(0.5 * f.evidence["lexical_score"] + 0.35)
    assert not f.flagged and f.spans == ()


def test_combination_never_a_flag_without_a_reason(fake):
    out = "The Vell Bridge crosses the river Vell at Amber."
    # the judge leaning "supported" gives no span of its own, whatever the weights
    f = _one(fake({out: 0.45}, judge_weight=1.0, threshold=0.4), out)
    assert not f.flagged and f.spans == ()


def test_combination_one_judge_call_per_batch_and_no_evidence_not_judged(fake):
    outs = ["Built in 1821.", "Built in 1843.", "By Mara Quist."]
    check = fake({o: 0.5 for o in outs})
    recs = [Record(id=str(i), prompt=QUESTION, output=o, context=CONTEXT) for i, o in enumerate(outs)]
    recs.append(Record(id="bare", prompt="Hi", output="Hello."))
    found = list(check.run(recs))
    assert len(found) == 4 and len(fake.judge.calls) == 1
    assert [p.output for p in fake.judge.calls[0]] == outs
    assert found[-1].message == "no context or reference to check against"


def test_the_judge_is_off_by_default():
    check = HallucinationCheck()
    assert check.options.judge_model is None
    (f,) = check.run([Record("r1", QUESTION, "Built in 1821.", context=CONTEXT)])
    assert "judge" not in f.evidence and "lexical_score" not in f.evidence
