"""LoRA training throughput: the workbench trainer vs a plain peft + torch loop, same data and config.

Both train a LoRA adapter (same rank, targets, learning rate, batch size, epochs, seed) on the demo
suite's items as instruction -> answer examples with the prompt masked, on a demo-sized Llama
built from scratch. The plain loop shuffles and pads each batch to its longest row; the trainer
groups batches by length. Figure: trained (non-pad) tokens per second over the whole call, the
median of ``repeats`` alternating runs of each in one process (a fresh model each time).

    .venv/bin/python -m bench.train_lora

BENCH_QUICK=1: 32 examples, one epoch, one repeat (a smoke run).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from pathlib import Path

import bench

BATCH, EPOCHS, R, LR, SEED = 8, 2, 8, 1e-3, 0


def _data() -> list[dict]:
    from workbench.demo import corpus

    path = Path(corpus.__file__).parent / "data" / "demo.jsonl"
    rows = [json.loads(x) for x in path.open()] if path.exists() else corpus.suite_rows(
        corpus.generate())
    # vary the lengths as real suggestion sets do: some rows answer with the whole context
    rng = random.Random(0)
    for r in rows:
        if rng.random() < 0.3:
            r["reference"] = r["context"] + " " + r["reference"]
    return rows


def _prompt(r: dict) -> str:
    return f"### Instruction:\n{r['prompt']}\n\n### Input:\n{r['context']}\n\n### Response:\n"


def _model(tok):
    from workbench.tiny import build_tiny_llama

    return build_tiny_llama(None, tok, hidden_size=128, layers=2, heads=4, intermediate_size=256,
                            save=False, seed=0)


def plain_loop(model, tok, rows: list[dict], epochs: int = EPOCHS) -> int:
    """The baseline: shuffled batches padded to their longest row, loss on the answer only."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(SEED)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    model = get_peft_model(model, LoraConfig(r=R, lora_alpha=2 * R, lora_dropout=0.05,
                                             target_modules=targets, task_type="CAUSAL_LM"))
    data = []
    for r in rows:
        p = tok(_prompt(r), add_special_tokens=True)["input_ids"]
        a = tok(r["reference"], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        data.append((p + a, len(p)))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR)
    rng = random.Random(SEED)
    model.train()
    tokens = 0
    for _ in range(epochs):
        rng.shuffle(data)
        for s in range(0, len(data), BATCH):
            batch = data[s:s + BATCH]
            w = max(len(x) for x, _ in batch)
            ids = torch.full((len(batch), w), tok.pad_token_id)
            lab = torch.full((len(batch), w), -100)
            att = torch.zeros((len(batch), w), dtype=torch.long)
            for b, (x, pl) in enumerate(batch):
                ids[b, :len(x)] = torch.tensor(x)
                lab[b, pl:len(x)] = torch.tensor(x[pl:])
                att[b, :len(x)] = 1
            loss = model(input_ids=ids, attention_mask=att, labels=lab).loss
            loss.backward()
            opt.step()
            opt.zero_grad()
            tokens += int(att.sum())
    return tokens


def workbench_trainer(model, tok, rows: list[dict], out: Path, epochs: int = EPOCHS) -> int:
    from workbench.trainers import TrainExample, get_trainer

    examples = [TrainExample(messages=[{"role": "user", "content": r["prompt"]},
                                       {"role": "assistant", "content": r["reference"]}],
                             prompt=_prompt(r)) for r in rows]
    trainer = get_trainer("lora")(r=R, alpha=2 * R, learning_rate=LR, batch_size=BATCH,
                                  epochs=epochs, seed=SEED, replay_share=0.0, warmup_ratio=0.0)
    result = trainer.train(model, tok, examples, out, base="bench")
    return result.metrics["tokens"]


def run() -> dict:
    import tempfile

    import torch

    from workbench.tiny import build_tokenizer

    # 2 threads as on the demo's target machine; on a busy shared machine 1 thread measures
    # the same comparison with far less noise (BENCH_THREADS=1)
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    rows = bench.limit(_data(), 32)
    epochs, repeats = bench.pick(EPOCHS, 1), bench.pick(3, 1)
    tok = build_tokenizer([_prompt(r) + r["reference"] for r in rows], vocab_size=1200)
    figures: dict = {"examples": len(rows), "batch_size": BATCH, "epochs": epochs, "r": R,
                     "repeats": repeats, "threads": torch.get_num_threads()}
    timings: dict[str, list[float]] = {"plain": [], "workbench": []}
    tokens: dict[str, int] = {}
    for _ in range(repeats):  # alternate, so a slow spell of a shared machine hits both
        for name in ("plain", "workbench"):
            model = _model(tok)
            t0 = time.perf_counter()
            if name == "plain":
                tokens[name] = plain_loop(model, tok, rows, epochs)
            else:
                with tempfile.TemporaryDirectory() as d:
                    tokens[name] = workbench_trainer(model, tok, rows, Path(d) / "a", epochs)
            timings[name].append(time.perf_counter() - t0)
    for name in timings:
        med = statistics.median(timings[name])
        figures[f"{name}_seconds"] = round(med, 2)
        figures[f"{name}_tokens_per_s"] = round(tokens[name] / med, 1)
    figures["bar"] = "workbench >= 1.0x the plain loop's tokens/s"
    figures["speedup"] = round(figures["workbench_tokens_per_s"] / figures["plain_tokens_per_s"], 2)
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
