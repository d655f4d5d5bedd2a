"""An lm-eval suite run on a model: evaluated, every logged sample stored as an item and an
output, generated text checked, the task-level metrics (with stderr) recorded on the run."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pandas as pd

from ...errors import ConfigError
from ...store import Store
from ...store.findings import count_by_category, finding_rows
from ...store.lmeval import add_lmeval_results
from ..recording import failing_marks, register_model
from ..suites import Suite
from . import records as rec
from .evaluate import (
    DEFAULT_BOOTSTRAP_ITERS,
    SEEDS,
    PreparedTasks,
    evaluate,
    library_versions,
    prepare_tasks,
    suite_fingerprint,
    task_metrics,
    tqdm_bars,
)
from .models import (
    adapter_parts,
    backend_lm,
    backend_model_id,
    cache_path,
    hf_lm,
    local_fingerprint,
    model_arg_name,
)

if TYPE_CHECKING:
    from ...check.checks import Finding


@dataclass
class LmEvalRun:
    """What an lm-eval suite run produced."""

    run_id: str
    suite_id: str
    model_id: str
    metrics: dict[str, float]
    n_outputs: int
    n_findings: int
    tasks: list[str]
    results: dict[str, Any] = field(default_factory=dict)  # lm-eval's own "results" section
    resumed: bool = False
    model_name: str = ""
    suite_name: str = ""
    n_generated: int = 0
    n_cached: int = 0  # documents answered wholly from lm-eval's request cache
    findings: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def summary(self) -> dict[str, Any]:
        """The same summary keys as a custom suite's run (``runner.RunResult.summary``)."""
        return {
            "run_id": self.run_id,
            "resumed": self.resumed,
            "model": self.model_name,
            "model_id": self.model_id,
            "suite": self.suite_name,
            "suite_id": self.suite_id,
            "split": "eval",
            "source": "lm-eval",
            "tasks": self.tasks,
            "items": self.n_outputs,
            "n_outputs": self.n_outputs,
            "generated": self.n_generated,
            "cached": self.n_cached,
            "metrics": self.metrics,
            "findings": self.findings,
        }


def run_lmeval_suite(
    store: Store,
    loaded: Any,
    suite: Suite,
    *,
    limit: int | None = None,
    num_fewshot: int | None = None,
    backend: str | None = None,
    model_args: str | dict[str, Any] | None = None,
    model_name: str | None = None,
    batch_size: int | str = 8,
    bootstrap_iters: int = DEFAULT_BOOTSTRAP_ITERS,
    checks: list[Any] | None = None,
    cache: bool = True,
    lm: Any = None,
    split: str = "eval",
    progress: bool = True,
    prepared: PreparedTasks | None = None,
) -> LmEvalRun:
    """Run an lm-eval suite on a loaded model (or an lm-eval backend) and store everything.

    ``loaded`` is a LoadedModel (its model and tokenizer are wrapped, not reloaded); with
    ``backend`` (any lm-eval model name but "hf") lm-eval builds the model from ``model_args``
    and ``loaded`` may be None. ``limit``/``num_fewshot`` override the suite's. ``checks``
    defaults to the suite's selection from the plugin registry. ``lm`` injects a ready lm-eval LM.
    """
    if split != "eval":
        raise ConfigError(f"an lm-eval suite has only the eval split (asked for {split!r})")
    spec = suite.spec.lm_eval
    limit = limit if limit is not None else (spec.limit if spec else None)
    num_fewshot = num_fewshot if num_fewshot is not None else (spec.num_fewshot if spec else None)
    prepared = prepared or prepare_tasks(suite)
    tm, built, tasks = prepared.manager, prepared.built, prepared.tasks

    use_backend = backend not in (None, "", "hf", "hf-auto", "huggingface")
    tokenizer = None
    if use_backend:
        assert backend is not None
        model_id = (
            loaded.fingerprint if loaded is not None else backend_model_id(backend, model_args)
        )
        name = model_name or (
            loaded.name if loaded is not None else model_arg_name(model_args) or backend
        )
        model_key = f"{backend}\0{model_id}"
    else:
        if loaded is None and lm is None:
            raise ConfigError("an lm-eval suite needs a loaded model or --backend")
        model_id = loaded.fingerprint if loaded is not None else "lm-" + type(lm).__name__
        name = model_name or (loaded.name if loaded is not None else type(lm).__name__)
        tokenizer = getattr(loaded, "tokenizer", None)
        model_key = model_id

    fp = suite_fingerprint(suite, tasks, limit, num_fewshot)
    suite_id = f"{suite.name}@{fp[:12]}"
    gen_config = {
        "backend": backend or "hf",
        "model_args": model_args,
        "limit": limit,
        "num_fewshot": num_fewshot,
        "bootstrap_iters": bootstrap_iters,
        "apply_chat_template": suite.spec.chat_template,
        "system_instruction": suite.spec.system,
        "tasks": sorted(tasks),
    }
    config_key = hashlib.sha256(
        f"{model_key}\0{suite_id}\0{rec.dumps(gen_config)}".encode()
    ).hexdigest()

    if lm is None:  # built before the run is recorded: a bad backend leaves no failed run
        lm = (
            backend_lm(backend, model_args, batch_size)
            if use_backend  # type: ignore[arg-type]
            else hf_lm(loaded, batch_size)
        )
    if loaded is not None:
        register_model(store, loaded, model_id, name)
    else:
        store.upsert_model(
            model_id,
            name,
            spec=f"{backend}:{model_args or ''}",
            kind="full",
            meta={"backend": backend, "model_args": model_args},
        )
    run_id, resumed = store.start_run(
        model_id=model_id,
        model_name=name,
        suite_id=suite_id,
        config_key=config_key,
        gen_config=gen_config,
        seed=SEEDS["random_seed"],
        versions=library_versions(),
    )
    computed = _count_computed(lm)
    with failing_marks(store, run_id, max_error=500):
        with tqdm_bars(progress):
            out = evaluate(
                lm,
                built,
                tm,
                limit=limit,
                num_fewshot=num_fewshot,
                bootstrap_iters=bootstrap_iters,
                apply_chat_template=suite.spec.chat_template,
                system_instruction=suite.spec.system,
                use_cache=cache_path(model_key, loaded) if cache and not use_backend else None,
            )
        stored = _store_results(
            store, suite, suite_id, fp, run_id, model_key, tokenizer, tasks, out, checks, computed
        )
    metrics = task_metrics(out["results"])
    store.finish_run(run_id, metrics)
    return LmEvalRun(
        run_id=run_id,
        suite_id=suite_id,
        model_id=model_id,
        metrics=metrics,
        tasks=sorted(tasks),
        results=rec.plain(out["results"]),
        resumed=resumed,
        model_name=name,
        suite_name=suite.name,
        **stored,
    )


def run_lmeval_spec(
    store: Store,
    suite: Suite,
    name: str,
    spec: str,
    *,
    load: Callable[[], Any],
    backend: str | None = None,
    model_args: str | None = None,
    **kwargs: Any,
) -> LmEvalRun:
    """`workbench run` for an lm-eval suite: load the checkpoint, or hand it to a backend.

    With an lm-eval ``backend`` (vllm, local-completions...) the checkpoint is not loaded here:
    ``model_args`` defaults to ``pretrained=SPEC`` and a local checkpoint keeps the id (its
    fingerprint) it has when workbench loads it, so runs on either path compare.
    """
    kwargs["prepared"] = kwargs.get("prepared") or prepare_tasks(suite)
    if backend in (None, "", "hf", "hf-auto", "huggingface"):
        return run_lmeval_suite(store, load(), suite, model_name=name, **kwargs)
    base, adapter = adapter_parts(spec)
    if model_args is not None:
        args = model_args
    elif adapter and backend == "vllm":  # lm-eval's vLLM backend applies the LoRA itself
        args = f"pretrained={base},lora_local_path={adapter}"
    else:
        args = f"pretrained={spec}"
    ident = SimpleNamespace(
        name=name,
        spec=spec,
        fingerprint=local_fingerprint(spec, backend, args),
        base=base or spec,
        adapter=adapter,
        kind="adapter" if adapter else "full",
        tokenizer=None,
    )
    return run_lmeval_suite(
        store, ident, suite, backend=backend, model_args=args, model_name=name, **kwargs
    )


def _store_results(
    store: Store,
    suite: Suite,
    suite_id: str,
    fp: str,
    run_id: str,
    model_key: str,
    tokenizer: Any,
    tasks: dict[str, Any],
    out: dict[str, Any],
    checks: list[Any] | None,
    computed: set[tuple[str, int]],
) -> dict[str, Any]:
    """Store the items, outputs, lm-eval's sample records and findings of one evaluation."""
    rows: list[rec.SampleRow] = []
    for task_name, samples in (out.get("samples") or {}).items():
        rows += rec.merge_samples(task_name, tasks.get(task_name), samples)
    items = pd.DataFrame([rec.item_row(suite_id, r) for r in rows])
    config = {
        "lm_eval": suite.spec.lm_eval.model_dump() if suite.spec.lm_eval else None,
        "configs": rec.plain(out.get("configs", {})),
        "versions": rec.plain(out.get("versions", {})),
        "n-shot": rec.plain(out.get("n-shot", {})),
    }
    store.upsert_suite(
        suite_id,
        suite.name,
        "lm-eval",
        str(suite.path) if suite.path is not None else None,
        fp,
        config,
        items if len(items) else _empty_items(),
    )
    outputs = [rec.output_row(run_id, r, model_key, tokenizer) for r in rows]
    samples_df = pd.DataFrame([rec.sample_row(run_id, r) for r in rows])
    findings = _check(run_id, suite, rows, outputs, checks)
    add_lmeval_results(store, pd.DataFrame(outputs), samples_df, finding_rows(run_id, findings))
    by_cat = count_by_category(findings)
    return {
        "n_outputs": len(outputs),
        "n_findings": len(findings),
        "n_generated": sum(r.output_type == "generate_until" for r in rows),
        "n_cached": sum((r.task, r.doc_id) not in computed for r in rows),
        "findings": by_cat,
    }


def _check(
    run_id: str,
    suite: Suite,
    rows: list[rec.SampleRow],
    outputs: list[dict[str, Any]],
    checks: list[Any] | None,
) -> list[Finding]:
    """Run the checks over generated text (choices and loglikelihoods are not model text)."""
    from ...check.runner import run_checks

    records = [
        rec.check_record(run_id, r, o["finish_reason"])
        for r, o in zip(rows, outputs, strict=True)
        if r.output_type == "generate_until"
    ]
    if not records:
        return []
    if checks is None:
        from ...plugins import get_plugins

        checks = get_plugins().make_checks(suite.check_selection())
    report = run_checks(records, checks)
    return report.findings


def _count_computed(lm: Any) -> set[tuple[str, int]]:
    """Record which documents' requests reach the model (the rest came from the cache).

    lm-eval's cache wrapper calls the model's request methods with only the requests it could not
    answer; the instance attributes set here see exactly those.
    """
    seen: set[tuple[str, int]] = set()
    for attr in ("generate_until", "loglikelihood", "loglikelihood_rolling"):
        method = getattr(lm, attr, None)
        if method is None:
            continue

        def counted(requests: list[Any], *a: Any, _m: Callable = method, **k: Any) -> Any:
            seen.update((r.task_name, r.doc_id) for r in requests)
            return _m(requests, *a, **k)

        setattr(lm, attr, counted)
    return seen


def _empty_items() -> pd.DataFrame:
    return pd.DataFrame(columns=["item_id", "prompt", "reference", "tags", "split", "meta"])
