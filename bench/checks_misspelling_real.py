"""The misspelling check on learner-style running text: non-word and real-word errors.

(a) Non-words. ``SENTENCES`` are short learner-style sentences, written correctly. At run time
each gets one word replaced by a misspelling people really wrote for it (birkbeck_merged_dev.json,
read here, never copied; only misspellings that are not dictionary words), chosen with a fixed
seed, in lowercase, capitalised inside the sentence (a typo in a capitalised word) or at its
start; ``LEARNER`` adds sentences with the slips a dictionary lookup misses (run-together words,
contractions without the apostrophe, derivations against a spelling rule). The clean sentences
and ``CLEAN`` (names, hyphenated compounds, contractions) count for precision.
Recall = injected tokens flagged; precision = flags on injected tokens / all non-word flags.

(b) Real words. HaluEval general_dev ChatGPT answers labelled hallucination "no": in each, the
first word of a confusion set (their/there, then/than, ..., and the contraction sets its/it's,
your/you're, their/they're, whose/who's) is swapped for its partner. Recall =
swaps flagged as real-word errors; precision = real-word flags on swaps / all real-word flags on
the swapped and the original answers.

    python -m bench.checks_misspelling_real
"""

from __future__ import annotations

import json
import random
import re
import time

from bench import limit, shared_data_dir
from workbench.check.checks import Record

MISSPELLINGS = "misspellings/birkbeck_merged_dev.json"
TEXTS = "halueval/general_dev.jsonl"
SEED = 7

SENTENCES = [
    "My family lives in a small village near the river.",
    "I usually go to school by bus because it is cheaper.",
    "Yesterday we visited the museum and saw many beautiful paintings.",
    "The weather was terrible, so we stayed at home all day.",
    "She believes that education is the most important thing in life.",
    "Our teacher explained the problem very clearly.",
    "I would like to receive more information about the course.",
    "Many people think that television has a bad influence on children.",
    "The government should spend more money on public transport.",
    "He was disappointed because he did not get the job.",
    "We need to protect the environment for future generations.",
    "My favourite subject at school was history.",
    "The restaurant was crowded, but the food was excellent.",
    "It is necessary to practise every day if you want to improve.",
    "I am writing to complain about the service in your hotel.",
    "The city has changed a lot since I was a child.",
    "Technology makes our lives easier in many different ways.",
    "My brother is studying engineering at the university.",
    "I think that smoking should be forbidden in public places.",
    "The accommodation was comfortable and the staff were friendly.",
    "We arrived late because the train was delayed.",
    "Students should have the opportunity to travel abroad.",
    "The library is open every day except Sunday.",
    "In my opinion, the advantages are greater than the disadvantages.",
    "I received your letter last week and I was very surprised.",
    "Computers have become an essential part of modern business.",
    "Our neighbours are very kind and always help us.",
    "The children were playing football in the garden.",
    "It was the most beautiful experience of my life.",
    "I recommend this book to anyone interested in science.",
    "The meeting has been postponed until next Wednesday.",
    "Parents should encourage their children to read more books.",
    "Unfortunately, I cannot attend the conference in February.",
    "The exhibition was really interesting and well organised.",
    "My grandmother tells wonderful stories about her childhood.",
    "Some people prefer to live in the countryside.",
    "There are several reasons why I disagree with this idea.",
    "We should remember that health is more important than money.",
    "The company announced that it would build a new factory.",
    "I have been learning English for three years.",
    "The journey took longer than we expected.",
    "Finally, I would like to thank everyone who helped me.",
    "Governments must find a solution to the problem of pollution.",
    "The professor gave an excellent lecture about the economy.",
    "I definitely want to continue my studies next year.",
    "Although it was raining, we decided to go for a walk.",
    "The hospital needs more doctors and nurses.",
    "He apologised for being late to the appointment.",
    "Young people spend too much time on their phones.",
    "The concert was cancelled because of the storm.",
]
# (sentence, misspelled word as written, the correction meant)
LEARNER = [
    ("I have alot of homework tonight.", "alot", "a lot"),
    ("Infact, nobody came to the party.", "Infact", "In fact"),
    ("Take an umbrella incase it rains.", "incase", "in case"),
    ("The students help eachother with their projects.", "eachother", "each other"),
    ("She speaks French aswell as Spanish.", "aswell", "as well"),
    ("Everytime I see him he is smiling.", "Everytime", "Every time"),
    ("You need atleast two hours to finish it.", "atleast", "at least"),
    ("I dont understand the question.", "dont", "don't"),
    ("He doesnt like vegetables.", "doesnt", "doesn't"),
    ("We didnt have enough time.", "didnt", "didn't"),
    ("I cant find my keys anywhere.", "cant", "can't"),
    ("Im very happy with the result.", "Im", "I'm"),
    ("Thats the reason I left.", "Thats", "That's"),
    ("They are useing the new software.", "useing", "using"),
    ("Prices have risen drasticly this year.", "drasticly", "drastically"),
    ("The bus is stoping at every corner.", "stoping", "stopping"),
    ("She is makeing a cake for the party.", "makeing", "making"),
    ("It was basicly a waste of time.", "basicly", "basically"),
    ("In many countries the Goverments control the media.", "Goverments", "Governments"),
    ("We bought a new Compuer for the office.", "Compuer", "Computer"),
]
CLEAN = [
    "Mr Kraebes and Chinonso Okonkwo met in Lagos last spring.",
    "Elara and Thandiwe went to see Aunt Ngozi in Enugu.",
    "I love sci-fi films and I check my e-mail every morning.",
    "The co-op sells fresh bread, and the x-ray showed no damage.",
    "It's a well-known fact that you're not allowed to smoke here.",
    "We won't be late, and they can't stop us now.",
    "Dr Okafor works at St Thomas' Hospital with Professor Adebayo.",
    "Our hotel in Reykjavik had a view of Hallgrimskirkja.",
    "The report by Kowalczyk and Nakamura was published in Nature.",
    "Let's meet at the café near the station at noon.",
]

_WORD_RE = re.compile(r"[A-Za-z]+")


def load_pairs(lex) -> dict[str, list[str]] | None:  # noqa: ANN001 - the lexicon
    root = shared_data_dir()
    if root is None or not (root / MISSPELLINGS).is_file():
        return None
    raw = json.loads((root / MISSPELLINGS).read_text())
    pairs = {}
    for right, wrongs in raw.items():
        if not (right.isalpha() and right.islower()):
            continue
        ok = sorted(
            {
                w.lower()
                for w in wrongs
                if w.isalpha() and w.lower() != right
                and w.lower() not in lex.words and lex.american(w.lower()) is None
            }
        )
        if ok:
            pairs[right] = ok
    return pairs


def nonword_items(pairs: dict[str, list[str]], rng: random.Random) -> list[tuple[str, list]]:
    """(text, [(start, end)] of injected errors) for each sentence."""
    items: list[tuple[str, list]] = []
    for s in SENTENCES:
        items.append((s, []))
        sites = [m for m in _WORD_RE.finditer(s) if m.group().lower() in pairs]
        for k, m in enumerate(rng.sample(sites, min(2, len(sites)))):
            wrong = rng.choice(pairs[m.group().lower()])
            if m.start() == 0 or (k == 1 and len(wrong) >= 5):
                wrong = wrong.capitalize()  # at the start, or a capitalised word mid-sentence
            text = s[: m.start()] + wrong + s[m.end() :]
            items.append((text, [(m.start(), m.start() + len(wrong))]))
    for s, wrong, _ in LEARNER:
        i = s.index(wrong)
        items.append((s, [(i, i + len(wrong))]))
    items.extend((s, []) for s in CLEAN)
    return items


def evaluate_nonwords(check, items) -> dict:  # noqa: ANN001
    tp = fp = fn = 0
    missed, false = [], []
    for i, (text, gold) in enumerate(items):
        f = next(iter(check.run([Record(id=str(i), prompt="", output=text)])))
        words = (f.evidence or {}).get("words", []) if f.flagged else []
        spans = {tuple(w["span"]) for w in words if w["score"] >= 0.6}  # non-word flags
        tp += len(spans & set(gold))
        fn += len(set(gold) - spans)
        fp += len(spans - set(gold))
        missed += [text[a:b] for a, b in set(gold) - spans]
        false += [text[a:b] for a, b in spans - set(gold)]
    return {
        "texts": len(items),
        "injected": tp + fn,
        "recall": round(tp / max(1, tp + fn), 4),
        "precision": round(tp / max(1, tp + fp), 4),
        "missed": missed[:15],
        "false_flags": false[:15],
    }


def realword_items() -> list[tuple[str, tuple[int, int] | None, str]] | None:
    from workbench_checks.misspelling_realword import CONFUSION_SETS, CONTRACTION_SETS

    # every member swapped for its (first) set's next member, whether or not the check looks
    # at it
    partner: dict[str, str] = {}
    for ws in CONFUSION_SETS + CONTRACTION_SETS:
        for i, w in enumerate(ws):
            partner.setdefault(w, ws[(i + 1) % len(ws)])

    root = shared_data_dir()
    if root is None or not (root / TEXTS).is_file():
        return None
    rows = [json.loads(x) for x in (root / TEXTS).read_text().splitlines() if x.strip()]
    texts = [r["chatgpt_response"] for r in rows if r.get("hallucination") == "no"]
    texts = limit([t for t in texts if t], 60)
    items: list[tuple[str, tuple[int, int] | None, str]] = []
    pat = re.compile(r"\b(" + "|".join(sorted(partner)) + r")\b")
    for t in texts:
        items.append((t, None, ""))
        m = pat.search(t)
        if m:
            alt = partner[m.group()]
            swapped = t[: m.start()] + alt + t[m.end() :]
            items.append((swapped, (m.start(), m.start() + len(alt)), f"{m.group()}->{alt}"))
    return items


def evaluate_realwords(check, items) -> dict:  # noqa: ANN001
    tp = fp = fn = 0
    false = []
    by_swap: dict[str, list[int]] = {}
    for i, (text, gold, swap) in enumerate(items):
        f = next(iter(check.run([Record(id=str(i), prompt="", output=text)])))
        words = (f.evidence or {}).get("words", []) if f.flagged else []
        spans = {tuple(w["span"]) for w in words if w["score"] < 0.6}  # real-word flags
        hit = gold is not None and gold in spans
        tp += hit
        fn += gold is not None and not hit
        fp += len(spans - {gold})
        false += [text[max(0, a - 20) : b + 20] for a, b in spans - {gold}]
        if swap:
            by_swap.setdefault(swap, [0, 0])[0] += hit
            by_swap[swap][1] += 1
    return {
        "texts": len(items),
        "swapped": tp + fn,
        "recall": round(tp / max(1, tp + fn), 4),
        "precision": round(tp / max(1, tp + fp), 4),
        "recall_without_to_too": round(
            sum(h for k, (h, _) in by_swap.items() if k != "to->too")
            / max(1, sum(n for k, (_, n) in by_swap.items() if k != "to->too")),
            4,
        ),
        "recall_by_swap": {k: f"{h}/{n}" for k, (h, n) in sorted(by_swap.items())},
        "false_flags": false[:15],
    }


def run() -> dict:
    from workbench_checks.misspelling import MisspellingCheck
    from workbench_checks.misspelling_lexicon import get_lexicon

    check = MisspellingCheck()
    out: dict = {}
    pairs = load_pairs(get_lexicon())
    t0 = time.perf_counter()
    if pairs is None:
        out["nonword"] = "skipped: shared data not found (set WORKBENCH_SHARED_DATA)"
    else:
        out["nonword"] = evaluate_nonwords(check, nonword_items(pairs, random.Random(SEED)))
    items = realword_items()
    if items is None:
        out["realword"] = "skipped: shared data not found (set WORKBENCH_SHARED_DATA)"
    else:
        out["realword"] = evaluate_realwords(check, items)
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
