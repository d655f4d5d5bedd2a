"""Safe HTML for untrusted text: every piece of model or user text is escaped with html.escape,
and only the markup made here (<mark>, <ins>, <del>, <span>) is real HTML.

Pure functions, no Streamlit: the pages hand the result to ``st.html``.
"""

from __future__ import annotations

import difflib
import html
import re
import zlib
from collections.abc import Iterable, Sequence

# One colour per error category, the same in every chart and highlight (Tableau 10; colour-blind
# safer than a rainbow). The categories the first-party checks report keep fixed colours; any
# other category gets one from its name, so a colour never depends on what else is in the data.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac")
KNOWN = {"hallucination": 2, "length": 0, "misspelling": 5, "repetition": 6, "format": 3,
         "refusal": 8, "language": 4, "toxicity": 7}
SEVERITIES = ("high", "medium", "low", "info")
# severity as intensity: the highlight's opacity
ALPHA = {"high": 0.75, "medium": 0.5, "low": 0.32, "info": 0.2}


def color_index(category: str) -> int:
    """The palette slot of a category: fixed for known ones, from a hash of the name otherwise."""
    name = str(category)
    if name in KNOWN:
        return KNOWN[name]
    return zlib.crc32(name.encode("utf-8")) % len(PALETTE)


def category_color(category: str) -> str:
    """The hex colour of a category (what charts use)."""
    return PALETTE[color_index(category)]


def color_scale(categories: Iterable[str]) -> tuple[list[str], list[str]]:
    """(domain, range) for a chart's colour scale over these categories, in the given order."""
    domain = list(dict.fromkeys(str(c) for c in categories))
    return domain, [category_color(c) for c in domain]


def _rgb(hex_color: str) -> str:
    return ", ".join(str(int(hex_color[i:i + 2], 16)) for i in (1, 3, 5))


_PALETTE_CSS = "\n".join(
    f".wb-c{i} {{ --wb-c: {_rgb(c)}; }} .wb-u{i} {{ --wb-u: {_rgb(c)}; }}"
    for i, c in enumerate(PALETTE))
_ALPHA_CSS = "\n".join(f".wb-s-{s} {{ --wb-a: {a}; }}" for s, a in ALPHA.items())

CSS = """
<style>
.wb-text { white-space: pre-wrap; font-family: ui-monospace, SFMono-Regular, Menlo, monospace;
  font-size: 0.85rem; line-height: 1.45; padding: 0.5rem 0.7rem; border-radius: 0.4rem;
  background: rgba(128, 128, 128, 0.08); margin: 0 0 0.3rem 0; overflow-wrap: anywhere; }
.wb-text mark { background: #ffd54f; color: #000; padding: 0 1px; border-radius: 2px; }
.wb-text mark.wb-cat { background: rgba(var(--wb-c), var(--wb-a, 0.5)); color: inherit; }
.wb-text mark.wb-over { box-shadow: inset 0 -0.22em 0 rgba(var(--wb-u), 1); }
.wb-text ins { background: #b9f6ca; color: #000; text-decoration: none; }
.wb-text del { background: #ffcdd2; color: #000; }
.wb-text ins.wb-bad { background: #ffcdd2; color: #000; text-decoration: underline wavy #c62828; }
.wb-text del.wb-good { background: #b9f6ca; color: #000; }
.wb-text ins.wb-neutral { background: rgba(78, 121, 167, 0.25); color: inherit; }
.wb-text del.wb-neutral { background: rgba(128, 128, 128, 0.2); color: inherit; }
.wb-legend { font-size: 0.8rem; margin: 0.2rem 0 0.4rem 0; }
.wb-legend span.wb-key { display: inline-block; margin-right: 0.9rem; white-space: nowrap; }
.wb-legend span.wb-sw { display: inline-block; width: 0.9em; height: 0.9em; border-radius: 2px;
  vertical-align: -0.1em; margin-right: 0.3em; background: rgba(var(--wb-c), var(--wb-a, 0.6)); }
.wb-dot { display: inline-block; width: 0.7em; height: 0.7em; border-radius: 50%;
  margin-right: 0.25em; background: rgb(var(--wb-c)); }
details.wb-row { border: 1px solid rgba(128, 128, 128, 0.3); border-radius: 0.4rem;
  padding: 0.3rem 0.6rem; margin: 0 0 0.35rem 0; }
details.wb-row > summary { cursor: pointer; font-size: 0.9rem; }
details.wb-row[open] > summary { margin-bottom: 0.3rem; }
.wb-meta { font-size: 0.78rem; opacity: 0.8; }
.wb-cols { display: grid; grid-template-columns: 1fr 1fr; gap: 0.6rem; }
table.wb-kv { font-size: 0.8rem; border-collapse: collapse; margin: 0.2rem 0; }
table.wb-kv td { padding: 0.05rem 0.6rem 0.05rem 0; }
.wb-empty { opacity: 0.6; font-style: italic; }
.wb-findings { list-style: none; padding-left: 0.2rem; margin: 0.2rem 0; font-size: 0.85rem; }
.wb-findings li { opacity: 0.65; }
.wb-findings li.wb-flag { opacity: 1; }
.wb-label { font-size: 0.75rem; opacity: 0.7; margin: 0.3rem 0 0.1rem 0; }
""" + _PALETTE_CSS + "\n" + _ALPHA_CSS + """
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


def _severity(value: object) -> str:
    return value if isinstance(value, str) and value in ALPHA else "medium"


def finding_spans(findings: Iterable[dict], categories: Iterable[str] | None = None
                  ) -> list[tuple[int, int, str, str, str]]:
    """The flagged spans of these findings as (start, end, category, severity, label), only
    those of ``categories`` when given; findings that are not flagged are skipped."""
    wanted = set(categories or ())
    out = []
    for f in findings:
        if not f.get("flagged") or (wanted and f.get("category") not in wanted):
            continue
        cat = str(f.get("category", ""))
        label = f"{cat} ({f.get('check_name', '')}, {_severity(f.get('severity'))})"
        for span in f.get("spans") or []:
            if len(span) >= 2:
                out.append((int(span[0]), int(span[1]), cat, _severity(f.get("severity")),
                            label))
    return out


def category_highlight_html(text: str | None,
                            spans: Iterable[tuple[int, int, str, str, str]],
                            changes: Iterable[tuple[int, int]] = (), change_tag: str = "ins",
                            change_class: str = "") -> str:
    """``text`` escaped, each flagged span in its category's colour, its severity as intensity.

    Overlapping spans stay readable: the text is cut at every span boundary, each piece takes
    the colour of the most severe category covering it, a second category shows as an
    underline in its own colour, and the tooltip lists every finding covering the piece.
    ``changes`` (character ranges, from :func:`diff_ranges`) are wrapped in ``change_tag``
    (<ins> or <del>) around the highlights, so a diff and the flagged spans show together.
    """
    text = text if isinstance(text, str) else ""
    if not text:
        return '<div class="wb-text wb-empty">(empty)</div>'
    n = len(text)
    clean = []
    for a, b, cat, sev, label in spans:
        a, b = max(0, min(int(a), n)), max(0, min(int(b), n))
        if b > a:
            clean.append((a, b, cat, sev, label))
    changed = [(max(0, a), min(n, b)) for a, b in changes if min(n, b) > max(0, a)]
    cuts = sorted({0, n, *(a for a, *_ in clean), *(b for _, b, *_ in clean),
                   *(a for a, _ in changed), *(b for _, b in changed)})
    tag = change_tag if change_tag in ("ins", "del") else "ins"
    cls = f' class="{html.escape(change_class)}"' if change_class else ""
    pieces = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        over = [s for s in clean if s[0] <= a and s[1] >= b]
        piece = html.escape(text[a:b])
        if over:
            # the most severe first, then by category name, so the colour does not flicker
            over.sort(key=lambda s: (SEVERITIES.index(s[3]), s[2]))
            cats = list(dict.fromkeys(s[2] for s in over))
            classes = f"wb-cat wb-c{color_index(cats[0])} wb-s-{over[0][3]}"
            if len(cats) > 1:
                classes += f" wb-over wb-u{color_index(cats[1])}"
            title = html.escape(", ".join(dict.fromkeys(s[4] for s in over)))
            piece = f'<mark class="{classes}" title="{title}">{piece}</mark>'
        if any(x <= a and y >= b for x, y in changed):
            piece = f"<{tag}{cls}>{piece}</{tag}>"
        pieces.append(piece)
    return f'<div class="wb-text">{"".join(pieces)}</div>'


def legend_html(categories: Iterable[str], severities: bool = True) -> str:
    """The colour key: one swatch per category, and the intensity of each severity."""
    keys = [f'<span class="wb-key"><span class="wb-sw wb-c{color_index(c)}"></span>'
            f"{html.escape(str(c))}</span>" for c in dict.fromkeys(categories)]
    if severities:
        keys.append('<span class="wb-key">severity:</span>')
        keys += [f'<span class="wb-key"><span class="wb-sw wb-c9 wb-s-{s}"></span>{s}</span>'
                 for s in SEVERITIES]
    return f'<div class="wb-legend">{"".join(keys)}</div>'


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
            f'<span class="wb-dot wb-c{color_index(str(f.get("category", "")))}"></span>'
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


def word_diff_html(a: str | None, b: str | None, tone: str = "fixed") -> tuple[str, str]:
    """A word-level diff of two texts: (A with removed words in <del>, B with added in <ins>).

    ``tone`` says what the change was: 'fixed' (B is the better one: additions green, removals
    red), 'regressed' (B is worse: B's new words are drawn as the errors they are, red, and
    what A lost green) or 'neutral' (neither: blue and grey).
    """
    ins_cls = {"regressed": ' class="wb-bad"', "neutral": ' class="wb-neutral"'}.get(tone, "")
    del_cls = {"regressed": ' class="wb-good"', "neutral": ' class="wb-neutral"'}.get(tone, "")
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
            left.append(f"<del{del_cls}>{old}</del>")
        if new:
            right.append(f"<ins{ins_cls}>{new}</ins>")

    def box(parts: list[str]) -> str:
        body = "".join(parts)
        if not body:
            return '<div class="wb-text wb-empty">(empty)</div>'
        return f'<div class="wb-text">{body}</div>'

    return box(left), box(right)


def diff_ranges(a: str | None, b: str | None) -> tuple[list[tuple[int, int]],
                                                      list[tuple[int, int]]]:
    """The word-level diff of two texts as character ranges: (removed from A, added in B)."""
    ta, tb = _tokens(a), _tokens(b)
    starts_a = [0]
    for t in ta:
        starts_a.append(starts_a[-1] + len(t))
    starts_b = [0]
    for t in tb:
        starts_b.append(starts_b[-1] + len(t))
    removed, added = [], []
    matcher = difflib.SequenceMatcher(a=ta, b=tb, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        if i2 > i1:
            removed.append((starts_a[i1], starts_a[i2]))
        if j2 > j1:
            added.append((starts_b[j1], starts_b[j2]))
    return removed, added


DIFF_CLASSES = {"fixed": ("", ""), "regressed": ("wb-good", "wb-bad"),
                "neutral": ("wb-neutral", "wb-neutral")}


def diff_highlight_html(a: str | None, b: str | None,
                        spans_a: Iterable[tuple[int, int, str, str, str]] = (),
                        spans_b: Iterable[tuple[int, int, str, str, str]] = (),
                        tone: str = "fixed") -> tuple[str, str]:
    """Two outputs with both their word diff (removed words struck in A, added ones marked in
    B, coloured by ``tone`` as in :func:`word_diff_html`) and their flagged spans in category
    colours."""
    removed, added = diff_ranges(a, b)
    del_cls, ins_cls = DIFF_CLASSES.get(tone, DIFF_CLASSES["neutral"])
    return (category_highlight_html(a, spans_a, removed, "del", del_cls),
            category_highlight_html(b, spans_b, added, "ins", ins_cls))
