"""Pools of candidate training examples: JSONL files or a suite's train split.

A pool row is an instruction (+ input) or a chat, with a target when one is known. The prompt
text a row shows the model (``PoolRow.text``) is what similarity and the contamination guard
compare.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SuiteError
from ..store import Store, from_json
from .similarity import DEFAULT_THRESHOLD, near_duplicates


@dataclass
class PoolRow:
    """A candidate training example: an instruction (+ input) and, usually, a target."""

    row_id: str
    prompt: str
    context: str | None = None
    target: str | None = None
    messages: list[dict[str, str]] | None = None  # chat rows: every turn before the answer

    @property
    def text(self) -> str:
        """What the model reads: the instruction and its input (compared for similarity)."""
        if self.messages:
            return "\n\n".join(m["content"] for m in self.messages if m["role"] != "system")
        return self.prompt + (f"\n\n{self.context}" if self.context else "")

    def to_messages(self, target: str) -> list[dict[str, str]]:
        head = list(self.messages) if self.messages else [{"role": "user", "content": self.text}]
        return head + [{"role": "assistant", "content": target}]


_PROMPT_KEYS = ("prompt", "instruction", "question")
_TARGET_KEYS = ("reference", "output", "response", "answer", "target", "completion")


def _pool_row(obj: dict[str, Any], default_id: str) -> PoolRow:
    """One JSONL object as a pool row: chat ``messages``, or prompt/instruction (+ input)."""
    row_id = str(obj.get("id", default_id))
    msgs = obj.get("messages")
    if msgs is not None:
        if (not isinstance(msgs, list) or not msgs
                or not all(isinstance(m, dict) and {"role", "content"} <= set(m) for m in msgs)):
            raise ValueError("'messages' must be a list of {role, content} objects")
        target = None
        if msgs[-1]["role"] == "assistant":
            target, msgs = msgs[-1]["content"], msgs[:-1]
        users = [m["content"] for m in msgs if m["role"] == "user"]
        if not users:
            raise ValueError("'messages' has no user turn")
        return PoolRow(row_id, users[-1], None, target, [dict(m) for m in msgs])
    prompt = next((obj[k] for k in _PROMPT_KEYS if isinstance(obj.get(k), str)), None)
    context = obj["context"] if isinstance(obj.get("context"), str) else None
    if prompt is None and isinstance(obj.get("input"), str):
        prompt = obj["input"]
    elif context is None and isinstance(obj.get("input"), str):
        context = obj["input"]
    if prompt is None:
        raise ValueError("needs 'messages' or one of: " + ", ".join(_PROMPT_KEYS))
    target = next((obj[k] for k in _TARGET_KEYS if isinstance(obj.get(k), str)), None)
    return PoolRow(row_id, prompt, context or None, target)


def load_pool_file(path: str | Path) -> list[PoolRow]:
    """Read a JSONL pool (chat ``messages`` rows or instruction/input/output rows)."""
    from ..run.suite_files import read_jsonl_items

    path = Path(path)
    problems: list[str] = []
    rows = []
    for n, obj in read_jsonl_items(path, problems):
        try:
            rows.append(_pool_row(obj, default_id=f"{path.name}:{n}"))
        except ValueError as exc:
            problems.append(f"{path}:{n}: {exc}")
    if problems:
        raise SuiteError(problems)
    return rows


def suite_pool(store: Store, suite_id: str) -> list[PoolRow]:
    """The train split of a suite as pool rows."""
    items = store.suite_items(suite_id, split="train")
    rows = []
    for it in items.itertuples():
        msgs = from_json(it.messages)
        if msgs:
            rows.append(_pool_row({"id": it.item_id, "messages": msgs}, it.item_id))
            if rows[-1].target is None and isinstance(it.reference, str):
                rows[-1].target = it.reference
        else:
            rows.append(PoolRow(str(it.item_id), it.prompt or "", _str(it.context),
                                _str(it.reference)))
    return rows


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def eval_texts(store: Store, suite_id: str) -> tuple[set[str], list[str]]:
    """The ids and prompt texts (instruction + input) of a suite's eval items."""
    items = store.suite_items(suite_id, split="eval")
    texts = [PoolRow("", p or "", _str(c), messages=from_json(m) or None).text
             for p, c, m in zip(items.prompt, items.context, items.messages, strict=True)]
    return set(map(str, items.item_id)), texts



def sample_pool(store: Store, suite_id: str, n: int, exclude: Iterable[str] = (),
                seed: int = 0, threshold: float = DEFAULT_THRESHOLD) -> list[dict[str, Any]]:
    """Up to ``n`` general training records from a suite's train split (replay data against
    forgetting): rows with a reference, not in ``exclude`` (pool row ids or prompt texts),
    contamination-guarded like suggestions. Returns [{"id": .., "messages": [...]}, ...]."""
    rows = [r for r in suite_pool(store, suite_id) if r.target]
    skip = set(exclude)
    rows = [r for r in rows if r.row_id not in skip and r.text not in skip]
    _, texts = eval_texts(store, suite_id)
    bad = {i for i, _, _ in near_duplicates([r.text for r in rows], texts, threshold)}
    rows = [r for i, r in enumerate(rows) if i not in bad]
    random.Random(seed).shuffle(rows)
    return [{"id": r.row_id, "messages": r.to_messages(r.target or "")} for r in rows[:max(0, n)]]


