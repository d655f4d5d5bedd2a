"""Closing the loop: train on suggestions, then run, check, suggest, train, rerun, compare.

``train_adapter`` is one arc (`workbench train`): suggestions -> a tuned checkpoint registered in
the store with its lineage. ``run_loop`` is the circle (`workbench loop`). Every round trains a
fresh adapter FROM THE BASE on the suggestions accumulated so far (round k adds the failures of
round k-1's model), rather than stacking adapters: each result is one standard PEFT adapter on
the base, and an error the model relearns in round k is still covered by round 1's examples.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import ConfigError, NotFoundError, WorkbenchError
from .store import Store, from_json, new_id
from .store import trainings as tq
from .trainers import LINEAGE_FILE, StepCallback, TrainExample, get_trainer

Say = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# -- training data --------------------------------------------------------------------------------
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
    """Renders a suite's items the way the runner prompts with them, so training matches eval."""

    def __init__(self, store: Store, suite_id: str | None):
        from .suites import Item, Suite, SuiteSpec

        self._item_cls = Item
        self.suite = None
        row = tq.suite_row(store, suite_id) if suite_id else None
        if row and isinstance(row.get("config"), dict):
            try:
                spec = SuiteSpec.model_validate(row["config"])
                if not spec.chat_template:
                    self.suite = Suite(spec=spec, items=[])
            except Exception:  # noqa: BLE001 - an unreadable stored spec: fall back to chat messages
                self.suite = None

    def prompt(self, item: dict[str, Any]) -> str | None:
        """The rendered prompt of an items-table row, or None to let the chat template render it."""
        if self.suite is None or item.get("prompt") is None:
            return None
        fields = {k: item.get(k) for k in ("prompt", "reference", "context")}
        fields["tags"] = list(item.get("tags") if item.get("tags") is not None else [])
        fields.update(from_json(item.get("meta")) or {})
        try:
            return self.suite.render(self._item_cls(id=str(item["item_id"]), **fields))
        except Exception:  # noqa: BLE001 - a template needing fields this row lacks
            return None

    def messages(self, item: dict[str, Any], target: str) -> list[dict[str, str]]:
        user = item.get("prompt") or ""
        if item.get("context"):
            user = f"{user}\n\n{item['context']}"
        msgs = from_json(item.get("messages")) or [{"role": "user", "content": user}]
        return [*msgs, {"role": "assistant", "content": target}]


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
        if not messages and target is not None:
            messages = [{"role": "user", "content": row.get("prompt") or ""},
                        {"role": "assistant", "content": target}]
        if not messages:
            continue
        prompt = None
        suite_id = row.get("suite_id")
        pool_row = str(row.get("pool_row")) if row.get("pool_row") is not None else None
        item = items.get(suite_id, {}).get(pool_row) if suite_id and pool_row else None
        if item is not None:
            prompt = renderers[suite_id].prompt(item)
        out.append(TrainExample(messages=messages, prompt=prompt, source="suggestion",
                                ref=str(row["suggestion_id"])))
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
            out.append(TrainExample(
                messages=render.messages(item, item["reference"]), prompt=render.prompt(item),
                source="replay", ref=str(item["item_id"]),
            ))
    return out


# -- one training ---------------------------------------------------------------------------------
@dataclass
class TrainingOutcome:
    """What `workbench train` produced."""

    training_id: str
    adapter_dir: Path
    model_id: str
    model_name: str
    parent_model_id: str
    base: str
    set_ids: list[str]
    config: dict[str, Any]
    metrics: dict[str, Any]
    loss_curve: list[tuple[int, float]] = field(repr=False, default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["adapter_dir"] = str(self.adapter_dir)
        d.pop("loss_curve")
        return d


def resolve_base(store: Store, ref: str) -> tuple[str, str | None]:
    """(spec, registered name) for a model spec, or a model name/id registered in the store."""
    if Path(ref).expanduser().exists():
        return str(Path(ref).expanduser().resolve()), None
    try:
        row = store.get_model(ref)
    except NotFoundError:
        return ref, None  # a hub id: load_model says clearly when it cannot be had
    if row.get("kind") == "adapter":
        raise ConfigError(
            f"model {ref!r} is an adapter; train from its base ({row.get('base')}) instead "
            "(each training is one adapter on a full model)"
        )
    spec = row.get("base") or row.get("spec")
    if not spec:
        raise ConfigError(f"model {ref!r} in the store has no path or hub id to load")
    return str(spec), str(row["name"])


def train_adapter(
    store: Store,
    base: str,
    suggestions: str | Path | Sequence[str],
    *,
    out_dir: str | Path | None = None,
    trainer: str = "lora",
    config: Any = None,
    name: str | None = None,
    on_step: StepCallback | None = None,
    say: Say = _quiet,
) -> TrainingOutcome:
    """Train an adapter on ``base`` from suggestion set id(s) or a JSONL file of chat messages.

    Saves the adapter with its lineage (``workbench_lineage.json``), registers it in the models
    table (kind 'adapter', parent = the base's fingerprint) and writes a trainings row.
    """
    from .models import adapter_fingerprint, load_model

    trainer_cls = get_trainer(trainer)
    cfg = trainer_cls.make_config(config)

    # -- what to train on ----------------------------------------------------------------------
    if isinstance(suggestions, (str, Path)) and Path(suggestions).suffix == ".jsonl":
        path = Path(suggestions)
        if not path.exists():
            raise NotFoundError(f"suggestions file not found: {path}")
        examples, suite_ids, set_ids = read_messages_jsonl(path), [], [str(path)]
    else:
        refs = [suggestions] if isinstance(suggestions, (str, Path)) else list(suggestions)
        set_ids = [tq.resolve_suggestion_set(store, str(r))["set_id"] for r in refs]
        examples, suite_ids = examples_from_sets(store, set_ids)
        if not examples:
            raise WorkbenchError(f"suggestion set(s) {', '.join(set_ids)} hold no examples")
    share = getattr(cfg, "replay_share", 0.0)
    exclude = {e.ref for e in examples if e.ref}
    df = tq.suggestion_rows(store, set_ids) if suite_ids else None
    if df is not None and not df.empty:
        exclude |= {str(p) for p in df.pool_row.dropna()}
    replay = replay_pool(store, suite_ids, exclude) if share and suite_ids else []

    # -- the base --------------------------------------------------------------------------------
    spec, registered = resolve_base(store, base)
    say(f"loading base {spec}")
    loaded = load_model(spec, name=registered)
    if loaded.kind != "full":
        raise ConfigError(f"{base!r} is an adapter; train from a full model")
    base_path = str(loaded.base)
    store.upsert_model(loaded.fingerprint, loaded.name, spec=spec, base=base_path, kind="full")

    training_id = new_id("t")
    out = Path(out_dir) if out_dir is not None else Path("adapters") / training_id
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"output directory {out} exists and is not empty")
    started = datetime.now(UTC).replace(tzinfo=None)
    say(f"training {trainer} on {len(examples)} example(s) ({len(replay)} in the replay pool)")
    result = trainer_cls(cfg).train(
        loaded.model, loaded.tokenizer, examples, out, base=base_path, replay=replay,
        on_step=on_step,
    )
    parent_fp = loaded.fingerprint
    del loaded  # the base was wrapped in place; nothing else may use it
    if not result.is_main_process:  # under `accelerate launch`: one process records
        return TrainingOutcome(training_id, out, "", "", "", base_path, set_ids, result.config,
                               result.metrics, result.loss_curve)

    # -- lineage and the store --------------------------------------------------------------------
    model_id = adapter_fingerprint(out, parent_fp)
    model_name = name or f"{registered or Path(base_path).name}-{trainer}-{training_id[1:7]}"
    digest = hashlib.sha256(
        json.dumps([[e.prompt, e.messages] for e in examples], sort_keys=True).encode()
    ).hexdigest()
    lineage = {
        "training_id": training_id,
        "model_id": model_id,
        "model_name": model_name,
        "parent_model_id": parent_fp,
        "base": base_path,
        "suggestion_sets": set_ids,
        "examples": len(examples),
        "examples_sha256": digest,
        "trainer": trainer,
        "config": result.config,
        "metrics": result.metrics,
        "final_loss": result.metrics.get("final_loss"),
        "loss_curve": result.loss_curve,
        "created_at": started.isoformat() + "Z",
    }
    (out / LINEAGE_FILE).write_text(json.dumps(lineage, indent=2))
    store.upsert_model(model_id, model_name, spec=str(out.resolve()), base=base_path,
                       adapter=str(out.resolve()), parent_id=parent_fp, kind="adapter",
                       meta={"training_id": training_id, "suggestion_sets": set_ids})
    tq.record_training(store, {
        "training_id": training_id, "parent_model_id": parent_fp, "result_model_id": model_id,
        "set_id": ",".join(set_ids), "trainer": trainer, "config": result.config,
        "loss_curve": result.loss_curve, "adapter_path": str(out.resolve()), "status": "finished",
        "started_at": started, "finished_at": datetime.now(UTC).replace(tzinfo=None),
        "metrics": result.metrics,
    })
    return TrainingOutcome(training_id, out, model_id, model_name, parent_fp, base_path, set_ids,
                           result.config, result.metrics, result.loss_curve)

