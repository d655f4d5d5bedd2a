"""Item page: one item of a suite across every run that answered it.

Its prompt (and each run's prompt as rendered for the model), context and reference; each run's
output with its flagged spans in their category's colours, findings, tokens, latency and
per-sample metrics; and the suggestions built to target it. Opened by links from the other
pages: ``item?item=ID&suite=SUITE`` (the suite may be left out when only one holds the id).
"""

from __future__ import annotations

import html
import json

import pandas as pd
import streamlit as st

from workbench.dashboard.cards import label, meta_table
from workbench.dashboard.common import (
    get_reader,
    link_html,
    page_header,
    refresh_button,
    run_link,
    url_widget,
)
from workbench.dashboard.render import (
    category_highlight_html,
    finding_spans,
    findings_html,
    legend_html,
    plain_html,
)
from workbench.dashboard.review import review
from workbench.dashboard.suggestions import why
from workbench.store import queries, verdicts


def pick_item(read) -> tuple[str, str] | None:  # noqa: ANN001 - a Reader
    """The item id and suite from the URL (or typed in); None when there is nothing to show."""
    item_id = url_widget(st.text_input, "item", "", "Item id",
                         help="The id of an item of a suite, e.g. eval-092").strip()
    if not item_id:
        st.info("Type an item id, or follow an item link from Failures, Compare or "
                "Suggestions.")
        return None
    suites = read(queries.item_suites, item_id)
    if suites.empty:
        st.warning("No suite holds this item id and no run answered it.")
        return None
    ids = list(suites.suite_id)
    names = dict(zip(suites.suite_id, suites.name, strict=True))
    suite = url_widget(st.selectbox, "suite", ids[0], "Suite", ids, options=ids,
                       format_func=lambda s: f"{names.get(s) or s} ({s})")
    return item_id, suite


def show_outputs(outputs: pd.DataFrame, findings: pd.DataFrame, prompt: str | None,
                 judged: pd.DataFrame, categories: list[str],
                 samples: pd.DataFrame | None = None) -> None:
    cats = sorted(set(findings[findings.flagged].category)) if not findings.empty else []
    if cats:
        st.html(legend_html(cats))
    for row in outputs.to_dict("records"):
        found = findings[findings.output_id == row["output_id"]].to_dict("records")
        with st.container(border=True):
            parts = [f"<div><b>{html.escape(str(row['model_name']))}</b> · run "
                     f"{run_link(row['run_id'])} · "
                     + link_html("failures", "this run's failures", f_run=row["run_id"])
                     + "</div>", meta_table(row)]
            rendered = row.get("rendered_prompt")
            if isinstance(rendered, str) and rendered and rendered != prompt:
                parts.append("<details><summary class='wb-label'>prompt as rendered for the "
                             "model</summary>" + plain_html(rendered) + "</details>")
            parts.append(label("output")
                         + category_highlight_html(row.get("text"), finding_spans(found)))
            parts.append(label("findings") + findings_html(found))
            st.html("".join(parts))
            if samples is not None:
                show_samples(row, found, samples)
            review(row, found, judged, categories)


def _claims(found: list[dict]) -> list[dict]:
    """The inconsistency finding's per-answer claims (span, cluster), if it has them."""
    for f in found:
        if f.get("check_name") != "inconsistency":
            continue
        ev = f.get("evidence")
        try:
            ev = json.loads(ev) if isinstance(ev, str) else ev
        except ValueError:
            return []
        claims = ev.get("claims") if isinstance(ev, dict) else None
        return claims if isinstance(claims, list) else []
    return []


def show_samples(row: dict, found: list[dict], samples: pd.DataFrame) -> None:
    """Every answer of this output side by side, each answer's claim marked: strong where it
    differs from the most common answer (the inconsistency check's clusters)."""
    mine = samples[samples.output_id == row["output_id"]]
    if mine.empty:
        return
    texts = [row.get("text"), *mine.text]
    claims = _claims(found)
    claims = claims if len(claims) == len(texts) else []
    st.html(label(f"all {len(texts)} answers (sample 0 is the output; the claim of each is "
                  "marked, strongly where it differs from the most common answer)"))
    per_row = min(len(texts), 3)
    for start in range(0, len(texts), per_row):
        cols = st.columns(per_row)
        for k, col in enumerate(cols):
            i = start + k
            if i >= len(texts):
                break
            spans = []
            if claims:
                c = claims[i]
                differs = c.get("cluster", 0) != 0
                span = c.get("span") or []
                if len(span) == 2:
                    spans = [(int(span[0]), int(span[1]), "inconsistency",
                              "high" if differs else "low",
                              "differs from the most common answer" if differs
                              else "the most common answer")]
            col.html(f"<div class='wb-meta'>sample {i}</div>"
                     + category_highlight_html(texts[i], spans))


def show_suggestions(sugg: pd.DataFrame) -> None:
    st.subheader("Suggestions that target it")
    if sugg.empty:
        st.caption("No suggestion targets this item.")
        return
    rows = []
    for r in sugg.to_dict("records"):
        sim = r.get("similarity")
        sim_s = f" · similarity {float(sim):.2f}" if sim is not None and sim == sim else ""
        rows.append(f"<li class='wb-flag'><b>{html.escape(str(r['category']))}</b> in set "
                    + link_html("suggestions", str(r["set_id"]), s_set=r["set_id"]) + sim_s
                    + f"<div class='wb-meta'>{html.escape(why(r['provenance']))}</div>"
                    + label("prompt") + plain_html(r["prompt"])
                    + label("target") + plain_html(r["target"]) + "</li>")
    st.html(f"<ul class='wb-findings'>{''.join(rows)}</ul>")


def main() -> None:
    page_header("Item", "One item across every run: its prompt, context and reference, each "
                        "run's output with its findings, and the suggestions that target it.")
    refresh_button()
    read = get_reader()
    picked = pick_item(read)
    if picked is None:
        return
    item_id, suite_id = picked
    item = read(queries.item, suite_id, item_id)
    outputs = read(queries.item_outputs, suite_id, item_id)
    findings = read(queries.findings_for, list(outputs.output_id))
    prompt = item.get("prompt") if item else None
    head = (f"<div>item <code>{html.escape(item_id)}</code> of suite "
            f"<code>{html.escape(suite_id)}</code> · answered by {len(outputs)} run(s)"
            + (f" · tags: {html.escape(', '.join(item['tags']))}" if item and item["tags"]
               else "") + "</div>")
    parts = [head]
    if item is None:
        parts.append("<div class='wb-meta'>The item itself is not stored (only outputs for "
                     "it).</div>")
    else:
        parts.append(label("prompt") + plain_html(prompt))
        for name in ("context", "reference"):
            value = item.get(name)
            if isinstance(value, str) and value:
                parts.append(label(name) + plain_html(value))
    st.html("".join(parts))
    st.subheader("Outputs")
    if outputs.empty:
        st.caption("No run of this suite answered this item yet.")
    else:
        judged = read(verdicts.latest_verdicts, list(outputs.output_id))
        categories = read(queries.filter_options).categories
        samples = read(queries.output_samples, list(outputs.output_id))
        show_outputs(outputs, findings, prompt, judged, categories, samples)
    show_suggestions(read(queries.item_suggestions, item_id, suite_id))


if __name__ == "__main__":
    main()
