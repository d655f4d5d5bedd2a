"""The small values every store module shares: the database's default path, ids, JSON cells, and a
run's status as shown (a 'running' run whose process is gone reads 'interrupted')."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from typing import Any

import pandas as pd

DEFAULT_DB = "workbench.duckdb"


def default_db_path() -> str:
    return os.environ.get("WORKBENCH_DB") or DEFAULT_DB


def new_id(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex[:10]


def output_id(run_id: str, item_id: str) -> str:
    """The id of a run's output for one item (custom and lm-eval suites alike)."""
    return hashlib.blake2b(f"{run_id}\0{item_id}".encode(), digest_size=10).hexdigest()


def to_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def from_json(value: Any) -> Any:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return json.loads(value)


INTERRUPTED = "interrupted"


def shown_status(status: Any, versions: Any) -> Any:
    """A run's status as shown: 'running' whose owning process (recorded in ``versions``) is
    gone reads 'interrupted' (a kill or crash left no chance to mark it); the next identical run
    resumes it."""
    if status != "running":
        return status
    from ..owner import is_dead

    info = versions if isinstance(versions, dict) else from_json(versions)
    owner = info.get("owner") if isinstance(info, dict) else None
    return INTERRUPTED if owner is not None and is_dead(owner) else status


def with_shown_status(df: pd.DataFrame, versions: str = "versions") -> pd.DataFrame:
    """``df`` (rows of runs with ``status`` and their ``versions`` JSON) with the shown status,
    the ``versions`` column dropped."""
    if len(df) and "status" in df.columns and versions in df.columns:
        df["status"] = [shown_status(s, v) for s, v in zip(df.status, df[versions], strict=True)]
    return df.drop(columns=[versions], errors="ignore")
