"""A training's output directory: written aside, moved into place once complete and recorded.

A training writes its adapter into ``.DIR.partial-KEY`` beside ``DIR`` (KEY: the first
characters of its training key), with an owner file naming the process. Once the adapter and its
lineage are saved and the training is recorded in the store, the partial directory is renamed to
``DIR`` in one step. So ``DIR`` either does not exist or holds a complete, recorded adapter.

The training key (:func:`training_key`) is what decides an adapter: the trainer, the base
model's fingerprint and dtype, the config and every example (replay included). A rerun with the
same key finds the adapter in ``DIR`` and reuses it, or finishes a partial one its killed
predecessor left complete, or clears a partial one left mid-training and trains afresh.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..owner import is_alive, this_process
from .trainers import LINEAGE_FILE, TrainExample

OWNER_FILE = ".workbench_owner.json"
PARTIAL = ".partial-"


def config_dict(cfg: Any) -> dict[str, Any]:
    """A trainer config as a plain dict (dataclass fields, or the mapping itself)."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return dataclasses.asdict(cfg)
    return dict(cfg) if isinstance(cfg, dict) else {"repr": repr(cfg)}


def training_key(trainer: str, parent_fp: str, dtype: str | None, cfg: Any,
                 examples: Sequence[TrainExample], replay: Sequence[TrainExample]) -> str:
    """What decides a training's adapter: trainer, base fingerprint and dtype, config, data."""
    data = [[e.prompt, e.messages, e.source] for e in (*examples, *replay)]
    blob = json.dumps(["train", trainer, parent_fp, dtype, config_dict(cfg), data],
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def read_lineage(d: Path) -> dict[str, Any] | None:
    """The lineage a complete adapter dir holds (written last, atomically), else None."""
    try:
        lineage = json.loads((d / LINEAGE_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(lineage, dict) or not (d / "adapter_config.json").exists():
        return None
    return lineage


def write_lineage(d: Path, lineage: dict[str, Any]) -> None:
    """Write the lineage file whole or not at all (the mark of a complete adapter)."""
    tmp = d / (LINEAGE_FILE + ".tmp")
    tmp.write_text(json.dumps(lineage, indent=2))
    os.replace(tmp, d / LINEAGE_FILE)


def partial_dir(out: Path, key: str) -> Path:
    return out.parent / f".{out.name}{PARTIAL}{key[:12]}"


def _partials(out: Path) -> list[Path]:
    if not out.parent.exists():
        return []
    return sorted(p for p in out.parent.glob(f".{out.name}{PARTIAL}*") if p.is_dir())


def _owner(d: Path) -> dict[str, Any] | None:
    try:
        owner = json.loads((d / OWNER_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


def _owned_elsewhere(owner: dict[str, Any] | None) -> bool:
    """Whether another process that still runs owns it."""
    if owner is None:
        return False
    me = this_process()
    if (owner.get("host"), owner.get("pid")) == (me["host"], me["pid"]):
        return False
    return is_alive(owner)


def is_main_process() -> bool:
    """False in the non-main processes of a distributed launch (they leave the dirs alone)."""
    return os.environ.get("RANK", "0") in ("", "0")


def existing(out: Path, key: str) -> tuple[str, Path, dict[str, Any]] | None:
    """What a rerun with training key ``key`` finds of its adapter.

    ``("done", out, lineage)``: ``out`` holds the complete adapter of this key;
    ``("unmoved", partial, lineage)``: a killed run left it complete beside ``out``, maybe not
    yet recorded; None: nothing to reuse (partial dirs left mid-training by dead processes are
    removed). Raises ConfigError when ``out`` holds something else, or another live process is
    training into it.
    """
    lineage = read_lineage(out) if out.is_dir() else None
    if lineage is not None and lineage.get("training_key") == key:
        return "done", out, lineage
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if lineage is None:
            why = "exists and is not empty"
        elif "training_key" not in lineage:
            why = "holds an adapter trained before training keys were recorded"
        else:
            why = "holds the adapter of another training (other data, base model or options)"
        raise ConfigError(f"output directory {out} {why}: choose another --out or remove it")
    found = None
    for p in _partials(out):
        owner = _owner(p)
        if _owned_elsewhere(owner):
            raise ConfigError(
                f"another workbench process (pid {owner.get('pid')}) is writing {out}: "
                "wait for it or choose another --out")
        partial = read_lineage(p)
        if found is None and partial is not None and partial.get("training_key") == key:
            found = ("unmoved", p, partial)
        elif is_main_process():
            shutil.rmtree(p, ignore_errors=True)  # left mid-training by a process now gone
    return found


def claim(out: Path, key: str) -> Path:
    """A fresh partial dir for training into ``out``, owned by this process."""
    p = partial_dir(out, key)
    if is_main_process():
        shutil.rmtree(p, ignore_errors=True)
        p.mkdir(parents=True)
        (p / OWNER_FILE).write_text(json.dumps(this_process()))
    return p


def move_into_place(partial: Path, out: Path) -> None:
    """Rename the complete, recorded partial dir to ``out`` (one step)."""
    (partial / OWNER_FILE).unlink(missing_ok=True)
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()
    os.replace(partial, out)
