"""The same custom suite on a served model and on the local engine: how many greedy texts agree.

SmolLM2-135M-Instruct (``workbench.demo.real_model``, or ``--model DIR``) answers the project's
own prompts (``bench/realdata/length_prompts.txt``, chat template, greedy, ``--max-new-tokens``)
twice through the CLI, into one store:

- ``hf``: ``workbench run --model real=DIR`` (workbench's engine in this process);
- ``served``: ``transformers serve DIR`` on 127.0.0.1, then ``workbench run --model
  srv=openai:DIR@URL`` (the ``openai`` backend, one request per prompt);

and the texts are compared item by item. The two runs never share a cache entry (a served
model's id is its endpoint's, not its weights'), which ``shared_cache_keys`` checks.

    python -m bench.served_parity [--prompts 32] [--max-new-tokens 48] [--model DIR]

BENCH_QUICK=1 runs the tiny demo model on 4 prompts (a smoke run, no figures).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench
from bench._serve import Server, free_port

PROMPTS = bench.ROOT / "bench" / "realdata" / "length_prompts.txt"
CLI = Path(sys.executable).with_name("workbench")


def _suite(d: Path, n: int, max_new_tokens: int, chat: bool = True) -> Path:
    prompts = [p for p in PROMPTS.read_text().splitlines() if p.strip() and not p.startswith("#")]
    rows = [{"id": f"p{i:02d}", "prompt": p} for i, p in enumerate(prompts[:n])]
    (d / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (d / "s.yaml").write_text(
        f"name: served-parity\ndata: d.jsonl\nchat_template: {str(chat).lower()}\nchecks: []\n"
        f"generation:\n  max_new_tokens: {max_new_tokens}\n")
    return d / "s.yaml"


def _run(model: str, suite: Path, db: Path) -> tuple[dict, float]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    res = subprocess.run([str(CLI), "run", "--model", model, "--suite", str(suite), "--db",
                          str(db), "--json", "--batch-size", "8"],
                         capture_output=True, text=True, env=env, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"workbench run {model} failed: {res.stderr[-2000:]}")
    return json.loads(res.stdout), time.perf_counter() - t0


def _first_difference(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                min(len(a), len(b)))


def run(n: int = 32, max_new_tokens: int = 48, model_dir: str | None = None) -> dict:
    from workbench.store import Store

    chat = True
    if bench.quick() and not model_dir:  # the small demo model has no chat template
        from workbench.demo import ensure_demo_model

        model_dir = str(ensure_demo_model(progress=False, small=True))
        n, max_new_tokens, chat = 4, 8, False
    if model_dir is None:
        from workbench.demo.real_model import ensure_real_model

        model_dir = str(ensure_real_model(progress=False))
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        suite, db = _suite(d, n, max_new_tokens, chat), d / "parity.duckdb"
        local, local_s = _run(f"real={model_dir}", suite, db)
        srv = Server(Path(model_dir), free_port(), d / "serve.log")
        srv.start()
        try:
            served, served_s = _run(f"srv=openai:{model_dir}@{srv.url}", suite, db)
        finally:
            srv.kill()
        store = Store(db)
        a = store.run_outputs(local["run_id"]).set_index("item_id")
        b = store.run_outputs(served["run_id"]).set_index("item_id")
        shared = set(a.cache_key) & set(b.cache_key)
    same = [i for i in a.index if a.text[i] == b.text.get(i)]
    differ = [i for i in a.index if i not in same]
    examples = []
    for i in differ[:5]:
        at = _first_difference(a.text[i], b.text[i])
        examples.append({"item": i, "at_char": at, "hf": a.text[i][max(0, at - 40): at + 60],
                         "served": b.text[i][max(0, at - 40): at + 60],
                         "finish": [a.finish_reason[i], b.finish_reason[i]]})
    return {
        "model": model_dir,
        "load_before": load_before,
        "prompts": len(a),
        "max_new_tokens": max_new_tokens,
        "same_text": len(same),
        "same_share": round(len(same) / max(1, len(a)), 3),
        "bar": ">= 0.90 of items with the same greedy text",
        "shared_cache_keys": len(shared),
        "hf_s": round(local_s, 1),
        "served_s": round(served_s, 1),
        "differ_examples": examples,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--model")
    a = ap.parse_args(argv)
    print(json.dumps(run(a.prompts, a.max_new_tokens, a.model), indent=2))


if __name__ == "__main__":
    main()
