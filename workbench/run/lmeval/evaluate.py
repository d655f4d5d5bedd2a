"""One lm-eval evaluation: the suite's tasks prepared, fingerprinted and evaluated with lm-eval's
own defaults (seeds, bootstrap iterations), and the task-level metrics read from its results."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import ConfigError, WorkbenchError
from ..suites import Suite
from . import records as rec
from . import tasks as lmeval_tasks

# lm-eval's own defaults, so numbers match `lm_eval` run with the same settings
DEFAULT_BOOTSTRAP_ITERS = 100000
SEEDS = {
    "random_seed": 0,
    "numpy_random_seed": 1234,
    "torch_random_seed": 1234,
    "fewshot_random_seed": 1234,
}


@dataclass
class PreparedTasks:
    """An lm-eval suite's tasks, found and built (their data read), ready to evaluate."""

    names: list[str]
    manager: Any
    built: list[Any]
    tasks: dict[str, Any]


def prepare_tasks(suite: Suite) -> PreparedTasks:
    """Find and build a suite's tasks: unknown names and unreadable data fail here, before any
    model is loaded."""
    names, dirs = suite_tasks(suite)
    tm = lmeval_tasks.task_manager(names, dirs)
    built = lmeval_tasks.load_tasks(tm, names)
    return PreparedTasks(names, tm, built, lmeval_tasks.leaf_tasks(built))


def suite_tasks(suite: Suite) -> tuple[list[str], list[Path]]:
    """The task names and include directories of an lm-eval suite."""
    spec = suite.spec.lm_eval
    if spec is None:
        raise ConfigError(f"suite {suite.name!r} names no lm-eval tasks")
    base = suite.path.parent if suite.path is not None else Path.cwd()
    return lmeval_tasks.resolve_specs(spec.tasks, spec.include_path, base)


def suite_fingerprint(
    suite: Suite, tasks: dict[str, Any], limit: int | None, num_fewshot: int | None
) -> str:
    """Identity of what an lm-eval suite evaluates: task configs, their documents, settings."""
    h = hashlib.sha256(b"lm-eval-suite\0")
    h.update(
        json.dumps(
            {
                "limit": limit,
                "num_fewshot": num_fewshot,
                "system": suite.spec.system,
                "chat": suite.spec.chat_template,
            },
            sort_keys=True,
        ).encode()
    )
    for name in sorted(tasks):
        task = tasks[name]
        cfg = task.dump_config() if hasattr(task, "dump_config") else {}
        cfg = {k: v for k, v in cfg.items() if k not in ("metadata", "dataset_kwargs")}
        h.update(f"\0{name}\0".encode() + rec.dumps(cfg).encode())
        try:
            docs = task.eval_docs
        except Exception:  # noqa: BLE001 - a task without eval docs: its config is the identity
            docs = []
        for doc in docs:
            h.update(rec.dumps(doc).encode())
    return h.hexdigest()


def evaluate(
    lm: Any,
    built: list[Any],
    tm: Any,
    *,
    limit: int | None = None,
    num_fewshot: int | None = None,
    bootstrap_iters: int = DEFAULT_BOOTSTRAP_ITERS,
    apply_chat_template: bool = False,
    system_instruction: str | None = None,
    use_cache: str | None = None,
) -> dict[str, Any]:
    """lm_eval.simple_evaluate with samples logged and lm-eval's default seeds."""
    import lm_eval

    with lean_results():
        out = lm_eval.simple_evaluate(
            model=lm,
            tasks=built,
            task_manager=tm,
            limit=limit,
            num_fewshot=num_fewshot,
            bootstrap_iters=bootstrap_iters,
            log_samples=True,
            use_cache=use_cache,
            apply_chat_template=apply_chat_template,
            system_instruction=system_instruction,
            **SEEDS,
        )
    if out is None:  # only rank 0 gets results under a distributed launcher
        raise WorkbenchError("lm-eval returned no results (not rank 0 of a distributed run)")
    return out


@contextmanager
def lean_results() -> Iterator[None]:
    """Skip what simple_evaluate adds only for its own JSON report.

    It asks git for the working directory's commit (printing git's complaint outside a repo) and
    collects torch's environment report (about a second, spawning nvidia-smi and friends).
    Neither reaches the store; the library versions are recorded on the run instead.
    """
    import lm_eval.evaluator as ev

    saved = {n: getattr(ev, n) for n in ("get_git_commit_hash", "add_env_info") if hasattr(ev, n)}
    noop = {"get_git_commit_hash": lambda: None, "add_env_info": lambda storage: None}
    for n in saved:
        setattr(ev, n, noop[n])
    try:
        yield
    finally:
        for n, fn in saved.items():
            setattr(ev, n, fn)


def task_metrics(results: dict[str, Any]) -> dict[str, float]:
    """lm-eval's task/group results -> flat run metrics: ``task/metric`` and ``.._stderr``."""
    metrics: dict[str, float] = {}
    for task, res in results.items():
        for key, v in res.items():
            if "," not in key:
                continue
            metric, _, flt = key.partition(",")
            v = rec.plain(v)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                continue  # "N/A" stderr of a metric lm-eval cannot bootstrap
            metrics[f"{task}/{rec.metric_key(metric, flt)}"] = float(v)
    return metrics


@contextmanager
def tqdm_bars(show: bool) -> Iterator[None]:
    """lm-eval draws tqdm bars on stderr; ``show=False`` (e.g. --json) turns them off."""
    import os

    if show:
        yield
        return
    before = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = before


def library_versions() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("lm_eval", "transformers", "torch", "datasets"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out
