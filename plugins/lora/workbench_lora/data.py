"""Training data: examples -> token ids with the prompt masked, replay mixing, length-grouped batches.

No torch at import time: the CLI imports the config without paying for it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.run.prompts import prompt_text
from workbench.train.trainers import TrainExample

IGNORE = -100  # label value the causal-LM loss skips


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]  # IGNORE on prompt tokens: the loss sees only the response

    def __len__(self) -> int:
        return len(self.input_ids)


def render_prompt(tokenizer: Any, example: TrainExample) -> tuple[str, bool]:
    """The prompt text and whether it came from the chat template (which carries its own specials):
    the example's prompt as evaluation rendered it, else its messages rendered as evaluation
    renders chat messages (``workbench.run.prompts``)."""
    if example.prompt is not None:
        return example.prompt, False
    history = example.messages[:-1]
    if getattr(tokenizer, "chat_template", None):
        return prompt_text(tokenizer, history), True
    # no chat template: the instruction layout the suites use by default
    parts = [m["content"] for m in history if m["role"] == "system"]
    parts += [f"### Instruction:\n{m['content']}" for m in history if m["role"] == "user"]
    return "\n\n".join(parts) + "\n\n### Response:\n", False


def encode(tokenizer: Any, example: TrainExample, max_length: int) -> Encoded | None:
    """Tokenize prompt and response separately, so the boundary is exact, and mask the prompt.

    The response ends with EOS so the model learns to stop. An example longer than
    ``max_length`` loses tokens from the start of its prompt (the response is what is learned);
    None when not even the response fits.
    """
    prompt, templated = render_prompt(tokenizer, example)
    # generation tokenizes a plain prompt with the tokenizer's specials (e.g. BOS); a chat
    # template already wrote them into the text
    p_ids = tokenizer(prompt, add_special_tokens=not templated)["input_ids"]
    r_ids = tokenizer(example.response, add_special_tokens=False)["input_ids"]
    if tokenizer.eos_token_id is not None:
        r_ids = r_ids + [tokenizer.eos_token_id]
    if len(r_ids) >= max_length:
        return None
    p_ids = p_ids[max(0, len(p_ids) + len(r_ids) - max_length):]
    return Encoded(p_ids + r_ids, [IGNORE] * len(p_ids) + list(r_ids))


def mix_replay(
    examples: Sequence[TrainExample], replay: Sequence[TrainExample], share: float, seed: int
) -> list[TrainExample]:
    """The examples plus enough replay rows that replay makes up ``share`` of the mix (if available)."""
    if share <= 0 or not replay or not examples:
        return list(examples)
    want = round(share / (1 - share) * len(examples))
    rng = random.Random(seed)
    picked = rng.sample(list(replay), min(want, len(replay)))
    return list(examples) + picked


class LengthGroupedBatches:
    """Batches of indices with similar lengths, so little compute goes to padding.

    Each epoch: shuffle, cut into mega-chunks of ``group`` batches, sort each chunk by length, cut
    into batches, shuffle the batch order. Random enough for SGD, nearly pad-free.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int = 0, group: int = 16):
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.group = group
        self.epoch = 0

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def batches(self, epoch: int) -> list[list[int]]:
        rng = random.Random(self.seed * 1_000_003 + epoch)
        idx = list(range(len(self.lengths)))
        rng.shuffle(idx)
        mega = self.batch_size * self.group
        out: list[list[int]] = []
        for start in range(0, len(idx), mega):
            chunk = sorted(idx[start:start + mega], key=lambda i: self.lengths[i], reverse=True)
            out += [chunk[k:k + self.batch_size] for k in range(0, len(chunk), self.batch_size)]
        rng.shuffle(out)
        return out

    def __iter__(self) -> Iterator[list[int]]:
        batches = self.batches(self.epoch)
        self.epoch += 1  # a DataLoader iterates once per epoch
        return iter(batches)


def micro_batches(rows: Sequence[Encoded], max_tokens: int) -> list[list[Encoded]]:
    """Split one optimizer batch into micro-batches of at most ``max_tokens`` padded tokens each
    (a row longer than that goes alone). Longest first, so each pads to a similar width.

    Activation memory grows with the tokens in a forward pass; gradients accumulated over the
    micro-batches give the optimizer the same step as the whole batch at once.
    """
    ordered = sorted(rows, key=len, reverse=True)
    out: list[list[Encoded]] = []
    for r in ordered:
        if out and len(out[-1][0]) * (len(out[-1]) + 1) <= max_tokens:
            out[-1].append(r)
        else:
            out.append([r])
    return out


def collate(rows: Sequence[Encoded], pad_id: int) -> dict[str, Any]:
    """LEFT-pad a batch to its longest row; padding is masked out of attention and loss.

    Left padding lines every row's response up at the end, so the LM head and the loss need
    only the last ``max response length + 1`` positions (see ``response_loss``); the prompt
    positions, most of the tokens, skip the vocabulary projection entirely. Position ids count
    real tokens only, so a row computes exactly what it would unpadded.
    """
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for k, r in enumerate(rows):
        n = len(r)
        ids[k, width - n:] = torch.tensor(r.input_ids)
        labels[k, width - n:] = torch.tensor(r.labels)
        mask[k, width - n:] = 1
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    return {"input_ids": ids, "attention_mask": mask, "position_ids": positions, "labels": labels}


def response_span(labels: Any) -> int:
    """How many trailing positions hold every row's response (left-padded batch)."""
    first = (labels != IGNORE).int().argmax(1)  # first response position per row
    return int(labels.shape[1] - first.min())


def response_loss(logits: Any, labels: Any) -> Any:
    """Mean next-token cross-entropy over response tokens.

    ``logits`` are for the last ``k + 1`` positions (or all of them); the logit at position t
    predicts the token at t + 1, so they score the last ``k`` labels.
    """
    import torch

    k = logits.shape[1] - 1
    pred = logits[:, :-1].float()
    return torch.nn.functional.cross_entropy(
        pred.reshape(-1, pred.shape[-1]), labels[:, -k:].reshape(-1), ignore_index=IGNORE
    )
