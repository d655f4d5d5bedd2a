"""Throughput of the generation engine against lm-eval's HFLM.generate_until and a plain loop.

A small Llama is trained for a few seconds on instruction-style text whose answers have very
different lengths (1 to ~40 words, each ending with eos), so a batch holds sequences that
finish at different steps, as real answers do. The same greedy requests (stop string "\\n\\n",
max_new_tokens) then go through

- ``workbench.generation.generate`` (our engine),
- lm-eval's ``HFLM.generate_until`` (``model.generate`` with its stop-sequence criteria),
- a plain loop calling ``model.generate`` once per prompt,

at the same batch size, on one CPU thread (the figures are stable on a shared machine). It
reports items/s, the speed-up over lm-eval and how many outputs agree exactly.

    python -m bench.generation [--batch-size 8] [--prompts 64] [--max-new-tokens 64]
    python -m bench.generation --model DIR --suite suites/demo.yaml   # a real model and suite

With ``--model``/``--suite`` the prompts are the suite's rendered eval prompts and its stop
strings apply (max_new_tokens still comes from the command line).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

WORDS = ("red blue green amber violet teal river mountain city forest lake valley stone "
         "cloud harbour bridge tower garden meadow island").split()


def corpus(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.choice([1, 2, 3, 5, 8, 12, 20, 30, 40])
        topic = rng.choice(WORDS)
        q = f"Write {k} words about the {topic}."
        a = " ".join(rng.choice(WORDS) for _ in range(k)) + "."
        out.append((f"### Instruction:\n{q}\n\n### Response:\n", a))
    return out


def build_model(out: Path, steps: int = 150, seed: int = 0) -> Path:
    """Train a small Llama for ``steps`` steps on the corpus; save it with its tokenizer."""
    import torch

    from workbench.tiny import build_tiny_llama, build_tokenizer

    data = corpus(2000, seed)
    texts = [p + a for p, a in data]
    tok = build_tokenizer(texts, vocab_size=300)
    model = build_tiny_llama(out, tok, hidden_size=128, layers=4, heads=4, seed=seed, save=False)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    eos = tok.eos_token
    rng = random.Random(seed)
    for _ in range(steps):
        batch = tok([t + eos for t in rng.sample(texts, 16)], return_tensors="pt", padding=True)
        labels = batch.input_ids.masked_fill(batch.attention_mask == 0, -100)
        loss = model(**batch, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def _timed(fn):  # noqa: ANN001, ANN202
    t0 = time.perf_counter()
    res = fn()
    return res, time.perf_counter() - t0


def run(batch_size: int = 8, n_prompts: int = 64, max_new_tokens: int = 64,
        threads: int = 1, model_dir: str | None = None, suite_path: str | None = None) -> dict:
    import torch
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from workbench.generation import GenerationConfig, generate
    from workbench.models import load_model

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        t_build = time.perf_counter()
        d = Path(model_dir) if model_dir else build_model(Path(tmp) / "model")
        t_build = time.perf_counter() - t_build
        loaded = load_model(str(d), "bench", device="cpu", dtype="float32")
        stop = ["\n\n"]
        if suite_path:
            from workbench.suites import load_suite

            suite = load_suite(suite_path)
            prompts = [suite.render(it) for it in suite.split("eval")][:n_prompts]
            stop = list(suite.generation.stop) or stop
        else:
            prompts = [p for p, _ in corpus(n_prompts, seed=99)]
        n_prompts = len(prompts)
        cfg = GenerationConfig(max_new_tokens=max_new_tokens, stop=stop)
        generate(loaded, prompts[:2], cfg, batch_size=2)  # warm-up

        ours, t_ours = _timed(lambda: generate(loaded, prompts, cfg, batch_size=batch_size))

        lm = HFLM(pretrained=loaded.model, tokenizer=loaded.tokenizer, batch_size=batch_size,
                  max_length=loaded.max_length, device="cpu")
        gen_kwargs = {"until": list(stop), "max_gen_toks": max_new_tokens, "do_sample": False}
        reqs = [Instance(request_type="generate_until", doc={}, arguments=(p, dict(gen_kwargs)),
                         idx=i) for i, p in enumerate(prompts)]
        theirs, t_lmeval = _timed(lambda: lm.generate_until(reqs, disable_tqdm=True))

        tok = loaded.tokenizer

        def plain_loop() -> list[str]:
            out = []
            with torch.inference_mode():
                for p in prompts:
                    enc = tok(p, return_tensors="pt")
                    g = loaded.model.generate(**enc, max_new_tokens=max_new_tokens,
                                              do_sample=False, pad_token_id=tok.pad_token_id,
                                              stop_strings=list(stop), tokenizer=tok)
                    text = tok.decode(g[0, enc.input_ids.shape[1]:], skip_special_tokens=True)
                    for s in stop:
                        text = text.split(s)[0]
                    out.append(text)
            return out

        plain, t_plain = _timed(plain_loop)

    texts = [o.text for o in ours]
    n_tokens = sum(o.tokens_out for o in ours)
    return {
        "model": "trained tiny llama" if not model_dir else str(model_dir),
        "suite": suite_path or "synthetic instructions",
        "batch_size": batch_size,
        "prompts": n_prompts,
        "max_new_tokens": max_new_tokens,
        "threads": threads,
        "build_model_s": round(t_build, 1),
        "tokens_out_mean": round(n_tokens / n_prompts, 1),
        "finish_eos": sum(o.finish_reason == "eos" for o in ours),
        "finish_length": sum(o.finish_reason == "length" for o in ours),
        "finish_stop": sum(o.finish_reason == "stop" for o in ours),
        "items_per_s": {
            "workbench": round(n_prompts / t_ours, 2),
            "lm_eval_generate_until": round(n_prompts / t_lmeval, 2),
            "plain_generate_loop": round(n_prompts / t_plain, 2),
        },
        "speedup_vs_lm_eval": round(t_lmeval / t_ours, 2),
        "speedup_vs_plain_loop": round(t_plain / t_ours, 2),
        "same_text_as_lm_eval": sum(a == b for a, b in zip(texts, theirs, strict=True)),
        "same_text_as_plain_loop": sum(a == b for a, b in zip(texts, plain, strict=True)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", help="a model dir to use instead of training a small one")
    ap.add_argument("--suite", help="a suite whose eval prompts and stop strings to use")
    a = ap.parse_args(argv)
    import json

    figures = run(a.batch_size, a.prompts, a.max_new_tokens, a.threads, a.model, a.suite)
    json.dump(figures, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
