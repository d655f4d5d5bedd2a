"""Real model outputs on HaluEval QA, for hand labelling (bench/realdata/halueval_qa_smollm2.jsonl).

A local chat model answers the first ``--n`` items of the HaluEval QA dev file with the item's
knowledge as context (user turn "Context: ...\\n\\nQuestion: ..."), greedy, batched with left
padding, one torch thread. Each output is written as one JSON line with the item's id only: the
context, question and right answer are joined from the dev file when the set is read, so none of
HaluEval's text is copied into the project. Labels start empty (null) and are filled by hand.

    python -m bench._halueval_generate --model /path/to/SmolLM2-135M-Instruct --out FILE
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from bench import shared_data_dir

SOURCE = "halueval/qa_dev.jsonl"


def user_turn(knowledge: str, question: str) -> str:
    return f"Context: {knowledge}\n\nQuestion: {question}"


def generate(model_dir: str, items: list[dict], batch_size: int, max_new_tokens: int):  # noqa: ANN201
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
    eos = tok.eos_token_id
    for i in range(0, len(items), batch_size):
        batch = items[i : i + batch_size]
        prompts = [
            tok.apply_chat_template(
                [{"role": "user", "content": user_turn(it["knowledge"], it["question"])}],
                tokenize=False,
                add_generation_prompt=True,
            )
            for it in batch
        ]
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(
                **enc,
                do_sample=False,
                max_new_tokens=max_new_tokens,
                pad_token_id=tok.pad_token_id,
                eos_token_id=eos,
            )
        new = out[:, enc.input_ids.shape[1] :]
        n_tok = 0
        for it, row in zip(batch, new.tolist(), strict=True):
            stopped = eos in row
            row = row[: row.index(eos)] if stopped else row
            n_tok += len(row)
            yield (
                it,
                tok.decode(row, skip_special_tokens=True).strip(),
                ("stop" if stopped else "length"),
            )
        dt = time.perf_counter() - t0
        print(f"{i + len(batch)}/{len(items)}  {n_tok / dt:.1f} tok/s", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--start", type=int, default=0, help="skip the first items (resume)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    a = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    root = shared_data_dir()
    if root is None or not (root / SOURCE).is_file():
        sys.exit(f"shared data not found ({SOURCE}); set WORKBENCH_SHARED_DATA")
    items = [json.loads(line) for line in (root / SOURCE).read_text().splitlines()][a.start : a.n]
    with Path(a.out).open("a" if a.start else "w") as f:
        for it, text, finish in generate(a.model, items, a.batch_size, a.max_new_tokens):
            row = {
                "source": "halueval_qa_dev",
                "source_id": it["id"],
                "context": None,
                "reference": None,
                "output": text,
                "finish_reason": finish,
                "labels": {"hallucination": None, "correct": None},
            }
            f.write(json.dumps(row) + "\n")
            f.flush()


if __name__ == "__main__":
    main()
