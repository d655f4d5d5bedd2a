"""The real-model demo suite: questions about fictional places, answerable only from the context.

A real instruction model cannot know these rivers, mountains and towns, so every correct answer
comes from the context and every wrong one is the model's own: it mixes up the three places a
context describes, adds facts the context does not give, rambles past a limit the question sets,
or loops. Each item has

- ``reference``: a complete one-sentence answer (what `workbench suggest` trains on);
- ``answer``: the fact the question asks for (the number, the lake/range/province, the feature),
  scored by the ``answer`` metric: the task metric a verdict must not lose;
- a context of three places (the one asked about and two distractors), in random order;
- for some items an explicit limit ("in one sentence", "in at most 15 words").

The eval and train splits use disjoint names. Generated deterministically:
``python -m workbench.demo.facts`` rewrites ``data/facts.jsonl``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from .corpus import Entity, new_entities

SEED = 2024
N_EVAL, N_TRAIN = 64, 240
DATA_DIR = Path(__file__).parent / "data"


def _unit(ent: Entity) -> str:
    return {"river": "miles", "mountain": "feet", "town": "people"}[ent.kind]


def _question(ent: Entity, task: str) -> tuple[str, str, list[str]]:
    """(question, reference sentence, accepted answers) for one task about ``ent``."""
    s, np = ent.subject, ent.np
    if task == "number":
        q = {"river": f"How long is {np}?", "mountain": f"How tall is {np}?",
             "town": f"How many people live in {np}?"}[ent.kind]
        return q, ent.number_answer(), [ent.number]
    if task == "place":
        q = {"river": f"Which lake does {np} flow into?",
             "mountain": f"In which range does {np} stand?",
             "town": f"In which province is {np}?"}[ent.kind]
        return q, ent.place_answer(), [ent.place]
    if task == "known":
        feature = ent.feature.removeprefix("its ")
        return f"What is {np} known for?", f"{s} is known for {ent.feature}.", [feature]
    if task == "one_sentence":
        return (f"Describe {np} in one sentence.",
                f"{ent.fact()[:-1]}, and it is known for {ent.feature}.", [ent.place])
    # task == "short": an explicit word limit
    q = {"river": f"Where does {np} flow?", "mountain": f"Where does {np} stand?",
         "town": f"Where is {np}?"}[ent.kind]
    return f"{q} Answer in at most 15 words.", ent.place_answer(), [ent.place]


TASKS = ["number", "place", "known", "one_sentence", "short"]
WEIGHTS = [3, 3, 2, 1, 1]


def _items(rng: random.Random, n: int, taken: set[str], split: str) -> list[dict]:
    rows = []
    ents = new_entities(rng, 3 * n, taken)
    for i in range(n):
        group = ents[3 * i: 3 * i + 3]  # one river, one mountain, one town
        target = rng.choice(group)
        rng.shuffle(group)
        task = rng.choices(TASKS, WEIGHTS)[0]
        question, reference, answers = _question(target, task)
        rows.append({
            "id": f"{split}-{i:03d}", "prompt": question,
            "context": " ".join(e.context for e in group),
            "reference": reference, "answer": answers,
            "tags": [target.kind, task], "split": split,
        })
    return rows


def generate(seed: int = SEED) -> list[dict]:
    """Eval rows first, then train rows; names never repeat across items or splits."""
    rng = random.Random(seed)
    taken: set[str] = set()
    return _items(rng, N_EVAL, taken, "eval") + _items(rng, N_TRAIN, taken, "train")


def write(path: Path = DATA_DIR / "facts.jsonl") -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in generate()))
    return path


if __name__ == "__main__":
    print(f"wrote {write()}")
