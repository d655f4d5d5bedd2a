"""The LoRA trainer (workbench_lora): masking, batching, the response-only loss, its config."""

from __future__ import annotations

import pytest

from workbench.errors import ConfigError
from workbench.train.trainers import TrainExample, get_trainer


def _ex(question: str, answer: str, **kw) -> TrainExample:
    return TrainExample(
        messages=[{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
        **kw,
    )


# -- data: masking, replay, batching ----------------------------------------------------------------
def test_loss_mask_covers_only_response_tokens(tiny_tokenizer):
    from workbench_lora.data import IGNORE, encode

    ex = _ex("What is the capital of Norland?", "The capital of Norland is Vell.")
    enc = encode(tiny_tokenizer, ex, max_length=256)
    prompt = tiny_tokenizer.apply_chat_template(ex.messages[:-1], tokenize=False,
                                                add_generation_prompt=True)
    p_ids = tiny_tokenizer(prompt, add_special_tokens=False)["input_ids"]
    r_ids = tiny_tokenizer(ex.response, add_special_tokens=False)["input_ids"]
    assert enc.input_ids == p_ids + r_ids + [tiny_tokenizer.eos_token_id]
    assert enc.labels[: len(p_ids)] == [IGNORE] * len(p_ids)
    assert enc.labels[len(p_ids):] == r_ids + [tiny_tokenizer.eos_token_id]
    # what is learned decodes to the answer, and nothing of the prompt
    learned = [t for t in enc.labels if t != IGNORE]
    assert tiny_tokenizer.decode(learned, skip_special_tokens=True) == ex.response


def test_rendered_prompt_is_used_verbatim_and_long_prompts_lose_their_start(tiny_tokenizer):
    from workbench_lora.data import IGNORE, encode

    ex = _ex("ignored", "Blue is a colour.", prompt="### Instruction:\nName a colour.\n\n### Response:\n")
    enc = encode(tiny_tokenizer, ex, max_length=256)
    n_prompt = enc.labels.count(IGNORE)
    assert tiny_tokenizer.decode(enc.input_ids[:n_prompt]) == ex.prompt
    short = encode(tiny_tokenizer, ex, max_length=n_prompt)  # cut: the response survives whole
    assert len(short) == n_prompt and short.labels[-1] == tiny_tokenizer.eos_token_id
    assert [t for t in short.labels if t != IGNORE] == [t for t in enc.labels if t != IGNORE]
    assert encode(tiny_tokenizer, ex, max_length=5) is None  # not even the response fits


def test_padding_is_masked_from_attention_and_loss():
    from workbench_lora.data import IGNORE, Encoded, collate, response_span

    batch = collate([Encoded([5, 6, 7], [IGNORE, 6, 7]), Encoded([8], [8])], pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [0, 0, 8]]  # left padded
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]
    assert batch["position_ids"].tolist() == [[0, 1, 2], [0, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORE, 6, 7], [IGNORE, IGNORE, 8]]
    assert response_span(batch["labels"]) == 2


def test_response_loss_on_trimmed_logits_equals_the_full_masked_loss(tiny_model_dir, tiny_tokenizer):
    """Scoring only the response positions gives transformers' own loss on the unpadded rows."""
    import torch
    from transformers import AutoModelForCausalLM
    from workbench_lora.data import collate, encode, response_loss, response_span

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    rows = [encode(tiny_tokenizer, _ex(q, a), 256) for q, a in [
        ("What is the capital of Norland?", "The capital of Norland is Vell."),
        ("Name a colour.", "Blue."),
        ("Which numbers appear in answers, and which rivers have names?", "12 and 340."),
    ]]
    batch = collate(rows, tiny_tokenizer.pad_token_id)
    labels = batch.pop("labels")
    with torch.no_grad():
        trimmed = model(**batch, logits_to_keep=response_span(labels) + 1).logits
        loss = response_loss(trimmed, labels)
        per_row = [model(input_ids=torch.tensor([r.input_ids]), labels=torch.tensor([r.labels]))
                   for r in rows]
    n = [sum(t != -100 for t in r.labels[1:]) for r in rows]
    expected = sum(o.loss * k for o, k in zip(per_row, n, strict=True)) / sum(n)
    assert trimmed.shape[1] < batch["input_ids"].shape[1]  # the prompt skipped the LM head
    assert torch.allclose(loss, expected, atol=1e-5)


def test_fused_response_loss_and_micro_batches_equal_the_full_logits_masked_loss(
        tiny_model_dir, tiny_tokenizer):
    """The head on the response rows only, in chunks, with its gradient computed alongside the
    loss, gives transformers' full-logits masked loss and the same LoRA gradients; micro-batches
    add up to the whole batch."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM
    from workbench_lora.data import IGNORE, collate, encode, micro_batches
    from workbench_lora.loss import fused_head_ok, response_loss_sum

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0,
                                             target_modules=["q_proj", "v_proj", "down_proj"],
                                             init_lora_weights=False, task_type="CAUSAL_LM"))
    assert fused_head_ok(model)
    rows = [encode(tiny_tokenizer, _ex(q, a), 256) for q, a in [
        ("What is the capital of Norland?", "The capital of Norland is Vell."),
        ("Name a colour.", "Blue."),
        ("Which numbers appear in answers, and which rivers have names?", "12 and 340."),
    ]]
    lora = [p for p in model.parameters() if p.requires_grad]

    def grads():
        out = [p.grad.clone() for p in lora]
        model.zero_grad()
        return out

    batch = collate(rows, tiny_tokenizer.pad_token_id)
    labels = batch.pop("labels")
    full = model(**batch, labels=labels).loss  # every position's logits, masked mean
    full.backward()
    expected = grads()

    total, n = response_loss_sum(model, dict(batch), labels, chunk=3)  # several chunks
    assert n == int((labels[:, 1:] != IGNORE).sum())
    (total / n).backward()
    assert torch.allclose(total / n, full, atol=1e-5)
    for got, want in zip(grads(), expected, strict=True):
        assert torch.allclose(got, want, atol=1e-5, rtol=1e-4)

    micro = micro_batches(rows, max_tokens=2 * max(len(r) for r in rows) - 1)
    assert len(micro) == 2 and sorted(len(r) for m in micro for r in m) == sorted(map(len, rows))
    accumulated = torch.zeros(())
    for m in micro:
        b = collate(m, tiny_tokenizer.pad_token_id)
        part, _ = response_loss_sum(model, b, b.pop("labels"))
        (part / n).backward()
        accumulated += part.detach() / n
    assert torch.allclose(accumulated, full, atol=1e-5)
    for got, want in zip(grads(), expected, strict=True):
        assert torch.allclose(got, want, atol=1e-5, rtol=1e-4)


def test_replay_mix_share():
    from workbench_lora.data import mix_replay

    ex = [_ex(f"q{i}", "a") for i in range(30)]
    pool = [_ex(f"p{i}", "b", source="replay") for i in range(100)]
    mix = mix_replay(ex, pool, 0.25, seed=1)
    assert sum(e.source == "replay" for e in mix) == 10  # 10 / 40 = 25%
    assert mix == mix_replay(ex, pool, 0.25, seed=1)
    assert mix_replay(ex, pool, 0.0, seed=1) == ex
    assert len(mix_replay(ex, pool[:3], 0.5, seed=1)) == 33  # no more than the pool holds


def test_length_grouped_batches_cover_every_row_with_little_padding():
    import random

    from workbench_lora.data import LengthGroupedBatches

    rng = random.Random(0)
    lengths = [rng.randint(10, 300) for _ in range(500)]
    sampler = LengthGroupedBatches(lengths, batch_size=8, seed=0)
    first, second = list(sampler), list(sampler)
    assert sorted(i for b in first for i in b) == list(range(500))
    assert first != second  # reshuffled per epoch
    assert len(first) == len(sampler) == 63

    def padded(batches):
        return sum(max(lengths[i] for i in b) * len(b) for b in batches)

    plain = [list(range(k, min(k + 8, 500))) for k in range(0, 500, 8)]
    assert padded(first) < 0.75 * padded(plain)


def test_config_validation_and_unknown_options():
    trainer = get_trainer("lora")
    cfg = trainer.make_config({"r": 4}, target_modules="q_proj, v_proj", seed=None)
    assert cfg.r == 4 and cfg.target_modules == ["q_proj", "v_proj"] and cfg.seed == 0
    with pytest.raises(ConfigError, match="unknown option"):
        trainer.make_config({"rank": 4})
    with pytest.raises(ConfigError, match="replay_share"):
        trainer.make_config(replay_share=1.5)
    assert all(h for _, _, h in trainer.config_help())  # every field documents itself
