"""The batched generation engine.

Prompts are tokenized once, sorted by length (longest first, so a batch holds prompts of similar
length and an out-of-memory error shows in the first batch), left-padded, and decoded with a
KV cache by a small loop of our own rather than ``model.generate``: a sequence that finishes
(eos, stop string, max_new_tokens) is dropped from the batch and its cache rows at once, and the
padding columns no remaining sequence needs are cut, so the batch shrinks as it goes.

Greedy decoding gives the same text at any batch size: positions come from the attention mask
(left padding does not shift them) and padded keys are masked out. Sampling draws each sequence
from its own generator seeded from (seed, prompt), so it too does not depend on the batching.
"""

from __future__ import annotations

import hashlib
import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .errors import ConfigError, WorkbenchError
from .suites import GenerationConfig

__all__ = ["GenOutput", "GenerationConfig", "generate", "render_chat", "Prompt"]

Messages = Sequence[Mapping[str, str]]
Prompt = str | Messages
# Trim leading padding columns once at least this many are unused by every remaining sequence.
TRIM_MIN = 8


@dataclass
class GenOutput:
    """One generated output. ``tokens_out`` counts generated tokens, not the eos token.

    ``latency_s`` is the time from the start of its batch to its last token; ``token_ids`` are
    the generated ids (before a stop string cut the text).
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
    """Token ids per prompt. Chat-rendered text already holds its special tokens."""
    plain = [i for i, p in enumerate(prompts) if isinstance(p, str)]
    chats = [i for i, p in enumerate(prompts) if not isinstance(p, str)]
    ids: list[list[int]] = [[] for _ in prompts]
    if plain:
        enc = tokenizer([prompts[i] for i in plain], add_special_tokens=True)["input_ids"]
        for i, e in zip(plain, enc, strict=True):
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


def _row_seed(seed: int, ids: list[int]) -> int:
    h = hashlib.blake2b(f"{seed}:{ids}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") & ((1 << 63) - 1)


class _Batch:
    """State of one batch being decoded."""

    def __init__(self, engine: _Engine, seqs: list[list[int]]):
        import torch

        self.e = engine
        dev = engine.device
        n, width = len(seqs), max(len(s) for s in seqs)
        ids = torch.full((n, width), engine.pad_id, dtype=torch.long)
        mask = torch.zeros((n, width), dtype=torch.long)
        for r, s in enumerate(seqs):
            ids[r, width - len(s):] = torch.tensor(s, dtype=torch.long)
            mask[r, width - len(s):] = 1
        self.ids, self.mask = ids.to(dev), mask.to(dev)
        pos = (self.mask.cumsum(-1) - 1).clamp(min=0)
        self.pos = pos
        self.next_pos = pos[:, -1] + 1
        self.active = list(range(n))  # row in the current tensors -> index in this batch
        self.generated: list[list[int]] = [[] for _ in seqs]
        self.results: list[GenOutput | None] = [None] * n
        self.tokens_in = [len(s) for s in seqs]
        self.gens = None
        if not engine.config.greedy:
            self.gens = []
            for s in seqs:
                g = torch.Generator(device=dev)
                g.manual_seed(_row_seed(engine.config.seed, s))
                self.gens.append(g)


class _Engine:
    def __init__(self, loaded: Any, config: GenerationConfig):
        import torch

        self.torch = torch
        self.model = loaded.model
        self.tok = loaded.tokenizer
        self.config = config
        self.device = next(self.model.parameters()).device
        pad = self.tok.pad_token_id
        self.pad_id = int(pad if pad is not None else (self.tok.eos_token_id or 0))
        self.eos = _eos_ids(self.model, self.tok)
        self.stops = [s for s in config.stop if s]
        # a stop string of n bytes ends within the last n tokens (every token is >= 1 byte)
        self.stop_window = max((len(s.encode()) for s in self.stops), default=0) + 2
        params = inspect.signature(self.model.forward).parameters
        self.keep_kw = {"logits_to_keep": 1} if "logits_to_keep" in params else {}

    # -- one step ----------------------------------------------------------------------------
    def _forward(self, ids: Any, mask: Any, pos: Any, cache: Any, first: bool) -> Any:
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=pos,
                         past_key_values=cache, use_cache=True, **(self.keep_kw if first else {}))
        return out.logits[:, -1, :]

    def _choose(self, logits: Any, b: _Batch) -> list[int]:
        torch = self.torch
        if b.gens is None:
            return logits.argmax(-1).tolist()
        probs = torch.softmax(logits.float() / self.config.temperature, dim=-1)
        if self.config.top_p < 1.0:
            sp, si = probs.sort(dim=-1, descending=True)
            cum = sp.cumsum(-1)
            sp[(cum - sp) > self.config.top_p] = 0.0  # keep the smallest set reaching top_p
            probs = torch.zeros_like(probs).scatter_(-1, si, sp)
        return [int(torch.multinomial(probs[j], 1, generator=b.gens[r]).item())
                for j, r in enumerate(b.active)]

    def _stop_hit(self, toks: list[int]) -> bool:
        tail = self.tok.decode(toks[-self.stop_window:], skip_special_tokens=True)
        return any(s in tail for s in self.stops)

    def _finish(self, b: _Batch, r: int, reason: str, t0: float) -> None:
        toks = b.generated[r]
        text = self.tok.decode(toks, skip_special_tokens=True)
        if reason == "stop":
            cut = min((i for i in (text.find(s) for s in self.stops) if i >= 0), default=len(text))
            text = text[:cut]
        b.results[r] = GenOutput(text=text, tokens_in=b.tokens_in[r], tokens_out=len(toks),
                                 finish_reason=reason,  # type: ignore[arg-type]
                                 latency_s=round(time.perf_counter() - t0, 6), token_ids=toks)

    # -- one batch ---------------------------------------------------------------------------
    def run_batch(self, seqs: list[list[int]]) -> list[GenOutput]:
        torch = self.torch
        from transformers import DynamicCache

        t0 = time.perf_counter()
        b = _Batch(self, seqs)
        cfg = self.config
        try:
            cache = DynamicCache(config=self.model.config)
        except TypeError:  # older transformers
            cache = DynamicCache()
        with torch.inference_mode():
            logits = self._forward(b.ids, b.mask, b.pos, cache, first=True)
            mask, next_pos = b.mask, b.next_pos
            for _ in range(cfg.max_new_tokens):
                toks = self._choose(logits, b)
                keep: list[int] = []
                for j, r in enumerate(b.active):
                    t = toks[j]
                    if t in self.eos:
                        self._finish(b, r, "eos", t0)
                        continue
                    b.generated[r].append(t)
                    if self.stops and self._stop_hit(b.generated[r]):
                        self._finish(b, r, "stop", t0)
                    elif len(b.generated[r]) >= cfg.max_new_tokens:
                        self._finish(b, r, "length", t0)
                    else:
                        keep.append(j)
                if not keep:
                    break
                next_tok = torch.tensor([toks[j] for j in keep], dtype=torch.long,
                                        device=self.device)
                if len(keep) < len(b.active):
                    sel = torch.tensor(keep, dtype=torch.long, device=self.device)
                    cache.batch_select_indices(sel)
                    mask, next_pos = mask[sel], next_pos[sel]
                    b.active = [b.active[j] for j in keep]
                    mask = _trim_padding(mask, cache)
                mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
                logits = self._forward(next_tok[:, None], mask, next_pos[:, None], cache,
                                       first=False)
                next_pos = next_pos + 1
        out = b.results
        assert all(o is not None for o in out)
        return out  # type: ignore[return-value]


def _trim_padding(mask: Any, cache: Any) -> Any:
    """Drop leading columns that every remaining sequence masks out, from mask and cache."""
    unused = int((mask.sum(0) == 0).long().cumprod(0).sum())
    layers = getattr(cache, "layers", None)
    if unused < TRIM_MIN or not layers:
        return mask
    if any(getattr(layer, "is_sliding", False) or not hasattr(layer, "keys") for layer in layers):
        return mask  # window-limited caches are not aligned with the mask: leave them be
    for layer in layers:
        if getattr(layer, "keys", None) is not None and layer.keys.numel():
            layer.keys = layer.keys[..., unused:, :]
            layer.values = layer.values[..., unused:, :]
    return mask[:, unused:]


def generate(
    loaded: Any,
    prompts: Sequence[Prompt],
    config: GenerationConfig | None = None,
    batch_size: int = 8,
    on_batch: Callable[[list[int], list[GenOutput]], None] | None = None,
) -> list[GenOutput]:
    """Generate one output per prompt (text, or chat messages rendered by the chat template).

    ``on_batch(indices, outputs)`` is called after each batch with the indices (into
    ``prompts``) it finished, so callers can store results and advance a progress bar.
    Returns the outputs in prompt order.
    """
    config = config or GenerationConfig()
    if batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {batch_size}")
    if not prompts:
        return []
    engine = _Engine(loaded, config)
    ids = _encode(loaded.tokenizer, prompts)
    limit = getattr(loaded, "max_length", None)
    if limit:
        room = limit - config.max_new_tokens
        if room < 1:
            raise ConfigError(f"max_new_tokens={config.max_new_tokens} leaves no room for the "
                              f"prompt in the model's context of {limit} tokens")
        ids = [s[-room:] for s in ids]  # keep the end of an over-long prompt, like lm-eval
    for i, s in enumerate(ids):
        if not s:
            ids[i] = [engine.pad_id if loaded.tokenizer.bos_token_id is None
                      else loaded.tokenizer.bos_token_id]
    order = sorted(range(len(ids)), key=lambda i: (-len(ids[i]), i))
    results: list[GenOutput | None] = [None] * len(ids)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        try:
            outs = engine.run_batch([ids[i] for i in idx])
        except RuntimeError as exc:
            if "out of memory" in str(exc).lower():
                raise WorkbenchError(
                    f"out of memory generating a batch of {len(idx)}: lower --batch-size"
                ) from None
            raise
        for i, o in zip(idx, outs, strict=True):
            results[i] = o
        if on_batch is not None:
            on_batch(idx, outs)
    return results  # type: ignore[return-value]
