"""Choosing the examples: per failing (item, category) the most similar pool rows, more per failure
for categories that fail more often, ranked, capped, each made a Suggestion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .pool import PoolRow
from .repairs import TargetFix, fix_target
from .sets import Suggestion
from .similarity import (
    similarity_blocks,
)


@dataclass
class _Pick:
    row: int
    category: str
    similarity: float
    categories: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    per_failure: list[dict[str, Any]] = field(default_factory=list)


def category_weights(rates: pd.DataFrame, failing: dict[str, int], per_failure: int) -> dict[str, int]:
    """Examples per failure for each category: ``per_failure`` for the most failing category,
    scaled down by failure rate for the others (at least one)."""
    rate = {}
    for r in rates.itertuples():
        if r.category in failing:
            rate[r.category] = r.flagged / r.checked if r.checked else 1.0
    top = max(rate.values(), default=1.0) or 1.0
    return {c: max(1, round(per_failure * rate.get(c, top) / top)) for c in failing}


def select_picks(by_cat: dict[str, dict[str, dict[str, Any]]], weights: dict[str, int],
            rows: list[PoolRow], targets: list[tuple[str | None, dict]],
            contaminated: dict[int, Any], similarity: str) -> tuple[list[_Pick], dict[str, set]]:
    """For each failure the ``weights[category]`` most similar usable rows. Contaminated rows
    that would have been picked are skipped and counted per category. A row chosen for several
    categories is kept once, under the category with most failures, remembering the others."""
    ranked = _rank(by_cat, weights, rows, targets, contaminated, similarity)
    chosen: dict[int, _Pick] = {}
    dropped: dict[str, set[int]] = {}
    for cat in sorted(by_cat, key=lambda c: (-len(by_cat[c]), c)):
        for item_id, f in sorted(by_cat[cat].items()):
            taken = 0
            for j, s in ranked[f["text"]]:
                if taken >= weights[cat]:
                    break
                if j in contaminated:
                    dropped.setdefault(cat, set()).add(j)
                    continue
                p = chosen.setdefault(j, _Pick(j, cat, s))
                if cat not in p.categories:
                    p.categories.append(cat)
                p.similarity = max(p.similarity, s) if p.category == cat else p.similarity
                if item_id not in p.items:
                    p.items.append(item_id)
                    p.outputs.append(f["output_id"])
                p.per_failure.append({"item_id": item_id, "output_id": f["output_id"],
                                      "category": cat, "check": f["check"],
                                      "similarity": round(s, 4)})
                taken += 1
    return list(chosen.values()), dropped


def _rank(by_cat: dict[str, dict[str, dict[str, Any]]], weights: dict[str, int],
          rows: list[PoolRow], targets: list[tuple[str | None, dict]],
          contaminated: dict[int, Any], similarity: str) -> dict[str, list[tuple[int, float]]]:
    """For each failing prompt text, its candidate rows best first: rows with a usable target
    that share something with it, enough of them for its largest per-failure weight (contaminated
    rows ranked among them are kept, to be counted as dropped)."""
    need: dict[str, int] = {}
    for cat, fails in by_cat.items():
        for f in fails.values():
            need[f["text"]] = max(need.get(f["text"], 0), weights[cat])
    queries = sorted(need)
    usable = [t is not None for t, _ in targets]
    ranked: dict[str, list[tuple[int, float]]] = {}
    for lo, block in similarity_blocks(queries, [r.text for r in rows], similarity):
        for k, scores in enumerate(block):
            text, out, clean = queries[lo + k], [], 0
            for j in map(int, scores.argsort(kind="stable")[::-1]):
                s = float(scores[j])
                if clean >= need[text] or s <= 0.0:
                    break  # enough, or nothing left that shares a word with the failure
                if usable[j]:
                    out.append((j, s))
                    clean += j not in contaminated
            ranked[text] = out
    return ranked


def make_suggestion(sid: str, p: _Pick, row: PoolRow, target_how: tuple[str | None, dict],
                fixes: Sequence[TargetFix], base: dict[str, Any]) -> Suggestion:
    target, how = target_how
    assert target is not None
    target, fixed, changed = fix_target(target, fixes)
    how = {**how, **fixed}
    if "repair" in fixed:
        how["repair"] = [*target_how[1].get("repair", []), *fixed["repair"]]
    return Suggestion(
        suggestion_id=sid, category=p.category, prompt=row.text, target=target,
        messages=row.to_messages(target), source_item_ids=p.items,
        source_output_ids=p.outputs, pool_row=row.row_id, similarity=round(p.similarity, 4),
        repaired=changed or "repair" in how,
        provenance={**base, "categories": p.categories, "failures": p.per_failure, **how},
    )


def cap_picks(picks: list[_Pick], max_examples: int | None) -> list[_Pick]:
    """Keep at most ``max_examples``, shared across categories in proportion to their picks
    (largest remainder), the most similar first within each."""
    if max_examples is None or len(picks) <= max_examples:
        return picks
    by: dict[str, list[_Pick]] = {}
    for p in picks:
        by.setdefault(p.category, []).append(p)
    total = len(picks)
    quota = {c: max_examples * len(v) / total for c, v in by.items()}
    alloc = {c: int(x) for c, x in quota.items()}
    for c in sorted(quota, key=lambda c: (-(quota[c] - alloc[c]), -len(by[c]), c)):
        if sum(alloc.values()) >= max_examples:
            break
        alloc[c] += 1
    kept = []
    for c, v in by.items():
        v.sort(key=lambda p: (-p.similarity, -len(p.items), p.row))
        kept += v[:alloc[c]]
    return kept
