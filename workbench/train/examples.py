"""Training examples: read from a chat-format JSONL file, or drawn from stored suggestion sets with
each item's prompt rendered by ``workbench.run.prompts`` (the renderer evaluation uses), and the
replay pool of a suite's train split."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..store import Store, from_json
from ..store import trainings as tq
from .trainers import TrainExample


def read_messages_jsonl(path: Path) -> list[TrainExample]:
    """Examples from a JSONL file of ``{"messages": [...]}`` rows (the exported suggestion format)."""
    out = []
    for n, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            messages = obj["messages"]
            ok = isinstance(messages, list) and all(
                isinstance(m, dict) and {"role", "content"} <= set(m) for m in messages
            )
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            raise ConfigError(f"{path}:{n}: expected a JSON object with chat 'messages'")
        out.append(TrainExample(messages=messages, ref=f"{path.name}:{n}"))
    if not out:
        raise ConfigError(f"{path}: no training examples")
    return out


class _ItemRenderer:
    """Prompts a suite's stored items with ``workbench.run.prompts``, the renderer evaluation uses,
    so training text matches evaluation."""

    def __init__(self, store: Store, suite_id: str | None):
        from ..run.suite_schema import SuiteSpec
        from ..run.suites import Suite

        self.suite = None
        row = tq.suite_row(store, suite_id) if suite_id else None
        if row and isinstance(row.get("config"), dict):
            try:
                self.suite = Suite(spec=SuiteSpec.model_validate(row["config"]), items=[])
            except Exception:  # noqa: BLE001 - an unreadable stored spec: fall back to messages
                self.suite = None

    def _prompt(self, item: dict[str, Any]) -> Any:
        """The item's prompt as evaluation renders it (text or chat messages); None when there
        is no suite to render it with or the row cannot be rendered."""
        from ..run.prompts import item_prompt
        from ..run.suite_schema import Item

        if self.suite is None:
            return None
        fields = {k: item.get(k) for k in ("prompt", "reference", "context")}
        fields["messages"] = from_json(item.get("messages"))
        fields["tags"] = list(item.get("tags") if item.get("tags") is not None else [])
        fields.update(from_json(item.get("meta")) or {})
        try:
            return item_prompt(self.suite, Item(id=str(item["item_id"]), **fields))
        except Exception:  # noqa: BLE001 - a template needing fields this row lacks
            return None

    def example(self, item: dict[str, Any], target: str, *, source: str = "suggestion",
                ref: str | None = None,
                messages: list[dict[str, str]] | None = None) -> TrainExample:
        """An example for ``item`` answered by ``target``.

        A plain-template suite gives the rendered prompt verbatim; a chat-template suite gives the
        messages the runner sends (system + the rendered prompt as the user turn).
        """
        from ..run.prompts import with_system

        prompt = self._prompt(item)
        answer = {"role": "assistant", "content": target}
        if isinstance(prompt, str):
            msgs = [*messages[:-1], answer] if messages else [{"role": "user", "content": prompt},
                                                              answer]
            return TrainExample(messages=msgs, prompt=prompt, source=source, ref=ref)
        if prompt is None:  # no suite to render it with: the row's own messages
            msgs = [dict(m) for m in from_json(item.get("messages")) or []] or [
                {"role": "user", "content": item.get("prompt") or ""}]
            prompt = with_system(msgs, self.suite.spec.system if self.suite is not None else None)
        return TrainExample(messages=[*prompt, answer], source=source, ref=ref)


def _item_lookup(store: Store, suite_id: str | None) -> dict[str, dict[str, Any]]:
    if not suite_id:
        return {}
    df = store.suite_items(suite_id)
    return {str(r["item_id"]): r for r in df.to_dict("records")}


def examples_from_sets(store: Store, set_ids: Sequence[str]) -> tuple[list[TrainExample], list[str]]:
    """Training examples of suggestion sets, and the suite ids they were drawn for.

    A suggestion built from a suite item (its ``pool_row``) is prompted the way the suite renders
    that item; any other is rendered from its chat ``messages`` by the tokenizer's chat template.
    """
    df = tq.suggestion_rows(store, list(set_ids))
    if df.empty:
        return [], []
    suite_ids = [s for s in dict.fromkeys(df.suite_id.dropna()) if s]
    renderers = {s: _ItemRenderer(store, s) for s in suite_ids}
    items = {s: _item_lookup(store, s) for s in suite_ids}
    out = []
    for row in df.to_dict("records"):
        messages = from_json(row.get("messages"))
        target = row.get("target")
        if target is None and messages:
            target = messages[-1]["content"]
        if target is None:
            continue
        suite_id = row.get("suite_id")
        pool_row = str(row.get("pool_row")) if row.get("pool_row") is not None else None
        item = items.get(suite_id, {}).get(pool_row) if suite_id and pool_row else None
        ref = str(row["suggestion_id"])
        if item is not None:
            out.append(renderers[suite_id].example(item, target, ref=ref, messages=messages))
        else:
            messages = messages or [{"role": "user", "content": row.get("prompt") or ""},
                                    {"role": "assistant", "content": target}]
            out.append(TrainExample(messages=messages, source="suggestion", ref=ref))
    return out, suite_ids


def replay_pool(store: Store, suite_ids: Sequence[str], exclude: set[str]) -> list[TrainExample]:
    """General data to mix in against forgetting: the suites' train-split items with a reference,
    minus those already suggested (``exclude`` holds item ids)."""
    out = []
    for suite_id in suite_ids:
        render = _ItemRenderer(store, suite_id)
        for item in tq.train_items(store, suite_id).to_dict("records"):
            if str(item["item_id"]) in exclude:
                continue
            out.append(render.example(item, item["reference"], source="replay",
                                      ref=str(item["item_id"])))
    return out
