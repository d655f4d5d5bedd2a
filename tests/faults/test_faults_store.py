"""Store faults: disk full mid-run, a read-only or unusable database path. The error is one line,
no partial run is marked finished, nothing stored before is lost, and a rerun completes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest

from workbench.errors import StoreError
from workbench.store import Store

NO_SPACE = 'IO Error: Could not write file "workbench.duckdb.wal": No space left on device'


@pytest.fixture(autouse=True)
def _no_entry_point_plugins(monkeypatch):
    monkeypatch.setenv("WORKBENCH_PLUGINS", "")


def _suite(d: Path, n: int = 6) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "d.jsonl").write_text(
        "".join(json.dumps({"id": f"q{i}", "prompt": f"Say {i}"}) + "\n" for i in range(n)))
    (d / "s.yaml").write_text("name: s\ndata: d.jsonl\ngeneration:\n  max_new_tokens: 3\n")
    return d / "s.yaml"


def _error_lines(res) -> list[str]:
    assert "Traceback" not in res.output
    return [ln for ln in res.stderr.splitlines() if ln.startswith("Error")]


def _fill_disk_after(monkeypatch, batches: int) -> None:
    """Output inserts fail like DuckDB on a full disk once ``batches`` batches are stored."""
    real = Store.insert_df
    calls = {"n": 0}

    def insert_df(self, table, df, db=None, or_ignore=True):
        if table == "outputs":
            calls["n"] += 1
            if calls["n"] > batches:
                raise duckdb.IOException(NO_SPACE)
        return real(self, table, df, db=db, or_ignore=or_ignore)

    monkeypatch.setattr(Store, "insert_df", insert_df)


def test_disk_full_mid_run_is_one_line_and_the_run_is_not_finished(tmp_path, cli, tiny_model_dir):
    suite = _suite(tmp_path / "s")
    args = ("run", "--model", f"m={tiny_model_dir}", "--suite", suite, "--batch-size", "2",
            "--no-checks", "--json")
    with pytest.MonkeyPatch.context() as mp:  # the fault only for this first command
        _fill_disk_after(mp, 1)
        res = cli(*args)
    assert res.exit_code == 2
    errors = _error_lines(res)
    assert len(errors) == 1 and "No space left on device" in errors[0], res.stderr
    assert errors[0].startswith("Error: could not write to ")
    store = Store()
    run = store.get_run("latest")
    assert run["status"] == "failed" and "No space left" in run["error"]
    assert len(store.run_outputs(run["run_id"])) == 2  # the batch before the fault is kept

    again = json.loads(cli(*args).stdout)
    assert again["resumed"] and again["run_id"] == run["run_id"]
    assert (again["skipped"], again["generated"]) == (2, 4)
    outs = store.run_outputs(run["run_id"])
    assert len(outs) == 6 and outs.item_id.is_unique
    assert store.get_run(run["run_id"])["status"] == "finished"


def test_disk_full_even_for_the_failure_mark(tmp_path, cli, tiny_model_dir, monkeypatch):
    """When not even the failure can be recorded, the run stays 'running' (never 'finished')
    and the next command resumes it."""
    suite = _suite(tmp_path / "s")
    _fill_disk_after(monkeypatch, 1)

    def no_space(self, *a, **k):
        raise StoreError(f"could not write to {self.path}: {NO_SPACE}")

    monkeypatch.setattr(Store, "finish_run", no_space)
    res = cli("run", "--model", f"m={tiny_model_dir}", "--suite", suite, "--batch-size", "2",
              "--no-checks", "--json")
    assert res.exit_code == 2 and len(_error_lines(res)) == 1
    run = Store().get_run("latest")
    assert run["status"] == "running"


def test_a_failing_commit_or_statement_rolls_back_whole(tmp_path):
    store = Store(tmp_path / "w.duckdb")
    store.upsert_model("m1", "m")
    with pytest.raises(StoreError, match="No space left on device"):
        with store.transaction() as db:
            db.execute("INSERT INTO models (model_id, name, kind) VALUES ('m2', 'x', 'full')")
            raise duckdb.IOException(NO_SPACE)
    assert list(store.list_models().model_id) == ["m1"]
    # SQL mistakes stay what they are: a bug, not a user error
    with pytest.raises(duckdb.Error):
        with store.transaction() as db:
            db.execute("INSERT INTO no_such_table VALUES (1)")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file permissions")
def test_read_only_database_file(tmp_path, cli, tiny_model_dir):
    db = tmp_path / "ro.duckdb"
    Store(db).upsert_model("m1", "m")
    db.chmod(0o444)
    try:
        res = cli("run", "--model", f"m={tiny_model_dir}", "--suite", _suite(tmp_path / "s"),
                  "--db", db, "--no-checks")
        assert res.exit_code == 2 and len(_error_lines(res)) == 1
        assert "not writable" in res.stderr or "cannot open" in res.stderr
    finally:
        db.chmod(0o644)
    assert list(Store(db).list_models().model_id) == ["m1"]


def test_permission_denied_on_open_is_one_line(tmp_path, cli, tiny_model_dir):
    """What DuckDB says for a read-only file or directory (injected: tests may run as root)."""
    db = tmp_path / "ro.duckdb"
    Store(db).upsert_model("m1", "m")
    real = duckdb.connect

    def connect(path, read_only=False, **kw):
        if not read_only and str(path) == str(db):
            raise duckdb.IOException(f'IO Error: Cannot open file "{db}": Permission denied')
        return real(path, read_only=read_only, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(duckdb, "connect", connect)
        res = cli("run", "--model", f"m={tiny_model_dir}", "--suite", _suite(tmp_path / "s"),
                  "--db", db, "--no-checks")
    assert res.exit_code == 2
    errors = _error_lines(res)
    assert len(errors) == 1 and "is not writable" in errors[0] and "Permission denied" in errors[0]
    # reading still works, and what was there is intact
    assert list(Store(db, read_only=True).list_models().model_id) == ["m1"]
    assert Store(db).list_runs().empty


@pytest.mark.parametrize("where, message", [
    ("missing/dir/w.duckdb", "directory of the database does not exist"),
    ("a_directory", "cannot open database"),
    ("not_a_db.duckdb", "cannot open database"),
])
def test_unusable_database_paths(tmp_path, cli, where, message):
    (tmp_path / "a_directory").mkdir()
    (tmp_path / "not_a_db.duckdb").write_bytes(b"this is not a duckdb file at all" * 200)
    res = cli("runs", "--db", tmp_path / where)
    assert res.exit_code == 2
    errors = _error_lines(res)
    assert len(errors) == 1 and message in errors[0], res.stderr
    if where == "not_a_db.duckdb":  # a file that is not ours is left alone
        assert (tmp_path / where).read_bytes().startswith(b"this is not a duckdb file")


HOLDER = '''
import sys, time
import duckdb
con = duckdb.connect(sys.argv[1])
open(sys.argv[2], "w").write("holding")
time.sleep(30)
'''


def test_a_database_locked_too_long_fails_clearly(tmp_path):
    """Another process keeps the file open for writing: a writer (and a reader) wait up to
    ``lock_timeout`` and then fail in one line; nothing is lost."""
    import subprocess
    import sys
    import time

    db, ready = tmp_path / "locked.duckdb", tmp_path / "ready"
    Store(db).upsert_model("m1", "m")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), str(ready)])
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists()
        t0 = time.monotonic()
        with pytest.raises(StoreError, match="is locked by another process") as err:
            Store(db, lock_timeout=0.5).upsert_model("m2", "m")
        assert 0.4 < time.monotonic() - t0 < 10 and "\n" not in str(err.value)
        with pytest.raises(StoreError, match="is locked by another process"):
            Store(db, read_only=True, lock_timeout=0.5).list_models()
    finally:
        holder.kill()
        holder.wait()
    assert list(Store(db).list_models().model_id) == ["m1"]


@pytest.mark.parametrize("command", [
    ["runs"], ["runs", "--json"], ["show", "latest"], ["export", "latest"], ["trainings"],
    ["suggestions"], ["compare", "a", "b"],
])
def test_a_reading_command_on_a_mistyped_database_creates_nothing(tmp_path, cli, command):
    typo = tmp_path / "typo.duckdb"
    res = cli(*command, "--db", typo)
    assert res.exit_code == 2
    errors = _error_lines(res)
    assert len(errors) == 1 and f"database {typo} does not exist" in errors[0], res.output
    assert not typo.exists() and not list(tmp_path.glob("typo.duckdb*"))
