"""Output tokens/s of the generation engine against lm-eval's HFLM.generate_until and a plain loop.

Two models, each with its own prompts:

- ``demo``: the embedded demo model (``workbench.demo.ensure_demo_model()``, 2 layers, hidden 128)
  on the demo suite's eval prompts with the suite's stop strings and max_new_tokens; its answers
  run from a few words to the token limit, as real suites' do;
- ``100m``: a ~100M-parameter Llama (hidden 768, 12 layers, a BPE vocabulary trained here on
  instruction text), randomly initialised with a wide init so that its greedy text depends on the
  whole context, and the eos row of its output layer scaled so that eos is the top token at about
  one position in twenty: answers end at varied lengths (a few tokens to the limit) as real ones
  do. Random weights are fine for throughput; the prompts are synthetic instructions.

The same greedy requests (same prompts, stop strings, max_new_tokens, batch size) go through

- ``workbench.run.generation.generate`` (the engine ``workbench run`` uses),
- lm-eval's ``HFLM.generate_until`` (``model.generate`` with its stop-sequence criteria),
- a plain loop calling ``model.generate`` once per prompt,

interleaved, ``repeats`` times each, in one process; the figures are medians and the speed-ups
ratios of medians. Output tokens are counted once (the engine's token counts) and the texts are
compared: ``same_text_*`` is how many outputs agree exactly.

    python -m bench.generation [--models demo 100m] [--batch-size 8] [--threads 1]
    python -m bench.generation --model DIR --suite suites/demo.yaml   # any model and suite

BENCH_QUICK=1 uses the untrained small demo model and a small random model (a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import bench

WORDS = ("red blue green amber violet teal river mountain city forest lake valley stone "
         "cloud harbour bridge tower garden meadow island").split()
EOS_RATE = 0.05  # share of positions where the 100M model's top token is eos


def corpus(n: int, seed: int) -> list[tuple[str, str]]:
    """Instruction prompts asking for 1 to 40 words, with such answers."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.choice([1, 2, 3, 5, 8, 12, 20, 30, 40])
        topic = rng.choice(WORDS)
        q = f"Write {k} words about the {topic}."
        a = " ".join(rng.choice(WORDS) for _ in range(k)) + "."
        out.append((f"### Instruction:\n{q}\n\n### Response:\n", a))
    return out


def build_random_model(out: Path, hidden: int = 768, layers: int = 12, intermediate: int = 2560,
                       seed: int = 0) -> Path:
    """A random Llama (``hidden``/``layers``; ~100M parameters by default) whose greedy answers
    end at varied lengths; saved with its tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from workbench.demo.tiny import build_tokenizer

    texts = [p + a for p, a in corpus(2000, seed)]
    tok = build_tokenizer(texts, vocab_size=2000)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=hidden, intermediate_size=intermediate,
        num_hidden_layers=layers, num_attention_heads=max(1, hidden // 64),
        num_key_value_heads=max(1, hidden // 64), max_position_embeddings=512,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id, tie_word_embeddings=False,
        # a wide init makes the next token depend on the whole context; at the usual 0.02 a
        # random model repeats its last token for ever and every answer runs to the limit
        initializer_range=0.2,
    )
    model = LlamaForCausalLM(config).eval()
    model.generation_config.pad_token_id = tok.pad_token_id
    _scale_eos(model, tok, texts[:16])
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def _scale_eos(model, tok, texts: list[str], rate: float = EOS_RATE) -> None:  # noqa: ANN001
    """Scale the eos row of the output layer so that eos is the top token at about ``rate`` of
    the positions of ``texts``."""
    import torch

    eos = tok.eos_token_id
    with torch.inference_mode():
        enc = tok(texts, return_tensors="pt", padding=True)
        logits = model(**enc).logits[enc.attention_mask.bool()].float()
        e = logits[:, eos].clone()
        logits[:, eos] = float("-inf")
        best = logits.max(-1).values
        # eos wins at a position when scale * e > best; e <= 0 positions never win
        need = torch.where(e > 0, best / e.clamp_min(1e-6), torch.full_like(e, float("inf")))
        k = max(1, int(rate * len(need)))
        scale = float(need.sort().values[k - 1]) * 1.0001
        model.lm_head.weight[eos] *= scale


def _demo_prompts(tokenizer, n: int | None) -> tuple[list[str], list[str], int, str]:  # noqa: ANN001
    from workbench.demo import DEMO_SUITE
    from workbench.run.runner import prompt_for
    from workbench.run.suites import load_suite

    suite = load_suite(DEMO_SUITE)
    items = suite.split("eval")[:n]
    prompts = [prompt_for(suite, it, tokenizer)[1] for it in items]
    return prompts, list(suite.generation.stop), suite.generation.max_new_tokens, "demo suite"


def _suite_prompts(path: str, tokenizer, n: int | None):  # noqa: ANN001, ANN202
    from workbench.run.runner import prompt_for
    from workbench.run.suites import load_suite

    suite = load_suite(path)
    items = suite.split("eval")[:n]
    prompts = [prompt_for(suite, it, tokenizer)[1] for it in items]
    return prompts, list(suite.generation.stop), suite.generation.max_new_tokens, str(path)


def compare(model_dir: str | Path, prompts: list[str], stop: list[str], max_new_tokens: int,
            batch_size: int, repeats: int) -> dict:
    """Time the three ways of generating on one model; medians of interleaved repeats."""
    import torch
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from workbench.run.generation import GenerationConfig, generate
    from workbench.run.models import load_model

    loaded = load_model(str(model_dir), "bench", device="cpu", dtype="float32")
    tok = loaded.tokenizer
    cfg = GenerationConfig(max_new_tokens=max_new_tokens, stop=stop)
    lm = HFLM(pretrained=loaded.model, tokenizer=tok, batch_size=batch_size,
              max_length=loaded.max_length, device="cpu")
    gen_kwargs = {"until": list(stop), "max_gen_toks": max_new_tokens, "do_sample": False}
    reqs = [Instance(request_type="generate_until", doc={}, arguments=(p, dict(gen_kwargs)), idx=i)
            for i, p in enumerate(prompts)]
    results: dict = {}

    def ours() -> None:
        results["workbench"] = generate(loaded, prompts, cfg, batch_size=batch_size)

    def lm_eval() -> None:
        results["lm_eval"] = lm.generate_until(reqs, disable_tqdm=True)

    def plain_loop() -> None:
        out = []
        with torch.inference_mode():
            for p in prompts:
                enc = tok(p, return_tensors="pt")
                g = loaded.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                          pad_token_id=tok.pad_token_id,
                                          stop_strings=list(stop) or None, tokenizer=tok)
                text = tok.decode(g[0, enc.input_ids.shape[1]:], skip_special_tokens=True)
                for s in stop:
                    text = text.split(s)[0]
                out.append(text)
        results["plain"] = out

    generate(loaded, prompts[:2], cfg, batch_size=2)  # warm-up (first-call allocations)
    times = bench.median_times({"workbench": ours, "lm_eval_generate_until": lm_eval,
                                "plain_generate_loop": plain_loop}, repeats)
    med = {k: statistics.median(v) for k, v in times.items()}
    outs = results["workbench"]
    texts = [o.text for o in outs]
    n_tokens = sum(o.tokens_out for o in outs)
    lengths = sorted(o.tokens_out for o in outs)
    return {
        "parameters_m": round(sum(p.numel() for p in loaded.model.parameters()) / 1e6, 1),
        "prompts": len(prompts),
        "batch_size": batch_size,
        "max_new_tokens": max_new_tokens,
        "repeats": repeats,
        "tokens_out": n_tokens,
        "tokens_out_min_median_max": [lengths[0], lengths[len(lengths) // 2], lengths[-1]],
        "finish": {r: sum(o.finish_reason == r for o in outs) for r in ("eos", "stop", "length")},
        "tokens_per_s": {k: round(n_tokens / v, 1) for k, v in med.items()},
        "seconds_median": {k: round(v, 3) for k, v in med.items()},
        "speedup_vs_lm_eval": round(med["lm_eval_generate_until"] / med["workbench"], 2),
        "speedup_vs_plain_loop": round(med["plain_generate_loop"] / med["workbench"], 2),
        "same_text_as_lm_eval": sum(a == b for a, b in zip(texts, results["lm_eval"], strict=True)),
        "same_text_as_plain_loop": sum(a == b for a, b in zip(texts, results["plain"],
                                                              strict=True)),
    }


def run(models: tuple[str, ...] = ("demo", "100m"), batch_size: int = 8,
        threads: int | None = None, repeats: int | None = None, model_dir: str | None = None,
        suite_path: str | None = None, n_prompts: int | None = None) -> dict:
    import torch

    from workbench.run.models import load_model

    threads = threads or int(os.environ.get("BENCH_THREADS", "1"))
    torch.set_num_threads(threads)
    repeats = repeats or bench.pick(3, 1)
    figures: dict = {"threads": threads, "bar": "workbench >= 1.3x lm-eval tokens/s"}
    with tempfile.TemporaryDirectory() as tmp:
        if model_dir or suite_path:
            d = model_dir or str(_demo_dir())
            tok = load_model(str(d), "bench", device="cpu").tokenizer
            prompts, stop, mnt, src = (_suite_prompts(suite_path, tok, n_prompts) if suite_path
                                       else _demo_prompts(tok, n_prompts))
            figures["given"] = {"model": str(d), "prompts_from": src,
                                **compare(d, prompts, stop, mnt, batch_size, repeats)}
            return figures
        for name in models:
            t0 = time.perf_counter()
            if name == "demo":
                d = _demo_dir()
                tok = load_model(str(d), "bench", device="cpu").tokenizer
                prompts, stop, mnt, src = _demo_prompts(tok, n_prompts or bench.pick(64, 4))
            elif name == "100m":
                size = bench.pick({}, {"hidden": 64, "layers": 2, "intermediate": 128})
                d = build_random_model(Path(tmp) / "m100", **size)
                prompts = [p for p, _ in corpus(n_prompts or bench.pick(32, 4), seed=99)]
                stop, mnt, src = ["\n\n"], bench.pick(48, 8), "synthetic instructions"
            else:
                raise ValueError(f"unknown model {name!r} (demo or 100m)")
            setup = time.perf_counter() - t0
            print(f"generation: {name}", file=sys.stderr, flush=True)
            figures[name] = {"prompts_from": src, "setup_s": round(setup, 1),
                             **compare(d, prompts, stop, mnt, batch_size, repeats)}
    return figures


def _demo_dir() -> Path:
    from workbench.demo import ensure_demo_model

    return ensure_demo_model(progress=False, small=bench.quick())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["demo", "100m"], choices=["demo", "100m"])
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--prompts", type=int, default=None, help="prompts per model")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (BENCH_THREADS)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--model", help="a model dir to time instead (demo suite prompts)")
    ap.add_argument("--suite", help="a suite whose eval prompts, stop strings and limit to use")
    a = ap.parse_args(argv)
    figures = run(tuple(a.models), a.batch_size, a.threads, a.repeats, a.model, a.suite,
                  a.prompts)
    json.dump(figures, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
