"""lm-eval suites generating through workbench's engine and output cache (run/lmeval/engine_lm.py):
the same texts and metrics as lm-eval's HFLM, answers reused across runs and with custom suites,
loglikelihoods still lm-eval's."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from workbench.run.lmeval import lmeval_suite, run_lmeval_suite
from workbench.run.lmeval.engine_lm import EngineLM, request_config
from workbench.run.lmeval.evaluate import evaluate, prepare_tasks
from workbench.run.lmeval.models import hf_lm
from workbench.run.run_identity import cache_key
from workbench.run.suite_schema import GenerationConfig
from workbench.store import Store

ROOT = Path(__file__).resolve().parents[2]
TASK_DIR = ROOT / "suites" / "lm-eval"
N_QA = len((TASK_DIR / "qa.jsonl").read_text().splitlines())
N_MC = len((TASK_DIR / "commonsense_mc.jsonl").read_text().splitlines())
# stop strings the varied model writes often, so some answers end at one and some run to the end
UNTIL = [" names", "am", "ers"]
MAX_GEN = 12

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def varied_dir(tmp_path_factory, tiny_tokenizer) -> Path:
    from workbench_testing.varied import build_varied_model

    return build_varied_model(tmp_path_factory.mktemp("varied"), tiny_tokenizer)


@pytest.fixture(scope="module")
def loaded(varied_dir):
    from workbench.run.models import load_model

    return load_model(str(varied_dir))


@pytest.fixture(scope="module")
def stop_task(tmp_path_factory) -> Path:
    """workbench_qa with stop strings and a max_gen_toks this model meets."""
    d = tmp_path_factory.mktemp("task")
    text = (TASK_DIR / "workbench_qa.yaml").read_text()
    text = text.replace("task: workbench_qa", "task: workbench_qa_stops")
    text = text.replace("test: qa.jsonl", f"test: {TASK_DIR / 'qa.jsonl'}")
    text = text.replace('until: ["\\n", "Question:"]', f"until: {json.dumps(UNTIL)}")
    text = text.replace("max_gen_toks: 16", f"max_gen_toks: {MAX_GEN}")
    assert json.dumps(UNTIL) in text and f"max_gen_toks: {MAX_GEN}" in text
    (d / "stops.yaml").write_text(text)
    return d / "stops.yaml"


def _evaluate(suite, lm, chat: bool = False) -> dict:
    prepared = prepare_tasks(suite)
    return evaluate(lm, prepared.built, prepared.manager, bootstrap_iters=0,
                    apply_chat_template=chat)


def _texts(out: dict, task: str) -> list[str]:
    return [s["resps"][0][0] for s in sorted(out["samples"][task], key=lambda s: s["doc_id"])]


# -- the same answers as lm-eval's HFLM --------------------------------------------------------
@pytest.mark.parametrize("chat,window", [(False, None), (True, None), (False, MAX_GEN + 6)])
def test_texts_and_metrics_equal_hflm_greedy(tmp_path, loaded, stop_task, chat, window):
    """Stop strings, max_gen_toks, chat-templated contexts and the context cut to the window
    (here 6 tokens) as lm-eval's HFLM does them."""
    suite = lmeval_suite([str(stop_task)])
    direct = _evaluate(suite, hf_lm(loaded, max_length=window), chat)
    engine = EngineLM(loaded, Store(tmp_path / "wb.duckdb"), hf_lm(loaded, max_length=window))
    via = _evaluate(suite, engine, chat)
    task = "workbench_qa_stops"
    texts = _texts(via, task)
    assert texts == _texts(direct, task)
    assert via["results"] == direct["results"]
    assert (engine.n_generated, engine.n_cached) == (N_QA, 0)
    answers = [engine.answer_for(task, i) for i in range(N_QA)]
    assert [a.output.text for a in answers] == texts
    assert all(a.output.tokens_out <= MAX_GEN for a in answers)
    assert all(not any(s in t for s in UNTIL) for t in texts)
    if window is None:  # the answers differ, and the stop strings end some of them early
        assert len(set(texts)) > N_QA // 2
        reasons = {a.output.finish_reason for a in answers}
        assert "stop" in reasons and "length" in reasons


def test_loglikelihood_task_gives_lm_evals_numbers(tmp_path, loaded):
    suite = lmeval_suite([str(TASK_DIR / "workbench_commonsense_mc.yaml")])
    direct = _evaluate(suite, hf_lm(loaded))
    store = Store(tmp_path / "wb.duckdb")
    run = run_lmeval_suite(store, loaded, suite, bootstrap_iters=0, checks=[], progress=False)
    assert run.results == direct["results"]
    by_doc = {s["doc_id"]: s for s in direct["samples"]["workbench_commonsense_mc"]}
    out = store.run_outputs(run.run_id)
    assert len(out) == N_MC
    for row in out.itertuples():
        s = by_doc[int(row.item_id.split("/")[1])]
        assert json.loads(row.metrics) == {m: s[m] for m in s["metrics"]}
    assert run.summary["generate_until"] == {"cached": 0, "generated": 0}


# -- one output cache --------------------------------------------------------------------------
def _no_generation(monkeypatch):
    import workbench.run.lmeval.engine_lm as engine_lm
    import workbench.run.runner as runner

    def fail(*a, **k):
        raise AssertionError("nothing should be generated")

    monkeypatch.setattr(engine_lm, "generate", fail)
    monkeypatch.setattr(runner, "generate", fail)


def test_second_run_generates_nothing(tmp_path, loaded, stop_task, monkeypatch):
    store = Store(tmp_path / "wb.duckdb")
    suite = lmeval_suite([str(stop_task)])
    first = run_lmeval_suite(store, loaded, suite, bootstrap_iters=0, progress=False)
    assert first.summary["generate_until"] == {"cached": 0, "generated": N_QA}
    assert first.summary["generated"] == N_QA
    _no_generation(monkeypatch)
    again = run_lmeval_suite(store, loaded, suite, bootstrap_iters=0, progress=False)
    assert again.run_id != first.run_id
    assert again.summary["generate_until"] == {"cached": N_QA, "generated": 0}
    assert again.summary["generated"] == 0 and again.summary["cached"] == N_QA
    a, b = store.run_outputs(first.run_id), store.run_outputs(again.run_id)
    assert list(a.text) == list(b.text) and list(a.metrics) == list(b.metrics)
    assert list(a.cache_key) == list(b.cache_key)
    assert not a.cached.any() and b.cached.all()
    assert again.metrics == first.metrics
    # the key custom suites use: model fingerprint, rendered prompt, generation config, dtype
    gen = GenerationConfig(max_new_tokens=MAX_GEN, stop=UNTIL)
    for row in a.itertuples():
        want = cache_key(loaded.fingerprint, row.rendered_prompt,
                         {**gen.sample_identity(0), "dtype": loaded.dtype})
        assert row.cache_key == want
        assert row.finish_reason in ("stop", "length", "eos") and row.latency_s is not None


def test_generation_shows_its_progress_unless_asked_not_to(tmp_path, loaded, stop_task, capsys,
                                                          monkeypatch):
    monkeypatch.setenv("WORKBENCH_PROGRESS_EVERY", "0.5")
    suite = lmeval_suite([str(stop_task)])
    run_lmeval_suite(Store(tmp_path / "a.duckdb"), loaded, suite, bootstrap_iters=0,
                     cache=False, progress=True)
    shown = capsys.readouterr().err
    assert f"generate_until  {N_QA}/{N_QA} (100%)" in shown and "requests/s" in shown
    run_lmeval_suite(Store(tmp_path / "b.duckdb"), loaded, suite, bootstrap_iters=0,
                     cache=False, progress=False)
    assert "generate_until" not in capsys.readouterr().err


def test_killed_run_generates_only_what_is_missing(tmp_path, loaded, stop_task, monkeypatch):
    """Answers are journaled as they complete: the next attempt of a killed run reuses them."""
    import workbench.run.lmeval.engine_lm as engine_lm

    real = engine_lm.generate
    asked: list[int] = []

    def killed_after_one_batch(loaded, prompts, cfg, batch_size, on_batch, samples):
        asked.append(len(prompts))

        def then_die(idx, outs):
            on_batch(idx, outs)
            raise KeyboardInterrupt

        return real(loaded, prompts, cfg, batch_size=batch_size, on_batch=then_die,
                    samples=samples)

    store = Store(tmp_path / "wb.duckdb")
    suite = lmeval_suite([str(stop_task)])
    monkeypatch.setattr(engine_lm, "generate", killed_after_one_batch)
    with pytest.raises(KeyboardInterrupt):
        run_lmeval_suite(store, loaded, suite, batch_size=5, bootstrap_iters=0, progress=False)
    monkeypatch.setattr(engine_lm, "generate", lambda *a, **k: asked.append(len(a[1])) or real(
        *a, **k))
    run = run_lmeval_suite(store, loaded, suite, batch_size=5, bootstrap_iters=0, progress=False)
    assert asked == [N_QA, N_QA - 5]
    assert run.summary["generate_until"] == {"cached": 5, "generated": N_QA - 5}
    # stored, the answers leave the journal: the store answers them from now on
    assert not list(Path(os.environ["WORKBENCH_HOME"]).glob("lm-eval-cache/*_generated.db"))
    fresh = run_lmeval_suite(Store(tmp_path / "other.duckdb"), loaded, suite, cache=False,
                             bootstrap_iters=0, progress=False)
    assert fresh.summary["generate_until"]["generated"] == N_QA
    assert sorted(store.run_outputs(run.run_id).text) == sorted(
        Store(tmp_path / "other.duckdb").run_outputs(fresh.run_id).text)


def _custom_suite(d: Path, max_new: int, stop: list[str]):
    from workbench.run.suites import load_suite

    d.mkdir(parents=True, exist_ok=True)
    with (d / "data.jsonl").open("w") as f:
        for line in (TASK_DIR / "qa.jsonl").read_text().splitlines():
            doc = json.loads(line)
            f.write(json.dumps({"id": doc["id"], "prompt": f"Question: {doc['question']}\n"
                                "Answer:", "reference": doc["answer"]}) + "\n")
    (d / "suite.yaml").write_text(
        f"name: qa-custom\ndata: data.jsonl\ngeneration:\n  max_new_tokens: {max_new}\n"
        f"  stop: {json.dumps(stop)}\n")
    return load_suite(d / "suite.yaml")


def test_custom_suite_reuses_lmeval_answers(tmp_path, loaded, stop_task, monkeypatch):
    """The same rendered prompt and config in a custom suite: answered from the store."""
    from workbench.run.runner import run_suite

    store = Store(tmp_path / "wb.duckdb")
    lm_run = run_lmeval_suite(store, loaded, lmeval_suite([str(stop_task)]), bootstrap_iters=0,
                              progress=False)
    _no_generation(monkeypatch)
    custom = run_suite(store, loaded, _custom_suite(tmp_path / "c", MAX_GEN, UNTIL), checks=[],
                       progress=False)
    assert (custom.summary["generated"], custom.summary["cached"]) == (0, N_QA)
    lm_texts = sorted(store.run_outputs(lm_run.run_id).text)
    assert sorted(store.run_outputs(custom.run_id).text) == lm_texts


def test_lmeval_suite_reuses_custom_answers(tmp_path, loaded, monkeypatch):
    """And the other way: the shipped workbench_qa task after a custom suite with its prompts,
    stop strings and max_gen_toks."""
    from workbench.run.runner import run_suite

    store = Store(tmp_path / "wb.duckdb")
    custom = run_suite(store, loaded, _custom_suite(tmp_path / "c", 16, ["\n", "Question:"]),
                       checks=[], progress=False)
    assert custom.summary["generated"] == N_QA
    _no_generation(monkeypatch)
    suite = lmeval_suite([str(TASK_DIR / "workbench_qa.yaml")])
    run = run_lmeval_suite(store, loaded, suite, bootstrap_iters=0, progress=False)
    assert run.summary["generate_until"] == {"cached": N_QA, "generated": 0}
    assert sorted(store.run_outputs(run.run_id).text) == sorted(
        store.run_outputs(custom.run_id).text)


# -- generation kwargs -------------------------------------------------------------------------
def test_request_config_follows_lm_evals_kwargs():
    greedy = request_config({"until": "\n", "max_gen_toks": 5, "do_sample": False,
                             "temperature": 0.7})
    assert greedy == GenerationConfig(max_new_tokens=5, stop=["\n"])
    assert request_config({"until": ["a", ""]}, default_max=7) == GenerationConfig(
        max_new_tokens=7, stop=["a"])
    assert request_config({"max_new_tokens": 9}).max_new_tokens == 9
    sampled = request_config({"do_sample": True, "temperature": 0.5, "top_p": 0.9})
    assert (sampled.temperature, sampled.top_p, sampled.max_new_tokens) == (0.5, 0.9, 256)
    assert request_config({"temperature": 0.5}).temperature == 0.5  # do_sample implied
    assert request_config({"until": ["x"], "top_k": 5}) is None  # the wrapped model answers


def test_unknown_kwargs_go_to_the_wrapped_model(tmp_path, loaded, stop_task):
    from lm_eval.api.instance import Instance

    class Scorer:
        max_length = 512
        seen: list = []

        def generate_until(self, requests):
            self.seen += requests
            return ["theirs"] * len(requests)

    ctx = "Question: What is 2 + 3?\nAnswer:"
    reqs = [Instance("generate_until", {}, (ctx, {"until": ["\n"], "max_gen_toks": 4, **extra}),
                     0, ("t", i, 1)) for i, extra in enumerate([{}, {"top_k": 3}])]
    engine = EngineLM(loaded, Store(tmp_path / "wb.duckdb"), Scorer())
    out = engine.generate_until(reqs)
    assert out[1] == "theirs" and Scorer.seen == [reqs[1]]
    assert out[0] == engine.answer_for("t", 0).output.text and engine.answer_for("t", 1) is None
    assert (engine.n_generated, engine.n_delegated) == (1, 1)


def test_a_model_that_only_generates_cannot_score(tmp_path, loaded):
    from lm_eval.api.instance import Instance

    from workbench.errors import ConfigError

    engine = EngineLM(loaded, Store(tmp_path / "wb.duckdb"), None)
    req = Instance("loglikelihood", {}, ("a", " b"), 0, ("t", 0, 1))
    with pytest.raises(ConfigError, match="only generates"):
        engine.loglikelihood([req])
