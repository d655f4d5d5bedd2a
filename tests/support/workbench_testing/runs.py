"""Custom suites written for a test (numbered questions; any rows), and `workbench run --json`
through the CLI fixture."""

from __future__ import annotations

import json
from pathlib import Path


def make_suite(d: Path, n: int, *, refs: dict[str, str] | None = None, max_new: int = 8,
               extra_yaml: str = "", name: str = "t") -> Path:
    d.mkdir(parents=True, exist_ok=True)
    with (d / "data.jsonl").open("w") as f:
        for i in range(n):
            row = {"id": f"q{i:04d}", "prompt": f"Question {i}: name a colour number {i * 7}.",
                   "tags": ["flag"] if i % 4 == 0 else []}
            if refs and row["id"] in refs:
                row["reference"] = refs[row["id"]]
            f.write(json.dumps(row) + "\n")
    p = d / "suite.yaml"
    p.write_text(f"name: {name}\ndata: data.jsonl\ngeneration:\n  max_new_tokens: {max_new}\n"
                 + extra_yaml)
    return p


def write_suite(d: Path, rows: list[dict], body: str) -> Path:
    """``d/s.yaml`` over ``d/d.jsonl`` holding ``rows``; ``body`` is the rest of the YAML."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (d / "s.yaml").write_text("data: d.jsonl\n" + body)
    return d / "s.yaml"


def colour_suite(d: Path, name: str, chat: bool = False,
                 gen: str = "  max_new_tokens: 8\n") -> Path:
    """Five "Name the colour N please" prompts checked for length and inconsistency."""
    rows = [{"id": f"q{i}", "prompt": f"Name the colour {i} please"} for i in range(5)]
    return write_suite(d, rows, f"name: {name}\nchat_template: {str(chat).lower()}\n"
                                f"checks: [length, inconsistency]\ngeneration:\n{gen}")


def run_json(cli, *args):
    r = cli("run", *args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)
