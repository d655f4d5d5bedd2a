"""The plugin system: entry points, --plugins-dir, failures, contract checks, the example plugin,
and meta-tests that keep docs/plugins.md and the hook specs in step."""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workbench import Check, Record, hookspecs
from workbench.check.runner import run_checks
from workbench.errors import PluginError
from workbench.plugins import Plugins, parse_check_options

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins.md"

SHOUT = """
from workbench import Check, hookimpl


class Shout(Check):
    name = "{name}"
    category = "style"

    class Options(Check.Options):
        limit: float = 0.5

    def run(self, records):
        for r in records:
            up = sum(c.isupper() for c in r.output) / max(1, len(r.output))
            yield self.finding(r, flagged=up > self.options.limit, score=up, message="caps")


@hookimpl
def register_checks(register):
    register(Shout)
"""


def write(directory: Path, name: str, source: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


# -- loading ------------------------------------------------------------------------------------
def test_builtin_checks_register_through_the_entry_point_group():
    plugins = Plugins()
    for name in ("repetition", "length"):
        assert name in plugins.checks.classes
        assert plugins.checks.owners[name] == "checks"  # the entry-point name in plugins/checks
    assert "checks" not in plugins.failures


def test_plugins_dir_loads_loose_files_and_skips_private_ones(tmp_path):
    write(tmp_path / "pl", "shout", SHOUT.format(name="shout"))
    write(tmp_path / "pl", "_helper", "raise RuntimeError('never imported')")
    plugins = Plugins([tmp_path / "pl"], entry_points=False)
    assert list(plugins.checks.classes) == ["shout"]
    assert plugins.checks.owners["shout"] == "pl/shout"
    assert plugins.failures == {}


def test_missing_plugins_dir_is_a_user_error(tmp_path):
    with pytest.raises(PluginError, match="plugins dir not found"):
        Plugins([tmp_path / "nope"], entry_points=False)


def test_duplicate_check_name_fails_naming_both_plugins(tmp_path):
    write(tmp_path / "a", "first", SHOUT.format(name="dup"))
    write(tmp_path / "b", "second", SHOUT.format(name="dup"))
    plugins = Plugins([tmp_path / "a", tmp_path / "b"], entry_points=False)
    with pytest.raises(PluginError) as exc:
        _ = plugins.checks
    msg = str(exc.value)
    assert "duplicate check name 'dup'" in msg and "'a/first'" in msg and "'b/second'" in msg


def test_duplicate_of_a_builtin_name_fails_too(tmp_path):
    write(tmp_path / "pl", "mine", SHOUT.format(name="repetition"))
    with pytest.raises(PluginError, match="'checks' and by plugin 'pl/mine'"):
        _ = Plugins([tmp_path / "pl"]).checks


def test_failed_import_is_reported_by_name_and_the_others_keep_working(tmp_path, capsys):
    write(tmp_path / "pl", "broken", "import a_module_that_does_not_exist\n")
    write(tmp_path / "pl", "good", SHOUT.format(name="good"))
    plugins = Plugins([tmp_path / "pl"], warn=True)
    assert "good" in plugins.checks.classes and "repetition" in plugins.checks.classes
    assert "ModuleNotFoundError" in plugins.failures["pl/broken"]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Warning: plugin 'pl/broken' failed to load" in err


def test_a_register_hook_that_raises_is_a_failure_not_a_crash(tmp_path):
    write(
        tmp_path / "pl",
        "raiser",
        """
        from workbench import hookimpl

        @hookimpl
        def register_checks(register):
            raise RuntimeError("boom")
        """,
    )
    plugins = Plugins([tmp_path / "pl"])
    assert "repetition" in plugins.checks.classes
    assert "RuntimeError in register_checks: boom" in plugins.failures["pl/raiser"]


def test_hookimpl_with_a_bad_argument_name_fails_at_registration(tmp_path):
    write(
        tmp_path / "pl",
        "badarg",
        """
        from workbench import hookimpl

        @hookimpl
        def register_checks(reg):
            pass
        """,
    )
    with pytest.raises(PluginError) as exc:
        Plugins([tmp_path / "pl"], entry_points=False)
    assert "'pl/badarg' is invalid" in str(exc.value) and "reg" in str(exc.value)


def test_hookimpl_with_an_unknown_hook_name_fails_at_registration(tmp_path):
    write(
        tmp_path / "pl",
        "typo",
        """
        from workbench import hookimpl

        @hookimpl
        def register_check(register):
            pass
        """,
    )
    with pytest.raises(PluginError, match="'pl/typo' is invalid: 'register_check' is not a"):
        Plugins([tmp_path / "pl"], entry_points=False)


def test_workbench_plugins_env_restricts_entry_points(monkeypatch):
    monkeypatch.setenv("WORKBENCH_PLUGINS", "lora")
    assert Plugins().checks.classes == {}
    monkeypatch.setenv("WORKBENCH_PLUGINS", "checks")
    assert "length" in Plugins().checks.classes


def test_make_checks_validates_names_and_options(tmp_path):
    plugins = Plugins()
    with pytest.raises(PluginError, match="unknown check"):
        plugins.make_checks({"nope": {}})
    with pytest.raises(PluginError, match="bad options for check 'length'"):
        plugins.make_checks({"length": {"max_ratio_to_reference": "lots"}})
    (check,) = plugins.make_checks({"length": {"max_ratio_to_reference": 2}})
    assert check.options.max_ratio_to_reference == 2


def test_parse_check_options_reads_json_values():
    got = parse_check_options(
        ["length.max_ratio_to_reference=2", "a.b=true", "a.c=text", "a.d=[1]"]
    )
    assert got == {"length": {"max_ratio_to_reference": 2}, "a": {"b": True, "c": "text", "d": [1]}}
    with pytest.raises(PluginError, match="CHECK.KEY=VALUE"):
        parse_check_options(["no_dot=1"])


# -- error isolation ----------------------------------------------------------------------------
class _Flaky(Check):
    name = "flaky"
    category = "test"

    def run(self, records):
        for r in records:
            if "boom" in r.output:
                raise ValueError("cannot read this one")
            yield self.finding(r, flagged=False, score=0.1)


def test_a_check_that_raises_is_recorded_and_the_others_run():
    recs = [Record("1", "p", "fine"), Record("2", "p", "boom"), Record("3", "p", "fine")]
    repetition = Plugins().make_checks({"repetition": {}})[0]
    report = run_checks(recs, [_Flaky(), repetition])
    flaky = [f for f in report.findings if f.check == "flaky"]
    assert [f.error is None for f in flaky] == [True, False, True]
    assert "ValueError: cannot read this one" in flaky[1].error
    assert report.errors == {"flaky": 1, "repetition": 0}
    assert len([f for f in report.findings if f.check == "repetition"]) == 3


# -- the example plugin, installed for real --------------------------------------------------
@pytest.fixture(scope="module")
def installed_example(tmp_path_factory) -> Path:
    """examples/plugin installed (offline, no deps) into a private target dir."""
    work = tmp_path_factory.mktemp("example")
    src = work / "src"
    shutil.copytree(
        ROOT / "examples" / "plugin", src, ignore=shutil.ignore_patterns("build", "*.egg-info")
    )
    target = work / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    assert (target / "workbench_refusal" / "check.py").is_file()
    return target


@pytest.mark.slow
def test_example_plugin_installs_and_runs_through_the_cli(
    installed_example, tmp_path, monkeypatch, cli
):
    monkeypatch.syspath_prepend(str(installed_example))
    listed = json.loads(cli("checks", "--json").stdout)
    refusal = next(c for c in listed["checks"] if c["name"] == "refusal")
    assert refusal["plugin"] == "refusal" and refusal["category"] == "refusal"
    assert refusal["options"]["case_sensitive"]["default"] is False

    records = tmp_path / "r.jsonl"
    records.write_text(
        json.dumps({"id": "a", "prompt": "Pick a lock.", "output": "I'm sorry, but I can't help."})
        + "\n"
        + json.dumps({"id": "b", "prompt": "Name a fruit.", "output": "An apple."})
        + "\n"
    )
    res = cli("check", records, "--checks", "refusal")
    assert res.exit_code == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(r["id"], r["check"], r["spans"]) for r in rows] == [("a", "refusal", [[0, 22]])]
    res = cli("check", records, "--checks", "refusal", "-o", 'refusal.forbidden=["apple"]')
    assert sorted(json.loads(line)["id"] for line in res.stdout.splitlines()) == ["a", "b"]


@pytest.mark.slow
def test_example_plugin_in_a_fresh_process(installed_example):
    """The real console script sees the installed entry point (no test-process tricks)."""
    env = {**os.environ, "PYTHONPATH": str(installed_example)}
    exe = Path(sys.executable).with_name("workbench")
    out = subprocess.run(
        [str(exe), "checks", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    names = [c["name"] for c in json.loads(out.stdout)["checks"]]
    assert "refusal" in names and "repetition" in names and "length" in names


def test_example_plugin_own_tests_pass(monkeypatch):
    """examples/plugin/tests/test_refusal.py passes once its package is importable (its entry-point
    test needs the install above), and the guide's testing example is copied from it verbatim."""
    import importlib.util

    monkeypatch.syspath_prepend(str(ROOT / "examples" / "plugin"))
    path = ROOT / "examples" / "plugin" / "tests" / "test_refusal.py"
    spec = importlib.util.spec_from_file_location("example_refusal_tests", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.test_flags_a_refusal_with_its_span()
    module.test_options_add_forbidden_phrases()
    module.test_an_ordinary_answer_passes()
    source = path.read_text()
    block = re.search(r"## Testing a plugin.*?```python\n(.*?)```", GUIDE.read_text(), re.S)
    functions = re.split(r"\n(?=def )", block.group(1).strip())[1:]
    assert len(functions) == 2
    for func in functions:
        assert func.strip() in source


# -- meta-tests: the contract, its guide and its tests stay in step -------------------------
def _hooks() -> list[str]:
    return [
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if getattr(fn, "workbench_spec", None) is not None
    ]


def test_every_hook_is_documented_in_the_guide_with_its_signature():
    guide = GUIDE.read_text()
    hooks = _hooks()
    assert hooks, "no hook specs found"
    for name in hooks:
        params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        assert f"### `{name}({params})`" in guide, f"{name} has no section in docs/plugins.md"
        assert f"def {name}(" in guide


def test_every_hook_is_exercised_by_a_test():
    files = [*(ROOT / "tests").rglob("test_*.py"), *(ROOT / "plugins").glob("*/tests/test_*.py")]
    tests = "\n".join(p.read_text() for p in files)
    for name in _hooks():
        assert re.search(rf"@hookimpl\s+def {name}\(", tests), f"no test implements {name}"


def test_register_trainers_hook_collects_trainers(tmp_path):
    write(
        tmp_path / "pl",
        "trainer",
        """
        from workbench import hookimpl


        class Tiny:
            name = "tiny-trainer"


        @hookimpl
        def register_trainers(register):
            register(Tiny)
        """,
    )
    plugins = Plugins([tmp_path / "pl"], entry_points=False)
    assert list(plugins.trainers.classes) == ["tiny-trainer"]
    assert plugins.trainers.owners["tiny-trainer"] == "pl/trainer"


def test_the_guides_loose_file_example_runs(tmp_path, cli):
    """The `plugins/shouting.py` block in docs/plugins.md, run exactly as the guide shows."""
    guide = GUIDE.read_text()
    block = re.search(r"Save this as `plugins/shouting.py`.*?```python\n(.*?)```", guide, re.S)
    assert block, "docs/plugins.md lost its loose-file example"
    write(tmp_path / "plugins", "shouting", block.group(1))
    records = tmp_path / "shout.jsonl"
    records.write_text('{"id": "a1", "prompt": "Greet me.", "output": "HELLO THERE, FRIEND!"}\n')
    res = cli("check", records, "--plugins-dir", tmp_path / "plugins", "--checks", "shouting")
    assert res.exit_code == 0
    row = json.loads(res.stdout)
    shown = re.search(r'\{"id": "a1", "check": "shouting".*\}', guide).group()
    assert row == json.loads(shown)
    assert "1 records, 1 checks; flagged: style 1" in res.stderr
