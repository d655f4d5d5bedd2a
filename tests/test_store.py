import pandas as pd
import pytest

from workbench.errors import NotFoundError, StoreError
from workbench.store import Store
from workbench.store.migrations import MIGRATIONS, apply_migrations


def test_migrations_apply_once_in_memory():
    import duckdb

    db = duckdb.connect(":memory:")
    assert apply_migrations(db) == [m.__name__ for m in MIGRATIONS]
    assert apply_migrations(db) == []
    tables = {r[0] for r in db.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"models", "suites", "items", "runs", "outputs", "findings", "suggestions", "trainings"} <= tables


def test_run_lifecycle_and_resume(tmp_path):
    s = Store(tmp_path / "a.duckdb")
    s.upsert_model("fp1", "base", spec="/m")
    run_id, resumed = s.start_run(model_id="fp1", model_name="base", suite_id="s@1",
                                  config_key="k", gen_config={}, seed=0)
    assert not resumed
    again, resumed = s.start_run(model_id="fp1", model_name="base", suite_id="s@1",
                                 config_key="k", gen_config={}, seed=0)
    assert (again, resumed) == (run_id, True)
    out = pd.DataFrame({"output_id": ["o1"], "run_id": [run_id], "item_id": ["1"], "text": ["hi"],
                        "cache_key": ["c1"]})
    s.add_outputs(out)
    s.add_outputs(out)  # idempotent
    assert s.done_item_ids(run_id) == {"1"}
    assert list(s.cached_outputs(["c1", "zz"]).text) == ["hi"]
    s.finish_run(run_id, {"exact_match": 0.5})
    assert s.get_run(run_id[:4])["metrics"] == {"exact_match": 0.5}
    new, resumed = s.start_run(model_id="fp1", model_name="base", suite_id="s@1",
                               config_key="k", gen_config={}, seed=0)
    assert new != run_id and not resumed
    with pytest.raises(NotFoundError):
        s.resolve_run("nope")


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "no" / "such" / "dir.duckdb")
