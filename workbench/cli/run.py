"""`workbench run`: run suites on checkpoints, store the outputs, checks and metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ConfigError
from ..run.precision import REDUCED, precision_cost
from .common import (
    DbOption,
    JsonOption,
    PluginsDirOption,
    cell,
    console,
    err_console,
    esc,
    metric_text,
    open_store,
    print_json,
)

ModelOption = Annotated[
    list[str],
    typer.Option("--model", "-m", help="NAME=SPEC: a model dir, hub id, PEFT adapter dir, "
                 "BASE+ADAPTER, GGUF file, or openai:MODEL@URL (a model served by vLLM, SGLang "
                 "or any OpenAI-compatible server). Repeat for several models.",
                 show_default=False),
]


def _findings_text(findings: dict[str, Any]) -> str:
    if not findings:
        return "-"
    parts = []
    for cat, v in sorted(findings.items()):
        flagged = v["flagged"] if isinstance(v, dict) else v
        errs = v.get("errors", 0) if isinstance(v, dict) else 0
        parts.append(f"{esc(cat)} {flagged}" + (f" ({errs} err)" if errs else ""))
    return "\n".join(parts)


def run_cmd(
    model: ModelOption,
    suite: Annotated[str, typer.Option("--suite", "-s", help="Suite YAML file (or lm-eval:TASK).",
                                       show_default=False)],
    db: DbOption = None,
    batch_size: Annotated[int | None, typer.Option(
        "--batch-size", "-b", min=1, help="Sequences generated at once (requests in flight on a "
        "served model). Default: chosen from the free memory and the model's key/value cache "
        "(at most 32 on a CPU, 256 on a GPU; 16 requests on a server; lm-eval suites: 8).",
        show_default=False)] = None,
    split: Annotated[str, typer.Option("--split", help="Which items: eval or train.")] = "eval",
    checks: Annotated[str | None, typer.Option(
        "--checks", help="Comma-separated checks to run (default: the suite's selection).")] = None,
    no_checks: Annotated[bool, typer.Option("--no-checks", help="Run no checks.")] = False,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:N or mps.")] = "auto",
    dtype: Annotated[str, typer.Option(
        "--dtype", help="auto, float32, bfloat16, float16, or int8 (CPU: linear layers "
        "quantized after loading). A reduced precision is faster on some machines and changes "
        "some texts: see --precision-check.")] = "auto",
    precision_check: Annotated[int, typer.Option(
        "--precision-check", min=0, help="With a reduced --dtype on a greedy suite: generate "
        "the first N items again in float32 and report how many outputs differ (0: skip).")] = 8,
    no_merge: Annotated[bool, typer.Option(
        "--no-merge", help="Keep a LoRA adapter unmerged (slower, same outputs).")] = False,
    trust_remote_code: Annotated[bool, typer.Option(
        "--trust-remote-code", help="Allow a checkpoint's own Python code to run.")] = False,
    allow_pickle: Annotated[bool, typer.Option(
        "--allow-pickle", help="Allow pickle (.bin) weights, which can run code.")] = False,
    backend: Annotated[str | None, typer.Option(
        "--backend", help="Where generation runs. hf (default): the weights are loaded here. "
        "openai: an OpenAI-compatible server at --base-url (vllm serve, SGLang, TGI, "
        "llama.cpp's server, Ollama, transformers serve), --model NAME=SERVED_MODEL_ID; "
        "lm-eval suites go through lm-eval's local-completions client. vllm: vLLM's engine "
        "in this process (lm-eval suites: lm-eval's vllm backend). lm-eval suites also take "
        "any other lm-eval model name (local-chat-completions, sglang...).",
        show_default=False)] = None,
    base_url: Annotated[str | None, typer.Option(
        "--base-url", help="With --backend openai: the server's OpenAI API root, e.g. "
        "http://localhost:8000/v1.", show_default=False)] = None,
    api_key_env: Annotated[str | None, typer.Option(
        "--api-key-env", help="With --backend openai: the environment variable holding the "
        "API key sent as a bearer token (default OPENAI_API_KEY; none sent when unset).",
        show_default=False)] = None,
    model_args: Annotated[str | None, typer.Option(
        "--model-args", help="lm-eval suites with --backend: lm-eval's model_args string "
        "(default: pretrained=SPEC; with openai: model=ID,base_url=URL/completions).",
        show_default=False)] = None,
    limit: Annotated[int | None, typer.Option(
        "--limit", min=1, help="lm-eval suites: at most N documents per task.",
        show_default=False)] = None,
    num_fewshot: Annotated[int | None, typer.Option(
        "--num-fewshot", min=0, help="lm-eval suites: few-shot examples per prompt.",
        show_default=False)] = None,
    new_run: Annotated[bool, typer.Option(
        "--new-run", help="Record a new run even when a finished run of the same model, suite, "
        "generation config and checks is stored (by default that run is reported again and "
        "the model is not even loaded). Outputs still come from the cache.")] = False,
    samples: Annotated[int | None, typer.Option(
        "--samples", "-k", min=1, max=64, help="Answer each item K times (for the "
        "inconsistency check). On a greedy suite the first answer stays the greedy one and "
        "the others are sampled at --temperature; each sample is cached and resumed on its "
        "own. Default: the suite's generation.samples (1).", show_default=False)] = None,
    temperature: Annotated[float | None, typer.Option(
        "--temperature", min=0.0, help="With --samples: the sampling temperature (default 0.7 "
        "on a greedy suite, else the suite's).", show_default=False)] = None,
    plugins_dir: PluginsDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a suite on one or more checkpoints; store outputs, scores and findings.

    Outputs are cached; an interrupted run resumes; an unchanged run is reported at once.
    """
    from ..plugins import get_plugins
    from ..run.models import parse_model_arg

    if not model:
        raise ConfigError("give at least one --model NAME=SPEC")
    if checks is not None and no_checks:
        raise ConfigError("--checks and --no-checks exclude each other")
    models = [parse_model_arg(m) for m in model]
    names = [n for n, _ in models]
    if len(set(names)) != len(names):
        raise ConfigError(f"model names must differ: {', '.join(names)}")
    the_suite = _load_suite(suite)
    if temperature is not None and samples is None:
        raise ConfigError("--temperature goes with --samples (set generation.temperature in "
                          "the suite to sample its one answer)")
    if samples is not None:
        if the_suite.source == "lm-eval":
            raise ConfigError("--samples: only for custom suites (lm-eval tasks set their own "
                              "generation)")
        the_suite = the_suite.with_samples(samples, temperature)
    lmeval_opts = {"--model-args": model_args, "--limit": limit, "--num-fewshot": num_fewshot}
    if the_suite.source != "lm-eval" and any(v is not None for v in lmeval_opts.values()):
        used = ", ".join(k for k, v in lmeval_opts.items() if v is not None)
        raise ConfigError(f"{used}: only for lm-eval suites")
    models, backend, model_args = _backend_models(models, backend, base_url, api_key_env,
                                                  model_args, lmeval=the_suite.source == "lm-eval")
    plugins = get_plugins(list(plugins_dir) if plugins_dir else None)

    from ..run.runner import select_checks

    if no_checks:
        check_list: list[Any] | None = []
    elif checks is not None:
        check_list = select_checks(the_suite, [c.strip() for c in checks.split(",") if c.strip()],
                                   plugins)
    else:
        check_list = select_checks(the_suite, None, plugins)

    from ..run.models import load_model
    from ..run.runner import run_suite

    store = None
    results = []
    for name, spec in models:
        if not as_json:
            err_console.print(f"[dim]loading {esc(name)} = {esc(spec)}[/dim]", highlight=False,
                              soft_wrap=True)
        if the_suite.source == "lm-eval":
            lm_backend, lm_args, lm_batch = backend, model_args, batch_size or 8
            if spec.startswith("openai:"):  # generated here, scored by lm-eval's own client
                from ..run.backends.openai import SERVED_CONCURRENCY, lmeval_client

                lm_batch = batch_size or SERVED_CONCURRENCY
                lm_backend, lm_args = lmeval_client(spec, lm_batch, model_args)
            store = store or open_store(db)
            from ..run.lmeval import run_lmeval_spec

            res = run_lmeval_spec(
                store, the_suite, name, spec, backend=lm_backend, model_args=lm_args,
                limit=limit, num_fewshot=num_fewshot, batch_size=lm_batch, checks=check_list,
                split=split, progress=not as_json,
                load=lambda spec=spec, name=name: load_model(
                    spec, name, device=device, dtype=dtype, merge=not no_merge,
                    trust_remote_code=trust_remote_code, allow_pickle=allow_pickle,
                    api_key_env=api_key_env))
            results.append(res.summary)
            continue
        if not new_run:
            stored = _stored_run(db, spec, the_suite, split, check_list, device=device,
                                 dtype=dtype, trust_remote_code=trust_remote_code,
                                 allow_pickle=allow_pickle, api_key_env=api_key_env)
            if stored is not None:
                stored.summary["model"] = name
                if not as_json:
                    err_console.print(f"[dim]{esc(name)}: unchanged, run {esc(stored.run_id)} already "
                                      "holds every output (--new-run records another)[/dim]",
                                      highlight=False, soft_wrap=True)
                results.append(stored.summary)
                continue
        loaded = load_model(spec, name, device=device, dtype=dtype, merge=not no_merge,
                            trust_remote_code=trust_remote_code, allow_pickle=allow_pickle,
                            api_key_env=api_key_env)
        # opened once the first model loads: a bad suite or checkpoint leaves the database alone
        store = store or open_store(db)
        res = run_suite(store, loaded, the_suite, batch_size=batch_size, checks=check_list,
                        split=split, progress=not as_json, new_run=new_run)
        if precision_check and getattr(loaded, "dtype", None) in REDUCED and (
                the_suite.generation.greedy or the_suite.generation.first == "greedy"):
            if not as_json:
                err_console.print(f"[dim]{esc(name)}: generating {precision_check} items again "
                                  f"in float32 to count what {esc(loaded.dtype)} changed[/dim]",
                                  highlight=False)
            res.summary["precision"] = precision_cost(
                store, res.run_id, loaded, the_suite, split, precision_check,
                res.summary.get("batch_size") or 8,
                lambda spec=spec, name=name: load_model(
                    spec, name, device=device, dtype="float32", merge=not no_merge,
                    trust_remote_code=trust_remote_code, allow_pickle=allow_pickle))
        results.append(res.summary)
        del loaded  # free the model before loading the next one
        _free_memory()
    if as_json:
        print_json(results if len(results) > 1 else results[0])
        return
    _print_summary(results)


def _backend_models(models: list[tuple[str, str]], backend: str | None, base_url: str | None,
                    api_key_env: str | None, model_args: str | None, *, lmeval: bool,
                    ) -> tuple[list[tuple[str, str]], str | None, str | None]:
    """The (name, spec) pairs, the lm-eval backend and its model_args that ``--backend`` and
    ``--base-url`` make of the --model values: ``openai:ID@URL`` specs for a server, ``vllm:SPEC``
    for vLLM's engine; an lm-eval suite keeps lm-eval's backend names."""
    name = (backend or "hf").strip().lower()
    if name in ("hf", "huggingface"):
        name = "hf"
    if base_url is not None and name != "openai":
        raise ConfigError("--base-url goes with --backend openai")
    if api_key_env is not None and name != "openai":
        raise ConfigError("--api-key-env goes with --backend openai")
    if name == "openai":
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise ConfigError("--backend openai needs --base-url http://HOST:PORT/v1")
        url = base_url.rstrip("/")
        served = [(n, s if s.startswith("openai:") else f"openai:{s}@{url}") for n, s in models]
        return served, None, model_args
    if name == "vllm":
        if lmeval:
            return models, "vllm", model_args
        return [(n, s if s.startswith("vllm:") else f"vllm:{s}") for n, s in models], None, None
    if name == "hf":
        return models, None, model_args
    if not lmeval:
        raise ConfigError(f"--backend {backend}: custom suites run on hf, openai or vllm "
                          "(other names are lm-eval model backends, for lm-eval suites)")
    return models, backend, model_args


def _stored_run(db: Path | None, spec: str, suite: Any, split: str, checks: list[Any],
                **load_opts: Any) -> Any:
    """The finished run of SPEC on ``suite`` with these checks, if the database holds one;
    found from the checkpoint's fingerprint, before (and instead of) loading its weights."""
    from ..run.models import identify
    from ..run.runner import finished_run, identity
    from ..store import default_db_path

    if not Path(db if db is not None else default_db_path()).exists():
        return None  # nothing stored yet (and no empty database is created)
    fingerprint, dtype = identify(spec, **load_opts)
    return finished_run(open_store(db), identity(fingerprint, dtype, suite, split, checks),
                        suite, split)


def _free_memory() -> None:
    import gc
    import sys

    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def _load_suite(ref: str):  # noqa: ANN202 - Suite, imported lazily
    if ref.startswith("lm-eval:"):
        try:
            from ..run.lmeval import suite_from_tasks  # type: ignore[import-not-found]
        except ImportError:
            raise ConfigError("lm-eval suites are not available in this installation") from None
        return suite_from_tasks(ref.removeprefix("lm-eval:"))
    from ..run.suites import load_suite

    return load_suite(ref)


def _print_summary(results: list[dict[str, Any]]) -> None:
    from rich import box
    from rich.table import Table

    title = ", ".join(sorted({f"suite {esc(r['suite'])}: {r['items']} items" for r in results}))
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("model", "generated", "cached", "score", "flagged", "run"):
        table.add_column(col, no_wrap=True)
    for r in results:
        reused = bool(r.get("reused"))
        table.add_row(
            cell(r["model"]), str(r["generated"]),
            "stored" if reused else  # the whole run was stored already: reported as it is
            str(r["cached"]) + (f" +{r['skipped']} resumed" if r.get("skipped") else ""),
            cell(metric_text(r.get("metrics"))), _findings_text(r.get("findings") or {}),
            cell(r["run_id"]) + (" (resumed)" if r.get("resumed") else ""),
        )
    console.print(table)
    from ..run.precision import summary_line

    for r in results:
        if r.get("precision"):
            console.print(f"{cell(r['model'])}: {summary_line(r['precision'])}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("run")(run_cmd)
