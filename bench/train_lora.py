"""LoRA training on a real model: the workbench trainer vs a plain peft + torch loop.

Both train the same LoRA adapter (rank, alpha, dropout, targets, learning rate, batch size, epochs,
seed) on the same examples: the demo suite's train rows as chat instruction -> answer pairs,
rendered with the model's chat template, prompt masked, about a third of them answering at length
(the whole context, then the answer), so lengths are mixed as in real suggestion sets. The plain
loop is what one writes with peft and torch alone: shuffled batches right-padded to their longest
row, ``model(..., labels=...).loss``. Each contender trains in a fresh child process, the two
interleaved (plain, workbench, plain, workbench, ...), so a slow spell of a shared machine hits
both; figures are medians of the repeats. Per contender: trained (non-pad) tokens per second over
the training call (model loading excluded) and peak RSS (the child's ``ru_maxrss``).

The model: $WORKBENCH_REAL_MODEL_DIR (an HF causal-LM dir; default ``../cache/smollm2-hf`` beside
the repository, SmolLM2-135M-Instruct). Without it the benchmark says so and skips.

    WORKBENCH_REAL_MODEL_DIR=/path/to/smollm2-hf .venv/bin/python -m bench.train_lora

BENCH_QUICK=1: a tiny model built here instead, 16 short examples, one epoch, one repeat (a smoke
run that measures nothing). BENCH_TRAIN_EXAMPLES / BENCH_TRAIN_REPEATS / BENCH_TRAIN_EPOCHS
override the defaults (120 examples, 3 repeats, 1 epoch).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import bench

R, ALPHA, DROPOUT, LR, BATCH, SEED, MAX_LEN = 16, 32.0, 0.05, 1e-3, 8, 0, 512
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
CONTENDERS = ("plain", "workbench")


def real_model_dir() -> Path | None:
    """$WORKBENCH_REAL_MODEL_DIR, else ../cache/smollm2-hf beside the repository, if it exists."""
    env = os.environ.get("WORKBENCH_REAL_MODEL_DIR")
    path = Path(env) if env else bench.ROOT.parent / "cache" / "smollm2-hf"
    return path if (path / "config.json").is_file() else None


def examples(n: int, seed: int = 0) -> list[list[dict]]:
    """``n`` chat examples (user question with its context -> assistant answer) from the demo
    suite's train rows; about a third answer at length (the context, then the answer)."""
    path = bench.ROOT / "workbench" / "demo" / "data" / "demo.jsonl"
    rows = [json.loads(x) for x in path.open()]
    rows = [r for r in rows if r.get("split") == "train"] or rows
    rng = random.Random(seed)
    rng.shuffle(rows)
    out = []
    for k in range(n):
        r = rows[k % len(rows)]
        answer = r["reference"]
        if rng.random() < 0.33:
            answer = f"{r['context']} So, in short: {answer}"
        out.append([{"role": "user", "content": f"{r['context']}\n\n{r['prompt']}"},
                    {"role": "assistant", "content": answer}])
    return out


# -- the contenders (each in a child process) ----------------------------------------------------
def plain_loop(model, tok, data: list[list[dict]], epochs: int) -> int:
    """The baseline: shuffled batches right-padded to their longest row, loss on the answer only."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(SEED)
    model = get_peft_model(model, LoraConfig(r=R, lora_alpha=ALPHA, lora_dropout=DROPOUT,
                                             target_modules=TARGETS, task_type="CAUSAL_LM"))
    rows = []
    for msgs in data:
        prompt = tok.apply_chat_template(msgs[:-1], tokenize=False, add_generation_prompt=True)
        p = tok(prompt, add_special_tokens=False)["input_ids"]
        a = tok(msgs[-1]["content"], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        rows.append((p + a, len(p)))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR)
    rng = random.Random(SEED)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    model.train()
    tokens = 0
    for _ in range(epochs):
        rng.shuffle(rows)
        for s in range(0, len(rows), BATCH):
            batch = rows[s:s + BATCH]
            w = max(len(x) for x, _ in batch)
            ids = torch.full((len(batch), w), pad)
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


def workbench_trainer(model, tok, data: list[list[dict]], epochs: int) -> int:
    from workbench.train.trainers import TrainExample, get_trainer

    exs = [TrainExample(messages=m) for m in data]
    trainer = get_trainer("lora")(r=R, alpha=ALPHA, dropout=DROPOUT, target_modules=TARGETS,
                                  learning_rate=LR, batch_size=BATCH, epochs=epochs, seed=SEED,
                                  max_length=MAX_LEN, replay_share=0.0, warmup_ratio=0.0,
                                  grad_clip=0.0)
    with tempfile.TemporaryDirectory() as d:
        result = trainer.train(model, tok, exs, Path(d) / "adapter", base="bench")
    return result.metrics["tokens"]


def _child(name: str, model_dir: str, data_file: str, epochs: int, out: str) -> None:
    import time

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    data = json.loads(Path(data_file).read_text())
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    fn = plain_loop if name == "plain" else workbench_trainer
    t0 = time.perf_counter()
    tokens = fn(model, tok, data, epochs)
    seconds = time.perf_counter() - t0
    Path(out).write_text(json.dumps({"tokens": tokens, "seconds": seconds,
                                     "vm_hwm_mb": bench.peak_rss_mb()}))


def _spawn(name: str, model_dir: Path, data_file: Path, epochs: int, tmp: Path) -> dict:
    """Run one contender in a fresh interpreter; its figures plus its ru_maxrss."""
    out = tmp / f"{name}.json"
    out.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(bench.ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    proc = subprocess.Popen([sys.executable, "-m", "bench.train_lora", "--child", name,
                             str(model_dir), str(data_file), str(epochs), str(out)],
                            cwd=bench.ROOT, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"{name} child failed with exit status {proc.returncode}")
    figures = json.loads(out.read_text())
    figures["peak_rss_mb"] = round(usage.ru_maxrss / 1024)  # KiB on Linux
    return figures


def _tiny_model(dest: Path, data: list[list[dict]]) -> Path:
    from workbench.demo.tiny import build_tiny_llama, build_tokenizer

    tok = build_tokenizer([m["content"] for msgs in data for m in msgs], vocab_size=1200)
    build_tiny_llama(dest, tok, hidden_size=64, layers=2, heads=4, intermediate_size=128, seed=0)
    return dest


def run() -> dict:
    quick = bench.quick()
    model_dir = None if quick else real_model_dir()
    if not quick and model_dir is None:
        return {"skipped": "no real model: set WORKBENCH_REAL_MODEL_DIR to an HF causal-LM dir "
                "(e.g. SmolLM2-135M-Instruct)"}
    n = int(os.environ.get("BENCH_TRAIN_EXAMPLES", bench.pick(120, 16)))
    repeats = int(os.environ.get("BENCH_TRAIN_REPEATS", bench.pick(3, 1)))
    epochs = int(os.environ.get("BENCH_TRAIN_EPOCHS", 1))
    data = examples(n)
    runs: dict[str, list[dict]] = {c: [] for c in CONTENDERS}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if model_dir is None:
            model_dir = _tiny_model(tmp / "tiny", data)
        data_file = tmp / "examples.json"
        data_file.write_text(json.dumps(data))
        for _ in range(repeats):  # interleaved: a slow spell of the machine hits both
            for name in CONTENDERS:
                runs[name].append(_spawn(name, model_dir, data_file, epochs, tmp))
    figures: dict = {
        "model": "tiny (quick)" if quick else str(model_dir), "examples": n, "epochs": epochs,
        "batch_size": BATCH, "r": R, "alpha": ALPHA, "dropout": DROPOUT, "targets": TARGETS,
        "learning_rate": LR, "repeats": repeats, "threads": int(os.environ.get("BENCH_THREADS", "1")),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    for name, rs in runs.items():
        tokens = {r["tokens"] for r in rs}
        assert len(tokens) == 1, f"{name}: trained token counts differ between repeats: {tokens}"
        secs = statistics.median(r["seconds"] for r in rs)
        figures[name] = {"tokens": rs[0]["tokens"], "seconds": round(secs, 2),
                         "tokens_per_s": round(rs[0]["tokens"] / secs, 1),
                         "peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in rs)),
                         "seconds_each": [round(r["seconds"], 2) for r in rs]}
    if figures["plain"]["tokens"] != figures["workbench"]["tokens"]:
        figures["warning"] = "the contenders trained on different token counts"
    figures["speedup"] = round(figures["workbench"]["tokens_per_s"]
                               / figures["plain"]["tokens_per_s"], 2)
    figures["bars"] = {"workbench tokens/s >= 1.3x plain": figures["speedup"] >= 1.3,
                       "workbench peak RSS <= 2 GB": figures["workbench"]["peak_rss_mb"] <= 2048}
    return figures


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, name, model_dir, data_file, epochs, out = sys.argv
        _child(name, model_dir, data_file, int(epochs), out)
    else:
        print(json.dumps(run(), indent=2))
