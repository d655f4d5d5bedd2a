"""The `workbench` command line. One module per command group; each exposes ``register(app)``.

Heavy libraries (torch, transformers, lm_eval) are imported inside commands so `--help` is instant.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
import warnings

import click
import typer
from typer.core import TyperGroup

from ..errors import WorkbenchError

COMMAND_MODULES = [
    "run", "runs", "suites", "checks", "demo", "compare", "suggest", "train", "loop", "dashboard",
]


class UserError(click.ClickException):
    """A WorkbenchError shown as one line, exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:  # noqa: ANN001 - click's signature
        click.echo(f"Error: {self.format_message()}", err=True)


def _debug() -> bool:
    return os.environ.get("WORKBENCH_DEBUG", "") not in ("", "0")


class WorkbenchGroup(TyperGroup):
    """Turns WorkbenchError anywhere below into a one-line error (traceback with --debug)."""

    def invoke(self, ctx: click.Context):  # noqa: ANN201
        try:
            return super().invoke(ctx)
        except WorkbenchError as exc:
            if _debug():
                raise
            # typer runs its own vendored click, which does not catch the `click` package's
            # ClickException: print the one line here and leave with its exit code
            UserError(str(exc)).show()
            raise typer.Exit(UserError.exit_code) from None
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            raise SystemExit(130) from None


app = typer.Typer(
    name="workbench",
    cls=WorkbenchGroup,
    help=(
        "Evaluate fine-tuned LLMs, find the errors that recur, retrain on them, and check that "
        "they are gone and nothing else broke."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"workbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    if debug:
        os.environ["WORKBENCH_DEBUG"] = "1"


for _name in COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_name}").register(app)


def main() -> None:
    if "--debug" in sys.argv[1:]:
        os.environ["WORKBENCH_DEBUG"] = "1"
    # transformers' own deprecation notice, raised inside its code when an adapter is merged
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    try:
        app()
        code: int = 0
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if "torch" in sys.modules:
        # The interpreter's last garbage collection walks every object torch and transformers
        # created (seconds on a busy machine); what is left is freed when the process ends.
        gc.freeze()
    sys.exit(code)
