"""SIGKILL inside each phase: checks, training, a store write; and two writers at once with the
dashboard's queries reading. After a real kill -9 the database opens, nothing stored before is
lost, and a rerun completes without duplicates. (A kill during generation:
tests/run/test_run_cli.py::test_resume_after_sigkill.)

Each victim signals through a file that it has reached the phase, then blocks there until it is
killed, so the kill always lands inside the phase."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from workbench_testing.victims import BLOCKING_CHECK, kill_when_ready, victim_env

from workbench.store import Store

pytestmark = pytest.mark.slow

WORKBENCH = str(Path(sys.executable).with_name("workbench"))

def _suite(d: Path, n: int) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "d.jsonl").write_text("".join(
        json.dumps({"id": f"q{i:03d}", "prompt": f"Say {i} and {i * 3}"}) + "\n" for i in range(n)))
    (d / "s.yaml").write_text("name: k\ndata: d.jsonl\ngeneration:\n  max_new_tokens: 3\n")
    return d / "s.yaml"


def test_sigkill_during_checks(tmp_path, cli, tiny_model_dir, monkeypatch):
    monkeypatch.setenv("WORKBENCH_PLUGINS", "")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "blocker.py").write_text(BLOCKING_CHECK)
    n, db, ready = 8, tmp_path / "k.duckdb", tmp_path / "ready"
    args = ["run", "--model", f"m={tiny_model_dir}", "--suite", str(_suite(tmp_path / "s", n)),
            "--db", str(db), "--batch-size", "2", "--plugins-dir", str(plugins), "--json"]
    proc = subprocess.Popen([WORKBENCH, *args], env=victim_env(WB_FAULT_READY=str(ready)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    kill_when_ready(proc, ready)

    store = Store(db)  # opens (DuckDB replays its WAL)
    run = store.get_run("latest")
    assert run["status"] == "interrupted"  # no chance to mark it; its process is gone
    before = store.run_outputs(run["run_id"])
    assert len(before) == 2  # the first batch, written with its findings before the kill
    assert len(store.run_findings(run["run_id"])) == 2

    res = cli(*args)  # the same command, no longer blocking
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["resumed"] and out["run_id"] == run["run_id"]
    assert (out["skipped"], out["generated"]) == (2, n - 2)
    outs = store.run_outputs(run["run_id"])
    assert len(outs) == n and outs.item_id.is_unique
    assert outs.set_index("item_id").loc[before.item_id, "text"].tolist() == before.text.tolist()
    f = store.run_findings(run["run_id"])
    assert len(f) == n and not f.duplicated(["output_id", "check_name"]).any()
    assert store.get_run(run["run_id"])["status"] == "finished" and len(store.list_runs()) == 1


TRAIN_VICTIM = '''
import sys, time
from pathlib import Path
from workbench.train.training import train_adapter
from workbench.store import Store

db, base, data, out, ready = sys.argv[1:]


def on_step(step, total, loss):
    if step == 1:
        Path(ready).write_text(f"step 1 of {total}, loss {loss}")
        time.sleep(120)


train_adapter(Store(db), base, data, out_dir=out, on_step=on_step,
              config={"max_steps": 3, "batch_size": 4, "r": 4})
'''


def test_sigkill_during_training(tmp_path, cli, tiny_model_dir):
    rows = [{"messages": [{"role": "user", "content": f"Name colour number {i}."},
                          {"role": "assistant", "content": "Blue is a colour."}]} for i in range(8)]
    data = tmp_path / "sugg.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    db, out, ready = tmp_path / "t.duckdb", tmp_path / "adapter", tmp_path / "ready"
    Store(db).upsert_model("seed-model", "seed")  # something stored before the training
    proc = subprocess.Popen(
        [sys.executable, "-c", TRAIN_VICTIM, str(db), str(tiny_model_dir), str(data), str(out),
         str(ready)], env=victim_env(plugins=None), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    kill_when_ready(proc, ready)
    assert ready.read_text().startswith("step 1 of 3")

    store = Store(db)
    assert "seed-model" in set(store.list_models().model_id)
    from workbench.store.trainings import list_trainings

    assert list_trainings(store).empty  # a killed training is never recorded as one
    assert not out.exists() or not any(out.iterdir())  # no half-saved adapter
    assert len(_partials(out)) == 1  # it trains beside --out

    res = cli("train", "--base", tiny_model_dir, "--suggestions", data, "--out", out, "--db", db,
              "--max-steps", "3", "--train-batch-size", "4", "--r", "4", "--json")
    assert res.exit_code == 0, res.output
    done = list_trainings(store)
    assert len(done) == 1 and done.status.iloc[0] == "finished"
    assert (out / "adapter_config.json").exists()
    assert "seed-model" in set(store.list_models().model_id)
    assert not _partials(out)  # the killed training's partial dir was cleared


STORE_VICTIM = '''
import sys
from pathlib import Path
import pandas as pd
from workbench.store import Store

db, ready, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = Store(db)
df = pd.DataFrame({"output_id": [f"big{i}" for i in range(n)], "run_id": "r-big",
                   "item_id": [f"i{i}" for i in range(n)], "text": ["x" * 300] * n})
Path(ready).write_text("inserting")
store.add_outputs(df)
Path(ready + ".done").write_text("done")
'''


def test_sigkill_during_a_store_write(tmp_path):
    db, ready, n = tmp_path / "w.duckdb", tmp_path / "ready", 200_000
    store = Store(db)
    store.add_outputs(pd.DataFrame({"output_id": ["keep1", "keep2"], "run_id": "r-old",
                                    "item_id": ["a", "b"], "text": ["one", "two"]}))
    proc = subprocess.Popen([sys.executable, "-c", STORE_VICTIM, str(db), str(ready), str(n)],
                            env=victim_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    kill_when_ready(proc, ready)
    finished_first = Path(str(ready) + ".done").exists()

    counts = Store(db).query_df("SELECT run_id, count(*) AS n FROM outputs GROUP BY run_id")
    got = dict(zip(counts.run_id, counts.n, strict=True))
    assert got["r-old"] == 2  # what was there survives
    assert got.get("r-big", 0) in (0, n)  # the killed write is all or nothing
    assert finished_first or got.get("r-big", 0) == 0
    # the rerun of the write completes, without duplicates
    proc = subprocess.run([sys.executable, "-c", STORE_VICTIM, str(db), str(ready), str(n)],
                          env=victim_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    counts = Store(db).query_df(
        "SELECT count(*) AS n, count(DISTINCT output_id) AS d FROM outputs WHERE run_id = 'r-big'")
    assert int(counts.n.iloc[0]) == int(counts.d.iloc[0]) == n


DASHBOARD_READER = '''
import sys, time
from workbench.store import Store, queries

db, stop = sys.argv[1], sys.argv[2]
import os
reads = 0
while not os.path.exists(stop):
    if not os.path.exists(db):
        time.sleep(0.05)
        continue
    store = Store(db, read_only=True)
    try:
        queries.totals(store)
        queries.runs(store)
        queries.category_rates(store)
        queries.failures_page(store)
        reads += 1
    except Exception as exc:
        if "needs a schema upgrade" in str(exc) or "does not exist" in str(exc).lower():
            continue  # the writer is still creating the file
        raise
    time.sleep(0.2)
print(reads)
'''


def test_two_writers_and_a_dashboard_reader(tmp_path, tiny_model_dir):
    """Two `workbench run` on one database, the dashboard's queries reading meanwhile: both runs
    finish (the second waits for the lock between short transactions), reads never fail, and
    the file holds each output once."""
    n, db, stop = 6, tmp_path / "two.duckdb", tmp_path / "stop"
    suite = _suite(tmp_path / "s", n)
    reader = subprocess.Popen([sys.executable, "-c", DASHBOARD_READER, str(db), str(stop)],
                              env=victim_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    writers = [subprocess.Popen(
        [WORKBENCH, "run", "--model", f"{name}={tiny_model_dir}", "--suite", str(suite), "--db",
         str(db), "--batch-size", "2", "--no-checks", "--json"],
        env=victim_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name in ("a", "b")]
    try:
        results = [w.communicate(timeout=300) for w in writers]
    finally:
        stop.write_text("stop")
        reads, reader_err = reader.communicate(timeout=120)
        for w in writers:
            if w.poll() is None:
                w.kill()
    for w, (out, err) in zip(writers, results, strict=True):
        assert w.returncode == 0, err[-2000:]
        assert json.loads(out)["status"] == "finished"
    assert reader.returncode == 0, reader_err[-2000:]
    assert int(reads) >= 1

    store = Store(db)
    runs = store.list_runs()
    assert set(runs.status) == {"finished"}
    for run_id in runs.run_id:
        outs = store.run_outputs(run_id)
        assert len(outs) == n and outs.item_id.is_unique
    total = store.query_df("SELECT count(*) AS n, count(DISTINCT output_id) AS d FROM outputs")
    assert int(total.n.iloc[0]) == int(total.d.iloc[0]) == n * len(runs)


# -- training and the loop: a kill at each step, then the same command -----------------------------

STEP_VICTIM = '''
import sys, time
from pathlib import Path

ready, phase, args = sys.argv[1], sys.argv[2], sys.argv[3:]


def block(what):
    Path(ready).write_text(what)
    time.sleep(120)


if phase == "train-step":  # inside training, after its first optimizer step
    from workbench.cli.train import StepBar

    StepBar.__call__ = lambda self, step, total, loss: block("training")
elif phase == "saved":  # the adapter and its lineage saved, not yet recorded
    import workbench.store.trainings as tq

    tq.record_trained_adapter = lambda *a, **kw: block("saved")
elif phase == "recorded":  # recorded in the store, not yet moved into place
    import workbench.train.adapter_dir as ad

    ad.move_into_place = lambda *a, **kw: block("recorded")
elif phase == "round-run":  # the round's run of the tuned model, after its first batch
    import workbench.run.runner as runner

    calls, run_suite = [], runner.run_suite

    def blocking_run_suite(*a, **kw):
        calls.append(1)
        if len(calls) == 2:  # the first is the base model's run
            kw["on_progress"] = lambda done, total: done >= 2 and block("round run")
        return run_suite(*a, **kw)

    runner.run_suite = blocking_run_suite
from workbench.cli import app

app(args)
'''


def _kill_at(phase: str, args: list, ready: Path, cwd: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", STEP_VICTIM, str(ready), phase,
                             *map(str, args)], env=victim_env(plugins=None), cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    kill_when_ready(proc, ready)


def _partials(d: Path) -> list[Path]:
    return sorted(d.parent.glob(f".{d.name}.partial-*"))


def _jsonl(tmp_path: Path) -> Path:
    rows = [{"messages": [{"role": "user", "content": f"Name colour number {i}."},
                          {"role": "assistant", "content": "Blue is a colour."}]} for i in range(8)]
    data = tmp_path / "sugg.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return data


@pytest.mark.parametrize("phase", ["saved", "recorded"])
def test_train_killed_after_saving_is_finished_by_the_same_command(tmp_path, cli, tiny_model_dir,
                                                                   phase):
    """Killed with the adapter saved (not recorded), or recorded (not moved into place): `--out`
    never holds a half adapter, and the same command finishes the step without training again."""
    from workbench.store.trainings import list_trainings

    db, out, ready = tmp_path / "t.duckdb", tmp_path / "adapter", tmp_path / "ready"
    args = ["train", "--base", tiny_model_dir, "--suggestions", _jsonl(tmp_path), "--out", out,
            "--db", db, "--max-steps", "2", "--train-batch-size", "4", "--r", "4", "--json"]
    _kill_at(phase, args, ready, tmp_path)

    assert not out.exists()  # nothing half done where the user looks
    [partial] = _partials(out)
    lineage = json.loads((partial / "workbench_lineage.json").read_text())
    store = Store(db)
    recorded = list_trainings(store)
    assert len(recorded) == (phase == "recorded")
    adapters = store.list_models().query("kind == 'adapter'")
    assert len(adapters) == (phase == "recorded")  # the model and its training: both or neither

    res = cli(*args)
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    assert got["reused"] and got["training_id"] == lineage["training_id"]  # not trained again
    assert got["model_id"] == lineage["model_id"]
    done = list_trainings(store)
    assert len(done) == 1 and done.training_id.iloc[0] == lineage["training_id"]
    assert done.adapter_path.iloc[0] == str(out.resolve())
    assert (out / "adapter_config.json").exists() and not _partials(out)
    assert not (out / ".workbench_owner.json").exists()
    assert len(store.list_models().query("kind == 'adapter'")) == 1

    again = cli(*args)  # a third time: the same adapter, still one training
    assert json.loads(again.stdout)["training_id"] == lineage["training_id"]
    assert len(list_trainings(store)) == 1
    other = cli(*args[:-1], "--r", "2")  # other options into the same --out: refused
    assert other.exit_code != 0
    assert "holds the adapter of another training" in other.output


def _loop_args(tiny_model_dir: Path, suite: Path, plugins: Path, db: Path) -> list:
    return ["loop", "--model", f"tiny={tiny_model_dir}", "--suite", suite, "--plugins-dir",
            plugins, "--db", db, "--max-steps", "2", "--r", "4", "--per-failure", "2",
            "--batch-size", "2", "--json"]


def _loop_suite(d: Path) -> tuple[Path, Path]:
    from workbench_testing.checks import CHECK_PLUGIN

    rows = [{"id": f"e{i}", "prompt": f"Name the colour of flag {i}.", "reference": "Red.",
             "split": "eval"} for i in range(6)]
    rows += [{"id": f"t{i}", "prompt": f"Name the colour of banner {i}.", "reference": "Red.",
              "split": "train"} for i in range(8)]
    (d / "tiny.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite = d / "tiny.yaml"
    suite.write_text("name: tiny\ndata: tiny.jsonl\ngeneration: {max_new_tokens: 4}\n"
                     "checks: [not_reference]\n")
    plugins = d / "plugins"
    plugins.mkdir()
    (plugins / "not_reference.py").write_text(CHECK_PLUGIN)
    return suite, plugins


@pytest.mark.parametrize("phase", ["train-step", "recorded", "round-run"])
def test_loop_killed_in_a_round_is_continued_by_the_same_command(tmp_path, cli, tiny_model_dir,
                                                                  monkeypatch, phase):
    """`workbench loop` (default adapter directory) killed inside round 1's training, after its
    training was recorded, or during the round's run: the same command continues that round
    (the base run and the suggestion set reused, the adapter reused once saved, the round's
    run resumed), and the killed run shows as interrupted meanwhile."""
    from workbench.store import queries
    from workbench.store.trainings import list_trainings

    monkeypatch.chdir(tmp_path)
    suite, plugins = _loop_suite(tmp_path)
    db, ready = tmp_path / "l.duckdb", tmp_path / "ready"
    args = _loop_args(tiny_model_dir, suite, plugins, db)
    _kill_at(phase, args, ready, tmp_path)

    store = Store(db)
    runs = store.list_runs()
    killed = runs[runs.status != "finished"]
    assert len(runs) == (2 if phase == "round-run" else 1)
    assert len(killed) == (phase == "round-run")
    if phase == "round-run":  # left 'running' by a dead process: shown as interrupted
        run_id = killed.run_id.iloc[0]
        assert killed.status.iloc[0] == "interrupted"
        listed = json.loads(cli("runs", "--db", db, "--json").stdout)
        assert {r["run_id"]: r["status"] for r in listed}[run_id] == "interrupted"
        shown = json.loads(cli("show", run_id, "--db", db, "--json").stdout)
        assert shown["run"]["status"] == "interrupted"
        dash = queries.runs(Store(db, read_only=True))
        assert dash.set_index("run_id").status[run_id] == "interrupted"
        before = len(store.run_outputs(run_id))
        assert before == 2
    trained = list_trainings(store)
    sets = store.query_df("SELECT set_id FROM suggestion_sets").set_id.tolist()
    assert len(sets) == 1

    res = cli(*args)
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    [rnd] = info["rounds"]
    assert rnd["set_id"] == sets[0]  # the round's suggestions, not drawn again
    assert rnd["training"]["reused"] == (phase != "train-step")
    if len(trained):
        assert rnd["training"]["training_id"] == trained.training_id.iloc[0]
    runs = store.list_runs()
    assert len(runs) == 2 and set(runs.status) == {"finished"}  # no second run of the round
    assert info["base_run_id"] == runs.run_id.iloc[0]
    if phase == "round-run":
        assert rnd["run_id"] == run_id
        assert len(store.run_outputs(run_id)) == 6
    assert len(list_trainings(store)) == 1
    adapter = Path(rnd["training"]["adapter_dir"])
    assert adapter.parent.parent == tmp_path / "adapters" and adapter.name == "round-1"
    assert (adapter / "adapter_config.json").exists() and not _partials(adapter)


def test_sigkill_of_the_dashboard_command_takes_its_server_down(tmp_path):
    import socket

    db = tmp_path / "d.duckdb"
    Store(db).upsert_model("m", "m")  # a database to serve
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([WORKBENCH, "dashboard", "--db", str(db), "--port", str(port),
                             "--no-browser"], env=victim_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()  # printed once the server answers
        assert url.endswith(f":{port}"), proc.stderr.read() if not url else url
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert len(children) == 1
        server = int(children[0])
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(server, 0)
        except ProcessLookupError:
            break
        if Path(f"/proc/{server}/stat").read_text().split()[2] == "Z":
            break  # dead, waiting to be reaped by init
        time.sleep(0.2)
    else:
        os.kill(server, signal.SIGKILL)  # no orphan left behind by the test itself
        pytest.fail("the dashboard server outlived its killed command")
    # a leader shown as a zombie may still have threads tearing down, which hold the listening
    # socket for a moment: the port must close soon after, not at once
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                break
        assert time.monotonic() < deadline, "the dashboard's port still answers"
        time.sleep(0.2)
