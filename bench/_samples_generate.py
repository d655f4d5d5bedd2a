"""Sampled answers of a real model on HaluEval QA, for the inconsistency benchmark.

For each of the first ``--n`` items of the HaluEval QA dev file, the same chat prompt as
``bench._halueval_generate`` (whose greedy answers are labelled by hand in
``halueval_qa_smollm2.jsonl``) is answered ``--samples`` times by workbench's engine: sample 0
greedy, the others sampled at ``--temperature`` with their own seeds. One JSON line per item with
its id and answers only (HaluEval's text is joined at read time, never copied).

    python -m bench._samples_generate --model /path/to/SmolLM2-135M-Instruct --out FILE

``--cost N`` instead times, on the first N items and interleaved, a greedy run against a run of
``--samples`` answers per item (the cost bar: K answers cost at most K greedy runs).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from bench import shared_data_dir
from bench._halueval_generate import SOURCE, user_turn


def _prompts(items: list[dict]) -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": user_turn(it["knowledge"], it["question"])}]
            for it in items]


def _config(samples: int, temperature: float, max_new_tokens: int):  # noqa: ANN202
    from workbench.run.suite_schema import GenerationConfig

    if samples == 1:
        return GenerationConfig(max_new_tokens=max_new_tokens)
    return GenerationConfig(max_new_tokens=max_new_tokens, temperature=temperature,
                            samples=samples, first="greedy", seed=0)


def _generate(loaded, prompts, cfg, batch_size: int, on_batch=None):  # noqa: ANN001, ANN202
    from workbench.run.generation import generate

    k = cfg.samples
    expanded = [p for p in prompts for _ in range(k)]
    return generate(loaded, expanded, cfg, batch_size=batch_size, on_batch=on_batch,
                    samples=[s for _ in prompts for s in range(k)])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", default=None)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--samples", type=int, default=6, help="answers per item, the first greedy")
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--cost", type=int, default=0, help="time N items instead (see above)")
    a = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("WORKBENCH_THREADS", "1")
    root = shared_data_dir()
    if root is None or not (root / SOURCE).is_file():
        sys.exit(f"shared data not found ({SOURCE}); set WORKBENCH_SHARED_DATA")
    from workbench.run.models import load_model

    loaded = load_model(a.model, "smollm2")
    items = [json.loads(line) for line in (root / SOURCE).read_text().splitlines()]
    if a.cost:
        _cost(loaded, _prompts(items[: a.cost]), a)
        return
    if not a.out:
        sys.exit("--out FILE is needed (or --cost N)")
    items = items[: a.n]
    prompts = _prompts(items)
    cfg = _config(a.samples, a.temperature, a.max_new_tokens)
    t0, done = time.perf_counter(), [0, 0]

    def progress(idx, outs):  # noqa: ANN001, ANN202
        done[0] += len(idx)
        done[1] += sum(o.tokens_out for o in outs)
        rate = done[1] / max(time.perf_counter() - t0, 1e-9)
        print(f"{done[0]}/{len(prompts) * a.samples} answers, {rate:.1f} tokens/s",
              file=sys.stderr, flush=True)

    outs = _generate(loaded, prompts, cfg, a.batch_size, progress)
    with Path(a.out).open("w") as f:
        for n, it in enumerate(items):
            answers = outs[n * a.samples:(n + 1) * a.samples]
            f.write(json.dumps({
                "source": "halueval_qa_dev", "source_id": it["id"],
                "temperature": a.temperature, "max_new_tokens": a.max_new_tokens,
                "answers": [o.text.strip() for o in answers],
                "finish_reasons": [o.finish_reason for o in answers],
            }) + "\n")


def _cost(loaded, prompts, a) -> None:  # noqa: ANN001
    """Greedy vs K answers per item on the same prompts, interleaved, medians of 3."""
    import statistics

    greedy, sampled = _config(1, 0.0, a.max_new_tokens), _config(a.samples, a.temperature,
                                                                  a.max_new_tokens)
    times: dict[str, list[float]] = {"greedy": [], "samples": []}
    tokens: dict[str, int] = {}
    for _ in range(3):
        for name, cfg in (("greedy", greedy), ("samples", sampled)):
            t0 = time.perf_counter()
            outs = _generate(loaded, prompts, cfg, a.batch_size)
            times[name].append(time.perf_counter() - t0)
            tokens[name] = sum(o.tokens_out for o in outs)
    g, s = statistics.median(times["greedy"]), statistics.median(times["samples"])
    print(json.dumps({"items": len(prompts), "samples": a.samples, "greedy_s": round(g, 2),
                      "samples_s": round(s, 2), "ratio": round(s / g, 2),
                      "tokens": tokens, "seconds": times}))


if __name__ == "__main__":
    main()
