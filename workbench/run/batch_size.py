"""Choosing the generation batch size when the user does not (``--batch-size`` left out).

On the local engine the batch is bounded by memory: each sequence in flight holds its key/value
cache, ``2 x layers x kv_heads x head_dim`` values per token, for its prompt and every token it
generates. The batch is the number of the longest sequences of the run whose cache fits in a
quarter of the memory free now (the rest is left to the weights' activations, the logits, and
whatever else runs on the machine), capped where a larger batch stops paying: on a CPU the decode
step is bound by the matmuls, and past ``CPU_CAP`` rows the gain is small while padding and the
cache grow (``python -m bench.generation_real --batch-sizes 8 16 32 64``); on a GPU at
``GPU_CAP``. A served model takes ``SERVED`` requests in flight (the server batches them); vLLM
in process is handed ``VLLM`` prompts at a time (it schedules its own batches).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from .backends.openai import SERVED_CONCURRENCY

CPU_CAP = 32
GPU_CAP = 256
SERVED = SERVED_CONCURRENCY
VLLM = 256
MEMORY_SHARE = 0.25
# the cache is not all a sequence costs: attention scores, the logits row, the step's activations
OVERHEAD = 1.5
_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2, "int8": 4}  # int8: weights only


def free_memory_bytes(device: str) -> int | None:
    """Memory free for the run on ``device``: the GPU's free memory, else what the OS reports
    as available (MemAvailable); None when it cannot be read."""
    if device.startswith("cuda"):
        try:
            import torch

            return int(torch.cuda.mem_get_info(torch.device(device))[0])
        except Exception:  # noqa: BLE001 - no CUDA after all: fall back to the OS figure
            pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def cache_bytes_per_token(model: Any, dtype: str | None) -> int | None:
    """Key/value cache bytes one token of one sequence holds, from the model's config."""
    cfg = getattr(model, "config", None)
    layers = getattr(cfg, "num_hidden_layers", None)
    heads = getattr(cfg, "num_attention_heads", None)
    hidden = getattr(cfg, "hidden_size", None)
    if not (layers and heads and hidden):
        return None
    kv_heads = getattr(cfg, "num_key_value_heads", None) or heads
    head_dim = getattr(cfg, "head_dim", None) or hidden // heads
    return 2 * layers * kv_heads * head_dim * _BYTES.get(dtype or "float32", 4)


def choose_batch_size(loaded: Any, prompt_tokens: Sequence[int], max_new_tokens: int,
                      free: int | None = None) -> tuple[int, str]:
    """(batch size, why) for generating ``len(prompt_tokens)`` answers on ``loaded``."""
    n = max(1, len(prompt_tokens))
    backend = getattr(loaded, "backend", "hf")
    if backend == "openai":
        return min(SERVED, n), f"{SERVED} requests in flight on a served model"
    if backend == "vllm":
        return min(VLLM, n), "vLLM schedules its own batches"
    device = str(getattr(loaded, "device", "cpu"))
    cap = GPU_CAP if device.startswith("cuda") else CPU_CAP
    per_token = cache_bytes_per_token(loaded.model, getattr(loaded, "dtype", None))
    free = free if free is not None else free_memory_bytes(device)
    if per_token is None or free is None:
        return min(8, n), "memory or model shape unknown: 8"
    longest = max(prompt_tokens, default=0) + max_new_tokens
    fits = int(free * MEMORY_SHARE // (per_token * longest * OVERHEAD))
    batch = max(1, min(fits, cap, n))
    why = (f"{batch}: {free / 2**30:.1f} GiB free, {per_token * longest / 2**20:.1f} MiB of "
           f"cache per sequence of {longest} tokens, at most {cap} on {device.split(':')[0]}")
    return batch, why
