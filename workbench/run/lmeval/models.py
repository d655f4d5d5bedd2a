"""The model lm-eval evaluates: workbench's loaded model wrapped in lm-eval's ``HFLM`` (never
loaded twice), or one of lm-eval's own backends (``vllm``, ``local-completions``...) built from
a ``model_args`` string, with the model id workbench gives it."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from ...errors import WorkbenchError


class LmEvalBackendError(WorkbenchError):
    """An lm-eval backend named with --backend is unknown or not installed."""


def hf_lm(loaded: Any, batch_size: int | str = 8, max_length: int | None = None) -> Any:
    """lm-eval's HFLM around an already-loaded model and tokenizer (no second load)."""
    from lm_eval.models.huggingface import HFLM

    # HFLM warns that a model object (not a name) was passed: that is the point here
    hf_log = logging.getLogger("lm_eval.models.huggingface")

    model = loaded.model
    # lm-eval sizes its context window from the config; a model without one gets 2048
    kw: dict[str, Any] = {"max_length": max_length} if max_length else {}
    level = hf_log.level
    hf_log.setLevel(logging.ERROR)
    try:
        return HFLM(
            pretrained=model,
            tokenizer=loaded.tokenizer,
            batch_size=batch_size,
            device=str(getattr(model, "device", "cpu")),
            **kw,
        )
    finally:
        hf_log.setLevel(level)


def backend_lm(
    backend: str,
    model_args: str | dict[str, Any] | None,
    batch_size: int | str = 8,
    device: str | None = None,
) -> Any:
    """One of lm-eval's own model backends, by its registered name (vllm, local-completions...)."""
    import lm_eval.api.registry as registry

    try:
        cls = registry.get_model(backend)
    except (KeyError, ValueError, AttributeError) as exc:
        raise LmEvalBackendError(f"unknown lm-eval backend {backend!r}: {exc}") from None
    except ImportError as exc:
        raise LmEvalBackendError(
            f"lm-eval backend {backend!r} is not installed ({exc}); install its extra, e.g. "
            f"pip install 'lm-eval[{backend.split('-')[0]}]'"
        ) from None
    extra = {"batch_size": batch_size, "device": device}
    try:
        if isinstance(model_args, dict):
            return cls.create_from_arg_obj(model_args, extra)
        return cls.create_from_arg_string(model_args or "", extra)
    except ImportError as exc:
        raise LmEvalBackendError(
            f"lm-eval backend {backend!r} needs a package that is missing: {exc}"
        ) from None


def backend_model_id(backend: str, model_args: str | dict[str, Any] | None) -> str:
    """A stable id for a model served by an lm-eval backend (no weights to hash)."""
    args = model_args if isinstance(model_args, str) else json.dumps(model_args, sort_keys=True)
    return "lm-eval-" + hashlib.sha256(f"{backend}\0{args or ''}".encode()).hexdigest()[:32]


def adapter_parts(spec: str) -> tuple[str | None, str | None]:
    """(base, adapter dir) when SPEC is a local PEFT adapter dir; (None, None) otherwise."""
    p = Path(spec).expanduser()
    conf = p / "adapter_config.json"
    if not conf.exists():
        return None, None
    try:
        base = json.loads(conf.read_text("utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError):
        base = None
    return (str(base) if base else None), str(p.resolve())


def local_fingerprint(spec: str, backend: str, model_args: str) -> str:
    """The fingerprint workbench gives SPEC when it loads it, without loading the weights."""
    from ...errors import ModelLoadError
    from ..models import adapter_fingerprint, model_fingerprint

    p = Path(spec).expanduser()
    try:
        if (p / "config.json").exists():
            return model_fingerprint(p.resolve())
        base, adapter = adapter_parts(spec)
        if adapter and base and (Path(base).expanduser() / "config.json").exists():
            base_fp = model_fingerprint(Path(base).expanduser().resolve())
            return adapter_fingerprint(Path(adapter), base_fp)
    except ModelLoadError:
        pass
    return backend_model_id(backend, model_args)


def cache_path(model_key: str, loaded: Any) -> str:
    """lm-eval's request cache for this model: a rerun answers from it, a killed run resumes.

    Keyed by the weights' fingerprint and by dtype and device, which change the numbers too.
    """
    import os

    home = Path(os.environ.get("WORKBENCH_HOME") or Path.home() / ".cache" / "workbench")
    ident = f"{model_key}\0{getattr(loaded, 'dtype', '')}\0{getattr(loaded, 'device', '')}"
    key = hashlib.sha256(ident.encode()).hexdigest()[:20]
    return str(home / "lm-eval-cache" / key)


def model_arg_name(model_args: str | dict[str, Any] | None) -> str | None:
    if isinstance(model_args, dict):
        v = model_args.get("pretrained") or model_args.get("model")
        return str(v) if v else None
    for part in (model_args or "").split(","):
        k, _, v = part.partition("=")
        if k.strip() in ("pretrained", "model") and v.strip():
            return v.strip().rstrip("/").split("/")[-1]
    return None
