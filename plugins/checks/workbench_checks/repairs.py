"""What the built-in checks mend for `workbench suggest`: spelling fixes and cut loops.

The misspelling check reads its corrections from its findings (``corrections_from``) and applies
them (``apply_corrections``); the repetition check cuts the repeated copies out
(``remove_spans``) and knows when a loop ran to the end of the text (``loop_to_the_end``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

_QUOTES = "'\"“”‘’"
_ARROW = re.compile(r"""['"“‘]?([\w'’-]+)['"”’]?\s*(?:->|→|=>)\s*['"“‘]?([\w'’ -]+?)['"”’]?(?=[,;.)\s]|$)""")
_DID_YOU_MEAN = re.compile(r"""['"“‘]?([\w'’-]+)['"”’]?\W{0,3}\(?\s*(?:did you mean|maybe|should be)\s+['"“‘]?([\w'’-]+)""", re.I)


def corrections_from(evidence: Any, message: str | None, text: str | None = None,
                     spans: Any = None) -> dict[str, str]:
    """Misspelled word -> correction, from a misspelling finding's evidence or message.

    Understands evidence like ``{"corrections": {"teh": "the"}}``, a list of
    ``{"word": .., "correction": ..}``, ``{"word": .., "suggestion": ..}``, corrections listed in
    the order of the finding's spans, and messages like ``'teh' -> 'the'`` or ``teh (did you mean
    the?)``.
    """
    out: dict[str, str] = {}

    def add(wrong: Any, right: Any) -> None:
        if isinstance(right, list | tuple) and right:
            right = right[0]
        if isinstance(wrong, str) and isinstance(right, str) and wrong.strip() and right.strip():
            if wrong.strip() != right.strip():
                out[wrong.strip()] = right.strip()

    def walk(ev: Any) -> None:
        if isinstance(ev, dict):
            word = next((ev[k] for k in ("word", "misspelled", "token", "wrong", "original")
                         if isinstance(ev.get(k), str)), None)
            fix = next((ev[k] for k in ("correction", "suggestion", "fix", "right", "corrected")
                        if ev.get(k)), None)
            if word is not None and fix is not None:
                add(word, fix)
            for key in ("corrections", "suggestions", "misspellings", "words", "items"):
                sub = ev.get(key)
                if isinstance(sub, dict):
                    for w, f in sub.items():
                        if isinstance(f, dict):
                            walk({"word": w, **f})
                        else:
                            add(w, f)
                elif isinstance(sub, list):
                    if (text and spans and len(sub) == len(spans)
                            and all(isinstance(s, str) for s in sub)):
                        for (a, b), f in zip(spans, sub, strict=True):
                            add(text[a:b], f)
                    for s in sub:
                        if isinstance(s, dict):
                            walk(s)
                        elif isinstance(s, list | tuple) and len(s) == 2:
                            add(s[0], s[1])
        elif isinstance(ev, list):
            for s in ev:
                walk(s)

    walk(evidence)
    for rx in (_ARROW, _DID_YOU_MEAN):
        for m in rx.finditer(message or ""):
            wrong, right = (g.strip().strip(_QUOTES) for g in m.groups())
            if wrong and right and wrong != right:
                out.setdefault(wrong, right)
    return out


def apply_corrections(text: str, corrections: dict[str, str]) -> tuple[str, list[str]]:
    """Replace whole-word misspellings (keeping a leading capital); returns the words fixed.

    A capitalised match inside a sentence is left alone when the misspelling was lowercase: it is
    most likely a name the checker did not know ("Vell" is not "well").
    """
    fixed: list[str] = []
    for wrong, right in corrections.items():
        rx = re.compile(rf"(?<!\w){re.escape(wrong)}(?!\w)", re.I)
        hits = 0

        def repl(m: re.Match[str], wrong: str = wrong, right: str = right,
                 src: str = text) -> str:
            nonlocal hits
            w = m.group(0)
            if w[:1].isupper() and not wrong[:1].isupper():
                before = src[:m.start()].rstrip()
                if before and before[-1] not in ".!?:\n\"'":
                    return w  # a capitalised word mid-sentence: a name
            hits += 1
            return right[:1].upper() + right[1:] if w[:1].isupper() else right

        text = rx.sub(repl, text)
        if hits:
            fixed.append(wrong)
    return text, fixed


def remove_spans(text: str, spans: Iterable[Sequence[int]]) -> str:
    """Cut the given [start, end) spans (a repetition finding's repeated copies) out of text,
    tidying the seams: no doubled spaces or punctuation where a piece was cut."""
    keep, pos = [], 0
    for a, b in sorted((int(s[0]), int(s[1])) for s in spans):
        if a > pos:
            keep.append(text[pos:a])
        pos = max(pos, b)
    keep.append(text[pos:])
    out = keep[0]
    for piece in keep[1:]:
        left, right = out.rstrip(), piece.lstrip()
        if left and right and left[-1] in ".,;:!?" and right[0] in ".,;:!?":
            right = right[1:].lstrip()  # "flour. " + ". Then" -> "flour. Then"
        if not right:
            out = left
        elif left and right[0] in ",;:!?.":
            out = left + right
        else:
            out = left + (" " if left else "") + right
    return out.strip()


def loop_to_the_end(text: str, spans: Iterable[Sequence[int]]) -> bool:
    """Whether a repetition finding's copies run to the end of the text: a loop that used up the
    token budget, so cutting it leaves a complete answer rather than a cut-off one."""
    ends = [int(b) for _, b in spans]
    # the last copy is often partial: allow a short unmarked tail after the last marked span
    return bool(ends) and len(text.rstrip()) - max(ends) <= 40
