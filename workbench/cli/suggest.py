"""`workbench suggest`: failures of a run -> targeted training examples (chat JSONL + DuckDB)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import DbOption, JsonOption, cell, console, err_console, esc, open_store, print_json


def _summary(result) -> None:  # noqa: ANN001 - a SuggestionSet
    from rich import box
    from rich.table import Table

    if not result.per_category:
        console.print(f"run {result.run_id} has no flagged findings: nothing to suggest "
                      f"(empty set {result.set_id})", markup=False)
        return

    table = Table(title=f"suggestion set {esc(result.set_id)} for run {esc(result.run_id)}",
                  title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("category", "failures", "per failure", "suggestions", "covered", "dropped"):
        table.add_column(col, justify="left" if col == "category" else "right")
    for cat, c in result.per_category.items():
        table.add_row(cell(cat), str(c["failures"]), str(c["per_failure"]), str(c["suggestions"]),
                      f"{c['covered']}/{c['failures']}", str(c["dropped"]))
    console.print(table)
    repaired = sum(1 for s in result.rows if s.repaired)
    console.print(
        f"{len(result.rows)} examples ({repaired} repaired) from pool {result.pool} "
        f"({result.pool_size} rows); dropped {result.dropped} near-duplicate(s) of eval items "
        f"(ratio >= {result.config['threshold']:g}, word overlap >= "
        f"{result.config['min_overlap']:g})", markup=False
    )
    if result.path:
        console.print(f"wrote {result.path}", markup=False)
    console.print(f"set id: {result.set_id}", markup=False)


def _preview(result, n: int) -> None:  # noqa: ANN001
    for s in result.rows[:n]:
        why = ", ".join(s.source_item_ids[:3]) + ("..." if len(s.source_item_ids) > 3 else "")
        fix = " [green]repaired[/]" if s.repaired else ""
        console.print(f"[bold]{esc(s.category)}[/] row {s.pool_row} (sim {s.similarity:.2f}, "
                      f"for items {esc(why)}){fix}")
        console.print(f"  user: {s.prompt[:100]!r}", markup=False)
        console.print(f"  assistant: {s.target[:100]!r}", markup=False)


def register(app: typer.Typer) -> None:
    @app.command("suggest")
    def suggest_cmd(
        run: Annotated[str, typer.Argument(help="Run id or prefix ('latest' works).")],
        pool: Annotated[Path | None, typer.Option(
            "--pool", help="JSONL of candidate examples (chat 'messages' or instruction/input/"
                           "output rows). Default: the train split of the run's suite.",
        )] = None,
        per_failure: Annotated[int, typer.Option(
            "--per-failure", min=1, help="Examples per failure for the most failing category.",
        )] = 3,
        max_examples: Annotated[int | None, typer.Option(
            "--max", min=1, help="At most this many examples, shared across categories.",
        )] = None,
        out: Annotated[Path | None, typer.Option(
            "--out", help="Where to write the chat JSONL; {set_id} is replaced "
                          "(default: suggestions-{set_id}.jsonl).",
        )] = None,
        force: Annotated[bool, typer.Option(
            "--force", help="Overwrite an existing --out file (never the database, the pool or "
                            "the suite's files).",
        )] = False,
        threshold: Annotated[float, typer.Option(
            "--threshold", min=1.0, max=100.0,
            help="Contamination guard: drop pool rows whose prompt is this similar (fuzzy "
                 "ratio, 0-100) to any eval item.",
        )] = 90.0,
        min_overlap: Annotated[float, typer.Option(
            "--min-overlap", min=0.0, max=1.0,
            help="...and share this much of its distinctive words (idf-weighted cosine).",
        )] = 0.8,
        similarity: Annotated[str, typer.Option(
            "--similarity", help="How pool rows are matched to failures: hybrid, tfidf or fuzz.",
        )] = "hybrid",
        show: Annotated[int, typer.Option("--show", min=0, help="Print the first N examples.")]
        = 3,
        db: DbOption = None,
        json_out: JsonOption = False,
        plugins_dir: Annotated[list[Path] | None, typer.Option(
            "--plugins-dir", help="Load loose .py plugin files from this directory: the checks "
            "that flagged an output supply its repairs.")] = None,
    ) -> None:
        """Turn a run's failures into targeted training examples, stored and exported as JSONL."""
        from ..suggest.suggest import suggest

        if plugins_dir:
            from ..plugins import get_plugins

            get_plugins(plugins_dir)
        store = open_store(db)
        with err_console.status("matching failures to the pool..."):
            result = suggest(store, run, pool=pool, per_failure=per_failure,
                             max_examples=max_examples, out=out or "suggestions-{set_id}.jsonl",
                             threshold=threshold, similarity=similarity,
                             min_overlap=min_overlap, force=force)
        if json_out:
            print_json(result.to_dict(rows=True))
            return
        _summary(result)
        _preview(result, show)

    @app.command("suggestions")
    def suggestions_cmd(
        set_ref: Annotated[str | None, typer.Argument(
            help="Show one set's examples (id, prefix or 'latest'); default: list the sets.",
        )] = None,
        limit: Annotated[int, typer.Option("--limit", min=1, help="Examples to show.")] = 20,
        db: DbOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """List suggestion sets, or show the examples of one with why each was chosen."""
        from rich import box
        from rich.table import Table

        from ..store import from_json
        from ..store import suggestions as sq

        store = open_store(db, existing=True)
        if set_ref is None:
            sets = sq.list_sets(store)
            if json_out:
                print_json(sets.to_dict("records"))
                return
            table = Table(box=box.SIMPLE_HEAD)
            for col in ("set", "run", "pool", "examples", "dropped", "created", "file"):
                table.add_column(col, overflow="fold", no_wrap=col in ("set", "run", "created"))
            for r in sets.itertuples():
                table.add_row(cell(r.set_id), cell(r.run_id), cell(r.pool),
                              cell(r.n_suggestions), cell(r.n_dropped_contaminated),
                              cell(r.created_at)[:16], cell(r.export_path))
            console.print(table)
            return
        info = sq.get_set(store, set_ref)
        rows = sq.set_rows(store, info["set_id"])
        if json_out:
            recs = rows.to_dict("records")
            for r in recs:
                for k in ("messages", "provenance"):
                    r[k] = from_json(r[k])
                for k in ("source_item_ids", "source_output_ids"):
                    r[k] = list(r[k]) if r[k] is not None else []
            print_json({**info, "rows": recs})
            return
        console.print(f"set {info['set_id']} for run {info['run_id']}: "
                      f"{info['n_suggestions']} examples, {info['n_dropped_contaminated']} dropped",
                      markup=False)
        table = Table(box=box.SIMPLE_HEAD)
        for col in ("category", "pool row", "sim", "for items", "repaired", "target"):
            table.add_column(col, overflow="fold")
        for r in rows.head(limit).itertuples():
            items = list(r.source_item_ids)
            table.add_row(cell(r.category), str(r.pool_row), f"{r.similarity:.2f}",
                          cell(", ".join(items[:4]) + ("..." if len(items) > 4 else "")),
                          "yes" if r.repaired else "", cell((r.target or "")[:60]))
        console.print(table)
