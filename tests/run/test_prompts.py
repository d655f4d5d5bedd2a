"""One prompt renderer: an item is trained on exactly the prompt text it is evaluated on."""

from __future__ import annotations

import json

import pytest

TEMPLATE = "### Instruction:\n{{ prompt }}\n\n### Input:\n{{ context }}\n\n### Response:\n"

ROWS = [
    {"id": "t0", "prompt": "Which colour is the sky?", "context": "The sky is blue.",
     "reference": "Blue.", "split": "train"},
    {"id": "t1", "messages": [{"role": "user", "content": "Name a fruit."}],
     "reference": "A pear.", "split": "train"},
]


def _suite(tmp_path, extra: str):
    from workbench.run.suites import load_suite

    (tmp_path / "s.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    path = tmp_path / "s.yaml"
    path.write_text(f"name: colours\ndata: s.jsonl\ntemplate: {json.dumps(TEMPLATE)}\n{extra}")
    return load_suite(path)


def _training_prompts(suite, tokenizer) -> dict[str, str]:
    """The prompt text the trainer builds for each train item, through the stored suite."""
    from workbench_lora.data import render_prompt

    from workbench.run.runner import items_frame
    from workbench.store import Store
    from workbench.train.examples import replay_pool

    store = Store()
    store.upsert_suite(suite.suite_id, suite.name, "custom", str(suite.path), suite.fingerprint,
                       suite.spec.model_dump(mode="json"), items_frame(suite.items))
    examples = replay_pool(store, [suite.suite_id], exclude=set())
    assert sorted(e.ref for e in examples) == ["t0", "t1"]
    assert {e.ref: e.response for e in examples} == {"t0": "Blue.", "t1": "A pear."}
    return {e.ref: render_prompt(tokenizer, e)[0] for e in examples}


@pytest.mark.parametrize("extra", [
    "",  # plain template: the text as it is (a chat item through the chat template)
    "chat_template: true\nsystem: Answer briefly.\n",  # chat messages, system first
])
def test_an_item_is_trained_on_the_prompt_it_is_evaluated_on(tmp_path, tiny_tokenizer, extra):
    from workbench.run.runner import prompt_for

    suite = _suite(tmp_path, extra)
    evaluated = {it.id: prompt_for(suite, it, tiny_tokenizer)[1] for it in suite.items}
    trained = _training_prompts(suite, tiny_tokenizer)
    assert trained == evaluated
    sky = evaluated["t0"]
    assert "### Instruction:\nWhich colour is the sky?\n\n### Input:\nThe sky is blue." in sky
    assert ("Answer briefly." in sky) == bool(extra)
    assert sky.startswith("### Instruction:") != bool(extra)  # chat: the template wraps it
    assert "Name a fruit." in evaluated["t1"] and ("Answer briefly." in evaluated["t1"]) == bool(
        extra)
