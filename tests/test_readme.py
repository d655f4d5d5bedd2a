"""The README's examples run: the check plugin and the suite YAML."""

from __future__ import annotations

import json
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _block_after(heading: str, lang: str) -> str:
    text = README.read_text()
    section = text[text.index(heading):]
    return re.search(rf"```{lang}\n(.*?)```", section, re.S).group(1)


def test_readme_check_plugin_runs_through_the_cli(tmp_path, cli):
    plugin_dir = tmp_path / "plugins"
    plugin_dir.mkdir()
    (plugin_dir / "myplugin.py").write_text(_block_after("## Writing a check plugin", "python"))
    records = tmp_path / "out.jsonl"
    records.write_text(
        json.dumps({"id": "a", "prompt": "Help?", "output": "I'm sorry, I cannot help."}) + "\n"
        + json.dumps({"id": "b", "prompt": "Help?", "output": "Sure: restart the router."}) + "\n"
    )
    res = cli("check", records, "--checks", "apology", "--plugins-dir", plugin_dir)
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert [(r["id"], r["check"], r["category"]) for r in rows] == [("a", "apology", "refusal")]
    assert rows[0]["spans"] == [[0, 9]]


def test_readme_suite_yaml_validates(tmp_path, cli):
    (tmp_path / "suite.yaml").write_text(_block_after("### A custom suite", "yaml"))
    (tmp_path / "support.jsonl").write_text(
        json.dumps({"id": 1, "prompt": "How do I reset my password?", "reference": "Use the link."})
        + "\n"
        + json.dumps({"id": 2, "prompt": "Summarise.", "context": "The router restarts.",
                      "split": "train", "reference": "It restarts."}) + "\n"
    )
    res = cli("suites", "validate", tmp_path / "suite.yaml")
    assert res.exit_code == 0, res.output
    from workbench.plugins import get_plugins
    from workbench.run.suites import load_suite

    suite = load_suite(tmp_path / "suite.yaml")
    get_plugins().make_checks(suite.check_selection())  # the options in the README are real
    rendered = suite.render(suite.items[1])
    assert "### Input:\nThe router restarts." in rendered and rendered.endswith("### Response:\n")
