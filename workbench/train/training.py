"""One arc of the loop (`workbench train`): suggestions -> a tuned checkpoint, a fresh adapter on
the base, registered in the store with its lineage; an adapter the same training key already
made is reused."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import ConfigError, NotFoundError, WorkbenchError
from ..store import Store, new_id
from ..store import trainings as tq
from .examples import examples_from_sets, read_messages_jsonl, replay_pool
from .trainers import StepCallback, get_trainer

Say = Callable[[str], None]


def quiet(_: str) -> None:
    pass


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
    reused: bool = False  # the same training's adapter was found complete and reused

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
    base_name: str | None = None,
    on_step: StepCallback | None = None,
    say: Say = quiet,
) -> TrainingOutcome:
    """Train an adapter on ``base`` from suggestion set id(s) or a JSONL file of chat messages.

    Saves the adapter with its lineage (``workbench_lineage.json``), registers it in the models
    table (kind 'adapter', parent = the base's fingerprint) and writes a trainings row.

    The adapter is written beside the output directory and moved into place once it is saved
    and recorded (see :mod:`workbench.train.adapter_dir`), so a killed training never leaves a half
    adapter there. When the output directory already holds the adapter of the same training key
    (data, base fingerprint, trainer and config) it is reused (``outcome.reused``), recorded
    first if it was not; a complete adapter a killed run left beside it is moved into place.
    The default directory, ``adapters/train-KEY``, is the same for the same training.
    """
    from ..run.models import identify, load_model
    from .adapter_dir import claim, existing, is_main_process, move_into_place, training_key

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

    # -- the same training done (or nearly) before? --------------------------------------------
    spec, registered = resolve_base(store, base)
    parent_fp, dtype = identify(spec)
    key = training_key(trainer, parent_fp, dtype, cfg, examples, replay)
    out = (Path(out_dir) if out_dir is not None else Path("adapters") / f"train-{key[:10]}")
    out = out.expanduser().resolve()
    found = existing(out, key)
    if found is not None:
        state, where, lineage = found
        if not is_main_process():
            return _outcome(lineage, out, model_id="")
        _register_base(store, parent_fp, registered or base_name, spec, lineage.get("base"))
        _record(store, lineage, out)
        if state == "unmoved":
            move_into_place(where, out)
        say(f"reusing the adapter of training {lineage['training_id']} in {out} "
            "(same data, base model and options)")
        return _outcome(lineage, out, reused=True)

    # -- the base --------------------------------------------------------------------------------
    say(f"loading base {spec}")
    loaded = load_model(spec, name=registered)
    if loaded.kind != "full":
        raise ConfigError(f"{base!r} is an adapter; train from a full model")
    base_path = str(loaded.base)
    registered = _register_base(store, loaded.fingerprint, registered or base_name or loaded.name,
                                spec, base_path)

    training_id = new_id("t")
    partial = claim(out, key)
    started = datetime.now(UTC).replace(tzinfo=None)
    say(f"training {trainer} on {len(examples)} example(s) ({len(replay)} in the replay pool)")
    result = trainer_cls(cfg).train(
        loaded.model, loaded.tokenizer, examples, partial, base=base_path, replay=replay,
        on_step=on_step,
    )
    parent_fp = loaded.fingerprint
    del loaded  # the base was wrapped in place; nothing else may use it
    if not result.is_main_process:  # under `accelerate launch`: one process records
        return TrainingOutcome(training_id, out, "", "", "", base_path, set_ids, result.config,
                               result.metrics, result.loss_curve)

    # -- lineage, the store, then the adapter into place ----------------------------------------
    from ..run.models import adapter_fingerprint
    from .adapter_dir import write_lineage

    model_id = adapter_fingerprint(partial, parent_fp)
    model_name = name or f"{registered or Path(base_path).name}-{trainer}-{training_id[1:7]}"
    digest = hashlib.sha256(
        json.dumps([[e.prompt, e.messages] for e in examples], sort_keys=True).encode()
    ).hexdigest()
    lineage = {
        "training_id": training_id,
        "training_key": key,
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
        "finished_at": datetime.now(UTC).replace(tzinfo=None).isoformat() + "Z",
    }
    write_lineage(partial, lineage)  # the adapter is complete
    _record(store, lineage, out)  # ... and recorded
    move_into_place(partial, out)  # ... and in place
    return _outcome(lineage, out)


def _register_base(store: Store, fingerprint: str, name: str | None, spec: str,
                   base_path: str | None) -> str | None:
    """The name the base is registered under (registering it when it is not yet)."""
    try:  # keep the name it was registered under (by `workbench run`, say)
        return str(store.get_model(fingerprint)["name"])
    except NotFoundError:
        name = name or Path(spec).name
        store.upsert_model(fingerprint, name, spec=spec, base=base_path or spec, kind="full")
        return name


def _timestamp(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).rstrip("Z"))


def _record(store: Store, lineage: dict[str, Any], out: Path) -> None:
    """Register the adapter and record its training from its lineage, in one transaction
    (again is harmless: a registered model keeps its name, the training row is replaced)."""
    adapter = str(out)
    tq.record_trained_adapter(store, {
        "model_id": lineage["model_id"], "name": lineage["model_name"], "spec": adapter,
        "base": lineage["base"], "adapter": adapter, "parent_id": lineage["parent_model_id"],
        "meta": {"training_id": lineage["training_id"],
                 "suggestion_sets": lineage["suggestion_sets"]},
    }, {
        "training_id": lineage["training_id"], "parent_model_id": lineage["parent_model_id"],
        "result_model_id": lineage["model_id"], "set_id": ",".join(lineage["suggestion_sets"]),
        "trainer": lineage["trainer"], "config": lineage["config"],
        "loss_curve": lineage["loss_curve"], "adapter_path": adapter, "status": "finished",
        "started_at": _timestamp(lineage.get("created_at")),
        "finished_at": _timestamp(lineage.get("finished_at") or lineage.get("created_at")),
        "metrics": lineage["metrics"],
    })


def _outcome(lineage: dict[str, Any], out: Path, *, model_id: str | None = None,
             reused: bool = False) -> TrainingOutcome:
    return TrainingOutcome(
        lineage["training_id"], out, lineage["model_id"] if model_id is None else model_id,
        lineage["model_name"], lineage["parent_model_id"], lineage["base"],
        list(lineage["suggestion_sets"]), lineage["config"], lineage["metrics"],
        [tuple(p) for p in lineage.get("loss_curve") or []], reused=reused)
