"""Benchmarks that measure (throughput, detector quality); they are not tests.

Each module ``bench/<name>.py`` exposes ``run() -> dict`` of figures and runs on its own with
``python -m bench.<name>``. ``python -m bench`` (``make bench``) runs them all and writes JSON.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """The public labelled dev data (../shared/data beside the repo, or $WORKBENCH_SHARED_DATA)."""
    env = os.environ.get("WORKBENCH_SHARED_DATA")
    path = Path(env) if env else ROOT.parent / "shared" / "data"
    return path if path.is_dir() else None
