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
from .train.trainers import StepCallback, TrainExample, get_trainer

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
    """Prompts a suite's stored items with ``workbench.run.prompts``, the renderer evaluation uses,
    so training text matches evaluation."""

    def __init__(self, store: Store, suite_id: str | None):
        from .run.suites import Suite, SuiteSpec

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
        from .run.prompts import item_prompt
        from .run.suites import Item

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
        from .run.prompts import with_system

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
    say: Say = _quiet,
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
    from .run.models import identify, load_model
    from .train.adapter_dir import claim, existing, is_main_process, move_into_place, training_key

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
    from .run.models import adapter_fingerprint
    from .train.adapter_dir import write_lineage

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



# -- the loop -------------------------------------------------------------------------------------
@dataclass
class Round:
    """One round: suggestions from the previous model's failures, a training, a rerun, comparisons."""

    round: int
    set_id: str
    suggestions: int
    training: TrainingOutcome
    run_id: str
    vs_base: Any  # workbench.compare.compare.Comparison: base run -> this round's run
    vs_previous: Any  # previous round's run (the base run in round 1) -> this round's run

    def to_dict(self, alpha: float) -> dict[str, Any]:
        return {
            "round": self.round, "set_id": self.set_id, "suggestions": self.suggestions,
            "training": self.training.to_dict(), "run_id": self.run_id,
            "verdict_over_previous": self.vs_previous.verdict(alpha),
            "verdict_reason": self.vs_previous.verdict_reason(alpha),
            "improved_over_previous": [r.name for r in self.vs_previous.improvements(alpha)],
            "confounded_over_previous": self.vs_previous.confounded(alpha),
            "vs_base": self.vs_base.to_dict(alpha, transitions=False),
        }


@dataclass
class Decision:
    """What a round's comparison with the previous model means for the loop."""

    keep: bool  # this round's adapter replaces the previous best
    stop: str | None  # why the loop stops here (None: go on)


def round_decision(vs_previous: Any, k: int, alpha: float = 0.05) -> Decision:
    """Keep round ``k``'s adapter and go on only when its overall verdict against the previous
    model (the base in round 1) is 'better' and no task metric's mean fell.

    A task metric that fell by any amount, significant or not, stops the loop and keeps the
    previous model: the metric is the only signal measured against the reference, a shortcut
    (shorter answers that the checks stop flagging) costs correct answers a small eval set cannot
    call significant, and another round would train on top of it. The same holds for a
    significantly worse category. A round that improved nothing (or only confounded
    categories) stops the loop; in round 1 it is still kept, as the only tuned model, with the
    table showing it did not help.
    """
    from .compare.confounders import metric_fell_reason

    before = "the base" if k == 1 else f"round {k - 1}"
    keep_previous = ("the base model stays the best" if k == 1
                     else f"round {k - 1}'s adapter stays the best")
    fell = metric_fell_reason(vs_previous.task_metrics())
    if fell:
        return Decision(False, f"round {k} made the task metric worse than {before} ({fell}):"
                               f" {keep_previous}")
    verdict = vs_previous.verdict(alpha)
    if verdict == "worse":
        return Decision(False, f"round {k} is worse than {before} "
                               f"({vs_previous.verdict_reason(alpha)}): {keep_previous}")
    if verdict == "better":
        return Decision(True, None)
    what = ("improved only confounded categories" if verdict == "inconclusive"
            else "improved nothing significantly")
    return Decision(k == 1, f"round {k} {what} over {before}")


@dataclass
class LoopResult:
    """What `workbench loop` did; ``final`` is the round whose adapter it recommends (None when
    the base model stays the best, or no round was trained)."""

    base_run_id: str
    rounds: list[Round]
    final: Round | None
    stopped: str
    alpha: float

    @property
    def comparison(self) -> Any:
        """Base run -> final round's run (None when no round's adapter is recommended)."""
        return self.final.vs_base if self.final else None

    @property
    def best_run_id(self) -> str:
        """The run of the best model: the recommended round's, else the base run."""
        return self.final.run_id if self.final else self.base_run_id

    def to_dict(self) -> dict[str, Any]:
        f = self.final
        return {
            "base_run_id": self.base_run_id,
            "final_round": f.round if f else None,
            "final_run_id": f.run_id if f else None,
            "adapter_dir": str(f.training.adapter_dir) if f else None,
            "model_id": f.training.model_id if f else None,
            "best": f"round {f.round}" if f else "base",
            "best_run_id": self.best_run_id,
            "stopped": self.stopped,
            "alpha": self.alpha,
            "comparison": f.vs_base.to_dict(self.alpha, transitions=False) if f else None,
            "rounds": [r.to_dict(self.alpha) for r in self.rounds],
        }


def _drawn_set(store: Store, run_id: str, per_failure: int,
               max_examples: int | None) -> Any | None:
    """The suggestion set a loop drew from ``run_id`` before (a rerun continues the round it
    was in rather than drawing the same set again), else None."""
    from types import SimpleNamespace

    from .store.suggestions import set_rows, sets_of_run
    from .suggest.similarity import DEFAULT_MIN_OVERLAP, DEFAULT_THRESHOLD

    want = {"per_failure": per_failure, "max": max_examples, "threshold": DEFAULT_THRESHOLD,
            "min_overlap": DEFAULT_MIN_OVERLAP, "similarity": "hybrid"}
    for row in sets_of_run(store, run_id):
        cfg = row.get("config") or {}
        exported = isinstance(row.get("export_path"), str) and row["export_path"]
        if (not exported and str(row.get("pool", "")).startswith("suite:")
                and all(cfg.get(k) == v for k, v in want.items())):
            rows = set_rows(store, row["set_id"])
            return SimpleNamespace(set_id=row["set_id"], rows=list(rows.suggestion_id))
    return None


def run_loop(
    store: Store,
    base: str,
    suite: Any,
    *,
    base_name: str = "base",
    rounds: int = 1,
    out_dir: str | Path | None = None,
    trainer: str = "lora",
    train_config: Any = None,
    batch_size: int = 8,
    alpha: float = 0.05,
    per_failure: int = 3,
    max_examples: int | None = None,
    progress: bool = True,
    base_run: str | None = None,
    on_step: StepCallback | None = None,
    say: Say = _quiet,
) -> LoopResult:
    """Run base -> checks -> suggest -> train -> rerun -> compare, for up to ``rounds`` rounds.

    ``suite`` is a Suite or a path to one; ``base_run`` reuses a finished run of the base on
    it instead of running it again. Round k trains a fresh adapter from the base on every
    suggestion set so far, the new set drawn from round k-1's failures. The loop stops early when
    there is nothing left to suggest or when a round is not better than the previous model
    (:func:`round_decision`): a task metric's mean fell, something got significantly worse, or
    nothing improved that is not confounded. Such a round's adapter is not recommended (except
    round 1 when it merely did not help).
    """
    from .compare.compare import compare_runs
    from .run.models import load_model
    from .run.runner import run_suite
    from .run.suites import Suite, load_suite
    from .suggest.suggest import suggest

    if rounds < 1:
        raise ConfigError("--rounds must be at least 1")
    suite = suite if isinstance(suite, Suite) else load_suite(suite)
    spec, registered = resolve_base(store, base)
    # the same loop (base, suite, options) gets the same directory: a rerun finds its rounds
    loop_key = hashlib.sha256(json.dumps(
        ["loop", spec, getattr(suite, "fingerprint", None), trainer, train_config, per_failure,
         max_examples], sort_keys=True, default=str).encode()).hexdigest()
    out_root = (Path(out_dir) if out_dir is not None
                else Path("adapters") / f"loop-{loop_key[:10]}")

    if base_run is None:
        say(f"running {suite.name} on the base model")
        loaded = load_model(spec, name=registered or base_name)
        base_run = run_suite(store, loaded, suite, batch_size=batch_size, progress=progress).run_id
        del loaded
    else:
        base_run = store.resolve_run(base_run)

    done: list[Round] = []
    set_ids: list[str] = []
    final: Round | None = None
    previous_run = base_run
    stopped = f"ran {rounds} round(s)"
    for k in range(1, rounds + 1):
        sset = (_drawn_set(store, previous_run, per_failure, max_examples)
                or suggest(store, previous_run, per_failure=per_failure, max_examples=max_examples))
        n_new = len(sset.rows)
        say(f"round {k}: {n_new} suggestion(s) in set {sset.set_id}")
        if n_new == 0 and not set_ids:
            stopped = "nothing to suggest: no failures with similar training examples"
            break
        if n_new == 0:
            stopped = f"round {k}: nothing new to suggest"
            break
        set_ids.append(sset.set_id)
        outcome = train_adapter(
            store, spec, list(set_ids), out_dir=out_root / f"round-{k}", trainer=trainer,
            config=train_config, name=f"{registered or base_name}-{trainer}-round{k}",
            base_name=registered or base_name,
            on_step=on_step, say=say,
        )
        if not outcome.model_id:  # a non-main process under `accelerate launch`
            continue
        say(f"round {k}: running {suite.name} on {outcome.model_name}")
        tuned = load_model(str(outcome.adapter_dir), name=outcome.model_name)
        run_id = run_suite(store, tuned, suite, batch_size=batch_size, progress=progress).run_id
        del tuned
        rnd = Round(k, sset.set_id, n_new, outcome, run_id,
                    vs_base=compare_runs(store, base_run, run_id),
                    vs_previous=compare_runs(store, previous_run, run_id))
        done.append(rnd)
        decision = round_decision(rnd.vs_previous, k, alpha)
        if decision.keep:
            final = rnd
            previous_run = run_id
        if decision.stop:
            stopped = decision.stop
            break
    return LoopResult(base_run, done, final, stopped, alpha)
