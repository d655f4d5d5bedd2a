"""A custom suite of numbered questions, and `workbench run --json` through the CLI fixture."""

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


def run_json(cli, *args):
    r = cli("run", *args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)
