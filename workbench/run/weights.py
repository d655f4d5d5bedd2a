"""A checkpoint's weight files and the fingerprint of its weights.

The fingerprint identifies the weights (it changes whenever they change): the config and every
weight file's content digest (whole for small files, header and sampled chunks for big ones).
An adapter's fingerprint adds the fingerprint of the base it applies to.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

from ..errors import ModelLoadError

SAFETENSORS = "*.safetensors"
PICKLE_PATTERNS = ("*.bin", "*.pt", "*.pth")
# Files up to this size are hashed whole; bigger ones by header + size + sampled chunks.
FULL_HASH_LIMIT = 256 * 1024 * 1024
SAMPLE_CHUNKS = 32
SAMPLE_SIZE = 1024 * 1024


def weight_files(d: Path, *, allow_pickle: bool, prefix: str = "") -> tuple[list[Path], bool]:
    """The weight files of a checkpoint dir and whether they are safetensors.

    Raises ModelLoadError when there are none, or only pickle files without ``allow_pickle``.
    """
    safe = sorted(d.glob(prefix + SAFETENSORS))
    if safe:
        return safe, True
    pickles = sorted(f for pat in PICKLE_PATTERNS for f in d.glob(prefix + pat)
                     if "training_args" not in f.name and "optimizer" not in f.name)
    if pickles and not allow_pickle:
        raise ModelLoadError(
            f"{d} has only pickle weights ({pickles[0].name}); pickle files can run code when "
            "loaded: pass --allow-pickle to load them, or convert them to safetensors"
        )
    if pickles:
        return pickles, False
    raise ModelLoadError(f"no weights found in {d} (expected *.safetensors)")


# -- fingerprints ------------------------------------------------------------------------------
_digest_cache: dict[tuple[str, int, int], str] = {}


def safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file; ModelLoadError when the file is corrupt/truncated."""
    size = path.stat().st_size
    try:
        with path.open("rb") as f:
            raw = f.read(8)
            if len(raw) < 8:
                raise ValueError("file too short")
            (n,) = struct.unpack("<Q", raw)
            if n > size - 8 or n > 100 * 1024 * 1024:
                raise ValueError("header length out of range")
            header = json.loads(f.read(n))
        end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"),
                  default=0)
        if 8 + n + end != size:
            raise ValueError(f"size {size} does not match its header ({8 + n + end} bytes expected)")
        return header
    except (ValueError, KeyError, TypeError, struct.error) as exc:
        raise ModelLoadError(f"corrupt safetensors file {path}: {exc}") from None


def file_digest(path: Path) -> str:
    """A digest of a weight file's content: whole for small files, sampled for big ones."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _digest_cache:
        return _digest_cache[key]
    h = hashlib.blake2b(digest_size=20)
    h.update(str(st.st_size).encode())
    with path.open("rb") as f:
        if st.st_size <= FULL_HASH_LIMIT:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                h.update(chunk)
        else:
            # header (tensor names, shapes, offsets) + evenly spaced samples of the data
            if path.suffix == ".safetensors":
                h.update(json.dumps(safetensors_header(path), sort_keys=True).encode())
            step = max(1, (st.st_size - SAMPLE_SIZE) // (SAMPLE_CHUNKS - 1))
            for k in range(SAMPLE_CHUNKS):
                f.seek(min(k * step, st.st_size - SAMPLE_SIZE))
                h.update(f.read(SAMPLE_SIZE))
    _digest_cache[key] = digest = h.hexdigest()
    return digest


def _json_bytes(path: Path, drop: tuple[str, ...] = ()) -> bytes:
    """A JSON file re-serialised canonically (so formatting alone does not change a fingerprint)."""
    try:
        obj = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"unreadable {path}: {exc}") from None
    if isinstance(obj, dict):
        obj = {k: v for k, v in obj.items() if k not in drop}
    return json.dumps(obj, sort_keys=True).encode()


def model_fingerprint(d: Path, *, allow_pickle: bool = False) -> str:
    """Fingerprint of a full checkpoint dir: config + every weight file's content digest."""
    cfg = d / "config.json"
    if not cfg.exists():
        raise ModelLoadError(f"{d} is not a model directory (no config.json or adapter_config.json)")
    files, safe = weight_files(d, allow_pickle=allow_pickle)
    h = hashlib.sha256(b"full\0")
    h.update(_json_bytes(cfg))
    for f in files:
        if safe:
            safetensors_header(f)  # fail early and clearly on a truncated file
        h.update(f"\0{f.name}\0{file_digest(f)}".encode())
    return h.hexdigest()


def adapter_fingerprint(d: Path, base_fingerprint: str, *, allow_pickle: bool = False) -> str:
    """Fingerprint of an adapter: its config and weights, plus the base it applies to."""
    files, safe = weight_files(d, allow_pickle=allow_pickle, prefix="adapter_model")
    h = hashlib.sha256(b"adapter\0")
    # where the base lives is not part of the identity: the base's own fingerprint is
    h.update(_json_bytes(d / "adapter_config.json", drop=("base_model_name_or_path", "revision")))
    for f in files:
        if safe:
            safetensors_header(f)
        h.update(f"\0{f.name}\0{file_digest(f)}".encode())
    h.update(b"\0base\0" + base_fingerprint.encode())
    return h.hexdigest()
