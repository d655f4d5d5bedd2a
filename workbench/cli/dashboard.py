"""`workbench dashboard`: serve the Streamlit dashboard on a database."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import DbOption, err_console


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _start(path: Path, port: int | None, host: str) -> tuple[Any, str]:
    """server.start, with the server tied to this command's life: Linux SIGKILLs it when this
    command dies, even by SIGKILL, so no orphaned server goes on serving."""
    from ..dashboard import server
    from ..processes import die_with_parent

    parent = os.getpid()
    return server.start(path, port, host, preexec_fn=lambda: die_with_parent(parent))


def register(app: typer.Typer) -> None:
    @app.command("dashboard")
    def dashboard(
        db: DbOption = None,
        port: Annotated[int | None, typer.Option(
            "--port", help="Port to serve on (default: 8501, or the next free one).",
            show_default=False)] = None,
        host: Annotated[str, typer.Option(
            "--host", help="Address to bind; 127.0.0.1 keeps it on this machine.")] = "127.0.0.1",
        no_browser: Annotated[bool, typer.Option(
            "--no-browser", help="Do not open a browser tab; just print the URL.")] = False,
    ) -> None:
        """Open the dashboard: runs, failures with highlighted spans, compare, suggestions.

        It reads the database read-only, so a run can keep writing to it; refresh to see new rows.
        Stops with Ctrl-C.
        """
        from rich.markup import escape

        from ..dashboard import server
        from ..store import default_db_path

        path = db if db is not None else default_db_path()
        err_console.print("Starting the dashboard…")
        proc, url = _start(path, port, host)
        # a plain `kill` of this command must not leave the server behind
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            typer.echo(url)  # stdout: just the URL, for scripts
            err_console.print(f"Dashboard on [bold]{url}[/] (database {escape(str(path))}, read-only). "
                              "Ctrl-C to stop.")
            if not no_browser:
                import webbrowser

                webbrowser.open(url)
            proc.wait()
        except KeyboardInterrupt:
            err_console.print("Stopping the dashboard.")
        finally:
            server.stop(proc)
        if proc.returncode not in (0, -15, None):
            raise typer.Exit(1)
