"""The generation engine: batch-size invariance, stop strings, eos, length, sampling, chat."""

from __future__ import annotations

import pytest
from workbench_testing.varied import PROMPTS, build_varied_model

from workbench.run.generation import GenerationConfig, generate, render_chat
from workbench.run.models import load_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model(tmp_path_factory, tiny_tokenizer):
    return load_model(str(build_varied_model(tmp_path_factory.mktemp("varied"), tiny_tokenizer)),
                      "varied")


def greedy(n: int = 24, **kw) -> GenerationConfig:
    return GenerationConfig(max_new_tokens=n, **kw)


def test_same_greedy_outputs_at_any_batch_size(model):
    prompts = PROMPTS * 2
    runs = {bs: generate(model, prompts, greedy(), batch_size=bs) for bs in (1, 3, 8)}
    for bs in (3, 8):
        assert [o.text for o in runs[bs]] == [o.text for o in runs[1]]
        assert [o.tokens_out for o in runs[bs]] == [o.tokens_out for o in runs[1]]
    texts = [o.text for o in runs[1]]
    assert len(set(texts)) >= len(PROMPTS) - 2  # the outputs really differ between prompts


def test_matches_transformers_generate(model):
    tok = model.tokenizer
    outs = generate(model, PROMPTS[:4], greedy(12), batch_size=4)
    for p, o in zip(PROMPTS[:4], outs, strict=True):
        enc = tok(p, return_tensors="pt")
        ref = model.model.generate(**enc, max_new_tokens=12, do_sample=False,
                                   pad_token_id=tok.pad_token_id)
        new = ref[0, enc.input_ids.shape[1]:].tolist()
        assert o.text == tok.decode(new, skip_special_tokens=True)
        assert o.tokens_in == enc.input_ids.shape[1]


def test_length_finish_and_token_counts(model):
    outs = generate(model, PROMPTS, greedy(7), batch_size=4)
    for o in outs:
        assert o.finish_reason == "length" and o.tokens_out == 7 and o.latency_s > 0
    assert [o.tokens_in for o in outs] == [len(model.tokenizer(p).input_ids) for p in PROMPTS]


def test_stop_strings_cut_text(model):
    free = generate(model, PROMPTS, greedy(), batch_size=4)
    # a stop string taken from the middle of one output: that output ends just before it
    k, text = next((k, o.text) for k, o in enumerate(free) if len(o.text.strip()) > 12)
    stop = text[6:10]
    assert stop.strip()
    outs = generate(model, PROMPTS, greedy(stop=[stop, "\u2603never"]), batch_size=4)
    assert outs[k].finish_reason == "stop"
    assert outs[k].text == text[: text.find(stop)]
    assert outs[k].tokens_out < free[k].tokens_out
    for f, o in zip(free, outs, strict=True):
        if stop in f.text:
            assert o.finish_reason == "stop" and o.text == f.text[: f.text.find(stop)]
            assert stop not in o.text
        else:
            assert o.text == f.text and o.finish_reason == "length"


def test_eos_finishes_early_and_batches_shrink(model):
    free = generate(model, PROMPTS, greedy(), batch_size=len(PROMPTS))
    # make a token that several outputs produce at different steps the eos token
    from collections import Counter

    counts = Counter(t for o in free for t in set(o.token_ids[1:]))
    eos = counts.most_common(1)[0][0]
    saved = model.model.generation_config.eos_token_id
    model.model.generation_config.eos_token_id = [saved, eos]
    try:
        by_bs = [generate(model, PROMPTS, greedy(), batch_size=bs) for bs in (1, len(PROMPTS))]
    finally:
        model.model.generation_config.eos_token_id = saved
    assert [o.text for o in by_bs[0]] == [o.text for o in by_bs[1]]
    outs = by_bs[1]
    reasons = [o.finish_reason for o in outs]
    assert reasons.count("eos") >= 2 and len({o.tokens_out for o in outs}) >= 2
    for f, o in zip(free, outs, strict=True):
        assert f.text.startswith(o.text)
        if o.finish_reason == "eos":
            assert o.tokens_out < 24


def test_sampling_is_seeded_and_batch_independent(model):
    cfg = greedy(16, temperature=1.0, top_p=0.9, seed=7)
    a = [o.text for o in generate(model, PROMPTS, cfg, batch_size=1)]
    b = [o.text for o in generate(model, PROMPTS, cfg, batch_size=5)]
    assert a == b
    c = [o.text for o in generate(model, PROMPTS, greedy(16, temperature=1.0, seed=8))]
    assert c != a
    g = [o.text for o in generate(model, PROMPTS, greedy(16))]
    assert g != a


def _k_samples(k: int) -> tuple[list[str], list[int]]:
    prompts = [p for p in PROMPTS for _ in range(k)]
    return prompts, [s for _ in PROMPTS for s in range(k)]


def test_samples_are_seeded_per_index_and_batch_independent(model):
    cfg = greedy(16, temperature=1.0, top_p=0.95, seed=3)
    prompts, idx = _k_samples(4)
    runs = {bs: [o.text for o in generate(model, prompts, cfg, batch_size=bs, samples=idx)]
            for bs in (1, 3, 8)}
    assert runs[3] == runs[1] and runs[8] == runs[1]
    # sample 0 is the answer a one-sample run gives; later samples differ from it
    single = [o.text for o in generate(model, PROMPTS, cfg, batch_size=2)]
    assert runs[1][::4] == single
    per_prompt = [set(runs[1][i:i + 4]) for i in range(0, len(prompts), 4)]
    assert sum(len(s) > 1 for s in per_prompt) >= len(PROMPTS) // 2
    # a sample's text does not depend on which other samples are asked for
    only_third = generate(model, PROMPTS, cfg, batch_size=4, samples=[2] * len(PROMPTS))
    assert [o.text for o in only_third] == runs[1][2::4]


def test_greedy_first_sample(model):
    cfg = greedy(16, temperature=1.0, seed=3, samples=3, first="greedy")
    prompts, idx = _k_samples(3)
    out = [o.text for o in generate(model, prompts, cfg, batch_size=5, samples=idx)]
    assert out[::3] == [o.text for o in generate(model, PROMPTS, greedy(16))]


def test_chat_messages_use_the_chat_template(model):
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour."}]
    text = render_chat(model.tokenizer, msgs)
    assert text.startswith("Be brief.") and text.endswith("### Response:\n")
    chat, plain = generate(model, [msgs, text], greedy(10))
    assert chat.text == plain.text and chat.tokens_in == plain.tokens_in


def test_on_batch_reports_every_prompt_once(model):
    seen = []
    outs = generate(model, PROMPTS, greedy(4), batch_size=3,
                    on_batch=lambda idx, batch: seen.append((list(idx), list(batch))))
    assert sorted(i for idx, _ in seen for i in idx) == list(range(len(PROMPTS)))
    assert [len(idx) for idx, _ in seen] == [3, 3, 3, 2]
    for idx, batch in seen:
        assert [outs[i] for i in idx] == batch
    # admitted longest first: with equal output lengths the longest prompts finish first
    first = seen[0][0]
    assert min(outs[i].tokens_in for i in first) >= max(
        outs[i].tokens_in for i in range(len(PROMPTS)) if i not in first)
    assert generate(model, [], greedy()) == []


def test_over_long_prompts_keep_their_end(model):
    from workbench.errors import ConfigError

    limit = model.max_length  # 512 for the tiny model
    long = "Rivers, mountains and cities have names. " * 200
    short, cut = generate(model, ["have names.", long], greedy(8), batch_size=2)
    assert cut.tokens_in == limit - 8 and cut.tokens_out == 8
    with pytest.raises(ConfigError, match="leaves no room"):
        generate(model, ["hi"], greedy(limit))


def test_text_that_starts_with_bos_gets_no_second_one(tmp_path_factory, tiny_tokenizer):
    """A prompt rendered beforehand (lm-eval's chat-templated contexts) may hold its BOS token
    already: like lm-eval's HFLM, the engine does not add another."""
    from tokenizers.processors import TemplateProcessing

    m = load_model(str(build_varied_model(tmp_path_factory.mktemp("bos"), tiny_tokenizer)))
    bos = m.tokenizer.bos_token
    m.tokenizer.backend_tokenizer.post_processor = TemplateProcessing(
        single=f"{bos} $A", special_tokens=[(bos, m.tokenizer.bos_token_id)])
    assert m.tokenizer("Name a colour.")["input_ids"][0] == m.tokenizer.bos_token_id
    added, held = generate(m, ["Name a colour.", f"{bos}Name a colour."], greedy(6))
    assert held.tokens_in == added.tokens_in and held.text == added.text
