"""GGUF checkpoints: a ``.gguf`` file as a model SPEC, converted once to a Hugging Face model dir.

A SPEC is a GGUF checkpoint when it is a ``.gguf`` file, or a directory holding exactly one
``.gguf`` file and no ``config.json``. First the file's ``general.architecture`` is read from its
metadata (the key-value section alone, up to that key: ``gguf.GGUFReader`` would parse the whole
vocabulary first, seconds on a real file); one transformers cannot load from GGUF fails with a
one-line ModelLoadError naming it. Otherwise transformers loads model and tokenizer from it
(``from_pretrained(dir, gguf_file=name)``; quantized tensors are dequantized to float32) and they
are written as a plain HF dir: ``model.safetensors`` (``safetensors``' ``save_file``, each tied
tensor once: ``save_pretrained`` refuses a model loaded from GGUF), ``config.json`` without its
``quantization_config`` and with ``architectures``, the tokenizer files (they carry the chat
template), a ``LICENSE``/``NOTICE`` that lay beside the GGUF, and ``gguf_source.json`` (where it
came from).

The dir is cached under ``$WORKBENCH_HOME/gguf-v1/<sha256 of the GGUF's bytes>``, written to a
temporary dir and renamed into place (a killed conversion leaves no half-written cache), and
reused by every later load of the same bytes, wherever the file lies or however it is named.

Fingerprint: a GGUF SPEC's fingerprint is that of its converted dir (``models.model_fingerprint``:
config plus weight content), exactly as if the dir had been named as the SPEC. It identifies the
weights the model runs with, so it changes whenever the GGUF's bytes do (different bytes, a
different conversion) and never when the file moves or is renamed.

The GGUF's sha256 is streamed once per file (and memoised per path, size and mtime in the
process). Conversion reports its stages (hashing, reading with transformers, dequantizing,
loading the tokenizer, writing) to a ``progress(stage, done, total)`` callback; transformers'
own per-tensor tqdm bar is replaced by these reports while it runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import ModelLoadError

CONVERT_VERSION = "v1"  # part of the cache path: a change to the conversion converts again
SUFFIX = ".gguf"
LICENSE_NAMES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "NOTICE", "NOTICE.txt", "NOTICE.md")
SOURCE_FILE = "gguf_source.json"
# llama.cpp's name -> transformers' name, where they differ (transformers maps these itself)
_ALIASES = {"qwen2moe": "qwen2_moe", "qwen3moe": "qwen3_moe", "gpt-oss": "gpt_oss",
            "minimax-m2": "minimax_m2", "t5encoder": "t5"}

Progress = Callable[[str, int, int], None]

_sha_cache: dict[tuple[str, int, int], str] = {}


def gguf_file(spec: str) -> Path | None:
    """The GGUF file SPEC names: a ``.gguf`` file, or the only one in a dir without config.json."""
    p = Path(spec).expanduser()
    if p.is_file():
        return p.resolve() if p.suffix.lower() == SUFFIX else None
    if not p.is_dir() or (p / "config.json").exists() or (p / "adapter_config.json").exists():
        return None
    found = sorted(f for f in p.iterdir() if f.suffix.lower() == SUFFIX and f.is_file())
    if len(found) > 1:
        names = ", ".join(f.name for f in found[:3]) + (" ..." if len(found) > 3 else "")
        raise ModelLoadError(f"{spec!r} holds {len(found)} GGUF files ({names}); name one of them")
    return found[0].resolve() if found else None


def cache_root() -> Path:
    from ..demo.build import workbench_home

    return workbench_home() / f"gguf-{CONVERT_VERSION}"


def sha256_file(path: Path, progress: Progress | None = None) -> str:
    """sha256 of a file's bytes, streamed (memoised per path, size and mtime)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key in _sha_cache:
        return _sha_cache[key]
    h = hashlib.sha256()
    done = 0
    stage = f"hashing {path.name}"
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(stage, done, st.st_size)
    _sha_cache[key] = digest = h.hexdigest()
    return digest


def supported_architectures() -> list[str]:
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    return sorted(GGUF_SUPPORTED_ARCHITECTURES)


def _read_header_value(path: Path, wanted: str) -> object:
    """The metadata value ``wanted`` of a GGUF file, reading only the key-value section up to it
    (``gguf.GGUFReader`` parses every tensor and vocabulary entry first: seconds on a real file).
    """
    import struct

    from gguf import GGUFValueType as T

    sizes = {T.UINT8: 1, T.INT8: 1, T.BOOL: 1, T.UINT16: 2, T.INT16: 2, T.UINT32: 4,
             T.INT32: 4, T.FLOAT32: 4, T.UINT64: 8, T.INT64: 8, T.FLOAT64: 8}
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise ValueError("not a GGUF file (bad magic)")
        (version,) = struct.unpack("<I", f.read(4))
        end = "<" if version & 0xFFFF else ">"  # a big-endian file reads as a huge version

        def num(fmt: str) -> int:
            data = f.read(struct.calcsize(fmt))
            if len(data) < struct.calcsize(fmt):
                raise ValueError("truncated metadata")
            return struct.unpack(end + fmt, data)[0]

        def string() -> str:
            return f.read(num("Q")).decode("utf-8", "replace")

        def skip(vtype: int) -> None:
            if vtype == T.STRING:
                f.seek(num("Q"), 1)
            elif vtype == T.ARRAY:
                item, count = num("I"), num("Q")
                if item in sizes:
                    f.seek(count * sizes[T(item)], 1)
                else:
                    for _ in range(count):
                        skip(item)
            elif vtype in sizes:
                f.seek(sizes[T(vtype)], 1)
            else:
                raise ValueError(f"unknown metadata value type {vtype}")

        _n_tensors, n_kv = num("Q"), num("Q")
        for _ in range(n_kv):
            key, vtype = string(), num("I")
            if key == wanted:
                if vtype != T.STRING:
                    raise ValueError(f"{wanted} is not a string")
                return string()
            skip(vtype)
    raise ValueError(f"no {wanted} in its metadata")


def read_architecture(path: Path) -> str:
    """``general.architecture`` from a GGUF file's metadata (ModelLoadError when unreadable)."""
    try:
        return str(_read_header_value(path, "general.architecture"))
    except ImportError:
        raise ModelLoadError("loading a GGUF file needs the 'gguf' package (pip install gguf)") \
            from None
    except Exception as exc:  # noqa: BLE001 - bad magic, truncated file: one line for the user
        text = str(exc).strip().splitlines()
        raise ModelLoadError(f"cannot read GGUF file {path}: {text[0] if text else type(exc).__name__}") \
            from None


def check_architecture(path: Path) -> str:
    """The file's architecture; ModelLoadError (one line) when transformers cannot load it."""
    arch = read_architecture(path)
    supported = supported_architectures()
    if arch in supported or _ALIASES.get(arch) in supported:
        return arch
    raise ModelLoadError(
        f"GGUF file {path.name} has architecture {arch!r}, which transformers cannot load from "
        f"GGUF (supported: {', '.join(supported)})"
    )


@contextlib.contextmanager
def _tensor_progress(progress: Progress | None, name: str) -> Iterator[None]:
    """Route transformers' per-tensor GGUF loop to ``progress`` instead of its tqdm bar."""
    import transformers.modeling_gguf_pytorch_utils as mod

    original = getattr(mod, "tqdm", None)

    def report(iterable, *args, **kwargs):  # noqa: ANN001, ANN202 - tqdm's signature
        items = list(iterable)
        stage = f"dequantizing {name}"
        for i, item in enumerate(items):
            yield item
            if progress is not None:
                progress(stage, i + 1, len(items))

    if original is not None:
        mod.tqdm = report
    try:
        yield
    finally:
        if original is not None:
            mod.tqdm = original


def _unique_tensors(model) -> dict:  # noqa: ANN001 - a transformers model
    """The state dict with each tied tensor once, under its first name (``lm_head.weight`` tied
    to the embeddings is left out, as ``save_pretrained`` does). ``safetensors.torch.save_model``
    picks the name to keep in set order, which differs from process to process: the file's bytes,
    and so the fingerprint, would too."""
    seen: set[tuple[int, int]] = set()
    out = {}
    for name, t in model.state_dict().items():
        key = (t.untyped_storage().data_ptr(), t.storage_offset())
        if key not in seen:
            seen.add(key)
            out[name] = t.detach().contiguous()
    return out


def _convert(src: Path, out: Path, arch: str, sha: str, progress: Progress | None) -> None:
    """Load SRC with transformers (dequantized) and write model, config and tokenizer to OUT."""
    import torch
    import transformers
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    if progress is not None:
        progress(f"reading {src.name} with transformers", 0, 0)
    try:
        with _tensor_progress(progress, src.name):
            model = AutoModelForCausalLM.from_pretrained(src.parent, gguf_file=src.name,
                                                         dtype=torch.float32)
        if progress is not None:
            progress(f"loading the tokenizer of {src.name}", 0, 1)
        tok = AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name)
    except Exception as exc:  # noqa: BLE001 - transformers raises many kinds; one line for the user
        text = str(exc).strip().splitlines()
        raise ModelLoadError(f"cannot convert GGUF file {src}: "
                             f"{text[0] if text else type(exc).__name__}") from None
    if progress is not None:
        progress(f"writing {src.name} as safetensors", 0, 1)
    save_file(_unique_tensors(model), str(out / "model.safetensors"), metadata={"format": "pt"})
    config = model.config.to_diff_dict()  # what save_pretrained writes: no defaults
    for key in ("quantization_config", "_name_or_path"):  # where it was loaded from is no identity
        config.pop(key, None)
    config["architectures"] = [type(model).__name__]
    config["dtype"] = "float32"
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", "utf-8")
    tok.save_pretrained(out)
    for lic in LICENSE_NAMES:
        if (src.parent / lic).is_file():
            shutil.copyfile(src.parent / lic, out / lic)
    (out / SOURCE_FILE).write_text(json.dumps({
        "gguf_file": src.name, "gguf_sha256": sha, "architecture": arch,
        "converted_with": f"transformers {transformers.__version__}",
    }, indent=2) + "\n", "utf-8")
    if progress is not None:
        progress(f"writing {src.name} as safetensors", 1, 1)


def ensure_converted(path: Path, progress: Progress | None = None) -> Path:
    """The cached HF dir of GGUF file PATH, converted (once per content) when missing."""
    path = Path(path)
    arch = check_architecture(path)  # before hashing: a wrong file fails at once
    sha = sha256_file(path, progress)
    root = cache_root()
    final = root / sha
    if (final / "config.json").exists():
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{sha[:12]}-", dir=root))
    try:
        _convert(path, tmp, arch, sha, progress)
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / "config.json").exists():  # not a concurrent conversion that won
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def stderr_progress() -> contextlib.AbstractContextManager:
    """A progress reporter on stderr (a bar on a terminal, plain lines otherwise)."""
    from ..progress import StageProgress

    return StageProgress()
