"""Bad input, fuzzed: suite YAML and JSONL, `workbench check` records, check options.

Each gets a clear one-line error or a skipped line reported by its number; never a traceback
(the CLI runs with catch_exceptions=False, so any escaping exception fails the test), never a
hang."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.run.suites import inspect_suite

FUZZ = settings(max_examples=30, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

json_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                | st.text(max_size=30))
json_values = st.recursive(json_scalars, lambda kids: st.lists(kids, max_size=4)
                           | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                           max_leaves=12)
item_keys = st.sampled_from(["id", "prompt", "messages", "reference", "context", "tags",
                             "split", "extra"])
items = st.dictionaries(item_keys, json_values, max_size=6)


def _write_suite(d: Path, data: bytes, yaml_text: str = "name: fz\ndata: data.jsonl\n") -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "data.jsonl").write_bytes(data)
    (d / "suite.yaml").write_text(yaml_text, encoding="utf-8")
    return d / "suite.yaml"


def _one_line_error(res) -> str:
    assert "Traceback" not in res.output
    err = res.stderr.strip()
    return err


# -- suite JSONL --------------------------------------------------------------------------------
@FUZZ
@given(lines=st.lists(st.one_of(st.binary(max_size=60), items.map(
    lambda d: json.dumps(d).encode())), min_size=1, max_size=8))
def test_fuzzed_jsonl_is_valid_or_reported_by_line(tmp_path_factory, lines):
    path = _write_suite(tmp_path_factory.mktemp("s"), b"\n".join(lines) + b"\n")
    suite = inspect_suite(path)
    data = str((path.parent / "data.jsonl").resolve())
    for p in suite.problems:
        # every problem names its file and line (or says the suite is empty as a whole)
        assert re.match(rf"{re.escape(data)}:\d+: ", p) or p.endswith("(no items)") \
            or ": item " in p, p
    if not suite.problems:
        assert suite.items


@FUZZ
@given(lines=st.lists(items.map(lambda d: json.dumps(d).encode()) | st.binary(max_size=40),
                      min_size=1, max_size=5))
def test_fuzzed_suite_through_the_cli(tmp_path_factory, cli, lines):
    path = _write_suite(tmp_path_factory.mktemp("s"), b"\n".join(lines))
    res = cli("suites", "validate", path)
    assert res.exit_code in (0, 2), res.output
    assert "Traceback" not in res.output
    if res.exit_code == 2:
        assert re.search(r"data\.jsonl:\d+: |no items|: item ", res.output), res.output


@pytest.mark.parametrize("line, message", [
    (b'{"id": "a", "prompt": "x\xff\xfe"}', "not valid UTF-8"),
    (b'{"id": "a", "prompt": 12}', "prompt: Input should be a valid string"),
    (b'{"id": true, "prompt": "x"}', "id must be a string or an integer"),
    (b'{"id": "a", "prompt": "x", "tags": "t"}', "tags: Input should be a valid list"),
    (b'{"id": "a", "prompt": "x", "split": "test"}', "split: Input should be 'eval' or 'train'"),
    (b'[1, 2]', "expected a JSON object, got list"),
    (b'{"id": "a", "prompt": "\\ud800"}', "unpaired surrogate"),
    (b'{"id": "a", "prompt": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "nested too deeply"),
    (b'{"id": "a", "prompt": "x"', "malformed JSON"),
])
def test_bad_jsonl_lines_are_named(tmp_path, cli, line, message):
    good = b'{"id": "ok", "prompt": "fine"}\n'
    path = _write_suite(tmp_path, good + line + b"\n" + good.replace(b"ok", b"ok2"))
    res = cli("suites", "validate", path)
    assert res.exit_code == 2
    assert re.search(r"data\.jsonl:2: .*" + re.escape(message), res.output), res.output
    assert "Traceback" not in res.output


def test_control_characters_and_huge_fields_are_kept_verbatim(tmp_path):
    ctrl = "".join(chr(c) for c in range(1, 32) if c not in (10, 13)) + "\u202e\u2028\x7f"
    huge = "word " * 2_000_000  # 10 MB prompt
    rows = [{"id": "ctrl", "prompt": ctrl, "reference": "\x00"},
            {"id": "huge", "prompt": huge}, {"id": 7, "prompt": "int id"}]
    path = _write_suite(tmp_path, "".join(json.dumps(r) + "\n" for r in rows).encode())
    t0 = time.monotonic()
    suite = inspect_suite(path)
    assert time.monotonic() - t0 < 20
    assert suite.problems == []
    by_id = {i.id: i for i in suite.items}
    assert by_id["ctrl"].prompt == ctrl and by_id["ctrl"].reference == "\x00"
    assert len(by_id["huge"].prompt) == len(huge) and "7" in by_id


@pytest.mark.slow
def test_a_hundred_thousand_items_validate_in_bounded_time(tmp_path):
    """10^6 lines (82 MB) measured with `workbench suites validate`: 28 s CPU, 1.6 GB peak RSS
    (docs/faults.md); 10^5 here keeps the test short, and a bad last line is found by number."""
    n = 100_000
    with (tmp_path / "data.jsonl").open("w") as f:
        for i in range(n):
            f.write(f'{{"id": "q{i}", "prompt": "What is {i} plus {i}?", "reference": "{2 * i}"}}\n')
        f.write('{"id": "q0", "prompt": "again"}\n')
    (tmp_path / "suite.yaml").write_text("name: big\ndata: data.jsonl\n")
    t0 = time.monotonic()
    suite = inspect_suite(tmp_path / "suite.yaml")
    seconds = time.monotonic() - t0
    assert len(suite.items) == n
    assert len(suite.problems) == 1 and f"data.jsonl:{n + 1}: duplicate id 'q0'" in suite.problems[0]
    assert seconds < 60, seconds


# -- suite YAML ---------------------------------------------------------------------------------
suite_keys = st.sampled_from(["name", "description", "data", "items", "template", "chat_template",
                              "system", "generation", "checks", "metrics", "lm_eval", "junk"])


@FUZZ
@given(spec=st.dictionaries(suite_keys, json_values, max_size=6) | json_values)
def test_fuzzed_yaml_specs_never_raise(tmp_path_factory, spec):
    d = tmp_path_factory.mktemp("y")
    (d / "suite.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    (d / "data.jsonl").write_text('{"id": 1, "prompt": "p"}\n')
    suite = inspect_suite(d / "suite.yaml")
    assert suite.problems or suite.items or suite.source == "lm-eval"
    assert all("\n" not in p for p in suite.problems)


@FUZZ
@given(text=st.text(max_size=200))
def test_fuzzed_yaml_text_never_raises(tmp_path_factory, cli, text):
    d = tmp_path_factory.mktemp("t")
    (d / "suite.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    res = cli("suites", "validate", d / "suite.yaml")
    assert res.exit_code in (0, 2) and "Traceback" not in res.output


def _laughs(levels: int) -> str:
    lines = ["name: laughs", "items:", "  - id: x", "    prompt: hi",
             "    junk: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for k in range(1, levels):
        refs = ", ".join([f"*a{k - 1}"] * 9)
        lines += [f"  - id: x{k}", "    prompt: hi", f"    junk: &a{k} [{refs}]"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text, message", [
    (_laughs(9), "aliases expand to more than 1,000,000 values"),
    ("name: r\nitems: &a\n  - id: x\n    prompt: *a\n", "a recursive alias"),
    ("name: d\nitems: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ("name: [unclosed\n", "bad YAML"),
    ("- just\n- a list\n", "a suite must be a YAML mapping"),
    ("name: t\ndata: data.jsonl\ngeneration:\n  max_new_tokens: -3\n",
     "generation.max_new_tokens"),
    ("name: t\ndata: data.jsonl\nchecks: 7\n", "checks"),
])
def test_hostile_yaml_is_one_clear_problem(tmp_path, cli, text, message):
    (tmp_path / "data.jsonl").write_text('{"id": 1, "prompt": "p"}\n')
    (tmp_path / "suite.yaml").write_text(text)
    t0 = time.monotonic()
    res = cli("suites", "validate", tmp_path / "suite.yaml")
    assert time.monotonic() - t0 < 20
    assert res.exit_code == 2 and message in res.output, res.output
    assert "Traceback" not in res.output


def _validate_bounded(suite: Path, **env: str) -> subprocess.CompletedProcess:
    """`workbench suites validate SUITE` in a process of its own, limited to 3 GB of memory and
    60 s: what once hung or ate memory fails the test instead of the machine."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))

    workbench = str(Path(sys.executable).with_name("workbench"))
    try:
        return subprocess.run([workbench, "suites", "validate", str(suite)], capture_output=True,
                              text=True, timeout=60, preexec_fn=limit,
                              env={**os.environ, "OMP_NUM_THREADS": "1", **env})
    except subprocess.TimeoutExpired:
        pytest.fail(f"`suites validate {suite.name}` still running after 60 s")


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "directory"])
def test_suite_data_that_is_not_a_regular_file_is_one_line(tmp_path, kind):
    if kind == "fifo":
        data = tmp_path / "data.jsonl"
        os.mkfifo(data)  # no writer: opening it to read would wait forever
    elif kind == "directory":
        data = tmp_path / "data.jsonl"
        data.mkdir()
    else:
        data = Path(kind)
    (tmp_path / "suite.yaml").write_text(f"name: t\ndata: {data}\n")
    t0 = time.monotonic()
    res = _validate_bounded(tmp_path / "suite.yaml")
    assert time.monotonic() - t0 < 30
    what = {"/dev/zero": "a character device", "fifo": "a FIFO", "directory": "a directory"}[kind]
    assert res.returncode == 2, res.stderr
    assert f"cannot read data file: not a regular file ({what})" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    # the suite file itself, too
    res = _validate_bounded(data)
    assert res.returncode == 2 and "cannot read suite file: not a regular file" in res.stderr, \
        res.stderr


def test_suite_data_over_the_size_limit_is_refused_unless_raised(tmp_path, cli, monkeypatch):
    (tmp_path / "data.jsonl").write_text("".join(
        json.dumps({"id": f"q{i}", "prompt": "p" * 40}) + "\n" for i in range(10)))  # 670 bytes
    (tmp_path / "suite.yaml").write_text("name: t\ndata: data.jsonl\n")
    monkeypatch.setenv("WORKBENCH_MAX_DATA_BYTES", "500")
    res = cli("suites", "validate", tmp_path / "suite.yaml")
    assert res.exit_code == 2
    assert ("cannot read data file: 670 bytes, over the limit of 500 (raise it with "
            "WORKBENCH_MAX_DATA_BYTES=BYTES)") in res.stderr, res.stderr
    monkeypatch.setenv("WORKBENCH_MAX_DATA_BYTES", "1000")
    assert cli("suites", "validate", tmp_path / "suite.yaml").exit_code == 0


@pytest.mark.parametrize(("template", "message"), [
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
     "the template loops more than 1,000,000 times"),
    ("{% for i in range(100000) %}{% for j in range(100000) %}{{ prompt }}{% endfor %}"
     "{% endfor %}", "the template loops more than"),
    ("{% for i in range(3) %}{{ 'abc' * 1000000000 }}{% endfor %}", "builds a value over"),
    ("{{ 7 ** 99999999 }}", "a number over a million bits"),
    ("{{ prompt.center(10000000000) }}", "passes a number over"),
    ("{% for i in range(1000) %}{{ prompt * 100000 }}{% endfor %}",
     "the rendered prompt is over"),
    ("{% for c in prompt * 1500000 %}{% endfor %}", "the template loops more than 1,000,000"),
    ('{{ "x"|center(10**9) }}', "passes a number over 67,108,864 to |center"),
    ('{{ "{:60000000}{:60000000}".format(1, 2) }}', "str.format builds a value over"),
])
def test_a_template_that_would_not_end_fails_in_seconds(tmp_path, template, message):
    (tmp_path / "data.jsonl").write_text('{"id": 1, "prompt": "a prompt"}\n')
    (tmp_path / "suite.yaml").write_text(
        f"name: t\ndata: data.jsonl\ntemplate: {json.dumps(template)}\n")
    t0 = time.monotonic()
    res = _validate_bounded(tmp_path / "suite.yaml")
    assert time.monotonic() - t0 < 30
    assert res.returncode == 2 and "template cannot render" in res.stderr, res.stderr
    assert message in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


def test_a_bounded_template_still_renders_loops_and_long_prompts(tmp_path):
    (tmp_path / "data.jsonl").write_text(json.dumps({"id": 1, "prompt": "x" * 10_000_000}) + "\n")
    (tmp_path / "suite.yaml").write_text(
        "name: t\ndata: data.jsonl\n"
        "template: \"{% for i in range(3) %}{{ i }}{% endfor %}|{{ range(5)|list|length }}|"
        "{{ range(10)[2:4]|list }}|{{ prompt }}\"\n")
    suite = inspect_suite(tmp_path / "suite.yaml")
    assert not suite.problems
    text = suite.render(suite.items[0])
    assert text == "012|5|[2, 3]|" + "x" * 10_000_000


def test_invalid_utf8_yaml(tmp_path, cli):
    (tmp_path / "suite.yaml").write_bytes(b"name: caf\xe9\n")
    res = cli("suites", "validate", tmp_path / "suite.yaml")
    assert res.exit_code == 2 and "not valid UTF-8 (byte 9)" in res.output


def test_a_template_cannot_reach_python_internals(tmp_path):
    (tmp_path / "data.jsonl").write_text('{"id": 1, "prompt": "p"}\n')
    (tmp_path / "suite.yaml").write_text(
        "name: t\ndata: data.jsonl\n"
        "template: \"{{ cycler.__init__.__globals__.os.popen('echo pwned').read() }}\"\n")
    suite = inspect_suite(tmp_path / "suite.yaml")
    assert len(suite.problems) == 1 and "template cannot render" in suite.problems[0]
    assert "unsafe" in suite.problems[0]


# -- workbench check records --------------------------------------------------------------------
record_like = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=6) | st.integers() | st.booleans() | st.none(),
     "prompt": st.text(max_size=40) | json_scalars, "output": st.text(max_size=80) | json_scalars},
    optional={"reference": json_scalars, "context": json_scalars, "tags": json_values,
              "finish_reason": st.sampled_from(["eos", "stop", "length", "max", 3]),
              "max_new_tokens": st.integers(-5, 10**12) | json_scalars})


@FUZZ
@given(lines=st.lists(record_like.map(lambda d: json.dumps(d).encode())
                      | st.binary(max_size=40), min_size=1, max_size=8))
def test_fuzzed_check_records(tmp_path_factory, cli, lines):
    path = tmp_path_factory.mktemp("c") / "records.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    res = cli("check", path, "--all-scores")
    assert res.exit_code in (0, 1), res.output
    skipped = [int(m) for m in re.findall(r"records\.jsonl:(\d+): skipped: ", res.stderr)]
    assert len(skipped) == len(set(skipped))
    summary = res.stderr.strip().splitlines()
    assert any(re.match(r"\d+ records, \d+ checks; flagged: ", s) for s in summary), res.stderr
    if skipped:
        assert res.exit_code == 1 and f"{len(skipped)} line(s) skipped" in res.stderr
    for row in res.stdout.splitlines():
        assert json.loads(row)["check"]


@pytest.mark.parametrize("line, reason", [
    (b"\xff\xfe{}", "not valid UTF-8 (byte 1)"),
    (b'{"id": "a", "prompt": "p", "output": "\\ud800\\ud800 loop \\ud800"}', "unpaired surrogate"),
    (b"[" * 100_000, "nested too deeply"),
    (b'{"id": "a", "prompt": "p", "output": 5}', "'output' must be a string"),
    (b'{"id": "a", "prompt": "p", "output": "o", "finish_reason": "max"}', "finish_reason"),
])
def test_bad_check_records_are_skipped_by_number(tmp_path, cli, line, reason):
    good = b'{"id": "g", "prompt": "Name a colour.", "output": "Blue."}\n'
    path = tmp_path / "records.jsonl"
    path.write_bytes(good + line + b"\n" + good.replace(b'"g"', b'"h"'))
    res = cli("check", path)
    assert res.exit_code == 1
    assert "records.jsonl:2: skipped: " in res.stderr and reason in res.stderr, res.stderr
    assert "2 records, " in res.stderr and "1 line(s) skipped" in res.stderr


# -- check options ------------------------------------------------------------------------------
option_text = st.one_of(
    st.text(max_size=40),
    st.builds(lambda c, k, v: f"{c}.{k}={v}",
              st.sampled_from(["length", "repetition", "misspelling", "hallucination", "nope"]),
              st.sampled_from(["threshold", "min_length", "variants", "max_ratio_to_reference",
                               "bogus"]),
              st.one_of(st.text(max_size=20), json_values.map(json.dumps))),
)


@FUZZ
@given(opts=st.lists(option_text, min_size=1, max_size=3))
def test_fuzzed_check_options(tmp_path_factory, cli, opts):
    path = tmp_path_factory.mktemp("o") / "records.jsonl"
    path.write_text('{"id": 1, "prompt": "Name a colour.", "output": "Blue is a colur."}\n')
    args = [a for o in opts for a in ("--option", o)]
    res = cli("check", path, *args)
    assert res.exit_code in (0, 1, 2), res.output
    if res.exit_code == 2:
        err = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert len(err) == 1 and err[0].startswith("Error: "), res.stderr


@pytest.mark.parametrize("option, message", [
    ("length.max_ratio_to_reference=" + "[" * 50_000, "Error: "),
    ("misspelling.threshold=\"high\"", "bad options for check 'misspelling'"),
    ("repetition.bogus=1", "bad options for check 'repetition'"),
    ("nocheck.x=1", "unknown check(s): nocheck"),
    ("justtext", "expected CHECK.KEY=VALUE"),
])
def test_bad_check_options_are_one_line(tmp_path, cli, option, message):
    path = tmp_path / "records.jsonl"
    path.write_text('{"id": 1, "prompt": "p", "output": "o"}\n')
    res = cli("check", path, "--option", option)
    assert res.exit_code == 2, res.output
    err = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(err) == 1 and message in err[0], res.stderr


@pytest.mark.parametrize("checks_yaml, message", [
    ("checks:\n  length:\n    bogus: 1\n", "bad options for check 'length': bogus"),
    ("checks:\n  repetition:\n    min_repeats: [1, 2]\n", "bad options for check 'repetition'"),
    ("checks: [nope]\n", "unknown check(s): nope"),
])
def test_bad_check_options_in_a_suite_stop_the_run_before_anything_loads(tmp_path, cli,
                                                                       checks_yaml, message):
    (tmp_path / "d.jsonl").write_text('{"id": 1, "prompt": "p"}\n')
    (tmp_path / "s.yaml").write_text("name: t\ndata: d.jsonl\n" + checks_yaml)
    res = cli("run", "--model", f"m={tmp_path / 'never-loaded'}", "--suite", tmp_path / "s.yaml")
    assert res.exit_code == 2, res.output
    err = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(err) == 1 and message in err[0], res.stderr
