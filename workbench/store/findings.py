"""The findings table: the one place that turns findings into rows and counts them per category."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from .values import to_json

if TYPE_CHECKING:
    from ..check.checks import Finding

# the columns of the findings table, in order
COLUMNS = ("output_id", "run_id", "check_name", "check_version", "category", "flagged", "score",
           "severity", "spans", "message", "evidence", "error")


def finding_rows(run_id: str, findings: Sequence[Finding]) -> pd.DataFrame:
    """The findings table's rows for ``findings`` of run ``run_id`` (spans and evidence as JSON)."""
    return pd.DataFrame({
        "output_id": [f.record_id for f in findings],
        "run_id": run_id,
        "check_name": [f.check for f in findings],
        "check_version": [f.check_version for f in findings],
        "category": [f.category for f in findings],
        "flagged": [bool(f.flagged) for f in findings],
        "score": [float(f.score) for f in findings],
        "severity": [f.severity for f in findings],
        "spans": [to_json([list(s) for s in f.spans]) for f in findings],
        "message": [f.message for f in findings],
        "evidence": [to_json(f.evidence) for f in findings],
        "error": [f.error for f in findings],
    }, columns=list(COLUMNS))


def empty_findings() -> pd.DataFrame:
    return pd.DataFrame(columns=list(COLUMNS))


def count_by_category(findings: Sequence[Finding]) -> dict[str, dict[str, int]]:
    """{category: {checked, flagged, errors}} over findings not stored yet (one finding per
    output and check), the counts ``Store.category_counts`` gives of stored ones."""
    out: dict[str, dict[str, int]] = {}
    for f in findings:
        c = out.setdefault(f.category, {"checked": 0, "flagged": 0, "errors": 0})
        c["checked"] += 1
        c["flagged"] += int(bool(f.flagged))
        c["errors"] += int(f.error is not None)
    return dict(sorted(out.items()))
