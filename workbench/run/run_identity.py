"""What identifies a run and a cached output.

A run is identified by ``config_key`` = hash(model fingerprint, suite fingerprint, generation
config, split, checks with their versions and options); an output by its ``cache_key`` =
hash(model fingerprint, rendered prompt, generation config), which any later run with the same
key reuses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..check.checks import Check
    from .suite_schema import Item
    from .suites import Suite


def _hash(*parts: Any) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()


def checks_key(checks: Sequence[Check]) -> list[list[Any]]:
    """What of the checks decides a run's findings: names, versions and options."""
    return sorted([c.name, c.version, c.options.model_dump(mode="json")] for c in checks)


def config_key(model_fp: str, suite_fp: str, gen: dict[str, Any], split: str,
               checks: Sequence[Check] = ()) -> str:
    return _hash("run", model_fp, suite_fp, gen, split, checks_key(checks))


def identity(model_fp: str, dtype: str | None, suite: Suite, split: str,
             checks: Sequence[Check]) -> str:
    """The ``config_key`` of running ``suite`` on a model (its fingerprint and dtype, both known
    before the weights load: see ``workbench.run.models.identify``)."""
    return config_key(model_fp, suite.fingerprint, _generation_identity(suite, dtype), split,
                      checks)


def _generation_identity(suite: Suite, dtype: str | None) -> dict[str, Any]:
    """What decides a suite's outputs besides the model and the prompts: its generation config,
    and the dtype (bf16 and fp32 greedy texts can differ)."""
    return {**suite.generation.identity(), "dtype": dtype}


def sample_keys(model_fp: str, rendered_prompt: str, suite: Suite,
                dtype: str | None, item: Item | None = None) -> list[str]:
    """The cache key of each sample of one prompt (one key when the suite asks for one), under
    the item's own generation config when it has one."""
    gen = item.generation(suite.generation) if item is not None else suite.generation
    return [cache_key(model_fp, rendered_prompt, {**gen.sample_identity(s), "dtype": dtype})
            for s in range(gen.samples)]


def cache_key(model_fp: str, rendered_prompt: str, gen: dict[str, Any]) -> str:
    return _hash("gen", model_fp, rendered_prompt, gen)
