"""The batched generation engine.

Prompts are tokenized once, sorted by length (longest first, so prompts decoded together have
similar lengths and an out-of-memory error shows at once), left-padded, and decoded with a KV
cache by a small loop of our own rather than ``model.generate``: a sequence that finishes (eos,
stop string, max_new_tokens) leaves the batch at once, with its cache rows, and the next prompts
are prefilled and join the running batch in its place (continuous batching). No step is spent on
finished sequences, and a batch is never held back by its longest answer.

Greedy decoding gives the same text at any batch size: positions come from the attention mask
(left padding does not shift them) and padded keys are masked out. Sampling draws each sequence
from its own generator seeded from (seed, sample index, prompt), so it too does not depend on the
batching. Several samples of one prompt are prefilled once and their cache rows copied.

Joining a prefilled group's key/value cache to the running batch's is in ``kv_cache.py``.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ..errors import ConfigError, WorkbenchError
from .kv_cache import join_cache, joinable, trim_padding
from .suite_schema import GenerationConfig

__all__ = ["GenOutput", "GenerationConfig", "generate", "render_chat", "Prompt"]

Messages = Sequence[Mapping[str, str]]
Prompt = str | Messages
# Join new prompts to a running batch once 1/REFILL_FRACTION of it is free: a prefill costs
# about one decoding step, so prompts are admitted in small groups rather than one by one.
REFILL_FRACTION = 4


@dataclass
class GenOutput:
    """One generated output. ``tokens_out`` counts generated tokens, not the eos token.

    ``latency_s`` is the time from its prefill to its last token; ``token_ids`` are the
    generated ids (before a stop string cut the text).
    """

    text: str
    tokens_in: int
    tokens_out: int
    finish_reason: Literal["eos", "stop", "length"]
    latency_s: float
    token_ids: list[int] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def render_chat(tokenizer: Any, messages: Messages, system: str | None = None) -> str:
    """Render chat messages with the tokenizer's chat template, ready for the reply."""
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(
            "this suite has chat items but the model's tokenizer has no chat template"
        )
    msgs = [dict(m) for m in messages]
    if system and not any(m.get("role") == "system" for m in msgs):
        msgs.insert(0, {"role": "system", "content": system})
    return tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)


def _encode(tokenizer: Any, prompts: Sequence[Prompt]) -> list[list[int]]:
    """Token ids per prompt. Chat-rendered text already holds its special tokens, and so does a
    text that starts with the tokenizer's BOS token (a chat template rendered beforehand, as
    lm-eval renders them): neither gets a second one."""
    bos = getattr(tokenizer, "bos_token", None)
    with_bos = [i for i, p in enumerate(prompts)
                if isinstance(p, str) and isinstance(bos, str) and bos and p.startswith(bos)]
    skip = set(with_bos)
    plain = [i for i, p in enumerate(prompts) if isinstance(p, str) and i not in skip]
    chats = [i for i, p in enumerate(prompts) if not isinstance(p, str)]
    ids: list[list[int]] = [[] for _ in prompts]
    for group, special in ((plain, True), (with_bos, False)):
        if group:
            enc = tokenizer([prompts[i] for i in group], add_special_tokens=special)["input_ids"]
            for i, e in zip(group, enc, strict=True):
                ids[i] = list(e)
    if chats:
        texts = [render_chat(tokenizer, prompts[i]) for i in chats]  # type: ignore[arg-type]
        enc = tokenizer(texts, add_special_tokens=False)["input_ids"]
        for i, e in zip(chats, enc, strict=True):
            ids[i] = list(e)
    return ids


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    ids: set[int] = set()
    gc = getattr(model, "generation_config", None)
    for v in (getattr(gc, "eos_token_id", None), getattr(tokenizer, "eos_token_id", None)):
        if isinstance(v, int):
            ids.add(v)
        elif isinstance(v, list | tuple):
            ids.update(int(x) for x in v)
    return ids


def row_seed(seed: int, ids: list[int], sample: int = 0) -> int:
    """The seed of one sample of a prompt (its token ids): the same whatever the batch."""
    key = f"{seed}:{ids}" if sample == 0 else f"{seed}:{sample}:{ids}"
    h = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") & ((1 << 63) - 1)


def prompt_seed(seed: int, prompt: Any, sample: int = 0) -> int:
    """``row_seed`` for an engine that takes the prompt as text or chat messages rather than
    token ids (a served model, vLLM): the prompt's hash stands for its ids."""
    ids = list(hashlib.blake2b(json.dumps(prompt, sort_keys=True).encode(),
                               digest_size=16).digest())
    return row_seed(seed, ids, sample)


@dataclass
class _Row:
    """One sequence being decoded."""

    index: int  # into the prompts
    tokens_in: int
    started: float
    generator: Any = None
    generated: list[int] = field(default_factory=list)


class _Engine:
    """Decodes prompts with a KV cache, refilling the batch as sequences finish.

    The batch is a left-padded block: every row's newest token sits in the last column. A new
    group of prompts is prefilled on its own and joined to the block by left-padding whichever
    side is shorter (cache and mask alike); finished rows are dropped, and leading columns no
    row needs any more are cut. Each row's positions come from its own count, so where it sits
    in the block never changes what it computes.
    """

    def __init__(self, loaded: Any, config: GenerationConfig, batch_size: int):
        import torch

        self.torch = torch
        self.model = loaded.model
        self.tok = loaded.tokenizer
        self.config = config
        self.batch_size = batch_size
        self.device = next(self.model.parameters()).device
        pad = self.tok.pad_token_id
        self.pad_id = int(pad if pad is not None else (self.tok.eos_token_id or 0))
        self.eos = _eos_ids(self.model, self.tok)
        self.stops = [s for s in config.stop if s]
        # a stop string of n bytes ends within the last n tokens (every token is >= 1 byte)
        self.stop_window = max((len(s.encode()) for s in self.stops), default=0) + 2
        inner = self.model.get_base_model() if hasattr(self.model, "get_base_model") else None
        params = inspect.signature((inner or self.model).forward).parameters  # peft: its model's
        self.keep_kw = {"logits_to_keep": 1} if "logits_to_keep" in params else {}
        # newer transformers name the KV cache argument `cache` (`past_key_values` is deprecated)
        self.cache_arg = "cache" if "cache" in params else "past_key_values"
        self.refill = True  # turned off for caches that cannot be joined (sliding windows)

    # -- model calls -------------------------------------------------------------------------
    def _new_cache(self) -> Any:
        from transformers import DynamicCache

        try:
            return DynamicCache(config=self.model.config)
        except TypeError:  # older transformers
            return DynamicCache()

    def _forward(self, ids: Any, mask: Any, pos: Any, cache: Any, first: bool) -> Any:
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True,
                         **{self.cache_arg: cache}, **(self.keep_kw if first else {}))
        return out.logits[:, -1, :]

    def _prefill(self, seqs: list[list[int]]) -> tuple[Any, Any, Any, Any]:
        """Logits for the next token, cache, mask and next positions of a left-padded group.
        Identical prompts (the samples of one item) are computed once and their rows copied."""
        first: dict[tuple[int, ...], int] = {}
        rows = [first.setdefault(tuple(s), len(first)) for s in seqs]
        if len(first) < len(seqs):
            logits, cache, mask, pos = self._prefill([list(k) for k in first])
            sel = self.torch.tensor(rows, dtype=self.torch.long, device=self.device)
            cache.batch_select_indices(sel)
            return logits[sel], cache, mask[sel], pos[sel]
        torch = self.torch
        n, width = len(seqs), max(len(s) for s in seqs)
        ids = torch.full((n, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((n, width), dtype=torch.long)
        for r, s in enumerate(seqs):
            ids[r, width - len(s):] = torch.tensor(s, dtype=torch.long)
            mask[r, width - len(s):] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = self._new_cache()
        logits = self._forward(ids, mask, pos, cache, first=True)
        return logits, cache, mask, pos[:, -1] + 1

    # -- token choice and finishing ----------------------------------------------------------
    def _choose(self, logits: Any, rows: list[_Row]) -> list[int]:
        """The next token of each row: argmax for greedy rows (no generator), else a draw."""
        torch = self.torch
        picked = logits.argmax(-1).tolist()
        sampled = [j for j, row in enumerate(rows) if row.generator is not None]
        if not sampled:
            return picked
        sel = torch.tensor(sampled, dtype=torch.long, device=logits.device)
        probs = torch.softmax(logits[sel].float() / self.config.temperature, dim=-1)
        if self.config.top_p < 1.0:
            sp, si = probs.sort(dim=-1, descending=True)
            cum = sp.cumsum(-1)
            sp[(cum - sp) > self.config.top_p] = 0.0  # keep the smallest set reaching top_p
            probs = torch.zeros_like(probs).scatter_(-1, si, sp)
        for n, j in enumerate(sampled):
            picked[j] = int(torch.multinomial(probs[n], 1, generator=rows[j].generator).item())
        return picked

    def _step_row(self, row: _Row, t: int) -> str | None:
        """Take token ``t`` for ``row``; the finish reason if that ends it."""
        if t in self.eos:
            return "eos"
        row.generated.append(t)
        if self.stops:
            tail = self.tok.decode(row.generated[-self.stop_window:], skip_special_tokens=True)
            if any(s in tail for s in self.stops):
                return "stop"
        if len(row.generated) >= self.config.max_new_tokens:
            return "length"
        return None

    def _output(self, row: _Row, reason: str) -> GenOutput:
        toks = row.generated
        text = self.tok.decode(toks, skip_special_tokens=True)
        if reason == "stop":
            cut = min((i for i in (text.find(s) for s in self.stops) if i >= 0), default=len(text))
            text = text[:cut]
        return GenOutput(text=text, tokens_in=row.tokens_in, tokens_out=len(toks),
                         finish_reason=reason,  # type: ignore[arg-type]
                         latency_s=round(time.perf_counter() - row.started, 6), token_ids=toks)

    # -- the loop ----------------------------------------------------------------------------
    def _greedy(self, sample: int) -> bool:
        return self.config.greedy or (sample == 0 and self.config.first == "greedy")

    def run(self, ids: list[list[int]], order: list[int],
            emit: Callable[[int, GenOutput], None], samples: Sequence[int] | None = None) -> None:
        """Decode every prompt in ``order``, calling ``emit(index, output)`` as each finishes.
        ``samples[i]`` is prompt i's sample index (its seed; see ``generate``)."""
        torch = self.torch
        pending = list(reversed(order))  # pop() takes the next in order
        rows: list[_Row] = []
        cache = mask = next_pos = logits = None
        with torch.inference_mode():
            while pending or rows:
                free = self.batch_size - len(rows)
                if pending and free and (not rows or (
                        self.refill and REFILL_FRACTION * free >= self.batch_size)):
                    take = [pending.pop() for _ in range(min(free, len(pending)))]
                    now = time.perf_counter()
                    new = [_Row(i, len(ids[i]), now) for i in take]
                    for row in new:
                        sample = samples[row.index] if samples is not None else 0
                        if not self._greedy(sample):
                            row.generator = torch.Generator(device=self.device)
                            row.generator.manual_seed(
                                row_seed(self.config.seed, ids[row.index], sample))
                    lg, c, m, p = self._prefill([ids[i] for i in take])
                    if not rows:
                        cache, mask, next_pos, logits = c, m, p, lg
                        self.refill = self.refill and joinable(cache)
                    else:
                        mask = join_cache(cache, mask, c, m)
                        next_pos = torch.cat([next_pos, p])
                        logits = torch.cat([logits, lg])
                    rows += new
                toks = self._choose(logits, rows)
                keep: list[int] = []
                for j, row in enumerate(rows):
                    reason = self._step_row(row, toks[j])
                    if reason is None:
                        keep.append(j)
                    else:
                        emit(row.index, self._output(row, reason))
                if not keep:
                    rows, cache = [], None
                    continue
                next_tok = torch.tensor([toks[j] for j in keep], dtype=torch.long,
                                        device=self.device)
                if len(keep) < len(rows):
                    sel = torch.tensor(keep, dtype=torch.long, device=self.device)
                    cache.batch_select_indices(sel)
                    mask, next_pos = mask[sel], next_pos[sel]
                    rows = [rows[j] for j in keep]
                    mask = trim_padding(mask, cache)
                mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
                logits = self._forward(next_tok[:, None], mask, next_pos[:, None], cache,
                                       first=False)
                next_pos = next_pos + 1


def generate(
    loaded: Any,
    prompts: Sequence[Prompt],
    config: GenerationConfig | None = None,
    batch_size: int = 8,
    on_batch: Callable[[list[int], list[GenOutput]], None] | None = None,
    samples: Sequence[int] | None = None,
) -> list[GenOutput]:
    """Generate one output per prompt (text, or chat messages rendered by the chat template).

    ``samples[i]`` numbers prompt i's sample when one prompt is given several times: sample k
    is drawn with the seed of (config.seed, k, prompt), so each sample is the same whatever the
    batch and whichever other samples are asked for; sample 0 is decoded greedily when
    ``config.first == "greedy"``. Without ``samples`` every prompt is sample 0.

    At most ``batch_size`` sequences are decoded at once. ``on_batch(indices, outputs)`` is
    called each time ``batch_size`` more outputs have finished (and once for the rest), with
    their indices into ``prompts``, so callers can store results and advance a progress bar.
    Returns the outputs in prompt order.
    """
    from .threads import configure_torch_threads

    config = config or GenerationConfig()
    if batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {batch_size}")
    if not prompts:
        return []
    if loaded.backend != "hf":  # a served model or vLLM generates (workbench.run.backends)
        return loaded.generate(prompts, config, batch_size, on_batch, samples)
    configure_torch_threads()
    engine = _Engine(loaded, config, batch_size)
    ids = _encode(loaded.tokenizer, prompts)
    limit = getattr(loaded, "max_length", None)
    if limit:
        room = limit - config.max_new_tokens
        if room < 1:
            raise ConfigError(f"max_new_tokens={config.max_new_tokens} leaves no room for the "
                              f"prompt in the model's context of {limit} tokens")
        cut = sum(1 for s in ids if len(s) > room)
        if cut:  # said out loud: an answer to half a prompt must not pass for a whole one
            sys.stderr.write(
                f"warning: {cut} prompt(s) longer than the {room} tokens the model's context of "
                f"{limit} leaves beside max_new_tokens={config.max_new_tokens}: their start was "
                "cut (tokens_in shows what the model saw)\n")
        ids = [s[-room:] for s in ids]  # keep the end of an over-long prompt, like lm-eval
    for i, s in enumerate(ids):
        if not s:
            ids[i] = [engine.pad_id if loaded.tokenizer.bos_token_id is None
                      else loaded.tokenizer.bos_token_id]
    order = sorted(range(len(ids)), key=lambda i: (-len(ids[i]), i))
    results: list[GenOutput | None] = [None] * len(ids)
    done_idx: list[int] = []
    done_out: list[GenOutput] = []

    def flush() -> None:
        if on_batch is not None and done_idx:
            on_batch(list(done_idx), list(done_out))
        done_idx.clear()
        done_out.clear()

    def emit(i: int, out: GenOutput) -> None:
        results[i] = out
        done_idx.append(i)
        done_out.append(out)
        if len(done_idx) >= batch_size:
            flush()

    try:
        engine.run(ids, order, emit, samples)
    except RuntimeError as exc:
        if "out of memory" in str(exc).lower():
            raise WorkbenchError(
                f"out of memory generating a batch of {batch_size}: lower --batch-size"
            ) from None
        raise
    flush()
    return results  # type: ignore[return-value]
