"""What suggest makes: each suggestion with its provenance, the set of them, written as chat-format
JSONL, saved in the store and read back."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import WorkbenchError
from ..safe_write import Inputs, safe_output
from ..store import Store, to_json
from ..store import suggestions as q


class SuggestError(WorkbenchError):
    """No suggestions can be made (no pool, empty pool, bad options)."""


@dataclass
class Suggestion:
    """One suggested training example and why it was chosen."""

    suggestion_id: str
    category: str
    prompt: str
    target: str
    messages: list[dict[str, str]]
    source_item_ids: list[str]
    source_output_ids: list[str]
    pool_row: str
    similarity: float
    repaired: bool
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass
class SuggestionSet:
    """What :func:`suggest` made: the rows, what the guard dropped, where the JSONL went."""

    set_id: str
    run_id: str
    rows: list[Suggestion]
    dropped: int
    path: str | None
    pool: str
    pool_size: int
    per_category: dict[str, dict[str, int]]
    config: dict[str, Any]

    def records(self) -> list[dict[str, Any]]:
        """The training records: [{"messages": [...]}, ...]."""
        return [{"messages": s.messages} for s in self.rows]

    def to_dict(self, rows: bool = True) -> dict[str, Any]:
        d = {
            "set_id": self.set_id, "run_id": self.run_id, "n_suggestions": len(self.rows),
            "dropped": self.dropped, "path": self.path, "pool": self.pool,
            "pool_size": self.pool_size, "per_category": self.per_category,
            "config": self.config,
        }
        if rows:
            d["rows"] = [asdict(s) for s in self.rows]
        return d


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]], inputs: Inputs = (), *,
                force: bool = False) -> None:
    with safe_output(path, inputs, force=force) as tmp, tmp.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def save_suggestion_set(store: Store, s: SuggestionSet) -> None:
    set_row = {"set_id": s.set_id, "run_id": s.run_id, "pool": s.pool,
               "n_suggestions": len(s.rows), "n_dropped_contaminated": s.dropped,
               "config": to_json(s.config), "export_path": s.path}
    df = pd.DataFrame([{
        "suggestion_id": x.suggestion_id, "set_id": s.set_id, "category": x.category,
        "prompt": x.prompt, "target": x.target, "messages": to_json(x.messages),
        "source_item_ids": x.source_item_ids, "source_output_ids": x.source_output_ids,
        "pool_row": x.pool_row, "similarity": x.similarity, "repaired": x.repaired,
        "provenance": to_json(x.provenance),
    } for x in s.rows])
    q.save_set(store, set_row, df)


def load_suggestions(store: Store, set_ref: str) -> list[dict[str, Any]]:
    """A stored set's training records ([{"messages": [...]}, ...]) by set id, prefix or 'latest'."""
    return q.set_messages(store, q.get_set(store, set_ref)["set_id"])
