"""`workbench suites validate|list`: check suite files and see what is there."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from .common import JsonOption, cell, console, print_json

suites_app = typer.Typer(help="Validate and list suites.", no_args_is_help=True)


def _counts(suite: Any) -> dict[str, int]:
    eval_n = sum(1 for i in suite.items if i.split == "eval")
    return {"eval": eval_n, "train": len(suite.items) - eval_n}


@suites_app.command("validate")
def validate_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Suite YAML files.", show_default=False)],
    as_json: JsonOption = False,
) -> None:
    """Check suite files; report every problem with its file and line (exit 2 if any)."""
    from ..plugins import get_plugins
    from ..run.suites import inspect_suite

    registered = get_plugins().checks.classes  # a suite's `checks:` must name these
    report = []
    for p in paths:
        s = inspect_suite(p, checks=registered)
        if s.source == "lm-eval" and not s.problems:
            from ..run.lmeval import lmeval_problems

            s.problems.extend(lmeval_problems(s))
        report.append({"path": str(p), "name": s.name, "source": s.source, "ok": not s.problems,
                       "items": _counts(s), "problems": list(s.problems)})
    bad = sum(1 for r in report if not r["ok"])
    if as_json:
        print_json(report)
    else:
        for r in report:
            if r["ok"]:
                c = r["items"]
                extra = " (lm-eval tasks)" if r["source"] == "lm-eval" else ""
                typer.echo(f"OK {r['path']}: {r['name']}, {c['eval']} eval + {c['train']} train "
                           f"items{extra}")
            else:
                for prob in r["problems"]:  # one unwrapped line each: file:line: message
                    typer.echo(prob, err=True)
        if bad:
            n = sum(len(r["problems"]) for r in report)
            typer.echo(f"{n} problem(s) in {bad} of {len(report)} suite file(s)", err=True)
    if bad:
        raise typer.Exit(2)


@suites_app.command("list")
def list_cmd(
    directory: Annotated[Path, typer.Argument(help="Where to look for *.yaml suites.")] = Path(
        "suites"),
    as_json: JsonOption = False,
) -> None:
    """List the suites in a directory (recursively) with their item counts."""
    from ..run.suites import inspect_suite

    if not directory.is_dir():
        from ..errors import ConfigError

        raise ConfigError(f"not a directory: {directory}")
    rows = []
    for p in sorted([*directory.rglob("*.yaml"), *directory.rglob("*.yml")]):
        s = inspect_suite(p)
        if s.problems and _not_a_suite(p):
            continue  # lm-eval task YAMLs and other configs living beside the suites
        rows.append({"path": str(p), "name": s.name, "source": s.source, "ok": not s.problems,
                     "items": _counts(s), "problems": len(s.problems),
                     "description": s.spec.description if not s.problems else ""})
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print(f"no suites in {directory}", markup=False)
        return
    from rich.table import Table

    t = Table()
    for col in ("name", "source", "eval", "train", "status", "path"):
        t.add_column(col, overflow="fold")
    for r in rows:
        status = "ok" if r["ok"] else f"[red]{r['problems']} problem(s)[/red]"
        t.add_row(cell(r["name"]), cell(r["source"]), str(r["items"]["eval"]),
                  str(r["items"]["train"]), status, cell(r["path"]))
    console.print(t)


def _not_a_suite(path: Path) -> bool:
    """True for YAML files that are not suites (no top-level 'name' next to data/items/lm_eval)."""
    import yaml

    try:
        raw = yaml.safe_load(path.read_text("utf-8"))
    except Exception:  # noqa: BLE001 - a broken suite still shows, with its problems
        return False
    if not isinstance(raw, dict):
        return True
    return not ({"data", "items", "lm_eval"} & set(raw))


def register(app: typer.Typer) -> None:
    app.add_typer(suites_app, name="suites")
