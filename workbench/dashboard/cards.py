"""The HTML of an output: the compact row of the Failures page (a <details> that opens to the
prompt, highlighted output, reference, context, findings and numbers) and its pieces, shared by
the Failures, Item and Compare pages. Every piece of text is escaped here or in ``render``."""

from __future__ import annotations

import html
from typing import Any

from workbench.dashboard.common import fmt_metrics, fmt_num, item_link, run_link
from workbench.dashboard.render import (
    category_highlight_html,
    color_index,
    finding_spans,
    findings_html,
    plain_html,
)


def label(text: str) -> str:
    return f'<div class="wb-label">{html.escape(text)}</div>'


def is_text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def meta_table(row: dict) -> str:
    """Tokens, latency, finish reason, cache and per-sample metrics as a small table."""
    cells = [("tokens in", fmt_num(row.get("tokens_in"))),
             ("tokens out", fmt_num(row.get("tokens_out"))),
             ("latency", "–" if row.get("latency_s") is None or row.get("latency_s") !=
              row.get("latency_s") else f"{float(row['latency_s']):.2f} s"),
             ("finish", row.get("finish_reason") if is_text(row.get("finish_reason")) else "–")]
    if row.get("cached") is True:
        cells.append(("cached", "yes"))
    metrics = fmt_metrics(row.get("metrics"))
    if metrics:
        cells.append(("metrics", metrics))
    body = "".join(f"<td>{html.escape(k)}: <b>{html.escape(str(v))}</b></td>" for k, v in cells)
    return f'<table class="wb-kv"><tr>{body}</tr></table>'


def summary_html(row: dict, found: list[dict]) -> str:
    """The one line a row shows closed: model, item and run links, flagged categories (coloured,
    with severity and score), tokens and latency, and the start of the output."""
    flagged = [f for f in found if f["flagged"]]
    by_cat: dict[str, dict] = {}
    for f in flagged:  # the highest-scoring flagged finding of each category
        best = by_cat.get(f["category"])
        if best is None or (f.get("score") or 0) > (best.get("score") or 0):
            by_cat[f["category"]] = f
    chips = []
    for cat, f in sorted(by_cat.items()):
        score = f.get("score")
        score_s = f" {float(score):.2f}" if score is not None and score == score else ""
        sev = f.get("severity") if is_text(f.get("severity")) else ""
        chips.append(f'<span class="wb-dot wb-c{color_index(cat)}"></span>'
                     f"<b>{html.escape(cat)}</b> <span class='wb-meta'>{html.escape(sev)}"
                     f"{score_s}</span>")
    text = row.get("text") if is_text(row.get("text")) else ""
    snippet = text[:110].replace("\n", " ") + ("…" if len(text) > 110 else "")
    tokens = row.get("tokens_out")
    latency = row.get("latency_s")
    meta = []
    if tokens is not None and tokens == tokens:
        meta.append(f"{int(tokens)} tok")
    if latency is not None and latency == latency:
        meta.append(f"{float(latency):.2f} s")
    return (f"<b>{html.escape(str(row['model_name']))}</b> · item "
            f"{item_link(row['item_id'], row.get('suite_id'))} · run "
            f"{run_link(row['run_id'])} · " + (" · ".join(chips) if chips else "no flag")
            + (f" · <span class='wb-meta'>{html.escape(' · '.join(meta))}</span>" if meta
               else "")
            + f"<div class='wb-meta'>{html.escape(snippet)}</div>")


def row_html(row: dict, found: list[dict], wanted: set[str], open_: bool = False) -> str:
    """One output as a <details> row: closed, the summary line; open, the prompt, the output with
    the flagged spans in their category's colours, reference, context, findings and numbers."""
    prompt = row.get("prompt") if is_text(row.get("prompt")) else row.get("rendered_prompt")
    spans = finding_spans(found, wanted or None)
    tags = row.get("tags")
    tags = [str(t) for t in tags] if tags is not None and not isinstance(tags, float) else []
    parts = [meta_table(row)]
    if tags:
        parts.append(f"<div class='wb-meta'>tags: {html.escape(', '.join(tags))}</div>")
    parts.append(label("prompt") + plain_html(prompt))
    if is_text(row.get("rendered_prompt")) and row.get("rendered_prompt") != prompt:
        parts.append("<details><summary class='wb-label'>prompt as rendered for the model"
                     "</summary>" + plain_html(row.get("rendered_prompt")) + "</details>")
    parts.append(label("output") + category_highlight_html(row.get("text"), spans))
    ref = row.get("reference") if is_text(row.get("reference")) else None
    ctx = row.get("context") if is_text(row.get("context")) else None
    if ref or ctx:
        parts.append("<div class='wb-cols'>"
                     + (f"<div>{label('reference')}{plain_html(ref)}</div>" if ref else "")
                     + (f"<div>{label('context')}{plain_html(ctx)}</div>" if ctx else "")
                     + "</div>")
    parts.append(label("findings") + findings_html(found))
    return (f'<details class="wb-row"{" open" if open_ else ""}><summary>'
            + summary_html(row, found) + "</summary>" + "".join(parts) + "</details>")
