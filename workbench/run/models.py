"""Checkpoints: load a local HF model dir, a hub id or a PEFT adapter dir, with a fingerprint.

A model is named on the command line as ``NAME=SPEC``. SPEC is one of

- a local Hugging Face model directory (``config.json`` + safetensors weights);
- a hub id (``org/name``), resolved from the local hub cache when the hub is offline;
- a PEFT adapter directory; its base comes from ``adapter_config.json``'s
  ``base_model_name_or_path``, or is given explicitly as ``BASE+ADAPTER``;
- a GGUF file (``x.gguf``, or a directory holding exactly one and no ``config.json``), converted
  once to a cached HF dir that is then loaded like any other (see ``gguf_checkpoint``).

The fingerprint (``workbench.run.weights``) identifies the weights (it changes whenever they change)
and is the model's id in the store and part of every generation cache key.
torch/transformers/peft are imported lazily.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError, ModelLoadError
from .devices import DTYPES, pick_device, pick_dtype  # noqa: F401 - found here too
from .weights import (  # noqa: F401 - re-exported: workbench.run.models is where callers find them
    PICKLE_PATTERNS,
    SAFETENSORS,
    adapter_fingerprint,
    file_digest,
    model_fingerprint,
    safetensors_header,
    weight_files,
)

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
# True: conversion progress on stderr; False: none; a callable: report(stage, done, total)
ProgressArg = bool | Callable[[str, int, int], None]


@dataclass
class LoadedModel:
    """A checkpoint ready for generation."""

    name: str
    spec: str
    model: Any
    tokenizer: Any
    fingerprint: str
    base: str
    adapter: str | None = None
    kind: Literal["full", "adapter", "served"] = "full"  # served: see workbench.run.backends
    # where generation runs: "hf" (this process, workbench's engine), "openai" (a server), "vllm"
    backend: str = "hf"
    device: str = "cpu"
    dtype: str | None = "float32"  # None for a served model
    parent_fingerprint: str | None = None
    merged: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def model_id(self) -> str:
        """The model's id in the store (its fingerprint)."""
        return self.fingerprint

    @property
    def max_length(self) -> int | None:
        """The longest sequence the model accepts, when its config says."""
        cfg = getattr(self.model, "config", None)
        for attr in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
            v = getattr(cfg, attr, None)
            if isinstance(v, int) and v > 0:
                return v
        return None


def parse_model_arg(s: str) -> tuple[str, str]:
    """``NAME=SPEC`` -> (name, spec); a bare SPEC is named after its last path component."""
    s = s.strip()
    if not s:
        raise ConfigError("empty --model value (expected NAME=SPEC)")
    name, sep, spec = s.partition("=")
    if sep and name and spec and not Path(s).exists():
        if not re.fullmatch(r"[\w.:-]+", name):
            raise ConfigError(f"bad model name {name!r} (letters, digits, _ . : - only)")
        return name, spec
    if sep and (not name or not spec):
        raise ConfigError(f"bad --model value {s!r} (expected NAME=SPEC)")
    return default_name(s), s


def default_name(spec: str) -> str:
    if spec.startswith("openai:"):  # openai:MODEL@URL: named after the served model
        spec = spec[len("openai:"):].rpartition("@")[0] or spec
    spec = spec.removeprefix("vllm:")
    last = spec.rstrip("/").replace("+", "/").split("/")[-1]
    return last or "model"


# -- locating files ----------------------------------------------------------------------------
def _split_base_adapter(spec: str) -> tuple[str | None, str]:
    """``BASE+ADAPTER`` -> (BASE, ADAPTER); anything else -> (None, spec)."""
    if "+" in spec and not Path(spec).expanduser().exists():
        base, _, adapter = spec.rpartition("+")
        if base and adapter:
            return base, adapter
    return None, spec


def _looks_like_path(spec: str) -> bool:
    return spec.startswith((".", "/", "~")) or spec.count("/") > 1 or not _HUB_ID.match(spec)


def _converted_gguf(path: Path, progress: ProgressArg) -> Path:
    from .gguf_checkpoint import ensure_converted, stderr_progress

    if progress is True:
        with stderr_progress() as report:
            return ensure_converted(path, report)
    return ensure_converted(path, progress or None)


def resolve_dir(spec: str, *, allow_pickle: bool = False, trust_remote_code: bool = False,
                progress: ProgressArg = True) -> Path:
    """A local directory for SPEC: the path itself, the converted dir of a GGUF file, or the hub
    cache snapshot of a hub id."""
    p = Path(spec).expanduser()
    if p.exists():
        if p.suffix.lower() == ".gguf" or (p.is_dir() and not (p / "config.json").exists()
                                           and not (p / "adapter_config.json").exists()):
            from .gguf_checkpoint import gguf_file

            src = gguf_file(spec)
            if src is not None:
                return _converted_gguf(src, progress)
        if not p.is_dir():
            raise ModelLoadError(f"checkpoint {spec!r} is a file; expected a model or adapter "
                                 "directory or a .gguf file")
        return p.resolve()
    if _looks_like_path(spec):
        raise ModelLoadError(f"checkpoint not found: {spec} (no such directory)")
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    except ImportError:  # pragma: no cover - huggingface_hub ships with transformers
        raise ModelLoadError(f"checkpoint not found: {spec}") from None
    patterns = ["*.json", SAFETENSORS, "*.model", "*.txt", "*.tiktoken", "*.jinja"]
    if allow_pickle:
        patterns += list(PICKLE_PATTERNS)
    if trust_remote_code:
        patterns.append("*.py")
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    try:
        return Path(snapshot_download(spec, allow_patterns=patterns, local_files_only=offline))
    except LocalEntryNotFoundError:
        why = "the hub is offline (HF_HUB_OFFLINE=1)" if offline else "the hub cannot be reached"
        raise ModelLoadError(
            f"cannot load {spec!r}: no such local directory, not in the hub cache, and {why}"
        ) from None
    except HfHubHTTPError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"cannot load {spec!r} from the hub: {first}") from None
    except Exception as exc:  # noqa: BLE001 - bad repo id, network errors: one line for the user
        raise ModelLoadError(f"cannot load {spec!r}: {type(exc).__name__}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- loading -----------------------------------------------------------------------------------
def _quiet_transformers() -> None:
    """No per-file progress bars from transformers: the run has its own."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass

def _is_adapter(d: Path) -> bool:
    return (d / "adapter_config.json").exists()


def _adapter_base(d: Path) -> str:
    try:
        conf = json.loads((d / "adapter_config.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"unreadable {d / 'adapter_config.json'}: {exc}") from None
    base = conf.get("base_model_name_or_path")
    if not base:
        raise ModelLoadError(
            f"adapter {d} does not name its base (base_model_name_or_path); pass BASE+ADAPTER"
        )
    return str(base)


def _load_full(d: Path, spec: str, *, device: str, dtype: str, trust_remote_code: bool,
               allow_pickle: bool) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    _, safe = weight_files(d, allow_pickle=allow_pickle)
    try:
        # on a GPU, weights load straight onto it rather than through a CPU copy
        placement = {"device_map": device} if device != "cpu" else {}
        model = AutoModelForCausalLM.from_pretrained(
            d, dtype=getattr(torch, "float32" if dtype == "int8" else dtype),
            trust_remote_code=trust_remote_code,
            use_safetensors=True if safe else False, **placement,
        )
    except Exception as exc:  # noqa: BLE001 - transformers raises many kinds; the user gets one line
        msg = _first_line(exc)
        if "trust_remote_code" in str(exc) or "contains custom code" in msg:
            msg = "it needs custom code: pass --trust-remote-code if you trust it"
        raise ModelLoadError(f"cannot load model {spec!r}: {msg}") from None
    return model.to(device).eval()


def _load_tokenizer(dirs: list[Path], spec: str, trust_remote_code: bool) -> Any:
    from transformers import AutoTokenizer

    names = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")
    src = next((d for d in dirs if any((d / n).exists() for n in names)), dirs[-1])
    try:
        tok = AutoTokenizer.from_pretrained(src, trust_remote_code=trust_remote_code)
    except Exception as exc:  # noqa: BLE001
        msg = _first_line(exc)
        if "trust_remote_code" in str(exc) or "contains custom code" in msg:
            msg = "it needs custom code: pass --trust-remote-code if you trust it"
        raise ModelLoadError(f"cannot load the tokenizer of {spec!r}: {msg}") from None
    if tok.pad_token is None and tok.eos_token is not None:
        tok.pad_token = tok.eos_token  # batching needs a pad token; it is always masked out
    tok.padding_side = "left"
    return tok


@dataclass
class Checkpoint:
    """Where a SPEC's files are and its fingerprint, found without loading any weights."""

    dir: Path
    fingerprint: str
    base_spec: str | None = None  # adapters: the base they apply to
    base_dir: Path | None = None
    base_fingerprint: str | None = None


def checkpoint(spec: str, *, allow_pickle: bool = False, trust_remote_code: bool = False,
                progress: ProgressArg = True) -> Checkpoint:
    base_spec, adapter_spec = _split_base_adapter(spec)
    opts = {"allow_pickle": allow_pickle, "trust_remote_code": trust_remote_code,
            "progress": progress}
    d = resolve_dir(adapter_spec, **opts)
    if base_spec is not None and not _is_adapter(d):
        raise ModelLoadError(f"{adapter_spec!r} in {spec!r} is not a PEFT adapter "
                             "(no adapter_config.json)")
    if not _is_adapter(d):
        return Checkpoint(d, model_fingerprint(d, allow_pickle=allow_pickle))
    base_spec = base_spec or _adapter_base(d)
    base_dir = resolve_dir(base_spec, **opts)
    if _is_adapter(base_dir):
        raise ModelLoadError(f"the base of adapter {adapter_spec!r} is itself an adapter: {base_dir}")
    base_fp = model_fingerprint(base_dir, allow_pickle=allow_pickle)
    return Checkpoint(d, adapter_fingerprint(d, base_fp, allow_pickle=allow_pickle),
                       base_spec, base_dir, base_fp)


def identify(spec: str, *, device: str | None = None, dtype: str | None = None,
             allow_pickle: bool = False, trust_remote_code: bool = False,
             progress: ProgressArg = True, api_key_env: str | None = None) -> tuple[str, str]:
    """(fingerprint, dtype) that ``load_model`` would give SPEC, without loading the weights:
    enough to know whether a run of it is already stored (see ``runner.identity``). A GGUF SPEC
    is converted first when its converted dir is not cached yet."""
    from .backends import openai, vllm

    if openai.is_spec(spec):
        return openai.identify(spec, api_key_env), None  # type: ignore[return-value]
    if vllm.is_spec(spec):
        return vllm.identify(spec, allow_pickle=allow_pickle,  # type: ignore[return-value]
                             trust_remote_code=trust_remote_code, progress=progress), dtype
    dt = pick_dtype(dtype, pick_device(device))
    c = checkpoint(spec, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code,
                    progress=progress)
    return c.fingerprint, dt


def _quantized(model: Any, dtype: str, device: str) -> Any:
    if dtype != "int8":
        return model
    from .precision import quantize_int8

    return quantize_int8(model, device)


def load_model(
    spec: str,
    name: str | None = None,
    *,
    device: str | None = None,
    dtype: str | None = None,
    merge: bool = True,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
    progress: ProgressArg = True,
    api_key_env: str | None = None,
) -> LoadedModel:
    """Load SPEC (model dir, hub id, adapter dir, ``BASE+ADAPTER`` or GGUF file) for generation,
    connect to ``openai:MODEL@URL`` (an OpenAI-compatible server; its key read from
    ``api_key_env``), or load ``vllm:SPEC`` into vLLM's engine (``workbench.run.backends``).

    A LoRA adapter is merged into its freshly loaded base unless ``merge=False``. A GGUF file's
    first conversion reports to ``progress`` (True: on stderr).
    Every failure the user can fix raises ModelLoadError with one line.
    """
    from .backends import openai, vllm
    from .threads import configure_torch_threads

    if openai.is_spec(spec):  # served elsewhere: nothing to load
        return openai.connect(spec, name or openai.parse_spec(spec)[0].split("/")[-1],
                              key_env=api_key_env)
    if vllm.is_spec(spec):
        return vllm.load(spec, name or default_name(spec), dtype=dtype,
                         trust_remote_code=trust_remote_code, allow_pickle=allow_pickle,
                         progress=progress)
    name = name or default_name(spec)
    _quiet_transformers()
    configure_torch_threads()
    dev = pick_device(device)
    dt = pick_dtype(dtype, dev)
    opts = {"allow_pickle": allow_pickle, "trust_remote_code": trust_remote_code}
    c = checkpoint(spec, progress=progress, **opts)
    d, fp = c.dir, c.fingerprint
    if c.base_dir is None:
        model = _quantized(_load_full(d, spec, device=dev, dtype=dt, **opts), dt, dev)
        tok = _load_tokenizer([d], spec, trust_remote_code)
        local = Path(spec).expanduser()
        base, meta = (str(d), {}) if local.exists() else (spec, {})
        if local.exists() and local.resolve() != d:  # a GGUF file: d is its converted dir
            base, meta = str(local.resolve()), {"converted_dir": str(d)}
        return LoadedModel(name=name, spec=spec, model=model, tokenizer=tok, fingerprint=fp,
                           base=base, kind="full", device=dev, dtype=dt, meta=meta)

    base_spec, base_dir, base_fp = c.base_spec, c.base_dir, c.base_fingerprint
    base_model = _load_full(base_dir, base_spec, device=dev, dtype=dt, **opts)
    try:
        from peft import PeftModel

        model = PeftModel.from_pretrained(base_model, d, is_trainable=False)
        if merge:
            model = model.merge_and_unload()
    except Exception as exc:  # noqa: BLE001 - shape mismatch, bad config: one line
        raise ModelLoadError(
            f"cannot apply adapter {str(d)!r} to base {base_spec!r}: {_first_line(exc)}"
        ) from None
    if dt == "int8" and not merge:
        raise ConfigError("--dtype int8 quantizes the merged model: drop --no-merge")
    model = _quantized(model.to(dev).eval(), dt, dev)
    tok = _load_tokenizer([d, base_dir], spec, trust_remote_code)
    return LoadedModel(name=name, spec=spec, model=model, tokenizer=tok, fingerprint=fp,
                       base=base_spec, adapter=str(d), kind="adapter", device=dev, dtype=dt,
                       parent_fingerprint=base_fp, merged=merge)
