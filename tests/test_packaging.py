"""What pyproject.toml promises: the dependencies most likely to break workbench are bounded to
the major versions the tests run on, and a job runs the tests on their newest releases."""

from __future__ import annotations

import importlib.metadata as md
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
BOUNDED = ["transformers", "peft", "lm-eval", "duckdb", "streamlit"]


def test_fast_moving_dependencies_are_bounded_to_the_tested_majors():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    reqs = {Requirement(d).name: Requirement(d) for d in deps}
    for name in BOUNDED:
        spec = reqs[name].specifier
        assert any(s.operator == "<" for s in spec), f"{name} has no upper bound: {spec}"
        installed = md.version(name)  # what these tests run on is inside the bounds
        assert spec.contains(installed, prereleases=True), (name, installed, str(spec))


def test_a_job_runs_the_tests_on_the_newest_releases():
    make = (ROOT / "Makefile").read_text()
    assert "\ntest-latest:" in make
    latest = make.split("LATEST_DEPS ?=")[1].splitlines()[0].split()
    assert set(BOUNDED) <= set(latest)
    assert "latest) make test-latest" in (ROOT / ".ci" / "run").read_text()
