"""The LoRA training loop: read it top to bottom.

Runs unchanged under `accelerate launch` (Accelerator does device placement, data sharding,
backward and gradient sync); a plain single process on the CPU needs no launcher.
"""

from __future__ import annotations

import inspect
import json
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from workbench.train.trainers import StepCallback, TrainExample, TrainResult

from .config import LoraTrainConfig
from .data import (
    IGNORE,
    LengthGroupedBatches,
    collate,
    encode,
    micro_batches,
    mix_replay,
    response_loss,
    response_span,
)
from .loss import fused_head_ok, response_loss_sum


def linear_targets(model: Any) -> list[str]:
    """Names (last component) of every nn.Linear but the output head: attention + MLP projections."""
    import torch

    head = model.get_output_embeddings()
    names = {
        name.rsplit(".", 1)[-1]
        for name, mod in model.named_modules()
        if isinstance(mod, torch.nn.Linear) and mod is not head
    }
    return sorted(names)


def train_lora(
    model: Any,
    tokenizer: Any,
    examples: Sequence[TrainExample],
    out_dir: Path,
    cfg: LoraTrainConfig,
    *,
    base: str,
    replay: Sequence[TrainExample] = (),
    on_step: StepCallback | None = None,
) -> TrainResult:
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from peft import LoraConfig, get_peft_model

    from workbench.run.threads import configure_torch_threads

    accelerator = Accelerator()
    set_seed(cfg.seed)
    configure_torch_threads()  # the machine may be busier than when the model loaded

    # -- data: mix in replay, tokenize with the prompt masked, group by length ---------------
    mix = mix_replay(examples, replay, cfg.replay_share, cfg.seed)
    encoded = [e for e in (encode(tokenizer, ex, cfg.max_length) for ex in mix) if e is not None]
    if not encoded:
        raise ValueError("no training example fits in max_length")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    sampler = LengthGroupedBatches([len(e) for e in encoded], cfg.batch_size, seed=cfg.seed)
    loader = torch.utils.data.DataLoader(  # a batch: its micro-batches, each collated
        encoded, batch_sampler=sampler,
        collate_fn=lambda rows: [collate(m, pad_id) for m in micro_batches(rows, cfg.max_batch_tokens)],
    )

    # -- model: wrap the base in LoRA adapters; only they train -----------------------------
    targets = cfg.target_modules or linear_targets(model)
    lora = LoraConfig(
        r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=targets,
        task_type="CAUSAL_LM",
    )
    with warnings.catch_warnings():  # peft probes a deprecated transformers property
        warnings.simplefilter("ignore", FutureWarning)
        model = get_peft_model(model, lora)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]  # the adapters only
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    # the loss: run the decoder, then the head on the response positions only (see loss.py);
    # a model wrapped for several processes, or with an unusual head, gets the response
    # positions' logits from its own forward (`logits_to_keep`), or all of them
    fused = accelerator.unwrap_model(model) is model and fused_head_ok(model)
    trim = "logits_to_keep" in inspect.signature(
        accelerator.unwrap_model(model).get_base_model().forward).parameters

    def loss_sum(batch: dict[str, Any]) -> tuple[Any, int]:
        labels = batch.pop("labels")
        if fused:
            return response_loss_sum(model, batch, labels)
        n = int((labels[:, 1:] != IGNORE).sum())
        keep = response_span(labels) + 1 if trim else 0  # 0: every position
        logits = model(**batch, logits_to_keep=keep).logits if trim else model(**batch).logits
        return (response_loss(logits, labels) * n if n else logits.sum() * 0.0), n

    steps_per_epoch = len(loader)
    total = cfg.max_steps or max(1, math.ceil(cfg.epochs * steps_per_epoch))
    warmup = int(cfg.warmup_ratio * total)

    def lr_at(step: int) -> float:  # linear warmup, then linear decay to 10% of the peak
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return 1.0 - 0.9 * (step - warmup) / max(1, total - warmup)

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)

    # -- the loop ----------------------------------------------------------------------------
    loss_curve: list[tuple[int, float]] = []
    tokens = 0
    t0 = time.perf_counter()
    step = 0
    while step < total:
        for micro in loader:
            # the step's loss is the mean over all its response tokens: each micro-batch adds
            # its share (sum / the step's count), so the gradients add up to the whole batch's
            n_step = sum(int((m["labels"][:, 1:] != IGNORE).sum()) for m in micro)
            loss_t = torch.zeros((), device=accelerator.device)
            for m in micro:
                tokens += int(m["attention_mask"].sum())
                part, _ = loss_sum(m)
                part = part / max(1, n_step)
                accelerator.backward(part)
                loss_t += part.detach()
            if cfg.grad_clip:
                accelerator.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            loss = accelerator.reduce(loss_t, reduction="mean").item()
            loss_curve.append((step, round(loss, 5)))
            if on_step is not None and accelerator.is_main_process:
                on_step(step, total, loss)
            if step >= total:
                break
    seconds = time.perf_counter() - t0

    # -- save a standard PEFT adapter dir that points at its base -------------------------------
    accelerator.wait_for_everyone()
    out_dir = Path(out_dir)
    if accelerator.is_main_process:
        out_dir.mkdir(parents=True, exist_ok=True)
        accelerator.unwrap_model(model).save_pretrained(out_dir)
        conf_path = out_dir / "adapter_config.json"
        conf = json.loads(conf_path.read_text())
        conf["base_model_name_or_path"] = base
        conf_path.write_text(json.dumps(conf, indent=2, sort_keys=True))
    accelerator.wait_for_everyone()

    n_replay = sum(1 for ex in mix if ex.source == "replay")
    config = {**asdict(cfg), "target_modules": targets}
    tail = [v for _, v in loss_curve[-max(1, steps_per_epoch):]]
    metrics = {
        "steps": step,
        "epochs": round(step / max(1, steps_per_epoch), 3),
        "examples": len(encoded),
        "replay_examples": n_replay,
        "dropped_too_long": len(mix) - len(encoded),
        "tokens": tokens * accelerator.num_processes,
        "seconds": round(seconds, 3),
        "tokens_per_s": round(tokens * accelerator.num_processes / max(seconds, 1e-9), 1),
        "first_loss": loss_curve[0][1],
        "final_loss": round(sum(tail) / len(tail), 5),
        "processes": accelerator.num_processes,
        "device": str(accelerator.device),
    }
    return TrainResult(out_dir=out_dir, config=config, loss_curve=loss_curve, metrics=metrics,
                       is_main_process=accelerator.is_main_process)
