"""`workbench runs`, `show` and `export`: look at the stored runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ConfigError
from .common import (
    DbOption,
    JsonOption,
    cell,
    console,
    esc,
    metric_text,
    open_store,
    print_json,
)


def _rows_json(df: Any) -> list[dict[str, Any]]:
    return json.loads(df.to_json(orient="records", date_format="iso")) if len(df) else []


def runs_cmd(db: DbOption = None, as_json: JsonOption = False) -> None:
    """List the runs in the database."""
    from rich.table import Table

    from ..store import from_json

    df = open_store(db, existing=True).list_runs()
    if as_json:
        rows = _rows_json(df)
        for r in rows:
            r["metrics"] = from_json(r.get("metrics"))
        print_json(rows)
        return
    if df.empty:
        console.print("no runs yet: try `workbench run --model NAME=PATH --suite SUITE.yaml`")
        return
    table = Table()
    for col in ("run", "model", "suite", "status", "outputs", "exact match", "started"):
        table.add_column(col)
    for r in df.itertuples():
        table.add_row(cell(r.run_id), cell(r.model_name), cell(r.suite), cell(r.status),
                      cell(r.n_outputs), cell(metric_text(from_json(r.metrics))),
                      cell(str(r.started_at)[:19]))
    console.print(table)


def show_cmd(
    run: Annotated[str, typer.Argument(help="Run id, id prefix or 'latest'.")],
    db: DbOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=0,
                                       help="Flagged outputs to show.")] = 5,
    as_json: JsonOption = False,
) -> None:
    """Show one run: header, metrics, findings per category and a few flagged outputs."""
    from ..store.runs import flagged_outputs

    store = open_store(db, existing=True)
    info = store.get_run(run)
    run_id = info["run_id"]
    cats = store.findings_by_category(run_id)
    flagged = flagged_outputs(store, run_id, limit)
    if as_json:
        print_json({
            "run": {k: v for k, v in info.items() if k != "metrics"},
            "metrics": info.get("metrics"),
            "findings": _rows_json(cats),
            "flagged": flagged,
        })
        return
    from rich.table import Table

    console.print(f"[bold]run {esc(run_id)}[/bold]  {esc(info['status'])}"
                  + (f"  error: {esc(info['error'])}" if info.get("error") else ""),
                  highlight=False)
    console.print(f"model  {esc(info['model_name'])}  ({esc(info['model_id'][:12])})\n"
                  f"suite  {esc(info.get('suite_name'))}  ({esc(info['suite_id'])})\n"
                  f"started {str(info['started_at'])[:19]}  finished {str(info['finished_at'])[:19]}",
                  highlight=False)
    m = info.get("metrics") or {}
    shown = {k: v for k, v in m.items() if not isinstance(v, dict)}
    if shown:
        console.print("metrics " + "  ".join(f"{k}={v}" for k, v in shown.items()),
                      highlight=False, markup=False)
    if len(cats):
        t = Table(title="findings by category", title_justify="left")
        for col in ("category", "checked", "flagged", "errors"):
            t.add_column(col)
        for r in cats.itertuples():
            t.add_row(cell(r.category), str(r.checked), str(r.flagged), str(r.errors))
        console.print(t)
    for f in flagged:
        console.print(f"\n[bold]{esc(f['item_id'])}[/bold] [red]{esc(', '.join(f['categories']))}[/red]",
                      highlight=False)
        console.print(f"  prompt: {_clip(f['prompt'])}", highlight=False, markup=False)
        console.print(f"  output: {_clip(f['text'])}", highlight=False, markup=False)
        for msg in f["messages"]:
            console.print(f"  - {msg}", highlight=False, markup=False)


def _clip(s: str | None, n: int = 200) -> str:
    s = (s or "").replace("\n", "\\n")
    return s if len(s) <= n else s[: n - 1] + "…"


def export_cmd(
    run: Annotated[str, typer.Argument(help="Run id, id prefix or 'latest'.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="jsonl or parquet.")] = "jsonl",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output file "
                                             "(default: <run>.<format>; '-' for stdout jsonl).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing output file "
                                        "(never the database).")] = False,
    db: DbOption = None,
) -> None:
    """Export a run's outputs joined with their items and findings."""
    import sys

    from ..safe_write import check_output, safe_output
    from ..store.runs import export_chunks

    def jsonl(chunk, **kw) -> str:  # noqa: ANN001 - a DataFrame
        text = chunk.to_json(orient="records", lines=True, force_ascii=False, **kw)
        return text if text.endswith("\n") or not text else text + "\n"

    if fmt not in ("jsonl", "parquet"):
        raise ConfigError(f"unknown --format {fmt!r} (jsonl or parquet)")
    store = open_store(db, existing=True)
    run_id = store.resolve_run(run)
    if out is not None and str(out) == "-":
        if fmt != "jsonl":
            raise ConfigError("only jsonl can go to stdout")
        for chunk in export_chunks(store, run_id):  # streamed: never the whole run in memory
            sys.stdout.write(jsonl(chunk))
        return
    out = out or Path(f"{run_id}.{fmt}")
    inputs = [("the database", store.path), ("the database's log", f"{store.path}.wal")]
    check_output(out, inputs, force=force)  # before the export is built
    if fmt == "jsonl":
        n = 0
        with safe_output(out, inputs, force=force) as tmp, tmp.open("w", encoding="utf-8") as fh:
            for chunk in export_chunks(store, run_id):  # streamed, a chunk of outputs at a time
                fh.write(jsonl(chunk, date_format="iso"))
                n += len(chunk)
    else:
        from ..store.parquet_export import write_parquet

        with safe_output(out, inputs, force=force) as tmp:
            n = write_parquet(store, run_id, tmp)  # streamed, a row group per chunk of outputs
    console.print(f"wrote {n} outputs of run {run_id} to {out}", highlight=False,
                  markup=False)


def register(app: typer.Typer) -> None:
    app.command("runs")(runs_cmd)
    app.command("show")(show_cmd)
    app.command("export")(export_cmd)
