"""Closing the loop: run, check, suggest, train, rerun, compare (`workbench loop`).

``run_loop`` is the circle; each arc lives in its package (``workbench.run``, ``workbench.check``,
``workbench.suggest``, ``workbench.train``, ``workbench.compare``). Every round trains a fresh
adapter FROM THE BASE on the suggestions accumulated so far (round k adds the failures of round
k-1's model), rather than stacking adapters: each result is one standard PEFT adapter on the
base, and an error the model relearns in round k is still covered by round 1's examples."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .store import Store
from .train.trainers import StepCallback
from .train.training import Say, TrainingOutcome, quiet, resolve_base


@dataclass
class Round:
    """One round: suggestions from the previous model's failures, a training, a rerun, comparisons."""

    round: int
    set_id: str
    suggestions: int
    training: TrainingOutcome
    run_id: str
    vs_base: Any  # workbench.compare.comparison.Comparison: base run -> this round's run
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
    batch_size: int | None = None,
    alpha: float = 0.05,
    per_failure: int = 3,
    max_examples: int | None = None,
    progress: bool = True,
    base_run: str | None = None,
    on_step: StepCallback | None = None,
    say: Say = quiet,
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
    from .train.training import train_adapter

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
