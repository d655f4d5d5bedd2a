"""Generation speed on a real model, against lm-eval, transformers and the machine's limit.

SmolLM2-135M-Instruct (``workbench.demo.real_model``, fp32) answers real chat prompts: the demo
suite's eval questions and, when ``../shared/data`` is beside the project, HaluEval general_dev
user queries, each rendered with the model's chat template; greedy, ``max_new_tokens`` 128 by
default, no stop string but eos. The same requests go, at the same batch size, through

- ``workbench``: ``workbench.run.generation.generate``, the engine ``workbench run`` uses;
- ``lm_eval``: lm-eval's ``HFLM.generate_until``;
- ``hf_continuous``: transformers' continuous batching (``model.generate_batch``) with at most
  ``batch`` requests per batch;
- ``hf_batched``: plain ``model.generate`` over left-padded batches of ``batch`` prompts;

interleaved, ``repeats`` times, in one process; figures are medians, speed-ups ratios of medians,
and every text is compared with workbench's (``same_text``). ``--dtypes`` adds workbench runs in
bfloat16 and int8 (linear layers quantized) with the count of texts that differ from float32.

The roofline is measured on the machine the benchmark runs on, with the torch threads given:

- ``peak_gflops``: a 1024x1024 fp32 matmul, the compute the kernels reach on large shapes;
- ``read_gb_s``: summing a 512 MB tensor, the memory bandwidth one step's weights stream at;
- ``decode_linears_ms``: every linear layer of the model (real weights, in order) applied to
  ``batch`` rows once, the matmul time of one decode step with these kernels and shapes.

A decode step reads every weight once and spends 2 FLOP per weight per row, so the ceiling is
``batch / max(flops / peak, weight bytes / bandwidth)`` tokens/s (attention left out: at these
lengths it is a few percent); ``roofline_share`` is the engine's tokens/s over that ceiling.

    python -m bench.generation_real [--batch-sizes 8 32] [--threads 1 2] [--prompts 64]
        [--max-new-tokens 128] [--repeats 3] [--dtypes] [--model DIR]

BENCH_QUICK=1 runs the small demo model on 4 prompts (a smoke run, no figures).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import bench


def chat_prompts(n: int) -> list[list[dict[str, str]]]:
    """Up to ``n`` real chat requests: half the demo suite's eval questions, half HaluEval
    general_dev queries when the shared data is there (else all from the demo suite)."""
    from workbench.demo import DEMO_SUITE
    from workbench.run.suites import load_suite

    demo = [it.prompt for it in load_suite(DEMO_SUITE).split("eval") if it.prompt]
    queries: list[str] = []
    shared = bench.shared_data_dir()
    if shared is not None and (shared / "halueval" / "general_dev.jsonl").exists():
        with (shared / "halueval" / "general_dev.jsonl").open() as f:
            for line in f:
                q = json.loads(line).get("user_query", "").strip()
                if q and len(q) < 600:
                    queries.append(q)
                if len(queries) >= n:
                    break
    half = n // 2 if queries else n
    texts = demo[:half] + queries[: n - min(half, len(demo))]
    return [[{"role": "user", "content": t}] for t in texts[:n]]


def roofline(model, batch: int) -> dict:  # noqa: ANN001
    """Peak matmul GFLOP/s, read bandwidth, and the time of one decode step's linear layers."""
    import torch

    def best(fn, n: int) -> float:  # noqa: ANN001
        fn()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    a = torch.randn(1024, 1024)
    peak = 2 * 1024**3 / best(lambda: a @ a, 10) / 1e9
    big = torch.ones(128 * 1024 * 1024)  # 512 MB
    read = big.numel() * 4 / best(big.sum, 5) / 1e9
    del big
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    xs = [torch.randn(batch, m.in_features) for m in linears]
    with torch.inference_mode():
        step = best(lambda: [torch.nn.functional.linear(x, m.weight) for x, m in
                             zip(xs, linears, strict=True)], 3)
    weights = sum(m.weight.numel() for m in linears)  # the lm head is one of them
    flops = 2 * weights * batch
    ceiling = batch / max(flops / (peak * 1e9), weights * 4 / (read * 1e9))
    return {"peak_gflops": round(peak, 1), "read_gb_s": round(read, 1),
            "decode_linears_ms": round(step * 1e3, 3),
            "decode_linears_gflops": round(flops / step / 1e9, 1),
            "ceiling_tokens_per_s": round(ceiling, 1),
            "linears_only_tokens_per_s": round(batch / step, 1)}


def compare(model_dir: str, prompts: list, batch: int, max_new_tokens: int, repeats: int,
            dtypes: bool, contenders: tuple[str, ...] | None = None) -> dict:
    import torch
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from workbench.run.generation import GenerationConfig, generate
    from workbench.run.models import load_model

    loaded = load_model(model_dir, "bench", device="cpu", dtype="float32")
    model, tok = loaded.model, loaded.tokenizer
    texts = [p if isinstance(p, str) else
             tok.apply_chat_template(p, tokenize=False, add_generation_prompt=True)
             for p in prompts]
    cfg = GenerationConfig(max_new_tokens=max_new_tokens)
    lm = HFLM(pretrained=model, tokenizer=tok, batch_size=batch, max_length=loaded.max_length,
              device="cpu")
    gen_kwargs = {"until": [], "max_gen_toks": max_new_tokens, "do_sample": False}
    reqs = [Instance(request_type="generate_until", doc={}, arguments=(t, dict(gen_kwargs)),
                     idx=i) for i, t in enumerate(texts)]
    ids = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    out: dict[str, list[str]] = {}
    errors: dict[str, str] = {}

    def workbench() -> None:
        out["workbench"] = [o.text for o in generate(loaded, prompts, cfg, batch_size=batch)]

    def lm_eval() -> None:
        out["lm_eval"] = lm.generate_until(reqs, disable_tqdm=True)

    def hf_continuous() -> None:
        from transformers import GenerationConfig as HFConfig
        from transformers.generation.configuration_utils import ContinuousBatchingConfig

        try:
            res = model.generate_batch(
                inputs=ids, generation_config=HFConfig(
                    max_new_tokens=max_new_tokens, do_sample=False,
                    eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id),
                # sized for the batch: left to itself it sizes its KV cache from the machine's
                # memory, which on a CPU means allocating gigabytes before the first token
                continuous_batching_config=ContinuousBatchingConfig(
                    max_requests_per_batch=batch, num_blocks=2 * batch + 2,
                    max_batch_tokens=1024), progress_bar=False)
            by_id = sorted(res.values(), key=lambda r: int(str(r.request_id).split("_")[-1]))
            out["hf_continuous"] = [tok.decode(r.generated_tokens, skip_special_tokens=True)
                                    for r in by_id]
        except Exception as exc:  # noqa: BLE001 - reported, not fatal: one contender failed
            errors["hf_continuous"] = f"{type(exc).__name__}: {exc}"[:300]

    def hf_batched() -> None:
        res = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch):
                enc = tok(texts[i:i + batch], return_tensors="pt", padding=True,
                          padding_side="left", add_special_tokens=False)
                g = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                   pad_token_id=tok.pad_token_id)
                res += tok.batch_decode(g[:, enc.input_ids.shape[1]:], skip_special_tokens=True)
        out["hf_batched"] = res

    fns = {"workbench": workbench, "lm_eval": lm_eval, "hf_continuous": hf_continuous,
           "hf_batched": hf_batched}
    if contenders:  # workbench always runs: the others are measured against it
        fns = {k: f for k, f in fns.items() if k == "workbench" or k in contenders}
    generate(loaded, prompts[:2], cfg, batch_size=2)  # warm-up (first-call allocations)
    times = bench.median_times(fns, repeats)
    med = {k: statistics.median(v) for k, v in times.items() if k not in errors}
    mine = generate(loaded, prompts, cfg, batch_size=batch)
    n_tokens = sum(o.tokens_out for o in mine)
    lengths = sorted(o.tokens_out for o in mine)
    fig = {
        "batch_size": batch, "prompts": len(prompts), "max_new_tokens": max_new_tokens,
        "repeats": repeats, "tokens_out": n_tokens,
        "tokens_out_min_median_max": [lengths[0], lengths[len(lengths) // 2], lengths[-1]],
        "tokens_per_s": {k: round(n_tokens / v, 1) for k, v in med.items()},
        "speedup": {k: round(v / med["workbench"], 2) for k, v in med.items()
                    if k != "workbench"},
        "same_text": {k: sum(a.strip() == b.strip() for a, b in zip(out["workbench"], v,
                                                                    strict=True))
                      for k, v in out.items() if k != "workbench"},
        "roofline": roofline(model, batch),
        "errors": errors,
    }
    fig["roofline_share"] = round(fig["tokens_per_s"]["workbench"]
                                  / fig["roofline"]["ceiling_tokens_per_s"], 3)
    if dtypes:
        fig["dtypes"] = _dtypes(model_dir, prompts, cfg, batch, repeats, out["workbench"],
                                med["workbench"])
    return fig


def _dtypes(model_dir: str, prompts: list, cfg, batch: int, repeats: int,  # noqa: ANN001
            fp32_texts: list[str], fp32_s: float) -> dict:
    """workbench in bfloat16 and int8: speed-up over float32 and texts that differ."""
    from workbench.run.generation import generate
    from workbench.run.models import load_model

    res = {}
    for dtype in ("bfloat16", "int8"):
        m = load_model(model_dir, "bench", device="cpu", dtype=dtype)
        got: list = []
        times = bench.median_times(
            {dtype: lambda m=m, got=got: got.append(generate(m, prompts, cfg, batch_size=batch))},
            repeats)[dtype]
        texts = [o.text for o in got[-1]]
        n = sum(o.tokens_out for o in got[-1])
        res[dtype] = {"tokens_per_s": round(n / statistics.median(times), 1),
                      "speedup_vs_float32_time": round(fp32_s / statistics.median(times), 2),
                      "differ_from_float32": sum(a != b for a, b in zip(texts, fp32_texts,
                                                                        strict=True))}
        del m
    return res


def run(batch_sizes: tuple[int, ...] | None = None, threads: tuple[int, ...] = (1,),
        n_prompts: int | None = None, max_new_tokens: int | None = None,
        repeats: int | None = None, dtypes: bool = True, model_dir: str | None = None,
        contenders: tuple[str, ...] | None = None) -> dict:
    import torch

    batch_sizes = batch_sizes or bench.pick((8, 32), (4,))
    if model_dir is None:
        if bench.quick():
            from workbench.demo import ensure_demo_model

            model_dir = str(ensure_demo_model(progress=False, small=True))
        else:
            from workbench.demo.real_model import ensure_real_model

            model_dir = str(ensure_real_model(progress=False))
    prompts = chat_prompts(n_prompts or bench.pick(64, 4))
    if bench.quick():
        prompts = [p[0]["content"] for p in prompts]  # the small model has no chat template
    figures: dict = {"model": model_dir, "prompts_from": "demo suite + HaluEval general_dev"
                     if bench.shared_data_dir() else "demo suite",
                     "bar": "fp32 >= 2.0x lm-eval at batch 8 and 32; >= 50% of the roofline "
                            "at batch 8; bf16 >= 1.6x fp32", "load_before": os.getloadavg()}
    for t in threads:
        torch.set_num_threads(t)
        for b in batch_sizes:
            print(f"generation_real: {t} thread(s), batch {b}", file=sys.stderr, flush=True)
            figures[f"threads{t}_batch{b}"] = compare(
                model_dir, prompts, b, max_new_tokens or bench.pick(128, 8),
                repeats or bench.pick(3, 1), dtypes and b == batch_sizes[0] and t == threads[0],
                contenders)
    figures["load_after"] = os.getloadavg()
    return figures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=None, help="default 8 32")
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--prompts", type=int, default=None)
    ap.add_argument("--max-new-tokens", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--no-dtypes", action="store_true", help="skip the bfloat16 and int8 rows")
    ap.add_argument("--model", help="a model dir (default: SmolLM2-135M-Instruct)")
    ap.add_argument("--contenders", nargs="+", choices=("lm_eval", "hf_continuous", "hf_batched"),
                    help="measure workbench against these only (default: all); none given with "
                         "--workbench-only")
    ap.add_argument("--workbench-only", action="store_true",
                    help="workbench's engine alone, e.g. to see what the batch size buys")
    a = ap.parse_args(argv)
    contenders = ("workbench",) if a.workbench_only else tuple(a.contenders or ()) or None
    figures = run(tuple(a.batch_sizes or ()) or None, tuple(a.threads), a.prompts, a.max_new_tokens,
                  a.repeats, not a.no_dtypes, a.model, contenders)
    json.dump(figures, sys.stdout, indent=2, default=str)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
