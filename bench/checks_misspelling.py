"""Quality and speed of the misspelling check on natural answers with real human misspellings.

Texts: HaluEval general_dev.jsonl ChatGPT answers labelled hallucination "no" (natural, mostly
clean prose; prompt = the user query). Misspellings: birkbeck_merged_dev.json, which maps a
correct word to misspellings people wrote. In each answer up to ``PER_TEXT`` occurrences of such
correct words (lowercase, or capitalised at a sentence start; never inside code or URLs) are
replaced by one of their misspellings, chosen with a fixed seed.

Token-level figures: recall = injected misspellings flagged / injected; precision = flags on
injected tokens / all flags on the text (false flags on untouched words count against it).
Some human "misspellings" are real words (coat -> cot, absence -> absents): a dictionary check
cannot see them, so recall is reported over all injections, over non-word injections ("real
word": the misspelling is itself in the pyspellchecker English dictionary or a regular
British/American variant; examples in ``real_word_examples``), over non-words by a stricter rule
(only dictionary words with wordfreq Zipf >= 3 count as real, so rare entries such as "ane" or
"smal" must be caught), and over the real words alone.

Answers and correct words are each split by a hash into dev (used while building the check) and
held-out (only measured) parts; both are reported, plus false flags per 1,000 words on the
untouched texts, and a dense variant where every eligible occurrence is replaced.

    python -m bench.checks_misspelling
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
import time

from bench import limit, pick, shared_data_dir
from workbench.check.checks import Record

TEXTS = "halueval/general_dev.jsonl"
MISSPELLINGS = "misspellings/birkbeck_merged_dev.json"
PER_TEXT = 2
SEED = 13

_WORD_RE = re.compile(r"\b[A-Za-z]+\b")
# Not prose: fenced/inline code, URLs, e-mails, and lines with code punctuation or indentation
# (answers often hold unfenced code, where a misspelling is an identifier, not a spelling error).
_NOT_PROSE_RE = re.compile(
    r"```.*?(?:```|\Z)|`[^`\n]*`|\S*(?:https?://|www\.|@)\S*"
    r"|^[^\n]*[(){};=<>\[\]][^\n]*$|^(?: {4}|\t)[^\n]*$",
    re.S | re.M,
)


def split_of(key: str) -> str:
    return "heldout" if int(hashlib.md5(key.encode()).hexdigest(), 16) % 3 == 0 else "dev"


def load() -> tuple[list[dict], dict[str, list[str]]] | None:
    root = shared_data_dir()
    if root is None or not (root / TEXTS).is_file() or not (root / MISSPELLINGS).is_file():
        return None
    texts = [json.loads(line) for line in (root / TEXTS).read_text().splitlines() if line.strip()]
    texts = [t for t in texts if t.get("hallucination") == "no" and t.get("chatgpt_response")]
    texts = limit(texts, 40)  # BENCH_QUICK=1: a smoke run on the first 40
    raw = json.loads((root / MISSPELLINGS).read_text())
    pairs: dict[str, list[str]] = {}
    for correct, wrongs in raw.items():
        if not (correct.isalpha() and correct.islower()):
            continue  # multi-word or capitalised entries
        ok = sorted({w.lower() for w in wrongs if w.isalpha() and w.lower() != correct})
        if ok:
            pairs[correct] = ok
    return texts, pairs


def _sentence_start(text: str, pos: int) -> bool:
    before = text[:pos].rstrip(" \t\"'(")
    return not before or before[-1] in ".!?\n:"


def inject(
    text: str, pairs: dict[str, list[str]], rng: random.Random, per_text: int | None = PER_TEXT
) -> tuple[str, list[tuple[int, int, str, str]]]:
    """Replace up to ``per_text`` eligible words (None: all of them).

    Returns the new text and (start, end, wrong, right) for each replacement.
    """
    blocked = [m.span() for m in _NOT_PROSE_RE.finditer(text)]
    sites = []
    for m in _WORD_RE.finditer(text):
        w = m.group()
        low = w.lower()
        if low not in pairs or any(a <= m.start() < b for a, b in blocked):
            continue
        if w == low or (w == low.capitalize() and _sentence_start(text, m.start())):
            sites.append(m)
    if per_text is not None:
        sites = sorted(rng.sample(sites, min(per_text, len(sites))), key=lambda m: m.start())
    chosen = sites
    out, last, shift, injected = [], 0, 0, []
    for m in chosen:
        right = m.group()
        wrong = rng.choice(pairs[right.lower()])
        if right[0].isupper():
            wrong = wrong.capitalize()
        out.append(text[last : m.start()])
        out.append(wrong)
        start = m.start() + shift
        injected.append((start, start + len(wrong), wrong, right))
        shift += len(wrong) - len(right)
        last = m.end()
    out.append(text[last:])
    return "".join(out), injected


def _real_word(wrong: str, lex, min_zipf: float = 0.0) -> bool:
    """Is the misspelling itself a word: in the dictionary (at least ``min_zipf`` common) or a
    regular British/American variant of one?"""
    w = wrong.lower()
    return (w in lex.words and lex.zipf(w) >= min_zipf) or lex.american(w) is not None


def evaluate(
    texts: list[dict], pairs: dict[str, list[str]], check, per_text: int | None = PER_TEXT
) -> dict:
    from workbench_checks.misspelling_lexicon import get_lexicon

    lex = get_lexicon()
    rng = random.Random(SEED)
    recs, injections = [], []
    for t in texts:
        new, inj = inject(t["chatgpt_response"], pairs, rng, per_text)
        recs.append(Record(id=str(t.get("ID", len(recs))), prompt=t["user_query"], output=new))
        injections.append(inj)
    clean = [
        Record(id=r.id, prompt=r.prompt, output=t["chatgpt_response"])
        for r, t in zip(recs, texts, strict=True)
    ]
    t0 = time.perf_counter()
    findings = list(check.run(recs))
    seconds = time.perf_counter() - t0
    tp = fp = hit_all = hit_nonword = n_nonword = hit_strict = n_strict = 0
    n_all = sum(len(i) for i in injections)
    real_examples: list[str] = []
    missed: list[str] = []
    false_flags: list[str] = []
    corrected = 0
    for f, inj, rec in zip(findings, injections, recs, strict=True):
        flagged = set(f.spans)
        fixes = {tuple(w["span"]): w["correction"] for w in (f.evidence or {}).get("words", [])}
        for a, b, wrong, right in inj:
            hit = any(x < b and a < y for x, y in flagged)
            corrected += (fixes.get((a, b)) or "").lower() == right.lower()
            real = _real_word(wrong, lex)
            hit_all += hit
            # Stricter: only dictionary words at least as common as one in a million count as
            # real words; rare entries (ane, smal, withing) must then be caught as typos.
            if not _real_word(wrong, lex, min_zipf=3.0):
                n_strict += 1
                hit_strict += hit
            if real:
                if len(real_examples) < 12:
                    real_examples.append(f"{right}->{wrong}")
            else:
                n_nonword += 1
                hit_nonword += hit
                if not hit and len(missed) < 15:
                    missed.append(f"{right}->{wrong}")
        for x, y in flagged:
            if any(x < b and a < y for a, b, _, _ in inj):
                tp += 1
            else:
                fp += 1
                if len(false_flags) < 15:
                    false_flags.append(rec.output[x:y])
    clean_findings = list(check.run(clean))
    clean_words = sum(len(r.output.split()) for r in clean)
    clean_flags = sum(len(f.spans) for f in clean_findings)
    return {
        "texts": len(recs),
        "injected": n_all,
        "injected_nonword": n_nonword,
        "injected_real_word": n_all - n_nonword,
        "precision": round(tp / max(1, tp + fp), 4),
        "recall_nonword": round(hit_nonword / max(1, n_nonword), 4),
        "recall_nonword_strict": round(hit_strict / max(1, n_strict), 4),
        "injected_nonword_strict": n_strict,
        "recall_all": round(hit_all / max(1, n_all), 4),
        "recall_real_word": round((hit_all - hit_nonword) / max(1, n_all - n_nonword), 4),
        # Of the flagged injections, how many carry the intended word as their correction.
        "correction_accuracy": round(corrected / max(1, hit_all), 4),
        "false_flags": fp,
        "clean_false_flags_per_1000_words": round(1000 * clean_flags / max(1, clean_words), 3),
        "clean_texts_flagged": round(sum(f.flagged for f in clean_findings) / len(clean), 4),
        "seconds": round(seconds, 2),
        "real_word_examples": real_examples,
        "missed_examples": missed,
        "false_flag_examples": false_flags,
    }


def speed(n: int = 2000) -> dict:
    """Records/s on clean 150-word answers (one core, dictionaries already loaded)."""
    from workbench_checks.misspelling import MisspellingCheck

    words = (
        "When you plan a garden, think about the light, the soil and the water it will get. "
        "Most vegetables need six hours of direct sun each day, so choose an open spot; "
        "a raised bed with good compost drains well and warms quickly in the spring. "
        "Plant tall crops such as beans on the north side so they do not shade the rest."
    ).split()
    recs = [
        Record(
            id=str(i),
            prompt="How should I plan a vegetable garden?",
            output=" ".join(words[(i + j) % len(words)] for j in range(150)),
        )
        for i in range(n)
    ]
    check = MisspellingCheck()
    list(check.run(recs[:10]))  # load the lexicon outside the timing
    t0, c0 = time.perf_counter(), time.process_time()
    list(check.run(recs))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    # CPU time is what one core delivers on a shared machine; wall clock also counts waiting.
    return {"records_per_cpu_s": round(n / cpu), "records_per_wall_s": round(n / wall)}


def run() -> dict:
    from workbench_checks.misspelling import MisspellingCheck

    figures: dict = {"speed_150_words": speed(pick(2000, 100))}
    data = load()
    if data is None:
        print(f"shared data not found ({TEXTS}, {MISSPELLINGS}); quality skipped", file=sys.stderr)
        figures["skipped"] = "shared data not found (set WORKBENCH_SHARED_DATA)"
        return figures
    texts, pairs = data
    check = MisspellingCheck()
    for split in ("dev", "heldout"):
        part_texts = [t for t in texts if split_of(f"text-{t.get('ID')}") == split]
        part_pairs = {c: w for c, w in pairs.items() if split_of(f"word-{c}") == split}
        figures[split] = evaluate(part_texts, part_pairs, check)
        # Robustness: every eligible occurrence replaced (about one word in six).
        dense = evaluate(part_texts, part_pairs, check, per_text=None)
        figures[split]["dense_all_occurrences"] = {
            k: dense[k]
            for k in (
                "injected",
                "precision",
                "recall_nonword",
                "recall_nonword_strict",
                "recall_real_word",
                "recall_all",
            )
        }
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
