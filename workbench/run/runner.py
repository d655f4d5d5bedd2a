"""Run a suite on a loaded model: generate (or reuse cached outputs), check, score, store.

A run is identified by ``config_key`` = hash(model fingerprint, suite fingerprint, generation
config, split, checks with their versions and options): starting the same run again resumes the
unfinished one, skipping the items it already stored, and a finished one is simply reported again
(nothing is generated, checked or written; ``new_run=True`` records a new run anyway). Each
output has a ``cache_key`` = hash(model fingerprint, rendered prompt,
generation config): an output stored by any earlier run under the same key is copied (marked
``cached``) instead of being generated again. Each batch of outputs is written with its findings
in one short transaction, so a killed run loses at most the batch in flight.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..check.checks import Check
from ..check.metrics import aggregate, check_metric_names
from ..errors import ConfigError, SuiteError
from ..store import Store, from_json, output_id  # noqa: F401 - output_id: re-exported
from .generation import GenOutput, Prompt, generate
from .prompts import prompt_for
from .recording import failing_marks, register_model
from .run_identity import (  # noqa: F401 - cache_key, checks_key, config_key: re-exported
    cache_key,
    checks_key,
    config_key,
    identity,
    sample_keys,
)
from .run_writer import BatchWriter, items_frame
from .suite_schema import Item
from .suites import Suite

_Writer = BatchWriter

CACHED_CHUNK = 256  # cached outputs copied per transaction


@dataclass
class RunResult:
    """What ``run_suite`` did: the run id, whether it resumed a run, and a summary dict."""

    run_id: str
    resumed: bool
    summary: dict[str, Any] = field(default_factory=dict)


def finished_run(store: Store, key: str, suite: Suite, split: str = "eval") -> RunResult | None:
    """The finished run with identity ``key`` (see ``identity``), if one holds every item's
    output with no check error: running it again would store the same thing. Its summary is the
    one ``run_suite`` gives, marked ``reused``."""
    if split not in ("eval", "train") or not store.path_exists():
        return None
    prior = store.finished_run(key)
    if prior is None:
        return None
    metrics = dict(prior["metrics"] or {})
    n_items = len(suite.split(split))
    if prior["n_outputs"] != n_items or metrics.get("check_errors"):
        return None
    # the error findings it holds, stored ones included: a run killed after a batch whose check
    # raised, then resumed, finishes without those errors in its own count (check_errors)
    if any(isinstance(v, dict) and v.get("errors") for v in prior["findings"].values()):
        return None
    metrics.pop("tokens_out", None)
    n_outputs = metrics.pop("n_outputs", prior["n_outputs"])
    for k in ("findings", "category_counts"):  # counts runs of earlier versions stored here
        metrics.pop(k, None)
    summary = {
        "status": "finished", "reused": True, "items": n_items, "generated": 0, "cached": 0,
        "skipped": n_items, "metrics": metrics, "findings": prior["findings"],
        "n_outputs": n_outputs, "tokens_out_generated": 0,
        "generation_s": 0.0, "items_per_s": None, "run_id": prior["run_id"], "resumed": False,
        "model": prior["model_name"], "model_id": prior["model_id"], "suite": suite.name,
        "suite_id": suite.suite_id, "split": split,
    }
    return RunResult(run_id=prior["run_id"], resumed=False, summary=summary)


def select_checks(suite: Suite, names: Sequence[str] | None = None,
                  plugins: Any = None) -> list[Check]:
    """Check instances: the suite's ``checks:`` selection, or ``names`` (with the suite's options
    for those it configures). An unknown name raises PluginError."""
    from ..plugins import get_plugins

    plugins = plugins or get_plugins()
    selection = suite.check_selection()
    if names is None:
        return plugins.make_checks(selection)
    opts = selection or {}
    return plugins.make_checks({n: opts.get(n, {}) for n in names})


def library_versions(loaded: Any = None) -> dict[str, str]:
    """The versions a run records: the libraries, and where generation ran (``backend``: hf,
    openai, vllm) with the engine's version when it is not this process's own."""
    import importlib.metadata as md

    out = {}
    for pkg in ("workbench", "torch", "transformers", "peft"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    if loaded is not None:
        out["backend"] = loaded.backend
        if loaded.meta.get("engine_version"):
            out["engine_version"] = str(loaded.meta["engine_version"])
    return out


def units(items: Sequence[Item], todo: Sequence[int]) -> list[list[int]]:
    """The items to write together, as indices: each paraphrase group whole (a group check
    compares its answers), every other item alone."""
    groups: dict[str, list[int]] = {}
    out: list[list[int]] = []
    for k in todo:
        g = items[k].group
        if g is None:
            out.append([k])
        elif g in groups:
            groups[g].append(k)
        else:
            groups[g] = [k]
            out.append(groups[g])
    return out


def _progress_bar(total: int, label: str):
    from ..progress import progress

    bar = progress()
    task = bar.add_task(label, total=total, rate="")
    return bar, task


def run_suite(
    store: Store,
    loaded: Any,
    suite: Suite,
    *,
    batch_size: int | None = None,
    checks: Sequence[Check] | None = None,
    split: str = "eval",
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    new_run: bool = False,
) -> RunResult:
    """Run ``suite`` (its ``split`` items) on ``loaded`` and store everything.

    ``checks=None`` runs the suite's ``checks:`` selection (every registered check when it has
    none); pass ``[]`` for no checks. ``on_progress(done, total)`` is called after each batch.
    A finished run of the same model, suite, generation config and checks is returned as it is
    (``summary["reused"]``) unless ``new_run``: then a new run is recorded, its outputs copied
    from the cache and checked again. ``batch_size=None`` chooses it from the free memory
    (``workbench.run.batch_size``); the summary says which.
    """
    if suite.source == "lm-eval":
        from .lmeval import run_lmeval_suite  # type: ignore[import-not-found]

        return run_lmeval_suite(store, loaded, suite, batch_size=batch_size or 8, checks=checks,
                                split=split, progress=progress)
    if split not in ("eval", "train"):
        raise ConfigError(f"unknown split {split!r} (eval or train)")
    items = suite.split(split)
    if not items:
        raise SuiteError(f"suite {suite.name!r} has no items in split {split!r}")
    metric_names = check_metric_names(suite.spec.metrics)
    check_list = select_checks(suite) if checks is None else list(checks)
    fp = loaded.fingerprint
    key = identity(fp, getattr(loaded, "dtype", None), suite, split, check_list)
    if not new_run and (done := finished_run(store, key, suite, split)) is not None:
        done.summary["model"] = loaded.name  # this call's name for the model
        return done
    # render every prompt before anything is written: a template/chat problem fails cleanly
    prompts, rendered = zip(*(prompt_for(suite, it, loaded.tokenizer) for it in items),
                            strict=True)
    gen = suite.generation.model_dump()
    keys = [sample_keys(fp, r, suite, getattr(loaded, "dtype", None), it)
            for r, it in zip(rendered, items, strict=True)]

    # One connection for the bookkeeping: opening and closing the database file costs tens of
    # milliseconds each time, and a rerun of an unchanged suite is little but bookkeeping.
    with store.connect(write=True):
        register_model(store, loaded)
        store.upsert_suite(suite.suite_id, suite.name, suite.source,
                           str(suite.path) if suite.path else None, suite.fingerprint,
                           suite.spec.model_dump(mode="json"), items_frame(suite.items))
        run_id, resumed = store.start_run(
            model_id=fp, model_name=loaded.name, suite_id=suite.suite_id,
            config_key=key, gen_config=gen,
            seed=suite.generation.seed, versions=library_versions(loaded))
    chosen = None
    if batch_size is None:
        batch_size, chosen = _auto_batch_size(loaded, items, list(rendered), suite)
        if progress:
            sys.stderr.write(f"batch size {chosen}\n")
    with failing_marks(store, run_id):
        summary = _execute(store, run_id, loaded, items, list(prompts), list(rendered), keys,
                           check_list, metric_names, suite, batch_size, progress, on_progress)
    summary.update(run_id=run_id, resumed=resumed, reused=False, model=loaded.name, model_id=fp,
                   suite=suite.name, suite_id=suite.suite_id, split=split, batch_size=batch_size)
    if chosen is not None:
        summary["batch_size_chosen"] = chosen
    return RunResult(run_id=run_id, resumed=resumed, summary=summary)


def _auto_batch_size(loaded: Any, items: Sequence[Item], rendered: list[str],
                     suite: Suite) -> tuple[int, str]:
    """The batch size for ``loaded`` on these prompts, from the free memory, and why."""
    from .batch_size import choose_batch_size

    lengths = [len(r) for r in rendered]
    tok = getattr(loaded, "tokenizer", None)
    if getattr(loaded, "backend", "hf") == "hf" and callable(tok):
        # only the longest prompts bound the batch: tokenize the few longest in characters,
        # not every prompt (generate encodes them all once anyway)
        longest = sorted(rendered, key=len, reverse=True)[:16]
        lengths = [len(ids) for ids in tok(longest, add_special_tokens=False)["input_ids"]]
        lengths += [0] * (len(rendered) - len(longest))
    longest_answer = max(it.generation(suite.generation).max_new_tokens for it in items)
    return choose_batch_size(loaded, lengths, longest_answer)


def _execute(store: Store, run_id: str, loaded: Any, items: list[Item], prompts: list[Prompt],
             rendered: list[str], keys: list[list[str]], checks: list[Check],
             metric_names: list[str], suite: Suite, batch_size: int, progress: bool,
             on_progress: Callable[[int, int], None] | None) -> dict[str, Any]:
    gen_cfg = suite.generation
    n_samples = gen_cfg.samples
    writer = _Writer(store, run_id, checks, metric_names, gen_cfg)
    with store.connect():  # both lookups on one connection (see run_suite)
        done = store.done_item_ids(run_id)
        todo = [k for k, it in enumerate(items) if it.id not in done]
        hits = store.cached_outputs([key for k in todo for key in keys[k]])
    total, finished = len(todo), 0

    # every answer some earlier run stored under the same cache key is reused
    by_key = {row.cache_key: row for row in hits.itertuples()} if len(hits) else {}
    answers: dict[int, list[GenOutput | None]] = {}
    for k in todo:
        answers[k] = [None] * n_samples
        for s_, key in enumerate(keys[k]):
            if (r := by_key.get(key)) is not None:
                answers[k][s_] = GenOutput(
                    text=r.text, tokens_in=int(r.tokens_in), tokens_out=int(r.tokens_out),
                    finish_reason=r.finish_reason, latency_s=float(r.latency_s))
    from_cache = {k: [a is not None for a in answers[k]] for k in todo}
    plan = units(items, todo)

    def write(batch: list[list[int]]) -> None:
        nonlocal finished
        ks = [k for u in batch for k in u]
        if not ks:
            return
        writer.write([items[k] for k in ks], [rendered[k] for k in ks], [keys[k] for k in ks],
                     [answers[k] for k in ks], [from_cache[k] for k in ks])  # type: ignore[misc]
        finished += len(ks)
        if on_progress:
            on_progress(finished, total)

    # 1. whole units found in the cache: copy them
    complete = [u for u in plan if all(all(from_cache[k]) for k in u)]
    chunk: list[list[int]] = []
    for u in complete:
        chunk.append(u)
        if sum(map(len, chunk)) >= CACHED_CHUNK:
            write(chunk)
            chunk = []
    write(chunk)
    copied = finished

    # 2. generate the missing answers, writing units as they complete
    rest = [u for u in plan if not all(all(from_cache[k]) for k in u)]
    pairs = [(k, s_) for u in rest for k in u for s_ in range(n_samples) if answers[k][s_] is None]
    unit_of = {k: n for n, u in enumerate(rest) for k in u}
    missing = {n: sum(1 for k in u for a in answers[k] if a is None) for n, u in enumerate(rest)}
    ready: list[list[int]] = []
    bar = task = None
    n_rest = sum(map(len, rest))
    if progress and rest:
        bar, task = _progress_bar(n_rest, f"{loaded.name} × {suite.name}")
        bar.start()
    t0 = time.perf_counter()
    tokens = 0

    def on_batch(idx: list[int], outs: list[GenOutput]) -> None:
        nonlocal tokens, ready
        for i, o in zip(idx, outs, strict=True):
            k, s_ = pairs[i]
            answers[k][s_] = o
            tokens += o.tokens_out
            n = unit_of[k]
            missing[n] -= 1
            if missing[n] == 0:
                ready.append(rest[n])
        if sum(map(len, ready)) >= batch_size:
            batch, ready = ready, []
            write(batch)
            if bar is not None:
                rate = (finished - copied) / max(time.perf_counter() - t0, 1e-9)
                bar.update(task, completed=finished - copied, rate=f"{rate:.1f} items/s")

    try:
        # items with their own max_new_tokens are generated with their own config
        by_config: dict[int, list[int]] = {}
        for n, (k, _) in enumerate(pairs):
            by_config.setdefault(items[k].generation(gen_cfg).max_new_tokens, []).append(n)
        for mnt, subset in by_config.items():
            cfg = gen_cfg if mnt == gen_cfg.max_new_tokens else gen_cfg.model_copy(
                update={"max_new_tokens": mnt})
            generate(loaded, [prompts[pairs[n][0]] for n in subset], cfg, batch_size=batch_size,
                     on_batch=lambda idx, outs, subset=subset: on_batch(
                         [subset[i] for i in idx], outs),
                     samples=[pairs[n][1] for n in subset])
        write(ready)
    finally:
        if bar is not None:
            bar.update(task, completed=finished - copied)
            bar.stop()
    gen_s = time.perf_counter() - t0

    with store.connect(write=True):  # read back and finish on one connection (see run_suite)
        agg = _aggregate(store, run_id)
        metrics = {**agg["metrics"], "n_outputs": agg["n_outputs"],
                   "tokens_out": agg["tokens_out"]}
        if writer.check_errors and any(writer.check_errors.values()):
            metrics["check_errors"] = writer.check_errors
        store.finish_run(run_id, metrics)
    return {
        "status": "finished",
        "items": len(items),
        "generated": n_rest,
        "cached": copied,
        "skipped": len(items) - len(todo),
        **({"samples": n_samples, "samples_generated": len(pairs)} if n_samples > 1 else {}),
        "metrics": agg["metrics"],
        "findings": agg["findings"],
        "n_outputs": agg["n_outputs"],
        "tokens_out_generated": tokens,
        "generation_s": round(gen_s, 3),
        "items_per_s": round(n_rest / gen_s, 2) if n_rest and gen_s > 0 else None,
    }


def _aggregate(store: Store, run_id: str) -> dict[str, Any]:
    outs = store.run_outputs(run_id)
    per = [from_json(m) for m in outs["metrics"]] if len(outs) else []
    return {
        "metrics": aggregate(per),
        "findings": store.category_counts(run_id),
        "n_outputs": len(outs),
        "tokens_out": int(outs["tokens_out"].fillna(0).sum()) if len(outs) else 0,
    }
