"""`workbench suites validate|list`, and bad suites rejected by `workbench run` before any write."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest


def write_suite(d: Path, rows: list | bytes | None, yaml_text: str | None = None) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    if rows is not None:
        data = rows if isinstance(rows, bytes) else "".join(json.dumps(r) + "\n" for r in rows).encode()
        (d / "data.jsonl").write_bytes(data)
    p = d / "suite.yaml"
    p.write_text(yaml_text if yaml_text is not None else "name: t\ndata: data.jsonl\n")
    return p


GOOD = [{"id": "a", "prompt": "Name a colour.", "reference": "blue"},
        {"id": 2, "prompt": "Name a river."},
        {"id": "c", "prompt": "Train me.", "split": "train"}]

# name -> (rows, yaml, expected message, expected location suffix)
BAD = {
    "bad_yaml": (GOOD, "name: t\ndata: [data.jsonl\ngeneration: {}\n", "bad YAML", "suite.yaml:"),
    "missing_data": (None, "name: t\n\ndata: nope.jsonl\n", "data file not found", "suite.yaml:3"),
    "duplicate_id": ([*GOOD, {"id": "a", "prompt": "again"}], None, "duplicate id 'a'",
                     "data.jsonl:4"),
    "empty": (b"\n\n", None, "the suite is empty", "suite.yaml"),
    "non_utf8": (b'{"id": "a", "prompt": "x"}\n{"id": "b", "prompt": "caf\xe9"}\n', None,
                 "not valid UTF-8", "data.jsonl:2"),
    "malformed_jsonl": (b'{"id": "a", "prompt": "x"}\n\n{"id": "b", "prompt": \n', None,
                        "malformed JSON", "data.jsonl:3"),
    "unknown_field": (GOOD, "name: t\ndata: data.jsonl\ngeneration:\n  max_tokens: 3\n",
                      "generation.max_tokens", "suite.yaml:4"),
    "unknown_metric": (GOOD, "name: t\ndata: data.jsonl\nmetrics: [exact_match, bleu]\n",
                       "unknown metric 'bleu'", "suite.yaml:3"),
    "misspelt_check": (GOOD, "name: t\ndata: data.jsonl\nchecks:\n  lenght: {}\n",
                       "lenght", "suite.yaml:4: unknown check 'lenght' (did you mean 'length'?)"),
    "no_prompt": ([{"id": "a", "reference": "x"}], None, "needs a 'prompt' or 'messages'",
                  "data.jsonl:1"),
}


def test_validate_good_suite_prints_counts(tmp_path, cli):
    p = write_suite(tmp_path / "good", GOOD)
    r = cli("suites", "validate", p)
    assert r.exit_code == 0
    assert f"OK {p}: t, 2 eval + 1 train items" in r.stdout
    r = cli("suites", "validate", p, "--json")
    assert json.loads(r.stdout)[0]["items"] == {"eval": 2, "train": 1}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_suite_is_reported_with_place(case, tmp_path, cli):
    rows, yaml_text, message, where = BAD[case]
    p = write_suite(tmp_path / case, rows, yaml_text)
    r = cli("suites", "validate", p)
    assert r.exit_code == 2
    lines = [ln for ln in r.stderr.splitlines() if message in ln]
    assert lines, r.stderr
    assert where in lines[0], lines[0]


@pytest.mark.parametrize("case", sorted(BAD))
def test_run_on_a_bad_suite_writes_nothing(case, tmp_path, cli, tiny_model_dir):
    rows, yaml_text, message, _ = BAD[case]
    p = write_suite(tmp_path / case, rows, yaml_text)
    db = Path(os.environ["WORKBENCH_DB"])
    r = cli("run", "--model", f"base={tiny_model_dir}", "--suite", p)
    assert r.exit_code == 2
    assert r.stderr.startswith("Error: ") and message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1  # one line, no traceback
    assert not db.exists()  # the suite is rejected before the store is opened


def test_every_problem_is_reported(tmp_path, cli):
    data = (b'{"id": "a", "prompt": "x"}\n{"id": "a", "prompt": "y"}\n'
            b'{"id": "b", "prompt": "\xff"}\nnot json\n[1, 2]\n')
    p = write_suite(tmp_path / "many", data)
    r = cli("suites", "validate", p)
    assert r.exit_code == 2
    err = r.stderr
    for needle in ("data.jsonl:2: duplicate id 'a'", "data.jsonl:3: not valid UTF-8",
                   "data.jsonl:4: malformed JSON", "data.jsonl:5: expected a JSON object",
                   "4 problem(s) in 1 of 1"):
        assert needle in err, err


def test_validate_several_files_and_missing_file(tmp_path, cli):
    good = write_suite(tmp_path / "good", GOOD)
    r = cli("suites", "validate", good, tmp_path / "absent.yaml")
    assert r.exit_code == 2
    assert "OK" in r.stdout and "absent.yaml: suite file not found" in r.stderr


def test_list_suites(tmp_path, cli):
    write_suite(tmp_path / "s" / "good", GOOD)
    write_suite(tmp_path / "s" / "bad", [*GOOD, GOOD[0]])
    (tmp_path / "s" / "task.yaml").write_text("task: something\ndataset_path: json\n")
    r = cli("suites", "list", tmp_path / "s", "--json")
    assert r.exit_code == 0
    rows = {Path(x["path"]).parent.name: x for x in json.loads(r.stdout)}
    assert set(rows) == {"good", "bad"}  # the lm-eval task YAML is not listed
    assert rows["good"]["ok"] and rows["good"]["items"] == {"eval": 2, "train": 1}
    assert not rows["bad"]["ok"] and rows["bad"]["problems"] == 1
    r = cli("suites", "list", tmp_path / "s")
    assert "1 problem(s)" in r.stdout and "ok" in r.stdout
    assert cli("suites", "list", tmp_path / "nowhere").exit_code == 2


def test_lm_eval_suite_rejects_what_the_task_decides(tmp_path, cli):
    p = tmp_path / "s.yaml"
    p.write_text("name: l\nlm_eval:\n  tasks: [workbench_qa]\ngeneration:\n  max_new_tokens: 9\n"
                 "template: '{{ prompt }}'\nmetrics: [answer]\n")
    res = cli("suites", "validate", str(p))
    assert res.exit_code != 0
    for key in ("generation", "template", "metrics"):
        assert f"{key}: not used by lm-eval suites" in res.output
    assert f"{p}:4:" in res.output  # the line of `generation:`


def test_one_schema_error_hides_no_other_problem(tmp_path, cli):
    """A key in error does not stop validation: the file's other problems (another key, the
    checks and their options, the metrics, the data) come with it, each with its line."""
    rows = [*GOOD, {"id": "a", "prompt": "again"}]
    p = write_suite(tmp_path / "many", rows, (
        "name: t\n"                           # 1
        "data: data.jsonl\n"                  # 2
        "generation:\n"                       # 3
        "  max_new_tokens: 8\n"               # 4
        "  max_tokens: 5\n"                   # 5
        "checks:\n"                           # 6
        "  lenght: {}\n"                      # 7
        "  repetition: {min_loop_copies: 1}\n"  # 8
        "metrics: [exact_macth]\n"            # 9
        "chat_template: maybe\n"              # 10
    ))
    r = cli("suites", "validate", p)
    assert r.exit_code == 2
    err = r.stderr
    for needle in (f"{p}:5: generation.max_tokens: Extra inputs are not permitted",
                   f"{p}:10: chat_template:",
                   f"{p}:7: unknown check 'lenght' (did you mean 'length'?)",
                   f"{p}:8: bad options for check 'repetition': min_loop_copies",
                   f"{p}:9: unknown metric 'exact_macth' (did you mean 'exact_match'?)",
                   "data.jsonl:4: duplicate id 'a'", "6 problem(s) in 1 of 1"):
        assert needle in err, err
    # `run` refuses the same names, with the same hint
    r = cli("run", "--model", "m=nowhere", "--suite", write_suite(
        tmp_path / "one", GOOD, "name: t\ndata: data.jsonl\nchecks: [lenght]\n"))
    assert r.exit_code == 2 and "unknown check(s): lenght (did you mean 'length'?)" in r.stderr


# SmolLM2-135M-Instruct's chat template (Apache-2.0): it adds its own system prompt when the
# conversation starts with none
SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    "<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] +"
    " '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _docs_blocks() -> dict[str, str]:
    """The worked example's code blocks in docs/run.md, by their fence's language."""
    import re

    text = (Path(__file__).resolve().parents[2] / "docs" / "run.md").read_text()
    section = text.split("### Instruction (chat) models")[1].split("\n## ")[0]
    return {lang: body for lang, body in re.findall(r"```(\w+)\n(.*?)```", section, re.S)}


def test_the_instruct_model_example_of_the_docs(tmp_path, cli, tiny_model_dir):
    """docs/run.md's instruct-model example, on the tiny model given SmolLM2's chat template:
    the prompt the docs show is the one the model sees; without `system:` the template's own
    system prompt comes in; `system: ""` suppresses it; a `messages` item's context is not
    shown to the model."""
    import shutil

    model = tmp_path / "chat-model"
    shutil.copytree(tiny_model_dir, model)
    (model / "chat_template.jinja").write_text(SMOLLM2_TEMPLATE)
    blocks = _docs_blocks()
    (tmp_path / "capitals.jsonl").write_text(blocks["jsonl"])

    def prompts(yaml_text: str, name: str) -> dict[str, str]:
        suite = tmp_path / f"{name}.yaml"
        suite.write_text(yaml_text.replace("name: capitals-with-context", f"name: {name}"))
        res = cli("run", "--model", f"m={model}", "--suite", suite, "--no-checks", "--json")
        assert res.exit_code == 0, res.output
        run_id = json.loads(res.stdout)["run_id"]
        out = cli("export", run_id, "--out", "-").stdout
        return {r["item_id"]: r["rendered_prompt"] for r in map(json.loads, out.splitlines())}

    shown = prompts(blocks["yaml"], "as-documented")
    assert shown["q1"] == blocks["text"]  # exactly what the docs say the model sees
    default = prompts(blocks["yaml"].replace(
        'system: "Answer in one short sentence, using only the context."\n', ""), "no-system")
    assert default["q1"].startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    empty = prompts(blocks["yaml"].replace(
        'system: "Answer in one short sentence, using only the context."', 'system: ""'), "empty")
    assert empty["q1"].startswith("<|im_start|>system\n<|im_end|>\n<|im_start|>user\nContext:")
    assert "SmolLM" not in empty["q1"]
    (tmp_path / "capitals.jsonl").write_text(json.dumps({
        "id": "m1", "messages": [{"role": "user", "content": "What is the capital of Norland?"}],
        "context": "Its capital is Vell.", "reference": "Vell"}) + "\n")
    messages = prompts(blocks["yaml"], "messages-item")
    assert "Vell" not in messages["m1"] and "Context:" not in messages["m1"]


def test_per_item_max_new_tokens(tmp_path, cli, tiny_model_dir):
    """A one-fact question beside an essay: an item's own max_new_tokens is its budget."""
    from workbench.store import Store

    d = tmp_path / "s"
    d.mkdir()
    rows = [{"id": "short", "prompt": "Say 1 and 2", "max_new_tokens": 2},
            {"id": "long", "prompt": "Say 3 and 4"}]
    (d / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (d / "s.yaml").write_text("name: mix\ndata: d.jsonl\ngeneration:\n  max_new_tokens: 12\n")
    db = tmp_path / "a.duckdb"
    args = ["run", "--model", f"m={tiny_model_dir}", "--suite", str(d / "s.yaml"),
            "--db", str(db), "--json", "--checks", "length"]
    res = cli(*args)
    assert res.exit_code == 0, res.output
    outs = Store(db).run_outputs(json.loads(res.stdout)["run_id"]).set_index("item_id")
    assert outs.loc["short", "tokens_out"] <= 2 < outs.loc["long", "tokens_out"]
    assert outs.loc["short", "finish_reason"] == "length"
    # changing one item's budget regenerates that item only
    rows[0]["max_new_tokens"] = 3
    (d / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = json.loads(cli(*args).stdout)
    assert (out["generated"], out["cached"]) == (1, 1)
    rows[0]["max_new_tokens"] = 0
    (d / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = cli("suites", "validate", str(d / "s.yaml"))
    assert res.exit_code != 0 and "max_new_tokens" in res.output
