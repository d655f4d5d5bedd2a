"""`workbench train`: a LoRA adapter from a base model and a suggestion set, and `workbench trainings`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

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

# Shared with `workbench loop`: each maps onto a field of the trainer's Config.
R = Annotated[int | None, typer.Option("--r", help="LoRA rank.", rich_help_panel=_T)]
Alpha = Annotated[float | None, typer.Option("--lora-alpha", help="LoRA alpha (scale alpha/r).",
                                             rich_help_panel=_T)]
Dropout = Annotated[float | None, typer.Option("--dropout", help="LoRA dropout.",
                                               rich_help_panel=_T)]
Targets = Annotated[str | None, typer.Option(
    "--target-modules", help="Comma-separated module names to adapt (default: every linear "
    "attention and MLP projection).", rich_help_panel=_T)]
Lr = Annotated[float | None, typer.Option("--lr", help="Peak learning rate.", rich_help_panel=_T)]
Epochs = Annotated[float | None, typer.Option("--epochs", help="Passes over the training mix.",
                                              rich_help_panel=_T)]
BatchSize = Annotated[int | None, typer.Option("--train-batch-size", help="Examples per step.",
                                               rich_help_panel=_T)]
MaxLength = Annotated[int | None, typer.Option("--max-length", help="Longest example in tokens.",
                                               rich_help_panel=_T)]
Seed = Annotated[int | None, typer.Option("--seed", help="Training seed.", rich_help_panel=_T)]
Replay = Annotated[float | None, typer.Option(
    "--replay-share", help="Share of the mix drawn from the suite's other train-split items "
    "(guards against forgetting; 0 = off).", rich_help_panel=_T)]
MaxSteps = Annotated[int | None, typer.Option("--max-steps", help="Stop after N steps.",
                                              rich_help_panel=_T)]
Trainer = Annotated[str, typer.Option("--trainer", help="Registered trainer to use.")]


# each training option of `train` and `loop` -> the trainer Config field it sets
OPTION_FIELDS = {
    "--r": "r", "--lora-alpha": "alpha", "--dropout": "dropout",
    "--target-modules": "target_modules", "--lr": "learning_rate", "--epochs": "epochs",
    "--train-batch-size": "batch_size", "--max-length": "max_length", "--seed": "seed",
    "--replay-share": "replay_share", "--max-steps": "max_steps",
}


def train_overrides(**kw: Any) -> dict[str, Any]:
    """CLI option values (by parameter name: ``lora_alpha`` for ``--lora-alpha``) -> trainer
    Config fields (unset options keep the trainer's default)."""
    fields = {flag[2:].replace("-", "_"): f for flag, f in OPTION_FIELDS.items()}
    return {fields.get(k, k): v for k, v in kw.items() if v is not None}


def option_rows(trainer: str) -> list[dict[str, Any]]:
    """The trainer's settings under the option a user types (None: not a command-line option),
    with the Config field each sets, its default and help."""
    from ..trainers import get_trainer

    flags = {f: flag for flag, f in OPTION_FIELDS.items()}
    rows = [{"option": flags.get(n), "field": n, "default": d, "help": h}
            for n, d, h in get_trainer(trainer).config_help()]
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
    @app.command("train")
    def train(
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
        r: R = None, lora_alpha: Alpha = None, dropout: Dropout = None, target_modules: Targets = None,
        lr: Lr = None, epochs: Epochs = None, train_batch_size: BatchSize = None,
        max_length: MaxLength = None, seed: Seed = None, replay_share: Replay = None,
        max_steps: MaxSteps = None,
    ) -> None:
        """Train a LoRA adapter on suggested examples; save it with its lineage and register it."""
        from ..loop import train_adapter

        overrides = train_overrides(
            r=r, lora_alpha=lora_alpha, dropout=dropout, target_modules=target_modules, lr=lr,
            epochs=epochs, train_batch_size=train_batch_size, max_length=max_length, seed=seed,
            replay_share=replay_share, max_steps=max_steps,
        )
        if plugins_dir:
            from ..plugins import get_plugins

            get_plugins(plugins_dir)
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
                    typer.echo("\nnot command-line options (set them with config= in Python, "
                               "workbench.loop.train_adapter):")
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
