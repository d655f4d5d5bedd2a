"""Generation on vLLM's offline engine, in this process: ``--backend vllm`` (or a model spec
``vllm:SPEC``) for custom suites on a GPU box.

SPEC is what the local engine takes (a model dir, a hub id in the local cache, a GGUF file, a
PEFT adapter dir or ``BASE+ADAPTER``): it is located and fingerprinted exactly as for the local
engine, then vLLM's ``LLM`` loads the base weights and an adapter runs through a
``LoRARequest`` (``enable_lora``), never merged. Prompts rendered from the suite's template go
to ``LLM.generate``; chat items go to ``LLM.chat`` (vLLM applies the model's chat template).
Each sample carries its own seed, (seed, sample, prompt) as in the local engine.

The model's identity (its cache and run key) is the weights' fingerprint with the engine and
its version: outputs of vLLM and of the local engine are never mixed, and ``compare`` says
when two runs used different backends. vLLM is not a dependency of workbench: install it
where it runs (``pip install vllm``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ...errors import ModelLoadError
from ..models import LoadedModel

PREFIX = "vllm:"


def is_spec(spec: str) -> bool:
    return spec.startswith(PREFIX)


def _vllm() -> Any:
    try:
        import vllm
    except ImportError:
        raise ModelLoadError("--backend vllm: vLLM is not installed here (pip install vllm, on "
                             "a machine it supports; or serve the model with `vllm serve` and "
                             "use --backend openai)") from None
    return vllm


def _fingerprint(weights_fp: str, version: str) -> str:
    return "vllm-" + hashlib.sha256(f"{weights_fp}\0vllm {version}".encode()).hexdigest()[:40]


def identify(spec: str, **opts: Any) -> str:
    """The fingerprint ``load`` would give SPEC, without loading anything into vLLM."""
    from ..models import checkpoint

    vllm = _vllm()
    return _fingerprint(checkpoint(spec[len(PREFIX):], **opts).fingerprint,
                        getattr(vllm, "__version__", "?"))


@dataclass
class VllmModel(LoadedModel):
    """Weights loaded in vLLM's engine, used where a LoadedModel is (``model`` is the ``LLM``)."""

    lora: Any = None

    def generate(self, prompts: Sequence[Any], config: Any, batch_size: int,
                 on_batch: Callable[[list[int], list[Any]], None] | None,
                 samples: Sequence[int] | None) -> list[Any]:
        """One output per prompt. vLLM schedules its own batches; ``batch_size`` prompts are
        handed over at a time so that ``on_batch`` stores outputs as they finish."""
        from ..generation import prompt_seed

        vllm = _vllm()
        results: list[Any] = [None] * len(prompts)
        for lo in range(0, len(prompts), max(1, batch_size)):
            idx = list(range(lo, min(lo + max(1, batch_size), len(prompts))))
            params = []
            for i in idx:
                sample = samples[i] if samples is not None else 0
                greedy = config.greedy or (sample == 0 and config.first == "greedy")
                params.append(vllm.SamplingParams(
                    max_tokens=config.max_new_tokens,
                    temperature=0.0 if greedy else config.temperature,
                    top_p=1.0 if greedy else config.top_p,
                    seed=prompt_seed(config.seed, prompts[i], sample),
                    stop=list(config.stop) or None))
            t0 = time.perf_counter()
            chats = [i for i in idx if not isinstance(prompts[i], str)]
            texts = [i for i in idx if isinstance(prompts[i], str)]
            done: dict[int, Any] = {}
            if texts:
                outs = self.model.generate([prompts[i] for i in texts],
                                           [params[idx.index(i)] for i in texts],
                                           lora_request=self.lora, use_tqdm=False)
                done.update(zip(texts, outs, strict=True))
            if chats:
                outs = self.model.chat([[dict(m) for m in prompts[i]] for i in chats],
                                       [params[idx.index(i)] for i in chats],
                                       lora_request=self.lora, use_tqdm=False)
                done.update(zip(chats, outs, strict=True))
            latency = (time.perf_counter() - t0) / len(idx)
            batch = [_gen_output(done[i], latency) for i in idx]
            for i, out in zip(idx, batch, strict=True):
                results[i] = out
            if on_batch is not None:
                on_batch(idx, batch)
        return results


def _gen_output(req: Any, latency: float) -> Any:
    """vLLM's RequestOutput as a GenOutput: finish_reason "length" stays, a stop string (a str
    ``stop_reason``) is "stop", the end of the answer is "eos"."""
    from ..generation import GenOutput

    c = req.outputs[0]
    finish = ("length" if c.finish_reason == "length"
              else "stop" if isinstance(getattr(c, "stop_reason", None), str) else "eos")
    return GenOutput(text=c.text or "", tokens_in=len(req.prompt_token_ids or ()),
                     tokens_out=len(c.token_ids or ()), finish_reason=finish,  # type: ignore[arg-type]
                     latency_s=round(latency, 6))


def load(spec: str, name: str, *, dtype: str | None = None, trust_remote_code: bool = False,
         allow_pickle: bool = False, progress: Any = True) -> VllmModel:
    """Load ``vllm:SPEC`` into vLLM's engine; ModelLoadError in one line when it cannot."""
    from ..models import checkpoint

    vllm = _vllm()
    inner = spec[len(PREFIX):]
    c = checkpoint(inner, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code,
                   progress=progress)
    base_dir = c.base_dir if c.base_dir is not None else c.dir
    version = getattr(vllm, "__version__", "?")
    kwargs: dict[str, Any] = {"model": str(base_dir), "trust_remote_code": trust_remote_code,
                              "seed": 0}
    if dtype not in (None, "auto"):
        kwargs["dtype"] = dtype
    if c.base_dir is not None:
        kwargs["enable_lora"] = True
    try:
        llm = vllm.LLM(**kwargs)
    except Exception as exc:  # noqa: BLE001 - vLLM's own errors: one line
        raise ModelLoadError(f"vLLM cannot load {inner!r}: {str(exc).splitlines()[0][:300]}") from None
    lora = None
    if c.base_dir is not None:
        from vllm.lora.request import LoRARequest

        lora = LoRARequest(name, 1, str(c.dir))
    return VllmModel(name=name, spec=spec, model=llm, tokenizer=llm.get_tokenizer(),
                     fingerprint=_fingerprint(c.fingerprint, version),
                     base=c.base_spec or str(c.dir), adapter=str(c.dir) if lora else None,
                     kind="adapter" if lora else "full", device="vllm", dtype=dtype,
                     parent_fingerprint=(_fingerprint(c.base_fingerprint, version)
                                         if lora and c.base_fingerprint else None),
                     backend="vllm",
                     meta={"engine": "vllm", "engine_version": version}, lora=lora)
