"""`workbench train`: a LoRA adapter from a base model and a suggestion set, and `workbench trainings`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from .common import (
    DbOption,
    JsonOption,
    PluginsDirOption,
    err_console,
    esc,
    open_store,
    print_json,
    progress,
)

_T = "Training (default: the trainer's own, see `workbench trainings --config`)"

# The trainer's settings are not options of the core CLI: they come from the trainer's Config
# (workbench.train.trainer_settings). `--set KEY=VALUE` sets any of them; a flag the Config declares
# (the LoRA trainer's --lr, --r, ...) is read from the words the command does not know itself.
TRAINER_CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True}
SetOption = Annotated[list[str] | None, typer.Option(
    "--set", metavar="KEY=VALUE", help="A setting of the trainer's Config (repeatable), e.g. "
    "--set r=8 --set target_modules=q_proj,v_proj; the settings are listed below.",
    rich_help_panel=_T)]
Trainer = Annotated[str, typer.Option("--trainer", help="Registered trainer to use.")]


class TrainerCommand(TyperCommand):
    """A command whose --help ends with the settings of every registered trainer."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        super().format_help(ctx, formatter)
        formatter.write("\n" + trainers_help() + "\n")


def trainers_help() -> str:
    from ..plugins import get_plugins
    from ..train.trainer_settings import help_text

    classes = get_plugins().trainers.classes
    if not classes:
        return "No trainer is installed (pip install -e plugins/lora)."
    return "\n\n".join(help_text(name, cls.Config) for name, cls in sorted(classes.items()))


def trainer_overrides(trainer: str, extra: list[str], pairs: list[str] | None) -> dict[str, Any]:
    """The trainer Config fields set on the command line: its flags among the words the
    command did not know (``extra``) and ``--set KEY=VALUE`` pairs, read as the fields' types
    and checked against the Config now (ConfigError: one line)."""
    from ..train.trainer_settings import flag_pairs, parse_settings
    from ..train.trainers import get_trainer

    cls = get_trainer(trainer)
    found = parse_settings(trainer, cls.Config, [*flag_pairs(trainer, cls.Config, extra),
                                                 *(pairs or [])])
    cls.make_config(found)  # a value out of range fails here, before any model is loaded
    return found


def train_overrides(trainer: str = "lora", **kw: Any) -> dict[str, Any]:
    """Option values by parameter name (``lora_alpha`` for ``--lora-alpha``) -> trainer Config
    fields, through the flags the trainer's Config declares (unset options keep the default)."""
    from ..train.trainer_settings import settings
    from ..train.trainers import get_trainer

    fields = {s.flag[2:].replace("-", "_"): s.name
              for s in settings(get_trainer(trainer).Config) if s.flag}
    return {fields.get(k, k): v for k, v in kw.items() if v is not None}


def option_rows(trainer: str) -> list[dict[str, Any]]:
    """The trainer's settings under the flag a user types (None: set it with --set), with the
    Config field each sets, its type, default and help."""
    from ..train.trainer_settings import settings
    from ..train.trainers import get_trainer

    rows = [{"option": s.flag, "field": s.name, "type": s.type_name, "default": s.default,
             "help": s.help} for s in settings(get_trainer(trainer).Config)]
    return sorted(rows, key=lambda r: r["option"] is None)


class StepBar:
    """A rich progress bar fed by the trainer's on_step callback."""

    def __init__(self, label: str = "training"):
        self.label = label
        self.bar = progress()
        self.task = None
        self.trainings = 0

    def __enter__(self) -> StepBar:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(*exc)

    def __call__(self, step: int, total: int, loss: float) -> None:
        if self.task is None or step == 1:  # a new training (e.g. the next loop round)
            self.trainings += 1
            label = self.label if self.trainings == 1 else f"{self.label} ({self.trainings})"
            self.task = self.bar.add_task(label, total=total, rate="")
        self.bar.update(self.task, completed=step, rate=f"loss {loss:.3f}")


def register(app: typer.Typer) -> None:
    @app.command("train", cls=TrainerCommand, context_settings=TRAINER_CONTEXT)
    def train(
        ctx: typer.Context,
        base: Annotated[str, typer.Option("--base", help="Base model: a dir, hub id, or a model "
                                          "name/id registered in the store.")],
        suggestions: Annotated[str, typer.Option(
            "--suggestions", help="Suggestion set id (or prefix, or 'latest') in the store, or a "
            "JSONL file of chat 'messages'.")],
        out: Annotated[Path | None, typer.Option(
            "--out", help="Adapter directory (default: adapters/train-<key>, the same for the "
            "same data, base model and options). Written beside it and moved into place when "
            "complete; a complete adapter of the same training there is reused.")] = None,
        name: Annotated[str | None, typer.Option("--name", help="Name to register the tuned "
                                                 "model under.")] = None,
        db: DbOption = None,
        json_out: JsonOption = False,
        trainer: Trainer = "lora",
        plugins_dir: PluginsDirOption = None,
        set_: SetOption = None,
    ) -> None:
        """Train an adapter (the lora trainer by default) on suggested examples; save it with
        its lineage and register it. The trainer's settings are listed at the end."""
        from ..train.training import train_adapter

        if plugins_dir:
            from ..plugins import get_plugins

            get_plugins(plugins_dir)
        overrides = trainer_overrides(trainer, ctx.args, set_)
        store = open_store(db)
        with StepBar() as bar:
            outcome = train_adapter(
                store, base, suggestions, out_dir=out, trainer=trainer, config=overrides,
                name=name, on_step=bar, say=lambda m: err_console.print(f"[dim]{esc(m)}[/dim]"),
            )
        if not outcome.model_id:  # a non-main process under `accelerate launch`
            return
        if json_out:
            print_json(outcome.to_dict())
            return
        m = outcome.metrics
        if outcome.reused:
            typer.echo(f"reused {outcome.model_name} ({outcome.model_id[:12]}): the same data, "
                       "base model and options were trained before")
        typer.echo(
            f"{'trained' if not outcome.reused else 'its training:'} {outcome.model_name} "
            f"({outcome.model_id[:12]}) in {m['seconds']:.1f}s: "
            f"{m['steps']} steps, {m['examples']} examples ({m['replay_examples']} replay), "
            f"loss {m['first_loss']:.3f} -> {m['final_loss']:.3f}, {m['tokens_per_s']:.0f} tokens/s"
        )
        typer.echo(f"adapter: {outcome.adapter_dir}")
        typer.echo(f"training: {outcome.training_id}")

    @app.command("trainings")
    def trainings(
        db: DbOption = None,
        json_out: JsonOption = False,
        config: Annotated[bool, typer.Option(
            "--config", help="Show the trainer's options and their defaults instead.")] = False,
        trainer: Trainer = "lora",
    ) -> None:
        """List trainings (parent -> tuned model, loss, adapter dir)."""
        if config:
            rows = option_rows(trainer)
            if json_out:
                print_json(rows)
                return
            for row in rows:
                if row["option"] is None and row is next(r for r in rows if r["option"] is None):
                    typer.echo("\nno flag of their own (set them with --set KEY=VALUE):")
                typer.echo(f"{row['option'] or row['field']:<20} {row['default']!s:<10} "
                           f"{row['help']}")
            return
        from ..store import from_json
        from ..store.trainings import list_trainings

        df = list_trainings(open_store(db, existing=True))
        rows = df.to_dict("records")
        for row in rows:
            row["metrics"] = from_json(row.get("metrics")) or {}
        if json_out:
            print_json(rows)
            return
        if not rows:
            typer.echo("no trainings")
            return
        from rich.table import Table

        from .common import cell, console

        table = Table("training", "parent", "tuned model", "steps", "loss", "adapter")
        for row in rows:
            m = row["metrics"]
            table.add_row(
                cell(row["training_id"]),
                cell(str(row.get("parent_name") or row["parent_model_id"])[:24]),
                cell(str(row.get("result_name") or row["result_model_id"])[:32]),
                cell(m.get("steps", "")),
                f"{m.get('first_loss', 0):.3f} -> {m.get('final_loss', 0):.3f}",
                cell(row["adapter_path"]),
            )
        console.print(table)
