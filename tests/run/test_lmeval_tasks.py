"""lm-eval task YAMLs that read data next to themselves load from any working directory."""

from __future__ import annotations

import shutil
from pathlib import Path

TASK_DIR = Path(__file__).resolve().parents[2] / "suites" / "lm-eval"


def _tasks(tmp_path: Path) -> Path:
    """A task reading ``qa.jsonl`` by a relative path, and a group of it, in ``tmp_path/tasks``."""
    d = tmp_path / "tasks"
    d.mkdir()
    shutil.copy(TASK_DIR / "qa.jsonl", d / "qa.jsonl")
    text = (TASK_DIR / "workbench_qa.yaml").read_text()
    (d / "local_qa.yaml").write_text(text.replace("task: workbench_qa", "task: local_qa"))
    (d / "local_group.yaml").write_text(
        "group: local_group\ntask:\n  - local_qa\nnum_fewshot: 0\naggregate_metric_list:\n"
        "  - metric: exact_match\n    aggregation: mean\n"
    )
    return d


def _load(spec: str, base: Path) -> tuple[list, dict]:
    from workbench.run.lmeval.tasks import leaf_tasks, load_tasks, resolve_specs, task_manager

    names, dirs = resolve_specs([spec], [], base)
    built = load_tasks(task_manager(names, dirs), names)
    return built, leaf_tasks(built)


def test_a_task_and_a_group_of_it_read_their_data_from_elsewhere(tmp_path, monkeypatch):
    from lm_eval.api.group import Group

    d = _tasks(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # lm-eval alone would look for qa.jsonl here
    _, alone = _load("tasks/local_qa.yaml", tmp_path)
    built, grouped = _load("tasks/local_group.yaml", tmp_path)
    assert list(alone) == list(grouped) == ["local_qa"]
    docs = [dict(x) for x in alone["local_qa"].eval_docs]
    assert len(docs) == sum(1 for line in (d / "qa.jsonl").open() if line.strip())
    assert [dict(x) for x in grouped["local_qa"].eval_docs] == docs
    assert len(built) == 1 and isinstance(built[0], Group) and built[0].name == "local_group"
    # the group's own keys still apply to its task
    assert grouped["local_qa"].config.num_fewshot == 0
    assert str(d / "qa.jsonl") in str(grouped["local_qa"].config.dataset_kwargs)
