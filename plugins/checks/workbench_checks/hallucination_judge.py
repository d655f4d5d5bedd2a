"""A model that reads the context and says how likely an output is unsupported by it.

The optional, meaning-based half of the hallucination check (the lexical rules stay the
default). Two kinds of local checkpoint serve as the judge, told apart by their config:

- a sequence-classification NLI / cross-encoder model (``...ForSequenceClassification``): the
  context is the premise, the output the hypothesis; the score is 1 - P(entailment) (a model
  with one output logit: 1 - sigmoid(logit));
- any causal instruct model (``...ForCausalLM``) with a chat template, asked "Is the answer
  supported by the context?": the score is P(No) / (P(Yes) + P(No)) read from the logits of the
  first answer token, no generation.

A checkpoint is read from a local folder only (``local_files_only``, safetensors weights, no
remote code): a hub id is refused in one line, never downloaded. A model is loaded once per
process and per device, scores a batch of pairs in one forward pass, on ``threads`` torch
threads (the previous count is restored afterwards). The context is cut to ``max_context_tokens``
tokens and the output to ``max_output_tokens``: a judge sees the start of a long article only.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

QUESTION = "Is the answer supported by the context? Answer Yes or No."
YES = ("Yes", "yes", " Yes", " yes", "YES")
NO = ("No", "no", " No", " no", "NO")


@dataclass(frozen=True, slots=True)
class Pair:
    """What the judge reads: the evidence, the request it answered, the output."""

    context: str
    prompt: str
    output: str


def judge_kind(path: str | Path) -> str:
    """``"nli"`` or ``"causal"`` for a local checkpoint folder; ValueError (one line) otherwise.

    A path that is not a folder holding ``config.json`` is refused: a hub id ("org/name") is
    never downloaded.
    """
    p = Path(path).expanduser()
    if not p.is_dir():
        hint = (
            " (it looks like a hub id: the judge is never downloaded; pass the folder of a local "
            "checkpoint)"
            if not p.is_absolute() and len(p.parts) <= 2 and not str(path).startswith(".")
            else ""
        )
        raise ValueError(f"judge model {str(path)!r} is not a local folder{hint}")
    conf = p / "config.json"
    if not conf.is_file():
        raise ValueError(f"judge model {str(path)!r} has no config.json (not a checkpoint folder)")
    try:
        archs = json.loads(conf.read_text()).get("architectures") or []
    except (OSError, ValueError, AttributeError) as exc:
        raise ValueError(f"judge model {str(path)!r}: unreadable config.json ({exc})") from None
    if any(str(a).endswith("ForSequenceClassification") for a in archs):
        return "nli"
    if any(str(a).endswith(("ForCausalLM", "ForConditionalGeneration")) for a in archs):
        return "causal"
    raise ValueError(
        f"judge model {str(path)!r} is neither a sequence-classification (NLI) nor a causal LM "
        f"checkpoint (architectures: {archs or 'none'})"
    )


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    if n > 0 and n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


class Judge:
    """A loaded judge model: ``scores(pairs)`` -> P(unsupported) per pair, in 0..1."""

    def __init__(self, path: str | Path, *, device: str = "cpu", threads: int = 1):
        import torch
        from transformers import (
            AutoModelForCausalLM,
            AutoModelForSequenceClassification,
            AutoTokenizer,
        )
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a check prints nothing of its own

        self.path = str(Path(path).expanduser())
        self.kind = judge_kind(self.path)
        self.device = device
        self.threads = threads
        self.forwards = 0  # forward passes run (one per batch)
        kw: dict[str, Any] = {
            "local_files_only": True,
            "trust_remote_code": False,
            "use_safetensors": True,
        }
        with _torch_threads(threads):
            self.tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
            cls = AutoModelForSequenceClassification if self.kind == "nli" else AutoModelForCausalLM
            try:
                self.model = cls.from_pretrained(self.path, **kw)
            except OSError as exc:  # no safetensors weights, a missing file
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ValueError(f"judge model {self.path!r} could not be loaded: {first}") from None
        self.model.to(device).eval()
        self._torch = torch
        if self.kind == "nli":
            self._entail = _entailment_index(self.model.config)
        else:
            if self.tokenizer.pad_token_id is None:
                self.tokenizer.pad_token = self.tokenizer.eos_token
            self.tokenizer.padding_side = "left"
            self._yes = _first_tokens(self.tokenizer, YES)
            self._no = _first_tokens(self.tokenizer, NO)
            if not self._yes or not self._no or set(self._yes) & set(self._no):
                raise ValueError(f"judge model {self.path!r}: no distinct Yes/No tokens")

    def scores(
        self,
        pairs: Sequence[Pair],
        *,
        batch_size: int = 8,
        max_context_tokens: int = 512,
        max_output_tokens: int = 256,
    ) -> list[float]:
        """P(unsupported) for each pair; one forward pass per ``batch_size`` pairs (pairs of
        similar length are batched together, so little is padding)."""
        if not pairs:
            return []
        with _torch_threads(self.threads), self._torch.inference_mode():
            inputs = [self._encode(p, max_context_tokens, max_output_tokens) for p in pairs]
            order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]["input_ids"]))
            out = [0.0] * len(pairs)
            for start in range(0, len(order), max(1, batch_size)):
                idx = order[start : start + max(1, batch_size)]
                for i, s in zip(idx, self._forward([inputs[i] for i in idx]), strict=True):
                    out[i] = s
        return out

    # -- internals ----------------------------------------------------------------------------

    def _cut(self, text: str, limit: int) -> str:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return text if len(ids) <= limit else self.tokenizer.decode(ids[:limit])

    def _encode(self, p: Pair, max_context: int, max_output: int) -> dict[str, list[int]]:
        context = self._cut(p.context, max_context)
        output = self._cut(p.output, max_output)
        if self.kind == "nli":
            enc = self.tokenizer(context, output, truncation=True)
            return {k: list(v) for k, v in enc.items()}
        question = self._cut(p.prompt, 128)
        user = (
            f"Context:\n{context}\n\n"
            + (f"Question: {question}\n\n" if question.strip() else "")
            + f"Answer: {output}\n\n{QUESTION}"
        )
        messages = [{"role": "user", "content": user}]
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        else:
            text = f"{user}\n"
        enc = self.tokenizer(text, add_special_tokens=False)
        return {"input_ids": list(enc["input_ids"]), "attention_mask": list(enc["attention_mask"])}

    def _forward(self, batch: list[dict[str, list[int]]]) -> list[float]:
        torch = self._torch
        padded = self.tokenizer.pad(batch, return_tensors="pt")
        padded = {k: v.to(self.device) for k, v in padded.items()}
        self.forwards += 1
        if self.kind == "nli":
            logits = self.model(**padded).logits.float()
            if logits.shape[-1] == 1:
                return [float(1 - torch.sigmoid(x)) for x in logits[:, 0]]
            probs = logits.softmax(-1)
            return [float(1 - p) for p in probs[:, self._entail]]
        mask = padded["attention_mask"]
        # left padding: positions count real tokens only, as in generation
        positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
        logits = self.model(
            input_ids=padded["input_ids"], attention_mask=mask, position_ids=positions
        ).logits[:, -1, :].float()
        logp = logits.log_softmax(-1)
        yes = logp[:, list(self._yes)].logsumexp(-1)
        no = logp[:, list(self._no)].logsumexp(-1)
        # P(No) / (P(Yes) + P(No)), computed in log space
        return [float(x) for x in torch.sigmoid(no - yes)]


def _entailment_index(config: Any) -> int:
    labels = {int(k): str(v).lower() for k, v in (getattr(config, "id2label", None) or {}).items()}
    if getattr(config, "num_labels", len(labels)) == 1:
        return 0
    hits = [i for i, name in labels.items() if "entail" in name and "not" not in name]
    if len(hits) != 1:
        raise ValueError(
            "judge model: the NLI checkpoint names no entailment label in config.id2label "
            f"({sorted(labels.values())})"
        )
    return hits[0]


def _first_tokens(tokenizer: Any, words: Sequence[str]) -> tuple[int, ...]:
    """The ids of the spellings in ``words`` that are one token each ("Yes", " Yes", ...);
    the first token of ``words[0]`` when none is."""
    seen: list[int] = []
    for w in words:
        ids = tokenizer(w, add_special_tokens=False)["input_ids"]
        if len(ids) == 1 and ids[0] not in seen:
            seen.append(ids[0])
    if not seen:
        ids = tokenizer(words[0], add_special_tokens=False)["input_ids"]
        seen = ids[:1]
    return tuple(seen)


_LOADED: dict[tuple[str, str], Judge] = {}
_LOCK = threading.Lock()


def load_judge(path: str | Path, *, device: str = "cpu", threads: int = 1) -> Judge:
    """The judge at ``path``, loaded at most once per process (and device)."""
    key = (str(Path(path).expanduser().resolve()), device)
    with _LOCK:
        judge = _LOADED.get(key)
        if judge is None:
            judge = _LOADED[key] = Judge(path, device=device, threads=threads)
        judge.threads = threads
        return judge
