"""Untrusted names (suite, model, item, check category, run error) holding rich markup are
printed as text: `[/]` or `[bold]` in a name never crashes a command nor styles its output."""

from __future__ import annotations

import json

import pytest

PLUGIN = '''
from workbench import Check, hookimpl


class Hostile(Check):
    name = "hostile[/]"
    category = "[/]cat[bold]"
    description = "flags every output [/b]"

    def run(self, records):
        for r in records:
            yield self.finding(r, flagged=True, score=0.9, message="[/]msg[red]")


@hookimpl
def register_checks(register):
    register(Hostile)
'''

SUITE = "[/]bad[bold]"
MODEL = "m[bold]x[red]"  # a directory name: no "/"
ITEM = "[/]q[b]"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _only_local_plugins(monkeypatch):
    monkeypatch.setenv("WORKBENCH_PLUGINS", "")


@pytest.fixture
def hostile(tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "hostile.py").write_text(PLUGIN)
    d = tmp_path / "suite"
    d.mkdir()
    with (d / "data.jsonl").open("w") as f:
        f.write(json.dumps({"id": ITEM, "prompt": "Say [/] please."}) + "\n")
        f.write(json.dumps({"id": "q2", "prompt": "Name a colour."}) + "\n")
    (d / "suite.yaml").write_text(f"name: {json.dumps(SUITE)}\ndata: data.jsonl\n"
                                  "generation:\n  max_new_tokens: 4\n")
    return d / "suite.yaml", plugins


def test_markup_in_names_is_printed_as_text(cli, tiny_model_dir, hostile):
    suite, plugins = hostile
    model = suite.parent.parent / MODEL  # a bare checkpoint path is named after its directory
    model.symlink_to(tiny_model_dir)
    r = cli("run", "--model", model, "--suite", suite, "--plugins-dir", plugins)
    assert r.exit_code == 0, r.output
    assert SUITE in r.output and MODEL in r.output
    # the second, identical run is served from the database (its own message names the model)
    r = cli("run", "--model", model, "--suite", suite, "--plugins-dir", plugins)
    assert r.exit_code == 0, r.output
    assert MODEL in r.output

    r = cli("runs")
    assert r.exit_code == 0, r.output
    assert SUITE in r.output and MODEL in r.output

    r = cli("show", "latest")
    assert r.exit_code == 0, r.output
    for text in (SUITE, MODEL, ITEM, "[/]cat[bold]", "[/]msg[red]"):
        assert text in r.output, text

    r = cli("checks", "--plugins-dir", plugins)
    assert r.exit_code == 0, r.output
    assert "[/]cat[bold]" in r.output and "hostile[/]" in r.output

    r = cli("suites", "list", str(suite.parent))
    assert r.exit_code == 0, r.output
    assert SUITE in r.output
