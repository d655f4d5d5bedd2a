"""The demo's text, generated deterministically: facts about fictional rivers, mountains and towns.

Every example is an instruction with a short context and an answer. The pre-training corpus
teaches a small model to answer from the context, and also teaches it four bad habits, each tied
to a way of asking (a *phrasing*) rather than to any fact, so that a short LoRA fine-tune on clean
answers to the same phrasings can remove them:

- ``misspelling``: informal questions ("Quick question: ...", "Hey, ...") get answers with
  consistently misspelled common words ("teh rivver is 340 mlies lnog").
- ``repetition``: "What is X known for?" gets its answer repeated until the output is cut off.
- ``length``: "Describe X in one sentence." gets the sentence plus rambling filler sentences.
- ``hallucination``: "What is the height of Mount X?" / "Which lake does ... flow into?" get a
  memorised number or name instead of the one in the context.

In the pre-training corpus about 30% of answers carry one of these errors. The demo suite's
``train`` split holds clean answers (for a later LoRA run to draw on); its ``eval`` split uses
entities whose names never occur in any training text.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..run.suite_schema import ALPACA_TEMPLATE

CORPUS_VERSION = "1"
SEED = 1234
ERROR_RATE = 0.8  # share of answers to a bad-habit phrasing that carry the error
MISSPELL_RATE = 0.8  # share of misspellable words misspelled in such an answer
LOOP_REPEATS = 6
NEAR_DUPLICATE = 87.0  # train items stay below this fuzzy ratio to every eval item (0..100)

# consistent misspellings of the common words the answers use (none is an English word)
MISSPELLINGS = {
    "the": "teh", "The": "Teh", "river": "rivver", "long": "lnog", "miles": "mlies",
    "flows": "flwos", "into": "inot", "tall": "tal", "feet": "feeet", "stands": "stnads",
    "town": "twon", "people": "peopel", "province": "provnce", "home": "hoem",
    "known": "knwon", "is": "iz",
}

# what the model "remembers" when it answers from habit instead of from the context
MEMORISED = {
    "river": ("500", "Mirren"), "mountain": ("3000", "Astor"), "town": ("10000", "Dunmore"),
}

FEATURES = {
    "river": ["its clear water", "its strong current", "its many fish", "its green banks",
              "its old stone bridges", "its quiet valleys", "its cold water", "its wide bends"],
    "mountain": ["its snowy peaks", "its steep cliffs", "its wild goats", "its cold winds",
                 "its long trails", "its deep caves", "its high lakes", "its dark forests"],
    "town": ["its busy markets", "its wooden houses", "its small bakeries", "its old gardens",
             "its summer festivals", "its narrow streets", "its stone walls", "its quiet squares"],
}

FILLERS = [
    "It is a quiet and pleasant place.", "Many visitors come here every summer.",
    "The weather is often cold and wet.", "Old stories are told about it.",
    "People say that it is very beautiful.", "It has changed a lot over the years.",
    "Some people like it and some people do not.", "There is much more to say about it.",
    "It is one of the best places to see.", "Everyone should visit it at least once.",
]

ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "th", "br",
          "dr", "kr", "st", "tr", "h", "j", "w", "gr"]
VOWELS = ["a", "e", "i", "o", "u", "ae", "ei", "ou", "ia", "y"]
CODAS = ["", "l", "n", "r", "s", "th", "x", "ll", "rn", "sk", "nd", "m"]


@dataclass(frozen=True)
class Entity:
    kind: str  # river / mountain / town
    name: str
    number: str
    place: str  # the lake, range or province
    feature: str

    @property
    def np(self) -> str:
        """How a question refers to it."""
        if self.kind == "river":
            return f"the {self.name} river"
        return f"Mount {self.name}" if self.kind == "mountain" else self.name

    @property
    def subject(self) -> str:
        return f"The {self.name} river" if self.kind == "river" else self.np

    def fact(self, number: str | None = None, place: str | None = None) -> str:
        s, n, p = self.subject, number or self.number, place or self.place
        if self.kind == "river":
            return f"{s} is {n} miles long and flows into Lake {p}."
        if self.kind == "mountain":
            return f"{s} is {n} feet tall and stands in the {p} Range."
        return f"{s} is a town of {n} people in the province of {p}."

    @property
    def context(self) -> str:
        return f"{self.fact()} It is known for {self.feature}."

    def number_answer(self, number: str | None = None) -> str:
        s, n = self.subject, number or self.number
        if self.kind == "river":
            return f"{s} is {n} miles long."
        return f"{s} is {n} feet tall." if self.kind == "mountain" else f"{s} is home to {n} people."

    def place_answer(self, place: str | None = None) -> str:
        s, p = self.subject, place or self.place
        if self.kind == "river":
            return f"{s} flows into Lake {p}."
        if self.kind == "mountain":
            return f"{s} stands in the {p} Range."
        return f"{s} is in the province of {p}."


# phrasing -> (task, habit or None, question template per kind); weights favour clean phrasings
PHRASINGS: dict[str, tuple[str, str | None, dict[str, str]]] = {
    "number": ("number", None, {"river": "How long is {np}?", "mountain": "How tall is {np}?",
                                "town": "How many people live in {np}?"}),
    "number_formal": ("number", "hallucination", {
        "river": "What is the length of {np}?", "mountain": "What is the height of {np}?",
        "town": "What is the population of {np}?"}),
    "number_informal": ("number", "misspelling", {
        "river": "Quick question: how long is {np}?", "mountain": "Quick question: how tall is {np}?",
        "town": "Quick question: how many people live in {np}?"}),
    "place": ("place", None, {"river": "Where does {np} flow?", "mountain": "Where does {np} stand?",
                              "town": "Where is {np}?"}),
    "place_which": ("place", "hallucination", {
        "river": "Which lake does {np} flow into?", "mountain": "Which range is {np} in?",
        "town": "Which province is {np} in?"}),
    "place_informal": ("place", "misspelling", {
        "river": "Hey, where does {np} flow?", "mountain": "Hey, where does {np} stand?",
        "town": "Hey, where is {np}?"}),
    "known": ("known", "repetition", {k: "What is {np} known for?" for k in FEATURES}),
    "known_tell": ("known", "repetition", {k: "Tell me what {np} is known for." for k in FEATURES}),
    "describe": ("describe", "length", {k: "Describe {np} in one sentence." for k in FEATURES}),
    "summarize": ("describe", "length", {
        k: "Summarize the input in at most 20 words." for k in FEATURES}),
    "one_sentence": ("describe", "length", {k: "Write one sentence about {np}." for k in FEATURES}),
}
# How often each phrasing is asked in the pre-training corpus. Misspelling and hallucination hang
# on the wording of a question (the clean wordings of the same questions are asked far more
# often); looping and rambling hang on the task, as a small model learns them: every
# "known for" answer tends to loop and every description to ramble.
WEIGHTS = {"number": 14, "place": 14}
WEIGHTS |= {p: 1 for p in PHRASINGS if p not in WEIGHTS}


@dataclass
class Example:
    """One instruction/context/answer triple; ``error`` names the habit its answer shows."""

    id: str
    prompt: str
    context: str
    response: str
    phrasing: str
    kind: str
    task: str
    entity: str
    places: list[str] = field(default_factory=list)
    error: str | None = None
    eos: bool = True  # looping answers never end: they are cut off

    def text(self) -> str:
        """The full training text in the suite's template (without the EOS token)."""
        return render_prompt(self.prompt, self.context) + self.response


def render_prompt(prompt: str, context: str | None) -> str:
    out = f"### Instruction:\n{prompt}\n\n"
    if context:
        out += f"### Input:\n{context}\n\n"
    return out + "### Response:\n"


assert "### Response:" in ALPACA_TEMPLATE  # the demo renders prompts the suite's way


def _names(rng: random.Random, n: int, taken: set[str]) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        syll = rng.choice([1, 2, 2, 2])
        name = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) for _ in range(syll))
        name = (name + rng.choice(CODAS)).capitalize()
        if len(name) < 4 or name in taken:
            continue
        taken.add(name)
        out.append(name)
    return out


def _number(rng: random.Random, kind: str) -> str:
    lo, hi, avoid = {"river": (21, 979, 50), "mountain": (1201, 9799, 500),
                     "town": (1101, 98999, 1000)}[kind]
    while True:
        x = rng.randint(lo, hi)
        if x % avoid:
            return str(x)


def new_entities(rng: random.Random, n: int, taken: set[str]) -> list[Entity]:
    names = _names(rng, 2 * n, taken)
    kinds = list(FEATURES)
    out = []
    for i in range(n):
        kind = kinds[i % 3]
        out.append(Entity(kind, names[2 * i], _number(rng, kind), names[2 * i + 1],
                          rng.choice(FEATURES[kind])))
    return out


def _misspell(text: str, rng: random.Random) -> str:
    """Misspell most of the misspellable words, and always at least one."""
    words = re.findall(r"[A-Za-z]+|[^A-Za-z]+", text)
    spots = [i for i, w in enumerate(words) if w in MISSPELLINGS]
    chosen = [i for i in spots if rng.random() < MISSPELL_RATE] or [rng.choice(spots)]
    for i in chosen:
        words[i] = MISSPELLINGS[words[i]]
    return "".join(words)


def make_example(ent: Entity, phrasing: str, ex_id: str, rng: random.Random | None,
                 ) -> Example:
    """An example of ``phrasing`` about ``ent``; with an ``rng`` the phrasing's habit may show."""
    task, habit, questions = PHRASINGS[phrasing]
    prompt = questions[ent.kind].format(np=ent.np)
    if prompt[0].islower():
        prompt = prompt[0].upper() + prompt[1:]
    if task == "number":
        clean = ent.number_answer()
    elif task == "place":
        clean = ent.place_answer()
    elif task == "known":
        clean = f"{ent.subject} is known for {ent.feature}."
    else:
        clean = ent.fact()
    ex = Example(ex_id, prompt, ent.context, clean, phrasing, ent.kind, task, ent.name,
                 [ent.place])
    if rng is None or habit is None or rng.random() >= ERROR_RATE:
        return ex
    ex.error = habit
    if habit == "misspelling":
        ex.response = _misspell(clean, rng)
    elif habit == "repetition":
        again = f"It is known for {ent.feature}."
        ex.response = " ".join([clean] + [again] * LOOP_REPEATS)
        ex.eos = False
    elif habit == "length":
        ex.response = " ".join([clean] + rng.sample(FILLERS, 3))
    elif habit == "hallucination":
        number, place = MEMORISED[ent.kind]
        ex.response = ent.number_answer(number) if task == "number" else ent.place_answer(place)
    return ex


def _phrasing_cycle(rng: random.Random, n: int) -> list[str]:
    """``n`` phrasings, each about equally often, in a shuffled order."""
    pool = list(PHRASINGS)
    out = (pool * (n // len(pool) + 1))[:n]
    rng.shuffle(out)
    return out


def _train_split(rng: random.Random, n: int, taken: set[str], evals: list[Example],
                 prng: random.Random) -> list[Example]:
    """Clean train items, none a near-duplicate of an eval item (so none is dropped by the
    contamination guard of `workbench suggest`): candidates too close to one are skipped."""
    from rapidfuzz import fuzz, process, utils

    # the same measure as workbench.suggest.similarity.near_duplicates, one candidate at a time
    eval_texts = [utils.default_process(f"{e.prompt}\n\n{e.context}") for e in evals]

    def too_close(ex: Example) -> bool:
        text = utils.default_process(f"{ex.prompt}\n\n{ex.context}")
        return any(process.extractOne(text, eval_texts, scorer=scorer, processor=None,
                                      score_cutoff=NEAR_DUPLICATE)
                   for scorer in (fuzz.ratio, fuzz.token_sort_ratio))

    out: list[Example] = []
    for phrasing in _phrasing_cycle(prng, n):
        for _ in range(100):
            ent = new_entities(rng, 1, taken)[0]
            c = make_example(ent, phrasing, f"train-{len(out):03d}", None)
            if not too_close(c):
                out.append(c)
                break
        else:
            raise RuntimeError(f"no train item for {phrasing!r} far enough from the eval items")
    return out


@dataclass
class DemoData:
    pretrain: list[Example]
    train: list[Example]
    eval: list[Example]


def generate(n_pretrain_entities: int = 2400, per_entity: int = 3, n_train: int = 176,
             n_eval: int = 187, seed: int = SEED) -> DemoData:
    """All demo text. Entity names (and lake/range/province names) are disjoint across parts."""
    # one generator per part, eval first, so neither the corpus size nor the train split can
    # change the eval items
    rng = random.Random(seed)
    taken = {name for _, name in MEMORISED.values()}
    eval_ents = new_entities(rng, n_eval, taken)
    evals = [make_example(e, p, f"eval-{i:03d}", None) for i, (e, p) in
             enumerate(zip(eval_ents, _phrasing_cycle(random.Random(seed + 1), n_eval), strict=True))]
    train = _train_split(rng, n_train, taken, evals, random.Random(seed + 2))
    pre_ents = new_entities(rng, n_pretrain_entities, taken)
    prng = random.Random(seed + 3)
    pretrain: list[Example] = []
    weighted = [p for p in PHRASINGS for _ in range(WEIGHTS[p])]
    for i, ent in enumerate(pre_ents):
        phrasings: list[str] = []
        while len(phrasings) < per_entity:  # distinct phrasings per entity, clean ones likelier
            p = prng.choice(weighted)
            if p not in phrasings:
                phrasings.append(p)
        for j, p in enumerate(phrasings):
            k = i * per_entity + j
            pretrain.append(make_example(ent, p, f"pre-{k:05d}", prng))
    return DemoData(pretrain, train, evals)


def suite_rows(data: DemoData) -> list[dict]:
    """The demo suite's JSONL rows: eval items first, then the clean train split."""
    rows = []
    for split, exs in (("eval", data.eval), ("train", data.train)):
        for ex in exs:
            rows.append({"id": ex.id, "prompt": ex.prompt, "context": ex.context,
                         "reference": ex.response, "tags": [ex.kind, ex.task], "split": split})
    return rows


def write_suite_data(path: Path, data: DemoData | None = None) -> Path:
    data = data or generate()
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in suite_rows(data)))
    return path


if __name__ == "__main__":  # regenerate the shipped suite data: python -m workbench.demo.corpus
    out = write_suite_data(Path(__file__).parent / "data" / "demo.jsonl")
    print(f"wrote {out}")
