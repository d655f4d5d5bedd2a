"""`workbench checks` (list the registered checks) and `workbench check` (run them on a JSONL
file of outputs produced anywhere: vLLM, an API, logs)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ConfigError
from ..safe_write import check_output, safe_output
from .common import (
    DbOption,
    JsonOption,
    PluginsDirOption,
    cell,
    console,
    err_console,
    open_store,
    print_json,
    progress,
)

BATCH = 512
PROGRESS_MIN_LINES = 2_000

ChecksOption = Annotated[
    str | None,
    typer.Option("--checks", help="Comma-separated checks to run (default: all registered)."),
]
OptionOption = Annotated[
    list[str] | None,
    typer.Option(
        "--option",
        "-o",
        help="Set a check option, CHECK.KEY=VALUE (repeatable), e.g. length.max_ratio_to_reference=2.",
    ),
]


def _plugins(plugins_dir: list[Path] | None) -> Any:
    from ..plugins import get_plugins

    return get_plugins(list(plugins_dir) if plugins_dir else None)


def describe_checks(plugins: Any) -> list[dict[str, Any]]:
    """Name, category, version, plugin, description and options (with defaults) of each check."""
    rows = []
    for name, cls in sorted(plugins.checks.classes.items()):
        options = {}
        for key, field in cls.Options.model_fields.items():
            options[key] = {
                "default": field.get_default(call_default_factory=True),
                "type": getattr(field.annotation, "__name__", str(field.annotation)),
                "description": field.description or "",
            }
        rows.append(
            {
                "name": name,
                "category": cls.category,
                "version": cls.version,
                "plugin": plugins.checks.owners[name],
                "description": cls.description or (cls.__doc__ or "").strip().split("\n")[0],
                "options": options,
            }
        )
    return rows


def print_precision(db: Any, as_json: bool) -> None:
    """Each check's precision measured on the reviewers' verdicts in the database."""
    from ..store.verdicts import check_precision

    df = check_precision(open_store(db))
    rows = [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
            for r in df.to_dict("records")]
    if as_json:
        print_json({"precision": rows})
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, title="check precision on your verdicts",
                  title_justify="left")
    for col in ("check", "category", "flagged", "reviewed", "right", "wrong", "precision",
                "missing"):
        table.add_column(col, justify="left" if col in ("check", "category") else "right")
    for r in rows:
        p = r["precision"]
        table.add_row(cell(r["check_name"]), cell(r["category"]), str(r["flagged"]),
                      str(r["reviewed"]), str(r["right"]), str(r["wrong"]),
                      "-" if p is None else f"{p:.2f}", str(r["missing"]))
    console.print(table)
    if not any(r["reviewed"] or r["missing"] for r in rows):
        err_console.print("no verdicts yet: mark findings right or wrong on the dashboard's "
                          "item page (`workbench dashboard`)", highlight=False)


def checks_cmd(as_json: JsonOption = False, plugins_dir: PluginsDirOption = None,
               precision: Annotated[bool, typer.Option(
                   "--precision", help="Show each check's precision measured on the verdicts "
                   "reviewers recorded in the database (right / reviewed), and the errors they "
                   "marked as missed.")] = False,
               db: DbOption = None) -> None:
    """List the registered checks: name, category, version, plugin and options with defaults."""
    if precision:
        print_precision(db, as_json)
        return
    plugins = _plugins(plugins_dir)
    rows = describe_checks(plugins)
    failures = [{"plugin": k, "error": v} for k, v in sorted(plugins.failures.items())]
    if as_json:
        print_json({"checks": rows, "failures": failures})
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for col in ("check", "category", "version", "plugin", "options (default)"):
        table.add_column(col, overflow="fold")
    for r in rows:
        opts = "\n".join(f"{k}={json.dumps(v['default'])}" for k, v in r["options"].items())
        table.add_row(cell(r["name"]), cell(r["category"]), cell(r["version"]), cell(r["plugin"]),
                      cell(opts or "-"))
    console.print(table)
    if not rows:
        err_console.print("no checks registered", highlight=False)


# -- workbench check ----------------------------------------------------------------------------
def read_records(path: Path, skipped: list[tuple[int, str]]) -> Iterator[list[Any]]:
    """Batches of Records from a JSONL file. A bad line is appended to ``skipped`` as
    (line number, reason) and reported on stderr at once; blank lines are ignored."""
    from ..check.checks import record_from_dict

    seen: dict[str, int] = {}
    batch: list[Any] = []
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise ValueError(f"not valid UTF-8 (byte {exc.start + 1})") from None
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"invalid JSON: {exc.msg} at column {exc.pos + 1}") from None
                except RecursionError:
                    raise ValueError("invalid JSON: nested too deeply") from None
                rec = record_from_dict(obj)
                if rec.id in seen:
                    raise ValueError(f"duplicate id {rec.id!r} (first on line {seen[rec.id]})")
            except ValueError as exc:
                reason = str(exc).splitlines()[0]
                skipped.append((lineno, reason))
                err_console.print(
                    f"{path}:{lineno}: skipped: {reason}",
                    highlight=False,
                    markup=False,
                    soft_wrap=True,
                )
                continue
            seen[rec.id] = lineno
            batch.append(rec)
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


class _NoBar:
    """Stands in for the progress bar on small inputs."""

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def update(self, *args: Any, **kwargs: Any) -> None:
        return None


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def check_cmd(
    records: Annotated[
        Path,
        typer.Argument(
            help="JSONL: one object a line with id, prompt, output and optionally reference, "
            "context, finish_reason (eos|stop|length), max_new_tokens.",
            show_default=False,
        ),
    ],
    checks: ChecksOption = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write findings JSONL here (default: stdout).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing --out file (never the input).")
    ] = False,
    all_scores: Annotated[
        bool,
        typer.Option("--all-scores", help="One row per record and check, flagged or not."),
    ] = False,
    option: OptionOption = None,
    plugins_dir: PluginsDirOption = None,
) -> None:
    """Run checks on outputs produced anywhere; print one JSON row per flagged finding.

    Exit code: 0 clean, 1 when input lines were skipped or a check raised, 2 for usage errors.
    """
    from ..check.runner import run_checks
    from ..plugins import parse_check_options

    if not records.exists():
        raise ConfigError(f"records file not found: {records}")
    if not records.is_file():  # /dev/zero, a FIFO, a directory: never read
        raise ConfigError(f"records file is not a regular file: {records}")
    plugins = _plugins(plugins_dir)
    overrides = parse_check_options(option)
    names = [n.strip() for n in checks.split(",") if n.strip()] if checks else None
    if names is not None:
        stray = [n for n in overrides if n not in names]
        if stray:
            raise ConfigError(f"--option for check(s) not selected by --checks: {', '.join(stray)}")
    selection = {n: overrides.get(n, {}) for n in (names or sorted(plugins.checks.classes))}
    unknown = [n for n in overrides if n not in selection]
    if unknown:  # make_checks names the available ones
        selection.update({n: {} for n in unknown})
    instances = plugins.make_checks(selection)
    if not instances:
        raise ConfigError("no checks to run (none registered)")

    skipped: list[tuple[int, str]] = []
    n_records = 0
    flagged: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    inputs = [("the input", records)]
    if out:
        check_output(out, inputs, force=force)  # before any work
    total = _count_lines(records)
    with ExitStack() as stack:
        sink = sys.stdout
        if out:  # a temporary file renamed onto --out only when every record is checked
            tmp = stack.enter_context(safe_output(out, inputs, force=force))
            sink = stack.enter_context(tmp.open("w", encoding="utf-8"))
        try:
            # a progress bar (stderr) only for files big enough to wait on
            with progress(transient=True) if total >= PROGRESS_MIN_LINES else _NoBar() as bar:
                task = bar.add_task("checking", total=total, rate="")
                for batch in read_records(records, skipped):
                    report = run_checks(batch, instances)
                    rows = []
                    for f in report.findings:
                        if f.error:
                            errors[f.check] += 1
                        if f.flagged:
                            flagged[f.category] += 1
                        if all_scores or f.flagged:
                            rows.append(json.dumps(f.to_dict(), ensure_ascii=False))
                    if rows:
                        sink.write("\n".join(rows) + "\n")
                    n_records += len(batch)
                    done = min(total, n_records + len(skipped))
                    bar.update(task, completed=done, rate="lines")
        finally:
            sys.stdout.flush()

    parts = ", ".join(f"{c} {n}" for c, n in sorted(flagged.items())) or "none"
    summary = f"{n_records} records, {len(instances)} checks; flagged: {parts}" + (
        f"; {len(skipped)} line(s) skipped" if skipped else ""
    )
    err_console.print(summary, highlight=False, markup=False, soft_wrap=True)
    for name, n in sorted(errors.items()):
        err_console.print(
            f"check {name!r} raised on {n} record(s); see the 'error' field with --all-scores",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    if skipped or errors:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("checks")(checks_cmd)
    app.command("check")(check_cmd)
