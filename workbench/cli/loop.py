"""`workbench loop`: run, check, suggest, train, rerun, compare — then print before -> after."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from .common import (
    DbOption,
    JsonOption,
    PluginsDirOption,
    cell,
    console,
    err_console,
    esc,
    open_store,
    print_json,
)
from .train import (
    TRAINER_CONTEXT,
    SetOption,
    StepBar,
    Trainer,
    TrainerCommand,
    trainer_overrides,
)


def _fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.1f}%" if kind == "category" else f"{value:.3f}"


def _p(p: float | None) -> str:
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def print_loop(result: Any) -> None:
    """The before/after table of a LoopResult, and where the adapter is (or that the base model
    stays the best)."""
    from rich.table import Table

    from ..compare.confounders import SHORT_WORDS

    if not result.rounds:
        console.print(f"No adapter trained: {result.stopped}.", markup=False)
        return
    f = result.final
    shown = f or result.rounds[-1]  # with no recommended round: what the last round did
    cmp, alpha = shown.vs_base, result.alpha
    table = Table(title=f"base -> round {shown.round} ({esc(shown.training.model_name)}) on "
                        f"{cmp.n_shared} eval items")
    for col in ("", "before", "after", "fixed", "regressed", "p", ""):
        table.add_column(col, justify="left" if col == "" else "right")
    style = {"better": "green", "worse": "red", "same": "dim", "confounded": "yellow",
             "inconclusive": "yellow"}
    for row in sorted(cmp.rows, key=lambda r: (r.kind != "category", r.name)):
        verdict = cmp.status(row, alpha)
        label = row.name if row.kind == "category" else f"{row.name} (metric)"
        table.add_row(cell(label), _fmt(row.a, row.kind), _fmt(row.b, row.kind), str(row.fixed),
                      str(row.regressed), _p(row.p_value), f"[{style[verdict]}]{verdict}[/]")
    console.print(table)
    if cmp.length is not None:
        n = cmp.length
        a, b = n.medians()
        console.print(f"output length: median {a:g} -> {b:g} {n.unit}, under {SHORT_WORDS} words "
                      f"{100 * n.short_a:.0f}% -> {100 * n.short_b:.0f}%", highlight=False)
    for name, why in cmp.confounded(alpha).items():
        console.print(f"[yellow]confounded:[/] {esc(name)}: {esc(why)}", highlight=False)
    for note in cmp.notes:
        console.print(f"[yellow]note:[/] {esc(note)}", highlight=False)
    better = [r.name for r in cmp.improvements(alpha)]
    worse = [r.name for r in cmp.regressions(alpha)]
    console.print(f"significantly better (p < {alpha}): {', '.join(better) or 'none'}; "
                  f"worse: {', '.join(worse) or 'none'}", markup=False)
    verdict = cmp.verdict(alpha)
    console.print(f"verdict: [{style[verdict]}]{verdict}[/] ({esc(cmp.verdict_reason(alpha))})",
                  highlight=False)
    for rnd in result.rounds:
        m = rnd.training.metrics
        console.print(f"round {rnd.round}: {rnd.suggestions} suggestions (set {rnd.set_id}), "
                      f"{m['examples']} examples, loss {m['first_loss']:.3f} -> "
                      f"{m['final_loss']:.3f}, run {rnd.run_id}, "
                      f"{rnd.vs_previous.verdict(alpha)} over "
                      f"{'the base' if rnd.round == 1 else f'round {rnd.round - 1}'}",
                      markup=False)
    console.print(f"stopped: {result.stopped}", markup=False)
    console.print(f"runs: base {result.base_run_id} -> tuned {shown.run_id} "
                  f"(workbench compare {result.base_run_id} {shown.run_id})", markup=False)
    if f is None:
        console.print(f"no adapter recommended: the base model stays the best (run "
                      f"{result.base_run_id}); round {shown.round}'s adapter, not recommended: "
                      f"{shown.training.adapter_dir}", markup=False)
        return
    console.print(f"adapter: {f.training.adapter_dir}", markup=False)


def register(app: typer.Typer) -> None:
    @app.command("loop", cls=TrainerCommand, context_settings=TRAINER_CONTEXT)
    def loop(
        ctx: typer.Context,
        model: Annotated[str, typer.Option(
            "--model", help="The base model as NAME=SPEC (or SPEC): a dir, hub id or model "
            "registered in the store.")],
        suite: Annotated[Path, typer.Option("--suite", help="Suite YAML with eval and train "
                                            "splits.")],
        rounds: Annotated[int, typer.Option("--rounds", help="Most rounds to run (stops early "
                                            "when a round is not better than the previous "
                                            "model or lowers a task metric).")] = 1,
        out: Annotated[Path | None, typer.Option(
            "--out", help="Directory for the adapters, one per round (default: "
            "adapters/loop-<key>, the same for the same base, suite and options: a rerun "
            "continues the round it was in).")] = None,
        base_run: Annotated[str | None, typer.Option(
            "--base-run", help="Reuse this finished run of the base on the suite.")] = None,
        db: DbOption = None,
        json_out: JsonOption = False,
        batch_size: Annotated[int | None, typer.Option(
            "--batch-size", min=1, help="Generation batch size (default: chosen from the free "
            "memory, as for `workbench run`).", show_default=False)] = None,
        alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
        per_failure: Annotated[int, typer.Option(
            "--per-failure", help="Training examples suggested per failure.")] = 3,
        max_examples: Annotated[int | None, typer.Option(
            "--max-examples", help="Cap on suggestions per round.")] = None,
        trainer: Trainer = "lora",
        plugins_dir: PluginsDirOption = None,
        set_: SetOption = None,
    ) -> None:
        """Close the loop: base run -> checks -> suggest -> train -> rerun -> compare. The
        trainer's settings are listed at the end."""
        from ..loop import run_loop
        from ..run.models import parse_model_arg

        name, spec = parse_model_arg(model) if "=" in model else ("base", model)
        if plugins_dir:
            from ..plugins import get_plugins

            get_plugins(plugins_dir)
        overrides = trainer_overrides(trainer, ctx.args, set_)
        store = open_store(db)
        with StepBar() as bar:
            result = run_loop(
                store, spec, suite, base_name=name, rounds=rounds, out_dir=out, trainer=trainer,
                train_config=overrides, batch_size=batch_size, alpha=alpha,
                per_failure=per_failure, max_examples=max_examples, base_run=base_run, on_step=bar,
                say=lambda m: err_console.print(f"[dim]{esc(m)}[/dim]"),
            )
        if json_out:
            print_json(result.to_dict())
        else:
            print_loop(result)
