"""What running lm-eval tasks through workbench costs over running lm-eval alone.

The shipped demo tasks (suites/lm-eval: 24 short-answer QA docs, generate_until + exact_match;
20 four-way multiple-choice docs, acc) run on a tiny random Llama, on one CPU thread:

- ``lm_eval.simple_evaluate`` directly (HFLM around the model object, samples logged; its
  git probe and torch environment report are skipped for both, as workbench skips them);
- ``workbench.run.lmeval.run_lmeval_suite`` on the same model object: the same evaluation plus
  items, outputs, lm-eval's sample records and findings written to a DuckDB file;
- the same workbench run again, answered from lm-eval's request cache.

It reports the seconds of each (the median of ``--repeats``, lm-eval alone and through workbench
interleaved in one process), the overhead (mostly opening and committing the DuckDB file a few
times per run, a fixed cost), and whether the task metrics are identical.

    python -m bench.lmeval_overhead [--repeats 3]

BENCH_QUICK=1: one repeat.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import bench

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
TASK_DIR = ROOT / "suites" / "lm-eval"
TASKS = ["workbench_qa", "workbench_commonsense_mc"]
TEXT = [
    "Question: What is the capital of France?\nAnswer: Paris",
    "Question: What is 7 + 8?\nAnswer: 15",
    "Where do fish live? In water. What do bees make? Honey.",
] * 20


def run(repeats: int | None = None) -> dict:
    import torch

    torch.set_num_threads(1)
    repeats = repeats or bench.pick(3, 1)
    import logging

    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from workbench.demo.tiny import build_tiny_llama, build_tokenizer
    from workbench.run.lmeval.evaluate import lean_results
    from workbench.run.lmeval.runner import run_lmeval_suite
    from workbench.run.suites import load_suite
    from workbench.store import Store

    tok = build_tokenizer(TEXT, vocab_size=400)
    model = build_tiny_llama("unused", tok, save=False).eval()
    suite = load_suite(ROOT / "suites" / "lm-eval-demo.yaml")

    def direct():
        cwd = os.getcwd()
        os.chdir(TASK_DIR)  # plain lm-eval reads data_files relative to the working directory
        try:
            with lean_results():
                return lm_eval.simple_evaluate(
                    model=HFLM(pretrained=model, tokenizer=tok, batch_size=8, device="cpu"),
                    tasks=TASKS,
                    task_manager=TaskManager(include_path=".", include_defaults=False),
                    bootstrap_iters=0,
                    log_samples=True,
                )
        finally:
            os.chdir(cwd)

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["WORKBENCH_HOME"] = tmp
        loaded = type(
            "Loaded",
            (),
            {"model": model, "tokenizer": tok, "fingerprint": "bench-tiny", "name": "tiny"},
        )()
        n = [0]

        def through_workbench(cache: bool):
            n[0] += 1
            store = Store(Path(tmp) / f"wb{n[0]}.duckdb")
            return run_lmeval_suite(
                store, loaded, suite, bootstrap_iters=0, cache=cache, progress=False
            )

        got: dict = {}
        times = bench.median_times({
            "direct": lambda: got.__setitem__("direct", direct()),
            "workbench": lambda: got.__setitem__("workbench", through_workbench(False)),
        }, repeats)
        d, r = got["direct"], got["workbench"]
        through_workbench(True)  # fill lm-eval's request cache
        cached = bench.median_times({"cached": lambda: through_workbench(True)}, repeats)
        direct_s, wb_s = statistics.median(times["direct"]), statistics.median(times["workbench"])
        cached_s = statistics.median(cached["cached"])

    same = all(r.results[t][k] == v for t in TASKS for k, v in d["results"][t].items())
    return {
        "samples": r.n_outputs,
        "findings": r.n_findings,
        "lm_eval_direct_s": round(direct_s, 3),
        "workbench_s": round(wb_s, 3),
        "workbench_from_cache_s": round(cached_s, 3),
        "overhead_s": round(wb_s - direct_s, 3),
        "repeats": repeats,
        "metrics_identical": same,
        "acc": r.metrics["workbench_commonsense_mc/acc"],
        "exact_match": r.metrics["workbench_qa/exact_match"],
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=None)
    a = ap.parse_args()
    for k, v in run(a.repeats).items():
        print(f"{k:<26} {v}", file=sys.stdout)
