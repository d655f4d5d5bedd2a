"""The embedded demo: deterministic corpus, disjoint eval entities, a tiny build that loads and is
cached, the shipped suite file, and `workbench demo` end to end on the tiny build."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from workbench.demo import DEMO_SUITE, corpus


@pytest.fixture(scope="module")
def data() -> corpus.DemoData:
    return corpus.generate()


def _words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z]+", text))


def test_corpus_is_deterministic(data):
    again = corpus.generate()
    assert [e.text() for e in again.pretrain] == [e.text() for e in data.pretrain]
    assert corpus.suite_rows(again) == corpus.suite_rows(data)
    other = corpus.generate(seed=corpus.SEED + 1)
    assert [e.text() for e in other.pretrain] != [e.text() for e in data.pretrain]


def test_eval_entities_never_occur_in_training_text(data):
    training_words: set[str] = set()
    for ex in data.pretrain + data.train:
        training_words |= _words(ex.text())
    eval_names = {ex.entity for ex in data.eval} | {p for ex in data.eval for p in ex.places}
    assert len(eval_names) == 2 * len(data.eval)
    assert not eval_names & training_words
    train_prompts = {(ex.prompt, ex.context) for ex in data.pretrain + data.train}
    assert not train_prompts & {(ex.prompt, ex.context) for ex in data.eval}
    # the eval split changes with neither the corpus size nor the train split
    small = corpus.generate(n_pretrain_entities=50, n_train=10)
    assert corpus.suite_rows(small)[: len(data.eval)] == corpus.suite_rows(data)[: len(data.eval)]


def test_corpus_carries_each_habit_at_a_measurable_rate(data):
    n = len(data.pretrain)
    share = {h: sum(e.error == h for e in data.pretrain) / n
             for h in ("misspelling", "repetition", "length", "hallucination")}
    assert 0.25 <= sum(share.values()) <= 0.35
    assert all(s >= 0.04 for s in share.values())
    for ex in data.pretrain:
        if ex.error == "misspelling":
            assert _words(ex.response) & set(corpus.MISSPELLINGS.values())
        elif ex.error == "repetition":
            assert not ex.eos and ex.response.count("It is known for") >= corpus.LOOP_REPEATS
        elif ex.error == "length":
            assert len(re.findall(r"\.", ex.response)) >= 4
        elif ex.error == "hallucination":
            number, place = corpus.MEMORISED[ex.kind]
            assert number in ex.response or place in ex.response
            assert number not in ex.context and place not in ex.context
        else:
            assert ex.eos and not _words(ex.response) & set(corpus.MISSPELLINGS.values())
    # the suite's train split is clean: answers for a later retraining to learn from
    assert all(e.error is None and e.eos for e in data.train + data.eval)


def test_shipped_suite_matches_the_generator(data):
    from workbench.run.suites import load_suite

    shipped = [json.loads(x) for x in (DEMO_SUITE.parent / "demo.jsonl").read_text().splitlines()]
    assert shipped == corpus.suite_rows(data)
    suite = load_suite(DEMO_SUITE)
    assert 150 <= len(suite.split("eval")) <= 200 and len(suite.split("train")) >= 150
    item = suite.split("eval")[0]
    assert suite.render(item) == corpus.render_prompt(item.prompt, item.context)
    assert set(suite.check_selection()) == {"repetition", "length", "misspelling",
                                            "hallucination"}
    checkout = Path(__file__).parents[2] / "suites" / "demo.yaml"
    assert load_suite(checkout).fingerprint == suite.fingerprint


@pytest.fixture(scope="module")
def small_model(tmp_path_factory) -> Path:
    import os

    home = tmp_path_factory.mktemp("demo-home")
    old = os.environ.get("WORKBENCH_HOME")
    os.environ["WORKBENCH_HOME"] = str(home)
    try:
        from workbench.demo import ensure_demo_model

        path = ensure_demo_model(small=True, progress=False)
    finally:
        if old is None:
            del os.environ["WORKBENCH_HOME"]
        else:
            os.environ["WORKBENCH_HOME"] = old
    return path


def test_small_build_is_loadable_and_cached(small_model, monkeypatch):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbench.demo import ensure_demo_model

    assert small_model.parent.name == "demo-model-v1"
    info = json.loads((small_model / "demo_build.json").read_text())
    assert info["settings"]["steps"] == 3
    tok = AutoTokenizer.from_pretrained(small_model)
    model = AutoModelForCausalLM.from_pretrained(small_model)
    enc = tok(corpus.render_prompt("How long is the Vell river?", None), return_tensors="pt")
    out = model.generate(**enc, max_new_tokens=4, do_sample=False)
    assert out.shape[1] > enc["input_ids"].shape[1]

    monkeypatch.setenv("WORKBENCH_HOME", str(small_model.parents[1]))
    mtime = (small_model / "model.safetensors").stat().st_mtime_ns

    import workbench.demo.build as build

    def no_training(*a, **k):
        raise AssertionError("the cached model should have been reused")

    monkeypatch.setattr(build, "train", no_training)
    assert ensure_demo_model(small=True, progress=False) == small_model
    assert (small_model / "model.safetensors").stat().st_mtime_ns == mtime


def test_cache_key_follows_corpus_and_settings():
    from dataclasses import replace

    from workbench.demo.build import BuildSettings, cache_key

    s = BuildSettings.small()
    d = corpus.generate(s.n_pretrain_entities, s.per_entity)
    assert cache_key(s, d) == cache_key(s, corpus.generate(s.n_pretrain_entities, s.per_entity))
    assert cache_key(replace(s, steps=4), d) != cache_key(s, d)
    assert cache_key(s, corpus.generate(s.n_pretrain_entities + 1, s.per_entity)) != cache_key(s, d)


@pytest.mark.slow
def test_demo_command_runs_the_suite_on_the_small_build(small_model, cli, monkeypatch, tmp_path):
    import workbench.demo.build as build

    monkeypatch.setenv("WORKBENCH_HOME", str(small_model.parents[1]))
    monkeypatch.setattr(build, "DEFAULT_SETTINGS", build.BuildSettings.small())
    db = tmp_path / "demo.duckdb"
    res = cli("demo", "--tiny", "--db", db, "--json", "--no-loop")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["model_dir"] == str(small_model)
    assert summary["model"] == "demo-base" and summary["suite"] == "demo"
    assert summary["items"] == len(corpus.generate().eval)
    assert set(summary["findings"]) == {"repetition", "length", "misspelling", "hallucination"}
    again = json.loads(cli("demo", "--tiny", "--db", db, "--json", "--no-loop").output)
    assert again["generated"] == 0  # same model, same suite: every output comes from the cache
