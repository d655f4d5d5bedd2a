"""Build the demo checkpoint on the CPU: a BPE tokenizer and a small LlamaForCausalLM trained on
the generated corpus, cached under $WORKBENCH_HOME keyed by a hash of the corpus and the settings.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from . import corpus

MODEL_VERSION = "v1"

# The suite's instruction layout as a chat template: a user message "instruction\n\ninput" (how
# training data made from suite items reads) renders exactly like the suite's prompt, so an
# adapter trained on chat rows sees the prompts it is evaluated on.
CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'user' %}{% set parts = m['content'].split('\n\n', 1) %}"
    "### Instruction:\n{{ parts[0] }}\n\n"
    "{% if parts | length > 1 %}### Input:\n{{ parts[1] }}\n\n{% endif %}"
    "{% else %}### Response:\n{{ m['content'] }}{{ eos_token }}\n\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}### Response:\n{% endif %}"
)


@dataclass(frozen=True)
class BuildSettings:
    """How the demo model is built. Every field is part of the cache key."""

    vocab_size: int = 1200  # BPE vocabulary trained on the corpus
    hidden_size: int = 128
    layers: int = 2
    heads: int = 4
    intermediate_size: int = 256
    n_pretrain_entities: int = 2400  # corpus size: entities x examples per entity
    per_entity: int = 3
    steps: int = 600  # optimizer steps
    batch_size: int = 24
    lr: float = 3e-3
    warmup: int = 40
    weight_decay: float = 0.01
    seed: int = 0
    threads: int = 2  # torch CPU threads; the build is meant for a laptop or a small CI box

    @classmethod
    def small(cls) -> BuildSettings:
        """A few steps on a tiny corpus: a loadable but untrained model, for tests."""
        return cls(vocab_size=400, hidden_size=32, layers=1, heads=2, intermediate_size=64,
                   n_pretrain_entities=60, per_entity=2, steps=3, batch_size=8, warmup=1)


DEFAULT_SETTINGS = BuildSettings()


def workbench_home() -> Path:
    return Path(os.environ.get("WORKBENCH_HOME") or Path.home() / ".cache" / "workbench")


def cache_key(settings: BuildSettings, data: corpus.DemoData) -> str:
    """Hash of the training text and the build settings: a change to either rebuilds."""
    h = hashlib.sha256()
    h.update(f"{MODEL_VERSION}/{corpus.CORPUS_VERSION}/{CHAT_TEMPLATE}".encode())
    h.update(json.dumps(asdict(settings), sort_keys=True).encode())
    for ex in data.pretrain:
        h.update(ex.text().encode())
        h.update(b"\x00" if ex.eos else b"\x01")
    return h.hexdigest()[:16]


def model_dir(settings: BuildSettings | None = None) -> Path:
    settings = settings or BuildSettings()
    data = corpus.generate(settings.n_pretrain_entities, settings.per_entity)
    return workbench_home() / f"demo-model-{MODEL_VERSION}" / cache_key(settings, data)


def _encode(tok, data: corpus.DemoData):
    """Token ids and loss masks: the loss is taken on the answer (and its EOS) only."""
    rows = []
    for ex in data.pretrain:
        p = tok(corpus.render_prompt(ex.prompt, ex.context), add_special_tokens=False)["input_ids"]
        r = tok(ex.response, add_special_tokens=False)["input_ids"]
        if ex.eos:
            r = r + [tok.eos_token_id]
        rows.append((p + r, len(p)))
    return rows


def _batches(rows: list[tuple[list[int], int]], size: int, rng) -> list[list[int]]:
    """One epoch of batches of similar length (less padding), in a random order."""
    order = list(range(len(rows)))
    rng.shuffle(order)
    chunk = size * 32  # sort within chunks so batches stay varied across the epoch
    out = []
    for s in range(0, len(order), chunk):
        part = sorted(order[s: s + chunk], key=lambda i: len(rows[i][0]))
        out += [part[k: k + size] for k in range(0, len(part), size)]
    rng.shuffle(out)
    return out


def train(out_dir: Path, settings: BuildSettings, report: Callable[[int, int, float], None] | None
          = None) -> dict:
    """Build the tokenizer and model, train them and save to ``out_dir``; return build info."""
    import random

    import torch

    from .tiny import build_tiny_llama, build_tokenizer

    t0 = time.time()
    torch.manual_seed(settings.seed)
    random.seed(settings.seed)
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    try:
        data = corpus.generate(settings.n_pretrain_entities, settings.per_entity)
        tok = build_tokenizer([ex.text() for ex in data.pretrain], vocab_size=settings.vocab_size)
        tok.chat_template = CHAT_TEMPLATE
        model = build_tiny_llama(
            out_dir, tok, hidden_size=settings.hidden_size, layers=settings.layers,
            heads=settings.heads, intermediate_size=settings.intermediate_size,
            max_position_embeddings=512, seed=settings.seed, save=False)
        rows = _encode(tok, data)
        rng = random.Random(settings.seed)
        opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, betas=(0.9, 0.98),
                                weight_decay=settings.weight_decay)

        def lr_at(step: int) -> float:  # linear warmup, cosine decay to 10%
            if step < settings.warmup:
                return settings.lr * (step + 1) / settings.warmup
            frac = (step - settings.warmup) / max(1, settings.steps - settings.warmup)
            return settings.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))

        model.train()
        batches: list[list[int]] = []
        losses: list[float] = []
        pad = tok.pad_token_id
        for step in range(settings.steps):
            if not batches:
                batches = _batches(rows, settings.batch_size, rng)
            batch = [rows[i] for i in batches.pop()]
            width = max(len(ids) for ids, _ in batch)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            labels = torch.full((len(batch), width), -100, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for b, (seq, plen) in enumerate(batch):
                ids[b, : len(seq)] = torch.tensor(seq)
                labels[b, plen: len(seq)] = torch.tensor(seq[plen:])
                mask[b, : len(seq)] = 1
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
            if report:
                report(step + 1, settings.steps, losses[-1])
        model.eval()
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out_dir, safe_serialization=True)
        tok.save_pretrained(out_dir)
        info = {
            "settings": asdict(settings), "examples": len(rows),
            "final_loss": round(sum(losses[-20:]) / len(losses[-20:]), 4),
            "loss_curve": [round(x, 4) for x in losses[:: max(1, len(losses) // 50)]],
            "seconds": round(time.time() - t0, 1),
        }
        (out_dir / "demo_build.json").write_text(json.dumps(info, indent=2))
        return info
    finally:
        torch.set_num_threads(prev_threads)


def ensure_model(settings: BuildSettings | None = None, rebuild: bool = False,
                 report: Callable[[int, int, float], None] | None = None) -> Path:
    """The cached model dir for ``settings``, built first when missing (or when ``rebuild``)."""
    settings = settings or BuildSettings()
    final = model_dir(settings)
    if final.exists() and not rebuild and (final / "demo_build.json").exists():
        return final
    # build beside the final dir and rename, so a killed build never leaves a half model behind
    tmp = final.with_name(final.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    train(tmp, settings, report)
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final
