"""Turn a run's failures into targeted training examples, with provenance and a contamination guard.

For every failing (item, category), the most similar rows of a *pool* of training examples are
suggested (a pass/fail task metric that scored an output 0, such as ``answer`` or ``exact_match``,
is a failure too, of category ``metric:<name>``: a wrong answer no check flags still needs data): by default the suite's train split, or any JSONL file. Categories that fail more often
get more examples per failure. Eval items are never training data: a pool row that is an eval
item or a near-duplicate of one (fuzzy ratio and distinctive-word overlap over the prompt text)
is dropped and counted.

Repairs never touch an eval item's prompt, and this module knows no category: each check
supplies its own (see :mod:`workbench.suggest.repairs`). A pool row without a reference may get
its train-split output as target, mended by the repairs of the checks that flagged it; every chosen
target gets the fixes the run's findings teach (the misspelling check's corrections); a row with a
reference whose train-split output was cut off is marked as completed from its reference.

A model output becomes a target only when it was repaired: no check flagging it does not make it
right.

The rows and their set are in ``sets.py``, how they are chosen in ``selection.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..check.checks import Finding, Record, severity_for
from ..errors import ConfigError, NotFoundError
from ..safe_write import check_output
from ..store import Store, from_json, new_id
from ..store import suggestions as q
from .pool import PoolRow, eval_texts, load_pool_file, sample_pool, suite_pool
from .repairs import Repairers, mend_output
from .selection import cap_picks, category_weights, make_suggestion, select_picks
from .sets import (
    SuggestError,
    Suggestion,
    SuggestionSet,
    load_suggestions,
    save_suggestion_set,
    write_jsonl,
)
from .similarity import (
    DEFAULT_MIN_OVERLAP,
    DEFAULT_THRESHOLD,
    SIMILARITIES,
    near_duplicates,
    similarity_matrix,
)

__all__ = [
    "DEFAULT_THRESHOLD", "PoolRow", "SuggestError", "Suggestion", "SuggestionSet",
    "load_pool_file", "load_suggestions", "near_duplicates", "sample_pool", "similarity_matrix",
    "suggest",
]


def _targets(pool: list[PoolRow], train_out: pd.DataFrame,
             fail_by_output: dict[str, list[dict[str, Any]]],
             repairers: Repairers) -> list[tuple[str | None, dict]]:
    """For each pool row: its target and how it was made (None when it has no usable target).
    The checks that flagged a row's train-split output mend it (see workbench.suggest.repairs)."""
    outs = {str(r.item_id): r for r in train_out.itertuples()} if len(train_out) else {}
    result: list[tuple[str | None, dict]] = []
    for row in pool:
        out = outs.get(row.row_id)
        text = out.text if out is not None and isinstance(out.text, str) else ""
        mended = None
        if out is not None and (row.target or text.strip()):
            record = Record(id=row.row_id, prompt=row.text, output=text, reference=row.target,
                            finish_reason=out.finish_reason)
            found = [f["finding"] for f in fail_by_output.get(out.output_id, [])
                     if f["finding"] is not None]
            mended = mend_output(record, found, repairers)
        if row.target:
            how: dict[str, Any] = {"target": "reference"}
            if mended is not None and mended.cut_off:
                # the model's answer to this train prompt was cut off: the reference completes it
                how = {"target": "reference", "repair": ["completed from reference"],
                       "replaces_output": out.output_id}
            result.append((row.target, how))
        elif mended is None:
            result.append((None, {"skip": "no reference and no output"}))
        elif mended.text is None:
            result.append((None, {"skip": mended.why}))
        else:
            result.append((mended.text, {"target": "model output", "output_id": out.output_id,
                                         "repair": mended.notes}))
    return result


def suggest(store: Store, run_id: str, pool: str | Path | Sequence[PoolRow] | None = None,
            per_failure: int = 3, max_examples: int | None = None,
            out: str | Path | None = None, threshold: float = DEFAULT_THRESHOLD,
            similarity: str = "hybrid",
            min_overlap: float = DEFAULT_MIN_OVERLAP, force: bool = False) -> SuggestionSet:
    """Suggest training examples for a run's failures; store the set and (with ``out``) export
    it as chat-format JSONL (``{set_id}`` in ``out`` is replaced by the set id).

    ``pool``: a JSONL path, a list of PoolRow, or None for the train split of the run's suite.
    ``threshold`` and ``min_overlap`` define a near-duplicate of an eval item (see
    :func:`workbench.suggest.similarity.near_duplicates`). ``out`` is never the database, the
    pool or the suite's files, and replaces an existing file only with ``force``.
    """
    _check_options(per_failure, max_examples, threshold, min_overlap, similarity)
    run = store.get_run(run_id)
    run_id, suite_id = run["run_id"], run["suite_id"]
    inputs = _inputs(store, suite_id, pool)
    if out is not None and "{set_id}" not in str(out):
        check_output(out, inputs, force=force)  # before any work
    rows, pool_name = _load_pool(store, suite_id, pool)
    findings = _failures(store, run_id)
    fail_by_output: dict[str, list[dict[str, Any]]] = {}
    for f in findings:
        fail_by_output.setdefault(f["output_id"], []).append(f)
    repairers = Repairers()
    fixes = repairers.target_fixes((f["finding"], f["record"]) for f in findings
                                   if f["finding"] is not None)

    contaminated = _guard(store, suite_id, rows, threshold, min_overlap, same_suite=pool is None)
    train_out = q.split_outputs(store, run_id, "train") if pool is None else pd.DataFrame()
    targets = _targets(rows, train_out, fail_by_output, repairers)

    # failing items per category (one entry per item, merging several checks of a category)
    by_cat: dict[str, dict[str, dict[str, Any]]] = {}
    for f in findings:
        by_cat.setdefault(f["category"], {}).setdefault(f["item_id"], f)
    weights = category_weights(q.category_rates(store, run_id),
                       {c: len(v) for c, v in by_cat.items()}, per_failure)
    picks, dropped = select_picks(by_cat, weights, rows, targets, contaminated, similarity)
    final = cap_picks(picks, max_examples)

    set_id = new_id("s")
    suggestions = [
        make_suggestion(f"{set_id}-{n:05d}", p, rows[p.row], targets[p.row], fixes,
                    {"pool": pool_name, "similarity": similarity})
        for n, p in enumerate(sorted(final, key=lambda p: (p.category, -p.similarity, p.row)))
    ]
    covered: dict[str, set[str]] = {}
    for sg in suggestions:
        for f in sg.provenance["failures"]:
            covered.setdefault(f["category"], set()).add(f["item_id"])
    per_category = {
        c: {"failures": len(by_cat[c]), "per_failure": weights[c],
            "suggestions": sum(1 for s in suggestions if s.category == c),
            "covered": len(covered.get(c, ())), "dropped": len(dropped.get(c, ()))}
        for c in sorted(by_cat)
    }
    config = {"per_failure": per_failure, "max": max_examples, "threshold": threshold,
              "min_overlap": min_overlap,
              "similarity": similarity, "per_category": per_category,
              "pool_contaminated": len(contaminated),
              "pool_without_target": sum(1 for t, _ in targets if t is None)}
    path = None
    if out is not None:
        path = str(out).replace("{set_id}", set_id)
        write_jsonl(path, [{"messages": s.messages} for s in suggestions], inputs, force=force)
    result = SuggestionSet(
        set_id=set_id, run_id=run_id, rows=suggestions,
        dropped=len(set().union(*dropped.values())) if dropped else 0,
        path=path, pool=pool_name, pool_size=len(rows), per_category=per_category, config=config)
    save_suggestion_set(store, result)
    return result


def _check_options(per_failure: int, max_examples: int | None, threshold: float,
                   min_overlap: float, similarity: str) -> None:
    if per_failure < 1:
        raise ConfigError("--per-failure must be at least 1")
    if max_examples is not None and max_examples < 1:
        raise ConfigError("--max must be at least 1")
    if not 0 < threshold <= 100:
        raise ConfigError("the contamination threshold is a ratio in (0, 100]")
    if not 0 <= min_overlap <= 1:
        raise ConfigError("--min-overlap is a cosine in [0, 1]")
    if similarity not in SIMILARITIES:
        raise ConfigError(f"unknown similarity {similarity!r} (one of: {', '.join(SIMILARITIES)})")


def _load_pool(store: Store, suite_id: str,
               pool: str | Path | Sequence[PoolRow] | None) -> tuple[list[PoolRow], str]:
    if pool is None:
        rows = suite_pool(store, suite_id)
        if not rows:
            raise SuggestError(f"suite {suite_id} has no train split: pass --pool FILE.jsonl")
        return rows, f"suite:{suite_id}:train"
    if isinstance(pool, str | Path):
        if not Path(pool).exists():
            raise NotFoundError(f"pool file not found: {pool}")
        rows = load_pool_file(pool)
        if not rows:
            raise SuggestError(f"pool {pool} is empty")
        return rows, str(pool)
    return list(pool), "rows"


def _failures(store: Store, run_id: str) -> list[dict[str, Any]]:
    """The run's flagged findings, each with the failing item's prompt text and, for a check's
    finding (not a failing metric, category ``metric:<name>``), the Finding and the Record it was
    made on, as the checks' repairs read them."""
    out = []
    for f in q.run_failures(store, run_id).itertuples():
        spans = from_json(f.spans) or []
        context = f.context if isinstance(f.context, str) else None
        finding = record = None
        if not str(f.category).startswith("metric:"):
            score = float(f.score) if f.score is not None else 1.0
            evidence = from_json(f.evidence)
            finding = Finding(
                record_id=str(f.item_id), check=f.check_name, category=f.category, flagged=True,
                score=score, severity=severity_for(score),
                spans=tuple((int(a), int(b)) for a, b in spans), message=f.message or "",
                evidence=evidence)
            record = Record(id=str(f.item_id), prompt=f.prompt or "",
                            output=f.text if isinstance(f.text, str) else "",
                            reference=f.reference if isinstance(f.reference, str) else None,
                            context=context, finish_reason=f.finish_reason)
        out.append({
            "category": f.category, "check": f.check_name, "item_id": str(f.item_id),
            "output_id": f.output_id, "split": f.split or "eval", "spans": spans,
            "text": PoolRow("", f.prompt or "", context,
                            messages=from_json(f.messages) or None).text,
            "finding": finding, "record": record,
        })
    return out


def _guard(store: Store, suite_id: str, rows: list[PoolRow], threshold: float,
           min_overlap: float, same_suite: bool) -> dict[int, dict[str, Any]]:
    """Pool rows that are eval items or near-duplicates of one: index -> why."""
    ids, texts = eval_texts(store, suite_id)
    bad = {i: {"eval_text": t[:200], "ratio": round(s, 1)}
           for i, t, s in near_duplicates([r.text for r in rows], texts, threshold, min_overlap)}
    if same_suite:  # rows of the suite itself: one sharing an eval item's id is that item
        for i, r in enumerate(rows):
            if r.row_id in ids and i not in bad:
                bad[i] = {"eval_item": r.row_id, "ratio": 100.0}
    return bad


def _inputs(store: Store, suite_id: str, pool: object) -> list[tuple[str, Any]]:
    """What the export may never overwrite: the database, the pool file, the suite's files."""
    found: list[tuple[str, Any]] = [("the database", store.path),
                                    ("the database's log", f"{store.path}.wal")]
    if isinstance(pool, str | Path):
        found.append(("the pool", pool))
    try:
        suite = store.get_suite(suite_id)
    except NotFoundError:
        return found
    if isinstance(suite.get("path"), str) and suite["path"]:
        yaml_path = Path(suite["path"])
        found.append(("the suite file", yaml_path))
        data = (from_json(suite.get("config")) or {}).get("data")
        if isinstance(data, str) and data:
            found.append(("the suite's data", yaml_path.parent / data))
    return found
