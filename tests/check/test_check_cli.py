"""`workbench checks` and `workbench check` through the real CLI (CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

LOOP = "Blue is a colour. Blue is a colour. Blue is a colour. Blue is a colour."
RECORDS = [
    {"id": "q1", "prompt": "Name a colour.", "output": LOOP},
    {
        "id": "q2",
        "prompt": "Describe Paris in at most 10 words.",
        "output": "Paris is the capital of France, famous for the Eiffel Tower, its museums and cafes.",
    },
    {
        "id": "q3",
        "prompt": "Explain rain.",
        "output": "Rain forms when water vapour condenses into droplets that grow heavy enough to",
        "finish_reason": "length",
        "max_new_tokens": 16,
    },
    {"id": 4, "prompt": "Say hi.", "output": "Hello there!", "finish_reason": "eos"},
]


def jsonl(path: Path, rows: list, extra_lines: tuple[str, ...] = ()) -> Path:
    lines = [json.dumps(r) for r in rows] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n")
    return path


def rows_of(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# -- workbench checks ----------------------------------------------------------------------------
def test_checks_lists_builtins_with_options_and_defaults(cli):
    res = cli("checks")
    assert res.exit_code == 0
    for word in ("repetition", "length", "checks", "max_ratio_to_reference=1.3", "min_stutter=3"):
        assert word in res.stdout


def test_checks_json(cli):
    data = json.loads(cli("checks", "--json").stdout)
    by_name = {c["name"]: c for c in data["checks"]}
    length = by_name["length"]
    assert (length["category"], length["version"], length["plugin"]) == ("length", "2", "checks")
    assert length["options"]["target_tolerance"]["default"] == 0.25
    assert by_name["repetition"]["options"]["flag_doubled_words"]["type"] == "bool"
    assert data["failures"] == []


def test_checks_reports_plugin_failures(cli, tmp_path):
    (tmp_path / "pl").mkdir()
    (tmp_path / "pl" / "broken.py").write_text("raise ImportError('no such thing')\n")
    res = cli("checks", "--json", "--plugins-dir", tmp_path / "pl")
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert data["failures"] == [{"plugin": "pl/broken", "error": "ImportError: no such thing"}]
    assert "Warning: plugin 'pl/broken' failed to load" in res.stderr
    assert {"repetition", "length"} <= {c["name"] for c in data["checks"]}


# -- workbench check -----------------------------------------------------------------------------
def test_check_prints_one_row_per_flagged_finding(cli, tmp_path):
    res = cli("check", jsonl(tmp_path / "r.jsonl", RECORDS), "--checks", "repetition,length")
    assert res.exit_code == 0, res.stderr
    rows = rows_of(res.stdout)
    got = {(r["id"], r["check"]) for r in rows}
    assert got == {("q1", "repetition"), ("q2", "length"), ("q3", "length")}
    for r in rows:
        assert set(r) == {
            "id",
            "check",
            "category",
            "flagged",
            "score",
            "severity",
            "spans",
            "message",
        }
        assert r["flagged"] is True and 0 <= r["score"] <= 1
    loop = next(r for r in rows if r["id"] == "q1")
    ((a, b),) = loop["spans"]
    assert LOOP[a:b] == "Blue is a colour. Blue is a colour. Blue is a colour"
    assert "4 records, 2 checks; flagged: length 2, repetition 1" in res.stderr


def test_check_all_scores_gives_every_record_and_check(cli, tmp_path):
    res = cli(
        "check",
        jsonl(tmp_path / "r.jsonl", RECORDS),
        "--checks",
        "length,repetition",
        "--all-scores",
    )
    rows = rows_of(res.stdout)
    assert len(rows) == 8
    assert {r["id"] for r in rows} == {"q1", "q2", "q3", "4"}  # integer ids become strings
    clean = next(r for r in rows if r["id"] == "4" and r["check"] == "length")
    assert clean["flagged"] is False and clean["severity"] == "info"


def test_check_out_writes_the_file_and_keeps_stdout_empty(cli, tmp_path):
    out = tmp_path / "findings.jsonl"
    res = cli("check", jsonl(tmp_path / "r.jsonl", RECORDS), "--checks", "length", "--out", out)
    assert res.exit_code == 0 and res.stdout == ""
    assert [r["id"] for r in rows_of(out.read_text())] == ["q2", "q3"]


def test_check_option_changes_a_check(cli, tmp_path):
    rec = {
        "id": "r",
        "prompt": "Sum up.",
        "output": " ".join(["One two three four five six seven eight nine ten."] * 3),
        "reference": "one two three four five six seven eight nine ten",
    }
    path = jsonl(tmp_path / "r.jsonl", [rec])
    assert rows_of(cli("check", path, "--checks", "length").stdout)[0]["id"] == "r"
    res = cli("check", path, "--checks", "length", "--option", "length.ratio_slack_words=20")
    assert res.exit_code == 0 and rows_of(res.stdout) == []


def test_bad_lines_are_reported_with_line_numbers_and_exit_1(cli, tmp_path):
    path = jsonl(
        tmp_path / "r.jsonl",
        RECORDS[:1],
        extra_lines=(
            "{not json",
            json.dumps({"id": "x", "prompt": "p"}),
            json.dumps({"id": "q1", "prompt": "p", "output": "again"}),
            json.dumps({"id": "y", "prompt": "p", "output": "o", "finish_reason": "timeout"}),
            json.dumps([1, 2]),
            "",
            json.dumps({"id": "z", "prompt": "p", "output": "fine."}),
        ),
    )
    res = cli("check", path, "--checks", "repetition")
    assert res.exit_code == 1
    err = res.stderr
    assert f"{path}:2: skipped:" in err
    assert f"{path}:3: skipped: missing field(s): output" in err
    assert f"{path}:4: skipped: duplicate id 'q1' (first on line 1)" in err
    assert f"{path}:5: skipped: 'finish_reason' must be one of eos, stop, length" in err
    assert f"{path}:6: skipped: expected a JSON object" in err
    assert ":7:" not in err  # a blank line is not a record and not an error
    assert "2 records, 1 checks; flagged: repetition 1; 5 line(s) skipped" in err
    assert [r["id"] for r in rows_of(res.stdout)] == ["q1"]  # good lines still checked


@pytest.mark.parametrize(
    "args, message",
    [
        (("--checks", "nope"), "unknown check(s): nope"),
        (("--option", "length"), "expected CHECK.KEY=VALUE"),
        (("--option", "length.no_such_option=1"), "bad options for check 'length'"),
        (
            ("--checks", "length", "--option", "repetition.min_stutter=4"),
            "not selected by --checks",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(cli, tmp_path, args, message):
    res = cli("check", jsonl(tmp_path / "r.jsonl", RECORDS), *args)
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and message in res.stderr and res.stdout == ""


def test_missing_records_file_exits_2(cli, tmp_path):
    res = cli("check", tmp_path / "absent.jsonl")
    assert res.exit_code == 2 and "records file not found" in res.stderr


def test_a_check_that_raises_is_reported_and_exits_1(cli, tmp_path):
    (tmp_path / "pl").mkdir()
    (tmp_path / "pl" / "fragile.py").write_text(
        "from workbench import Check, hookimpl\n\n"
        "class Fragile(Check):\n"
        "    name = 'fragile'\n"
        "    category = 'test'\n\n"
        "    def run(self, records):\n"
        "        for r in records:\n"
        "            if r.id == 'q2':\n"
        "                raise KeyError('oops')\n"
        "            yield self.finding(r, flagged=False, score=0.0)\n\n"
        "@hookimpl\n"
        "def register_checks(register):\n"
        "    register(Fragile)\n"
    )
    path = jsonl(tmp_path / "r.jsonl", RECORDS)
    res = cli(
        "check", path, "--checks", "fragile", "--plugins-dir", tmp_path / "pl", "--all-scores"
    )
    assert res.exit_code == 1
    assert "check 'fragile' raised on 1 record(s)" in res.stderr
    rows = {r["id"]: r for r in rows_of(res.stdout)}
    assert len(rows) == 4 and "KeyError" in rows["q2"]["error"] and "error" not in rows["q1"]


@pytest.mark.slow
def test_big_file_is_checked_in_batches(cli, tmp_path):
    rows = [
        {"id": i, "prompt": "Say it.", "output": "Fine answer here. " * (1 + i % 4)}
        for i in range(2500)
    ]
    res = cli("check", jsonl(tmp_path / "big.jsonl", rows), "--checks", "repetition")
    assert res.exit_code == 0
    flagged = rows_of(res.stdout)
    # outputs repeating their sentence 3 or 4 times loop; once or twice does not
    assert len(flagged) == sum(1 for i in range(2500) if 1 + i % 4 >= 3)
    assert "2500 records, 1 checks; flagged: repetition 1250" in res.stderr


def test_unwritable_out_exits_2(cli, tmp_path):
    res = cli("check", jsonl(tmp_path / "r.jsonl", RECORDS), "--out", tmp_path)
    assert res.exit_code == 2 and "cannot write" in res.stderr


def test_the_documented_example_runs_as_shown(cli, tmp_path, monkeypatch):
    """docs/checking-outputs.md: its outputs.jsonl, its command, its output, line for line."""
    import re

    doc = (Path(__file__).resolve().parents[2] / "docs" / "checking-outputs.md").read_text()
    source = re.search(r"```jsonl\n(.*?)```", doc, re.S).group(1)
    shown = re.search(
        r"\$ workbench check outputs.jsonl --checks repetition,length\n(.*?)```", doc, re.S
    )
    shown_lines = shown.group(1).splitlines()
    monkeypatch.chdir(tmp_path)
    Path("outputs.jsonl").write_text(source)
    res = cli("check", "outputs.jsonl", "--checks", "repetition,length")
    assert res.exit_code == 1  # two lines skipped
    want_rows = [json.loads(line) for line in shown_lines if line.startswith("{")]
    assert rows_of(res.stdout) == want_rows
    assert res.stderr.splitlines() == [line for line in shown_lines if not line.startswith("{")]


def test_check_refuses_devices_and_fifos(tmp_path, cli):
    import os

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path in ("/dev/zero", str(fifo), str(tmp_path)):
        res = cli("check", path)
        assert res.exit_code == 2 and "not a regular file" in res.output, res.output
