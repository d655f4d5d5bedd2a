"""Safe HTML for untrusted text: every piece of model or user text is escaped with html.escape,
and only the markup made here (<mark>, <ins>, <del>, <span>) is real HTML.

Pure functions, no Streamlit: the pages hand the result to ``st.html``.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Iterable, Sequence

CSS = """
<style>
.wb-text { white-space: pre-wrap; font-family: ui-monospace, SFMono-Regular, Menlo, monospace;
  font-size: 0.85rem; line-height: 1.45; padding: 0.5rem 0.7rem; border-radius: 0.4rem;
  background: rgba(128, 128, 128, 0.08); margin: 0 0 0.3rem 0; overflow-wrap: anywhere; }
.wb-text mark { background: #ffd54f; color: #000; padding: 0 1px; border-radius: 2px; }
.wb-text mark.wb-high { background: #ff8a80; }
.wb-text ins { background: #b9f6ca; color: #000; text-decoration: none; }
.wb-text del { background: #ffcdd2; color: #000; }
.wb-empty { opacity: 0.6; font-style: italic; }
.wb-findings { list-style: none; padding-left: 0.2rem; margin: 0.2rem 0; font-size: 0.85rem; }
.wb-findings li { opacity: 0.65; }
.wb-findings li.wb-flag { opacity: 1; }
.wb-label { font-size: 0.75rem; opacity: 0.7; margin: 0.3rem 0 0.1rem 0; }
</style>
"""


def merge_spans(spans: Iterable[Sequence[int]], length: int,
                labels: Sequence[str] | None = None) -> list[tuple[int, int, list[str]]]:
    """Clip [start, end) spans to the text and merge overlapping or touching ones.

    Returns (start, end, labels) where labels collects the label of every span merged in.
    """
    spans = list(spans)
    clean = sorted(
        (max(0, min(int(s[0]), length)), max(0, min(int(s[1]), length)),
         labels[n] if labels is not None and n < len(labels) else "")
        for n, s in enumerate(spans) if len(s) >= 2
    )
    merged: list[tuple[int, int, list[str]]] = []
    for a, b, label in clean:
        if b <= a:
            continue
        if merged and a <= merged[-1][1]:
            prev = merged[-1]
            merged[-1] = (prev[0], max(prev[1], b), prev[2] + [label])
        else:
            merged.append((a, b, [label]))
    return merged


def highlight_html(text: str | None, spans: Iterable[Sequence[int]] = (),
                   labels: Sequence[str] | None = None) -> str:
    """``text`` escaped, with the given character spans wrapped in <mark>.

    ``labels`` (one per span, e.g. the check that flagged it) become an escaped tooltip.
    """
    text = text if isinstance(text, str) else ""  # NULL from the database arrives as NaN
    if not text:
        return '<div class="wb-text wb-empty">(empty)</div>'
    pieces, pos = [], 0
    for a, b, names in merge_spans(spans, len(text), labels):
        pieces.append(html.escape(text[pos:a]))
        names = sorted({n for n in names if n})
        title = f' title="{html.escape(", ".join(names))}"' if names else ""
        pieces.append(f"<mark{title}>{html.escape(text[a:b])}</mark>")
        pos = b
    pieces.append(html.escape(text[pos:]))
    return f'<div class="wb-text">{"".join(pieces)}</div>'


def findings_html(rows: Iterable[dict]) -> str:
    """A list of findings (check, category, severity, score, message), every field escaped."""
    items = []
    for f in rows:
        flagged = bool(f.get("flagged"))
        mark = "&#9679;" if flagged else "&#9675;"
        score = f.get("score")
        score_s = f"{float(score):.2f}" if score is not None and score == score else "–"
        msg = f.get("error") or f.get("message") or ("" if flagged else "not flagged")
        items.append(
            f'<li class="wb-f{" wb-flag" if flagged else ""}">{mark} '
            f'<b>{html.escape(str(f.get("category", "")))}</b> · '
            f'{html.escape(str(f.get("check_name", "")))} · '
            f'{html.escape(str(f.get("severity") or ""))} · {score_s}'
            f'{": " + html.escape(str(msg)) if msg else ""}</li>'
        )
    return f'<ul class="wb-findings">{"".join(items)}</ul>'


def plain_html(text: str | None) -> str:
    """Escaped text in the same box as a highlighted output (for prompts, references)."""
    return highlight_html(text, ())


_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


def _tokens(text: str | None) -> list[str]:
    return _TOKEN.findall(text if isinstance(text, str) else "")


def word_diff_html(a: str | None, b: str | None) -> tuple[str, str]:
    """A word-level diff of two texts: (A with removed words in <del>, B with added in <ins>)."""
    ta, tb = _tokens(a), _tokens(b)
    left, right = [], []
    matcher = difflib.SequenceMatcher(a=ta, b=tb, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        old, new = html.escape("".join(ta[i1:i2])), html.escape("".join(tb[j1:j2]))
        if op == "equal":
            left.append(old)
            right.append(new)
            continue
        if old:
            left.append(f"<del>{old}</del>")
        if new:
            right.append(f"<ins>{new}</ins>")

    def box(parts: list[str]) -> str:
        body = "".join(parts)
        if not body:
            return '<div class="wb-text wb-empty">(empty)</div>'
        return f'<div class="wb-text">{body}</div>'

    return box(left), box(right)


def diff_ratio(a: str | None, b: str | None) -> float:
    """How similar two texts are word by word (1.0 = same words)."""
    return difflib.SequenceMatcher(a=_tokens(a), b=_tokens(b), autojunk=False).ratio()
