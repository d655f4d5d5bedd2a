"""What reduced precision costs: int8 weights, and how many outputs differ from float32.

``--dtype bfloat16`` / ``float16`` load the weights in that type; ``--dtype int8`` loads them in
float32 and quantizes every ``nn.Linear`` to int8 with dynamic activation quantization (CPU
only: torch's dynamic int8 kernels). Either is faster than float32 on some machines and
changes some greedy texts. After a greedy run in a reduced precision, ``workbench run`` generates
its first N items again in float32 (``--precision-check N``) and ``disagreement`` counts the
outputs whose text differs, so the speed is shown with its cost ("bfloat16: 3 of 8 outputs
checked differ from float32").
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError

REDUCED = ("bfloat16", "float16", "int8")


def quantize_int8(model: Any, device: str) -> Any:
    """``model`` with its linear layers quantized to int8 (dynamic activation scales)."""
    import warnings

    import torch

    if device != "cpu":
        raise ConfigError("--dtype int8 is for --device cpu (torch's dynamic int8 kernels); "
                          "on a GPU use bfloat16 or float16")
    try:
        from torch.ao.quantization import quantize_dynamic
    except ImportError:  # pragma: no cover - torch without the ao package
        raise ConfigError("--dtype int8: this torch has no dynamic quantization") from None
    with warnings.catch_warnings():  # torch.ao.quantization announces its own deprecation
        warnings.simplefilter("ignore")
        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def precision_cost(store: Any, run_id: str, loaded: Any, suite: Any, split: str, n: int,
                   batch_size: int, load: Any) -> dict[str, Any]:
    """How many of run ``run_id``'s first ``n`` outputs (``loaded``, a reduced precision) the
    same checkpoint in float32 (``load()``) writes otherwise; the ids of those items."""
    from .prompts import prompt_for

    items = suite.split(split)[:n]
    stored = store.output_texts(run_id, [it.id for it in items])
    items = [it for it in items if it.id in stored]
    differing: list[str] = []
    reference = load()
    # items of one budget at a time, as the run generated them (an item may set max_new_tokens)
    for budget in {it.generation(suite.generation).max_new_tokens: None for it in items}:
        group = [it for it in items if it.generation(suite.generation).max_new_tokens == budget]
        differ = disagreement(reference, [prompt_for(suite, it, reference.tokenizer)[0]
                                          for it in group],
                              [stored[it.id] for it in group],
                              group[0].generation(suite.generation), batch_size)
        differing += [group[i].id for i in differ]
    del reference
    return {"dtype": loaded.dtype, "checked": len(items), "differ": len(differing),
            "differing": differing}


def disagreement(reference: Any, prompts: list[Any], texts: list[str], config: Any,
                 batch_size: int) -> list[int]:
    """Indices of ``prompts`` whose float32 output (``reference``, the same checkpoint loaded
    in float32) differs from ``texts``, the reduced-precision run's own outputs."""
    from .generation import generate

    outs = generate(reference, prompts, config, batch_size=batch_size)
    return [i for i, (o, t) in enumerate(zip(outs, texts, strict=True)) if o.text != t]


def summary_line(result: dict[str, Any]) -> str:
    """One line for the run's summary."""
    return (f"{result['dtype']}: {result['differ']} of {result['checked']} outputs checked "
            "differ from float32 (greedy)")
