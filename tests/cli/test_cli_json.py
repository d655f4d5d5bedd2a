"""Every --json is valid JSON: missing values are null, never NaN."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest


def strict(text: str):
    def refuse(c):
        raise ValueError(f"{c} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_print_json_turns_missing_values_into_null(capsys):
    from workbench.cli.common import cell, print_json

    print_json({"a": math.nan, "b": [1.0, math.inf, pd.NaT], "c": (None, "x")})
    assert strict(capsys.readouterr().out) == {"a": None, "b": [1.0, None, None],
                                               "c": [None, "x"]}
    assert cell(math.nan) == "-" and cell(None) == "-" and cell(3) == "3"


@pytest.fixture
def store_with_unexported_set(tmp_path):
    from workbench.store import Store
    from workbench.store import suggestions as sq

    store = Store(tmp_path / "s.duckdb")
    sq.save_set(store, {"set_id": "s1", "run_id": "r1", "pool": "suite:x", "n_suggestions": 0,
                        "n_dropped_contaminated": 0, "config": "{}", "export_path": None},
                pd.DataFrame())
    sq.save_set(store, {"set_id": "s2", "run_id": "r1", "pool": "suite:x", "n_suggestions": 0,
                        "n_dropped_contaminated": 0, "config": "{}", "export_path": "f.jsonl"},
                pd.DataFrame())
    return tmp_path / "s.duckdb"


def test_suggestions_lists_a_set_with_no_export_file(cli, store_with_unexported_set):
    # a set made by `workbench loop` has no export file: the listing used to crash on it
    res = cli("suggestions", "--db", store_with_unexported_set)
    assert res.exit_code == 0, res.output
    assert "s1" in res.stdout and "f.jsonl" in res.stdout
    rows = strict(cli("suggestions", "--db", store_with_unexported_set, "--json").stdout)
    assert {r["set_id"]: r["export_path"] for r in rows} == {"s1": None, "s2": "f.jsonl"}
