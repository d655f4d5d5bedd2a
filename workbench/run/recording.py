"""The bookkeeping every run does, whatever its kind of suite: the model registered with its
lineage, the run started (or resumed), and marked failed with its error when it stops early.

Custom suites (``workbench.run.runner``) and lm-eval suites (``workbench.run.lmeval.runner``)
both record their runs through here, so a run looks the same in the store whichever produced it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..store import Store


def register_model(store: Store, loaded: Any, model_id: str | None = None,
                   name: str | None = None) -> str:
    """Store ``loaded`` (a LoadedModel) under its fingerprint (or ``model_id``), with its spec,
    base, adapter, parent and where it runs; returns the model id."""
    model_id = model_id or loaded.fingerprint
    meta = {k: getattr(loaded, k) for k in ("device", "dtype") if hasattr(loaded, k)}
    if getattr(loaded, "backend", "hf") != "hf":
        meta["backend"] = loaded.backend
    store.upsert_model(model_id, name or loaded.name, spec=getattr(loaded, "spec", None),
                       base=getattr(loaded, "base", None), adapter=getattr(loaded, "adapter", None),
                       parent_id=getattr(loaded, "parent_fingerprint", None),
                       kind=getattr(loaded, "kind", "full"), meta=meta or None)
    return model_id


@contextmanager
def failing_marks(store: Store, run_id: str, max_error: int = 2000) -> Iterator[None]:
    """Run the body; if it raises (an interrupt too), mark the run failed with the error and
    re-raise: the next identical run resumes it."""
    try:
        yield
    except KeyboardInterrupt:
        store.finish_run(run_id, status="failed", error="interrupted")
        raise
    except BaseException as exc:
        store.finish_run(run_id, status="failed", error=f"{type(exc).__name__}: {exc}"[:max_error])
        raise
