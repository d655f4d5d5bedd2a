"""lm-eval tasks as suites: a suite that names tasks (registered names, task YAML files or
directories), from a suite file's ``lm_eval`` section or ``lm-eval:TASK[,TASK...]``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ...errors import ConfigError
from ..suite_schema import LmEvalSpec, SuiteSpec
from ..suites import Suite
from . import tasks as lmeval_tasks

PREFIX = "lm-eval:"


def lmeval_suite(
    tasks: list[str] | str,
    include_path: list[str] | str | None = None,
    *,
    limit: int | None = None,
    num_fewshot: int | None = None,
    name: str | None = None,
) -> Suite:
    """A Suite that runs lm-eval tasks (names, task YAML files or dirs; paths relative to cwd)."""
    if isinstance(tasks, str):
        tasks = [t.strip() for t in tasks.split(",") if t.strip()]
    if not tasks:
        raise ConfigError("no lm-eval task named (expected lm-eval:TASK[,TASK...])")
    inc = [include_path] if isinstance(include_path, str) else list(include_path or [])
    here = Path.cwd()
    # paths are made absolute now, so the suite means the same thing from any directory
    tasks = [str((here / t).resolve()) if lmeval_tasks.is_task_path(t) else t for t in tasks]
    inc = [str((here / p).resolve()) for p in inc]
    spec = SuiteSpec(
        name=name or PREFIX + ",".join(Path(t).stem if "/" in t else t for t in tasks),
        lm_eval=LmEvalSpec(tasks=tasks, include_path=inc, limit=limit, num_fewshot=num_fewshot),
    )
    fp = hashlib.sha256(json.dumps(spec.model_dump(), sort_keys=True).encode()).hexdigest()
    return Suite(spec=spec, items=[], path=None, source="lm-eval", fingerprint=fp)


def suite_from_tasks(tasks: str, include_path: list[str] | None = None) -> Suite:
    """The suite for ``TASK[,TASK...]`` (what follows ``lm-eval:`` on the command line)."""
    return lmeval_suite(tasks, include_path)


def parse_suite_ref(ref: str, include_path: list[str] | None = None) -> Suite | None:
    """``lm-eval:TASK[,TASK...]`` -> a Suite; anything else -> None (a suite file)."""
    if not ref.startswith(PREFIX):
        return None
    return lmeval_suite(ref[len(PREFIX) :], include_path)


def lmeval_problems(suite: Suite) -> list[str]:
    """What `workbench suites validate` reports for an lm-eval suite (no dataset is read)."""
    spec = suite.spec.lm_eval
    if spec is None:
        return []
    base = suite.path.parent if suite.path is not None else Path.cwd()
    where = str(suite.path) if suite.path is not None else suite.name
    return lmeval_tasks.suite_problems(spec.tasks, spec.include_path, base, where)
