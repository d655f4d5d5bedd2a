"""What the query modules share: a filter value as bound SQL parameters (only placeholders go
into the SQL) and JSON cells read back as Python values."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..values import from_json

Filter = str | Sequence[str] | None


def filter_values(value: Filter) -> list[str]:
    """A filter value as a list: None/'' mean no filter, a string means one value."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if v is not None and v != ""]


def in_clause(column: str, values: list[str], params: list[Any]) -> str:
    """``column IN (?, ?, ...)``: only placeholders go into the SQL, the values are bound."""
    params.extend(values)
    return f"{column} IN ({', '.join('?' for _ in values)})"


def parse_metrics(raw: Any) -> dict[str, Any]:
    """An output's per-sample metrics JSON as a dict ({} when absent or not an object)."""
    try:
        value = from_json(raw)
    except (TypeError, json.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def json_or_text(raw: Any) -> Any:
    try:
        return from_json(raw)
    except (TypeError, json.JSONDecodeError):
        return raw
