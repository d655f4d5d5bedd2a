"""`workbench compare`: fixed / regressed / persisting errors between two runs, with significance."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import DbOption, JsonOption, cell, console, err_console, esc, open_store, print_json


def _fmt_rate(rate: float, ci: tuple[float, float], pct: bool) -> str:
    """The rate, and its interval on a second, dimmed line (keeps the table narrow)."""
    if pct:
        return f"{100 * rate:.1f}\n[dim]{100 * ci[0]:.1f}-{100 * ci[1]:.1f}[/]"
    return f"{rate:.4g}\n[dim]{ci[0]:.3g}-{ci[1]:.3g}[/]"


def _fmt_p(p: float) -> str:
    return f"{p:.1e}" if p < 1e-3 else f"{p:.3f}"


def _tables(cmp, alpha: float) -> list:  # noqa: ANN001 - a Comparison -> rich Tables
    """One table of error rates (per category), one of metrics."""
    from rich import box
    from rich.table import Table

    conf = f"{cmp.confidence:.0%} CI"
    tables = []
    for kind, title in (("category", f"error rate % and {conf} (lower is better)"),
                        ("metric", f"task metrics and {conf} (higher is better; ↓: lower is better)")):
        rows = [r for r in cmp.rows if r.kind == kind]
        if not rows:
            continue
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        table.add_column(kind, no_wrap=True)
        table.add_column("n", justify="right", min_width=2)
        table.add_column("A", justify="right", no_wrap=True)
        table.add_column("B", justify="right", no_wrap=True)
        for col in ("fixed", "regr", "still\nfail", "still\npass"):
            table.add_column(col, justify="right")
        table.add_column("p\nverdict", justify="right", no_wrap=True)
        for r in rows:
            verdict = cmp.status(r, alpha)
            name = f"{r.name} ↓" if r.better == "lower" and kind == "metric" else r.name
            table.add_row(
                cell(name), str(r.n),
                _fmt_rate(r.a, r.ci_a, r.binary), _fmt_rate(r.b, r.ci_b, r.binary),
                str(r.fixed), str(r.regressed),
                "-" if r.still_failing is None else str(r.still_failing),
                "-" if r.still_passing is None else str(r.still_passing),
                f"{_fmt_p(r.p_value)}\n[{STYLES[verdict]}]{verdict}[/]",
            )
        tables.append(table)
    if cmp.length is not None:
        tables.append(_length_table(cmp.length))
    return tables


STYLES = {"better": "green", "worse": "bold red", "same": "dim", "confounded": "yellow",
          "inconclusive": "yellow"}


def _length_table(length):  # noqa: ANN001, ANN202 - an OutputLength -> rich Table
    from rich import box
    from rich.table import Table

    from ..compare.confounders import SHORT_WORDS

    table = Table(title=f"output length ({length.n} items)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("", "A", "B"):
        table.add_column(col, justify="left" if not col else "right", no_wrap=True)
    if length.unit == "tokens":
        table.add_row("median tokens out", f"{length.median_tokens_a:g}",
                      f"{length.median_tokens_b:g}")
    table.add_row("median words", f"{length.median_words_a:g}", f"{length.median_words_b:g}")
    table.add_row(f"under {SHORT_WORDS} words", f"{100 * length.short_a:.1f}%",
                  f"{100 * length.short_b:.1f}%")
    return table


def _items_table(cmp, which: str):  # noqa: ANN001, ANN202
    from rich import box
    from rich.table import Table

    def show(t, v) -> str:  # noqa: ANN001
        if t.kind == "category":
            return "fail" if v else "ok"
        return f"{v:g}"

    table = Table(title=f"items: {which}", title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("category / metric", "item", "A", "B", "transition"):
        table.add_column(col)
    for t in cmp.transitions:
        if which == "changed" and t.transition not in ("fixed", "regressed"):
            continue
        if which != "changed" and t.transition != which:
            continue
        table.add_row(cell(t.name), cell(t.item_id), show(t, t.a), show(t, t.b), t.transition)
    return table


HELP = (
    "Compare run B with run A item by item: fixed, regressed and persisting errors.\n\n"
    "Per error category and per metric: the rate in each run with a Wilson interval, the items "
    "fixed / regressed / still failing / still passing, and an exact McNemar p-value on the "
    "items that changed; beside them the output length in both runs. A category whose flags fell "
    "while the outputs shrank sharply or a task metric got worse is 'confounded', not better. "
    "--fail-on-regression makes it a CI gate."
)


def register(app: typer.Typer) -> None:
    @app.command("compare", help=HELP)
    def compare(
        run_a: Annotated[str, typer.Argument(help="Baseline run id or prefix ('latest' works).")],
        run_b: Annotated[str, typer.Argument(help="Run to compare against the baseline.")],
        alpha: Annotated[float, typer.Option(
            "--alpha", min=0.0, max=1.0, help="Significance level of the paired tests.")] = 0.05,
        fail_on_regression: Annotated[bool, typer.Option(
            "--fail-on-regression",
            help="Exit 1 when any category or task metric is significantly worse in B (a CI "
            "gate).",
        )] = False,
        items: Annotated[str | None, typer.Option(
            "--items", help="Also list items: fixed, regressed, still_failing or changed.",
        )] = None,
        db: DbOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Compare run B with run A item by item (see HELP)."""
        from ..compare.compare import compare_runs
        from ..errors import ConfigError

        if items not in (None, "fixed", "regressed", "still_failing", "changed"):
            raise ConfigError("--items must be fixed, regressed, still_failing or changed")
        store = open_store(db, existing=True)
        cmp = compare_runs(store, run_a, run_b)
        regressions = cmp.regressions(alpha)
        if json_out:
            print_json(cmp.to_dict(alpha, transitions=True))
        else:
            a, b = cmp.run_a, cmp.run_b
            console.print(f"A = {a['model_name']} (run {a['run_id']})  vs  "
                          f"B = {b['model_name']} (run {b['run_id']})  on {cmp.n_shared} items",
                          markup=False)
            for table in _tables(cmp, alpha):
                console.print(table)
            for name, why in cmp.confounded(alpha).items():
                console.print(f"[yellow]confounded:[/] {esc(name)}: {esc(why)}", highlight=False)
            for note in cmp.notes:
                console.print(f"[yellow]note:[/] {esc(note)}")
            if items:
                console.print(_items_table(cmp, items))
            if regressions:
                names = ", ".join(r.name for r in regressions)
                console.print(f"[bold red]significant regressions (p < {alpha}):[/] {esc(names)}")
            else:
                console.print(f"no significant regression (p < {alpha})")
            verdict = cmp.verdict(alpha)
            console.print(f"verdict: [{STYLES[verdict]}]{verdict}[/] ({esc(cmp.verdict_reason(alpha))})",
                          highlight=False)
        if fail_on_regression and regressions:
            err_console.print(f"failing: {len(regressions)} significant regression(s)")
            raise typer.Exit(1)
