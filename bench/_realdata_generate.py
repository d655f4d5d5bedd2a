"""Generate real outputs of SmolLM2-135M-Instruct for the hand-labelled set in bench/realdata/.

    python -m bench._realdata_generate --general-dev N --out FILE [--sample T --seed S --skip K]
    python -m bench._realdata_generate --prompts FILE --out FILE [--sample T --seed S]

``--general-dev N``: the ``user_query`` of N rows of ../shared/data/halueval/general_dev.jsonl
(read at run time; only the row ``ID`` is written). ``--prompts FILE``: one prompt a line (the
project's own prompts; written with the output). Chat template, left padding, batch 8, one torch
thread; greedy unless ``--sample`` (temperature, with ``--seed``). Rows carry empty ``labels``:
labels are added by hand (docs/labelling.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import bench

MODEL = os.environ.get("WORKBENCH_SMOLLM2_DIR", "/work/cache/smollm2-hf")


def _general_dev(n: int, skip: int) -> list[tuple[str, str]]:
    data = bench.shared_data_dir()
    if data is None:
        sys.exit("../shared/data is absent")
    rows = [json.loads(line) for line in (data / "halueval" / "general_dev.jsonl").open()]
    rows = [r for r in rows if str(r["ID"]).isdigit()]
    rows.sort(key=lambda r: int(r["ID"]))
    return [(r["ID"], r["user_query"]) for r in rows[skip : skip + n]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--general-dev", type=int, default=0)
    ap.add_argument("--skip", type=int, default=0)
    ap.add_argument("--prompts")
    ap.add_argument("--out", required=True)
    ap.add_argument("--sample", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-new-tokens", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=8)
    args = ap.parse_args(argv)

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    tok = AutoTokenizer.from_pretrained(MODEL)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(MODEL, torch_dtype=torch.float32).eval()
    if args.general_dev:
        items = [
            ("halueval_general_dev", sid, q, None)
            for sid, q in _general_dev(args.general_dev, args.skip)
        ]
    else:
        lines = [ln.strip() for ln in Path(args.prompts).read_text().splitlines()]
        items = [("own", None, q, q) for q in lines if q and not q.startswith("#")]
    texts = [
        tok.apply_chat_template(
            [{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True
        )
        for _, _, q, _ in items
    ]
    order = sorted(range(len(items)), key=lambda i: len(texts[i]))
    out = Path(args.out)
    done = 0
    t0 = time.time()
    with out.open("a") as fh:
        for b in range(0, len(order), args.batch_size):
            idx = order[b : b + args.batch_size]
            enc = tok([texts[i] for i in idx], return_tensors="pt", padding=True)
            kw = {"do_sample": False}
            if args.sample:
                torch.manual_seed(args.seed + b)
                kw = {"do_sample": True, "temperature": args.sample, "top_p": 1.0}
            with torch.no_grad():
                gen = model.generate(
                    **enc, max_new_tokens=args.max_new_tokens, pad_token_id=tok.pad_token_id, **kw
                )
            new = gen[:, enc["input_ids"].shape[1] :]
            for row, i in zip(new, idx, strict=True):
                ids = row.tolist()
                finish = "stop" if tok.eos_token_id in ids else "length"
                if tok.eos_token_id in ids:
                    ids = ids[: ids.index(tok.eos_token_id)]
                source, sid, _, prompt = items[i]
                rec = {
                    "source": source,
                    "source_id": sid,
                    "prompt": prompt,
                    "context": None,
                    "reference": None,
                    "output": tok.decode(ids, skip_special_tokens=True),
                    "finish_reason": finish,
                    "generation": {
                        "temperature": args.sample or 0.0,
                        "seed": args.seed if args.sample else None,
                        "max_new_tokens": args.max_new_tokens,
                    },
                    "labels": {},
                }
                fh.write(json.dumps(rec) + "\n")
                fh.flush()
                done += 1
            print(f"{done}/{len(items)} {time.time() - t0:.0f}s", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
