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


def test_a_run_is_found_by_id_prefix_or_latest_and_an_exact_id_wins(tmp_path):
    s = Store(tmp_path / "a.duckdb")
    s.upsert_model("fp1", "base", spec="/m")
    first, _ = s.start_run(model_id="fp1", model_name="base", suite_id="s@1",
                           config_key="k1", gen_config={}, seed=0)
    second, _ = s.start_run(model_id="fp1", model_name="base", suite_id="s@1",
                            config_key="k2", gen_config={}, seed=0)
    with s.connect(write=True) as db:  # an id that is a prefix of a newer run's id
        db.execute("UPDATE runs SET run_id = ? WHERE run_id = ?", ["r1", first])
        db.execute("UPDATE runs SET run_id = ?, started_at = started_at + INTERVAL 1 HOUR"
                   " WHERE run_id = ?", ["r12", second])
    assert s.resolve_run("latest") == "r12"
    assert s.resolve_run("r1") == "r1"  # exact, though "r12" is newer and matches too
    assert s.resolve_run("r12") == "r12"
    with pytest.raises(NotFoundError, match="ambiguous"):
        s.resolve_run("r")
    with pytest.raises(NotFoundError, match="no run 'x'"):
        s.resolve_run("x")


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "no" / "such" / "dir.duckdb")


def _flagged(store, run_id):
    with store.connect() as db:
        rows = db.execute("SELECT output_id, flagged_categories FROM outputs WHERE run_id = ?"
                          " ORDER BY output_id", [run_id]).fetchall()
    return dict(rows)


def _finding(oid, run_id, check, category, flagged):
    return {"output_id": oid, "run_id": run_id, "check_name": check, "category": category,
            "flagged": flagged, "score": 0.5}


def test_outputs_keep_their_flagged_categories_in_step_with_findings(tmp_path):
    s = Store(tmp_path / "f.duckdb")
    run_id, _ = s.start_run(model_id="m", model_name="m", suite_id="s@1", config_key="k",
                            gen_config={}, seed=0)
    outs = pd.DataFrame({"output_id": ["a", "b", "c"], "run_id": run_id,
                         "item_id": ["1", "2", "3"], "text": ["x", "y", "z"]})
    s.add_outputs(outs, pd.DataFrame([
        _finding("a", run_id, "rep", "repetition", True),
        _finding("a", run_id, "len", "length", True),
        _finding("a", run_id, "hal", "hallucination", False),
        _finding("b", run_id, "rep", "repetition", False),
    ]))
    assert _flagged(s, run_id) == {"a": ["length", "repetition"], "b": None, "c": None}
    s.add_findings(pd.DataFrame([_finding("b", run_id, "hal", "hallucination", True),
                                 _finding("c", run_id, "hal", "hallucination", False)]))
    assert _flagged(s, run_id) == {"a": ["length", "repetition"], "b": ["hallucination"],
                                   "c": None}
    s.replace_findings(run_id, pd.DataFrame([_finding("c", run_id, "rep", "repetition", True)]))
    assert _flagged(s, run_id) == {"a": None, "b": None, "c": ["repetition"]}


def test_the_flagged_categories_migration_fills_existing_outputs(tmp_path):
    import duckdb

    from workbench.store import migrations

    path = tmp_path / "old.duckdb"
    db = duckdb.connect(str(path))
    old = [m for m in MIGRATIONS if m.__name__ < "m004"]
    db.execute("CREATE TABLE _migrations (name VARCHAR PRIMARY KEY,"
               " applied_at TIMESTAMP DEFAULT current_timestamp)")
    for m in old:
        m(db)
        db.execute("INSERT INTO _migrations (name) VALUES (?)", [m.__name__])
    db.execute("INSERT INTO outputs (output_id, run_id, item_id) VALUES ('a', 'r', '1'),"
               " ('b', 'r', '2')")
    db.execute("INSERT INTO findings (output_id, run_id, check_name, category, flagged) VALUES"
               " ('a', 'r', 'rep', 'repetition', true), ('a', 'r', 'len', 'length', true),"
               " ('b', 'r', 'len', 'length', false)")
    db.close()
    assert "m004_flagged_categories" in [m.__name__ for m in migrations.MIGRATIONS]
    s = Store(path)  # a writable open applies what is pending
    assert _flagged(s, "r") == {"a": ["length", "repetition"], "b": None}


def _dead_owner() -> dict:
    """The owner record of a process that has exited (and been reaped)."""
    import subprocess
    import sys

    from workbench.owner import this_process

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    pid = proc.pid
    owner = {**this_process(), "pid": pid}
    from workbench.owner import _start_time

    owner["start"] = _start_time(pid)
    proc.wait()
    return owner


def test_owner_liveness():
    import os

    from workbench.owner import is_alive, this_process

    me = this_process()
    assert me["pid"] == os.getpid() and is_alive(me)
    assert not is_alive(_dead_owner())
    assert is_alive({**me, "host": "another-host"})  # cannot be told from here: alive
    if me["start"] is not None:  # the pid names another process now
        assert not is_alive({**me, "start": str(int(me["start"]) + 1)})
    assert is_alive(None) and is_alive({"pid": "x"})


def test_a_running_run_whose_process_died_shows_as_interrupted_and_is_resumed(tmp_path):
    from workbench.store import queries

    store = Store(tmp_path / "o.duckdb")
    store.upsert_model("m1", "m")
    kw = {"model_id": "m1", "model_name": "m", "suite_id": "s@1", "gen_config": {}, "seed": 0}
    dead, _ = store.start_run(config_key="k-dead", owner=_dead_owner(), **kw)
    live, _ = store.start_run(config_key="k-live", **kw)  # this process: alive
    old, _ = store.start_run(config_key="k-old", **kw)
    with store.transaction() as db:  # a run stored before owners were recorded: unknown
        db.execute("UPDATE runs SET versions = NULL WHERE run_id = ?", [old])
    version = queries.data_version(store)
    status = dict(zip(store.list_runs().run_id, store.list_runs().status, strict=True))
    assert status == {dead: "interrupted", live: "running", old: "running"}
    assert store.get_run(dead)["status"] == "interrupted"
    assert store.get_run(live)["status"] == "running"
    assert queries.runs(store).set_index("run_id").status[dead] == "interrupted"
    assert "versions" not in store.list_runs().columns

    again, resumed = store.start_run(config_key="k-dead", **kw)  # the next identical run
    assert (again, resumed) == (dead, True)
    assert store.get_run(dead)["status"] == "running"  # owned by this process now
    assert queries.data_version(store) != version
