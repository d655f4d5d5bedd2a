"""Benchmark suites through lm-eval, stored and checked like custom suites.

A suite names lm-eval tasks (registered names, task YAML files or directories) in its ``lm_eval``
section, or on the command line as ``lm-eval:TASK[,TASK...]``. The model workbench loaded is handed
to lm-eval wrapped in its ``HFLM`` (never loaded twice); lm-eval's other backends (``vllm``,
``local-completions``...) are reachable by name with a ``model_args`` string. Every sample lm-eval
logs becomes an item and an output in the store, generated text goes through the checks, and the
task-level metrics (with stderr) land on the run.

lm_eval, torch and transformers are imported inside functions so the CLI starts instantly.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import ConfigError, WorkbenchError
from ..store import Store
from ..store.findings import count_by_category, finding_rows
from ..store.lmeval import add_lmeval_results
from . import lmeval_records as rec
from . import lmeval_tasks
from .suites import LmEvalSpec, Suite, SuiteSpec

if TYPE_CHECKING:
    from ..check.checks import Finding

PREFIX = "lm-eval:"
# lm-eval's own defaults, so numbers match `lm_eval` run with the same settings
DEFAULT_BOOTSTRAP_ITERS = 100000
SEEDS = {
    "random_seed": 0,
    "numpy_random_seed": 1234,
    "torch_random_seed": 1234,
    "fewshot_random_seed": 1234,
}


class LmEvalBackendError(WorkbenchError):
    """An lm-eval backend named with --backend is unknown or not installed."""


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


# -- suites ------------------------------------------------------------------------------------
def lmeval_suite(
    tasks: list[str] | str,
    include_path: list[str] | str | None = None,
    *,
    limit: int | None = None,
    num_fewshot: int | None = None,
    name: str | None = None,
) -> Suite:
    """A Suite that runs lm-eval tasks (names, task YAML files or dirs; paths relative to cwd)."""
    if isinstance(tasks, str):
        tasks = [t.strip() for t in tasks.split(",") if t.strip()]
    if not tasks:
        raise ConfigError("no lm-eval task named (expected lm-eval:TASK[,TASK...])")
    inc = [include_path] if isinstance(include_path, str) else list(include_path or [])
    here = Path.cwd()
    # paths are made absolute now, so the suite means the same thing from any directory
    tasks = [str((here / t).resolve()) if lmeval_tasks.is_task_path(t) else t for t in tasks]
    inc = [str((here / p).resolve()) for p in inc]
    spec = SuiteSpec(
        name=name or PREFIX + ",".join(Path(t).stem if "/" in t else t for t in tasks),
        lm_eval=LmEvalSpec(tasks=tasks, include_path=inc, limit=limit, num_fewshot=num_fewshot),
    )
    fp = hashlib.sha256(json.dumps(spec.model_dump(), sort_keys=True).encode()).hexdigest()
    return Suite(spec=spec, items=[], path=None, source="lm-eval", fingerprint=fp)


def suite_from_tasks(tasks: str, include_path: list[str] | None = None) -> Suite:
    """The suite for ``TASK[,TASK...]`` (what follows ``lm-eval:`` on the command line)."""
    return lmeval_suite(tasks, include_path)


def parse_suite_ref(ref: str, include_path: list[str] | None = None) -> Suite | None:
    """``lm-eval:TASK[,TASK...]`` -> a Suite; anything else -> None (a suite file)."""
    if not ref.startswith(PREFIX):
        return None
    return lmeval_suite(ref[len(PREFIX) :], include_path)


def lmeval_problems(suite: Suite) -> list[str]:
    """What `workbench suites validate` reports for an lm-eval suite (no dataset is read)."""
    spec = suite.spec.lm_eval
    if spec is None:
        return []
    base = suite.path.parent if suite.path is not None else Path.cwd()
    where = str(suite.path) if suite.path is not None else suite.name
    return lmeval_tasks.suite_problems(spec.tasks, spec.include_path, base, where)


# -- models ------------------------------------------------------------------------------------
def hf_lm(loaded: Any, batch_size: int | str = 8, max_length: int | None = None) -> Any:
    """lm-eval's HFLM around an already-loaded model and tokenizer (no second load)."""
    from lm_eval.models.huggingface import HFLM

    # HFLM warns that a model object (not a name) was passed: that is the point here
    hf_log = logging.getLogger("lm_eval.models.huggingface")

    model = loaded.model
    # lm-eval sizes its context window from the config; a model without one gets 2048
    kw: dict[str, Any] = {"max_length": max_length} if max_length else {}
    level = hf_log.level
    hf_log.setLevel(logging.ERROR)
    try:
        return HFLM(
            pretrained=model,
            tokenizer=loaded.tokenizer,
            batch_size=batch_size,
            device=str(getattr(model, "device", "cpu")),
            **kw,
        )
    finally:
        hf_log.setLevel(level)


def backend_lm(
    backend: str,
    model_args: str | dict[str, Any] | None,
    batch_size: int | str = 8,
    device: str | None = None,
) -> Any:
    """One of lm-eval's own model backends, by its registered name (vllm, local-completions...)."""
    import lm_eval.api.registry as registry

    try:
        cls = registry.get_model(backend)
    except (KeyError, ValueError, AttributeError) as exc:
        raise LmEvalBackendError(f"unknown lm-eval backend {backend!r}: {exc}") from None
    except ImportError as exc:
        raise LmEvalBackendError(
            f"lm-eval backend {backend!r} is not installed ({exc}); install its extra, e.g. "
            f"pip install 'lm-eval[{backend.split('-')[0]}]'"
        ) from None
    extra = {"batch_size": batch_size, "device": device}
    try:
        if isinstance(model_args, dict):
            return cls.create_from_arg_obj(model_args, extra)
        return cls.create_from_arg_string(model_args or "", extra)
    except ImportError as exc:
        raise LmEvalBackendError(
            f"lm-eval backend {backend!r} needs a package that is missing: {exc}"
        ) from None


def backend_model_id(backend: str, model_args: str | dict[str, Any] | None) -> str:
    """A stable id for a model served by an lm-eval backend (no weights to hash)."""
    args = model_args if isinstance(model_args, str) else json.dumps(model_args, sort_keys=True)
    return "lm-eval-" + hashlib.sha256(f"{backend}\0{args or ''}".encode()).hexdigest()[:32]


# -- running -----------------------------------------------------------------------------------
@dataclass
class PreparedTasks:
    """An lm-eval suite's tasks, found and built (their data read), ready to evaluate."""

    names: list[str]
    manager: Any
    built: list[Any]
    tasks: dict[str, Any]


def prepare_tasks(suite: Suite) -> PreparedTasks:
    """Find and build a suite's tasks: unknown names and unreadable data fail here, before any
    model is loaded."""
    names, dirs = suite_tasks(suite)
    tm = lmeval_tasks.task_manager(names, dirs)
    built = lmeval_tasks.load_tasks(tm, names)
    return PreparedTasks(names, tm, built, lmeval_tasks.leaf_tasks(built))


def suite_tasks(suite: Suite) -> tuple[list[str], list[Path]]:
    """The task names and include directories of an lm-eval suite."""
    spec = suite.spec.lm_eval
    if spec is None:
        raise ConfigError(f"suite {suite.name!r} names no lm-eval tasks")
    base = suite.path.parent if suite.path is not None else Path.cwd()
    return lmeval_tasks.resolve_specs(spec.tasks, spec.include_path, base)


def suite_fingerprint(
    suite: Suite, tasks: dict[str, Any], limit: int | None, num_fewshot: int | None
) -> str:
    """Identity of what an lm-eval suite evaluates: task configs, their documents, settings."""
    h = hashlib.sha256(b"lm-eval-suite\0")
    h.update(
        json.dumps(
            {
                "limit": limit,
                "num_fewshot": num_fewshot,
                "system": suite.spec.system,
                "chat": suite.spec.chat_template,
            },
            sort_keys=True,
        ).encode()
    )
    for name in sorted(tasks):
        task = tasks[name]
        cfg = task.dump_config() if hasattr(task, "dump_config") else {}
        cfg = {k: v for k, v in cfg.items() if k not in ("metadata", "dataset_kwargs")}
        h.update(f"\0{name}\0".encode() + rec.dumps(cfg).encode())
        try:
            docs = task.eval_docs
        except Exception:  # noqa: BLE001 - a task without eval docs: its config is the identity
            docs = []
        for doc in docs:
            h.update(rec.dumps(doc).encode())
    return h.hexdigest()


def evaluate(
    lm: Any,
    built: list[Any],
    tm: Any,
    *,
    limit: int | None = None,
    num_fewshot: int | None = None,
    bootstrap_iters: int = DEFAULT_BOOTSTRAP_ITERS,
    apply_chat_template: bool = False,
    system_instruction: str | None = None,
    use_cache: str | None = None,
) -> dict[str, Any]:
    """lm_eval.simple_evaluate with samples logged and lm-eval's default seeds."""
    import lm_eval

    with _lean_results():
        out = lm_eval.simple_evaluate(
            model=lm,
            tasks=built,
            task_manager=tm,
            limit=limit,
            num_fewshot=num_fewshot,
            bootstrap_iters=bootstrap_iters,
            log_samples=True,
            use_cache=use_cache,
            apply_chat_template=apply_chat_template,
            system_instruction=system_instruction,
            **SEEDS,
        )
    if out is None:  # only rank 0 gets results under a distributed launcher
        raise WorkbenchError("lm-eval returned no results (not rank 0 of a distributed run)")
    return out


@contextmanager
def _lean_results() -> Iterator[None]:
    """Skip what simple_evaluate adds only for its own JSON report.

    It asks git for the working directory's commit (printing git's complaint outside a repo) and
    collects torch's environment report (about a second, spawning nvidia-smi and friends).
    Neither reaches the store; the library versions are recorded on the run instead.
    """
    import lm_eval.evaluator as ev

    saved = {n: getattr(ev, n) for n in ("get_git_commit_hash", "add_env_info") if hasattr(ev, n)}
    noop = {"get_git_commit_hash": lambda: None, "add_env_info": lambda storage: None}
    for n in saved:
        setattr(ev, n, noop[n])
    try:
        yield
    finally:
        for n, fn in saved.items():
            setattr(ev, n, fn)


def task_metrics(results: dict[str, Any]) -> dict[str, float]:
    """lm-eval's task/group results -> flat run metrics: ``task/metric`` and ``.._stderr``."""
    metrics: dict[str, float] = {}
    for task, res in results.items():
        for key, v in res.items():
            if "," not in key:
                continue
            metric, _, flt = key.partition(",")
            v = rec.plain(v)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                continue  # "N/A" stderr of a metric lm-eval cannot bootstrap
            metrics[f"{task}/{rec.metric_key(metric, flt)}"] = float(v)
    return metrics


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
            loaded.name if loaded is not None else _model_arg_name(model_args) or backend
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
        store.upsert_model(
            model_id,
            name,
            spec=getattr(loaded, "spec", None),
            base=getattr(loaded, "base", None),
            adapter=getattr(loaded, "adapter", None),
            parent_id=getattr(loaded, "parent_fingerprint", None),
            kind=getattr(loaded, "kind", "full"),
            meta={k: getattr(loaded, k) for k in ("device", "dtype") if hasattr(loaded, k)} or None,
        )
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
        versions=_versions(),
    )
    computed = _count_computed(lm)
    try:
        with _tqdm(progress):
            out = evaluate(
                lm,
                built,
                tm,
                limit=limit,
                num_fewshot=num_fewshot,
                bootstrap_iters=bootstrap_iters,
                apply_chat_template=suite.spec.chat_template,
                system_instruction=suite.spec.system,
                use_cache=_cache_path(model_key, loaded) if cache and not use_backend else None,
            )
        stored = _store_results(
            store, suite, suite_id, fp, run_id, model_key, tokenizer, tasks, out, checks, computed
        )
    except BaseException as exc:
        store.finish_run(run_id, status="failed", error=f"{type(exc).__name__}: {exc}"[:500])
        raise
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
    base, adapter = _adapter_parts(spec)
    if model_args is not None:
        args = model_args
    elif adapter and backend == "vllm":  # lm-eval's vLLM backend applies the LoRA itself
        args = f"pretrained={base},lora_local_path={adapter}"
    else:
        args = f"pretrained={spec}"
    ident = SimpleNamespace(
        name=name,
        spec=spec,
        fingerprint=_local_fingerprint(spec, backend, args),
        base=base or spec,
        adapter=adapter,
        kind="adapter" if adapter else "full",
        tokenizer=None,
    )
    return run_lmeval_suite(
        store, ident, suite, backend=backend, model_args=args, model_name=name, **kwargs
    )


def _adapter_parts(spec: str) -> tuple[str | None, str | None]:
    """(base, adapter dir) when SPEC is a local PEFT adapter dir; (None, None) otherwise."""
    p = Path(spec).expanduser()
    conf = p / "adapter_config.json"
    if not conf.exists():
        return None, None
    try:
        base = json.loads(conf.read_text("utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError):
        base = None
    return (str(base) if base else None), str(p.resolve())


def _local_fingerprint(spec: str, backend: str, model_args: str) -> str:
    """The fingerprint workbench gives SPEC when it loads it, without loading the weights."""
    from ..errors import ModelLoadError
    from .models import adapter_fingerprint, model_fingerprint

    p = Path(spec).expanduser()
    try:
        if (p / "config.json").exists():
            return model_fingerprint(p.resolve())
        base, adapter = _adapter_parts(spec)
        if adapter and base and (Path(base).expanduser() / "config.json").exists():
            base_fp = model_fingerprint(Path(base).expanduser().resolve())
            return adapter_fingerprint(Path(adapter), base_fp)
    except ModelLoadError:
        pass
    return backend_model_id(backend, model_args)


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
    from ..check.checks import run_checks

    records = [
        rec.check_record(run_id, r, o["finish_reason"])
        for r, o in zip(rows, outputs, strict=True)
        if r.output_type == "generate_until"
    ]
    if not records:
        return []
    if checks is None:
        from ..plugins import get_plugins

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


@contextmanager
def _tqdm(show: bool) -> Iterator[None]:
    """lm-eval draws tqdm bars on stderr; ``show=False`` (e.g. --json) turns them off."""
    import os

    if show:
        yield
        return
    before = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = before


def _empty_items() -> pd.DataFrame:
    return pd.DataFrame(columns=["item_id", "prompt", "reference", "tags", "split", "meta"])


def _cache_path(model_key: str, loaded: Any) -> str:
    """lm-eval's request cache for this model: a rerun answers from it, a killed run resumes.

    Keyed by the weights' fingerprint and by dtype and device, which change the numbers too.
    """
    import os

    home = Path(os.environ.get("WORKBENCH_HOME") or Path.home() / ".cache" / "workbench")
    ident = f"{model_key}\0{getattr(loaded, 'dtype', '')}\0{getattr(loaded, 'device', '')}"
    key = hashlib.sha256(ident.encode()).hexdigest()[:20]
    return str(home / "lm-eval-cache" / key)


def _model_arg_name(model_args: str | dict[str, Any] | None) -> str | None:
    if isinstance(model_args, dict):
        v = model_args.get("pretrained") or model_args.get("model")
        return str(v) if v else None
    for part in (model_args or "").split(","):
        k, _, v = part.partition("=")
        if k.strip() in ("pretrained", "model") and v.strip():
            return v.strip().rstrip("/").split("/")[-1]
    return None


def _versions() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("lm_eval", "transformers", "torch", "datasets"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out
