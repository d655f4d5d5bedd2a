"""Faults in check plugins: one that raises, hangs, exits or returns malformed findings is
isolated and reported by name, and the other checks (and the run) go on."""

from __future__ import annotations

import json
import math
import threading
import time

import pytest

from workbench.check.checks import Check, Finding, Record
from workbench.check.runner import run_check, run_checks

RECS = [Record(id=f"r{i}", prompt="p", output=f"output number {i}") for i in range(4)]


class Fine(Check):
    name = "fine"
    category = "fine"

    def run(self, records):
        for r in records:
            yield self.finding(r, flagged=r.id == "r1", score=0.7, spans=[(0, 6)])


class Raises(Check):
    name = "raises"
    category = "broken"

    def run(self, records):
        for r in records:
            if r.id == "r2":
                raise ValueError("cannot read r2")
            yield self.finding(r, flagged=False, score=0.0)


class Exits(Check):
    name = "exits"
    category = "broken"

    def run(self, records):
        raise SystemExit(3)


class Hangs(Check):
    name = "hangs"
    category = "slow"
    calls = 0
    release = threading.Event()

    def run(self, records):
        type(self).calls += 1
        self.release.wait(30)  # the test sets it at the end so no thread outlives the test long
        yield from ()


class Malformed(Check):
    """Each record gets a different kind of broken finding."""

    name = "malformed"
    category = "bad"

    def run(self, records):
        for r in records:
            good = self.finding(r, flagged=True, score=0.9)
            yield {
                "r0": Finding(r.id, self.name, self.category, True, math.nan),
                "r1": Finding(r.id, self.name, self.category, True, 0.5, spans=((0, 10_000),)),
                "r2": Finding(r.id, self.name, self.category, True, 0.5, severity="dire"),
                "r3": good,
            }[r.id]


class WrongIds(Check):
    name = "wrong_ids"
    category = "bad"

    def run(self, records):
        for _r in records:
            yield Finding("someone-else", self.name, self.category, False, 0.0)


def test_a_raising_check_costs_only_its_faulty_record():
    report = run_checks(RECS, [Raises(), Fine()])
    assert report.errors == {"raises": 1, "fine": 0}
    errs = [f for f in report.findings if f.error]
    assert [(f.record_id, f.check) for f in errs] == [("r2", "raises")]
    assert "cannot read r2" in errs[0].message
    assert [f.record_id for f in report.findings if f.flagged] == ["r1"]


def test_system_exit_in_a_check_is_recorded_not_obeyed():
    found = run_check(Exits(), RECS)
    assert all(f.error and "SystemExit" in f.error for f in found)


def test_a_hanging_check_times_out_once_and_is_then_skipped(monkeypatch):
    monkeypatch.setenv("WORKBENCH_CHECK_ISOLATION", "thread")  # the in-process path
    monkeypatch.setenv("WORKBENCH_CHECK_TIMEOUT", "0.3")
    Hangs.calls = 0
    Hangs.release.clear()
    hang, fine = Hangs(), Fine()
    try:
        t0 = time.monotonic()
        report = run_checks(RECS, [hang, fine])
        first = time.monotonic() - t0
        assert first < 5
        assert report.errors == {"hangs": 4, "fine": 0}
        assert all("timed out after 0.3s" in f.error for f in report.findings if f.check == "hangs")
        # the next batch does not wait again: the check is skipped with an error finding
        t0 = time.monotonic()
        again = run_checks(RECS, [hang, fine])
        assert time.monotonic() - t0 < 0.25
        assert again.errors["hangs"] == 4 and Hangs.calls == 1
        assert all(f.error.startswith("skipped") for f in again.findings if f.check == "hangs")
        assert sum(f.flagged for f in again.findings) == 1
    finally:
        Hangs.release.set()


def test_timeout_setting(monkeypatch):
    from workbench.check.runner import DEFAULT_TIMEOUT_S, check_timeout

    monkeypatch.delenv("WORKBENCH_CHECK_TIMEOUT", raising=False)
    assert check_timeout(Fine()) == DEFAULT_TIMEOUT_S

    class Slow(Fine):
        timeout_s = 900

    assert check_timeout(Slow()) == 900
    monkeypatch.setenv("WORKBENCH_CHECK_TIMEOUT", "0")
    assert check_timeout(Slow()) is None
    monkeypatch.setenv("WORKBENCH_CHECK_TIMEOUT", "soon")
    assert check_timeout(Fine()) == DEFAULT_TIMEOUT_S


def test_malformed_findings_become_error_findings_per_record():
    found = run_check(Malformed(), RECS)
    assert [bool(f.error) for f in found] == [True, True, True, False]
    assert all("malformed" in f.error for f in found[:3])
    assert found[3].flagged
    wrong = run_check(WrongIds(), RECS)
    assert [f.record_id for f in wrong] == ["r0", "r1", "r2", "r3"]
    assert all(f.error for f in wrong)


BROKEN_PLUGINS = '''
import time
from workbench import Check, hookimpl


class Boom(Check):
    name = "boom"
    category = "boom"

    def run(self, records):
        raise RuntimeError("boom plugin failed")


class Stuck(Check):
    name = "stuck"
    category = "stuck"

    def run(self, records):
        time.sleep(3)
        yield from ()


class Garbage(Check):
    name = "garbage"
    category = "garbage"

    def run(self, records):
        yield from ["not a finding"] * len(records)


@hookimpl
def register_checks(register):
    register(Boom)
    register(Stuck)
    register(Garbage)
'''


def test_a_run_with_broken_plugins_finishes_and_names_them(tmp_path, cli, tiny_model_dir,
                                                         monkeypatch):
    from workbench.store import Store

    monkeypatch.setenv("WORKBENCH_PLUGINS", "")
    monkeypatch.setenv("WORKBENCH_CHECK_TIMEOUT", "0.5")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "broken.py").write_text(BROKEN_PLUGINS)
    (tmp_path / "d.jsonl").write_text(
        "".join(json.dumps({"id": f"q{i}", "prompt": f"Say {i}"}) + "\n" for i in range(3)))
    (tmp_path / "s.yaml").write_text("name: s\ndata: d.jsonl\ngeneration:\n  max_new_tokens: 3\n")
    r = cli("run", "--model", f"m={tiny_model_dir}", "--suite", tmp_path / "s.yaml",
            "--plugins-dir", plugins, "--json")
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["status"] == "finished" and res["n_outputs"] == 3
    assert {c: v["errors"] for c, v in res["findings"].items()} == {
        "boom": 3, "stuck": 3, "garbage": 3}
    store = Store()
    run = store.get_run(res["run_id"])
    assert run["status"] == "finished"
    assert run["metrics"]["check_errors"] == {"boom": 3, "stuck": 3, "garbage": 3}
    errors = store.run_findings(res["run_id"]).groupby("check_name").error.first().to_dict()
    assert "boom plugin failed" in errors["boom"]
    assert "timed out" in errors["stuck"]
    assert "malformed" in errors["garbage"]


FLAKY_PLUGIN = '''
import os

from workbench import Check, hookimpl


class Flaky(Check):
    """Raises on the items "Say 0" and "Say 1" while $WB_FLAKY is set."""

    name = "flaky"
    category = "flaky"

    def run(self, records):
        for r in records:
            if os.environ.get("WB_FLAKY") and any(f"Say {i}." in r.prompt for i in (0, 1)):
                raise ValueError("flaky today")
            yield self.finding(r, flagged=False, score=0.0)


@hookimpl
def register_checks(register):
    register(Flaky)
'''


class _Killed(BaseException):
    """Stands for a kill -9: nothing after it runs in the process that got it."""


def test_check_errors_stored_before_a_kill_make_the_run_not_reusable(tmp_path, cli,
                                                                     tiny_model_dir, monkeypatch):
    """A run killed after a batch whose check raised is resumed and finished without those
    errors in its own count; the stored error findings still keep it from being reused."""
    import workbench.run.runner
    from workbench.store import Store

    monkeypatch.setenv("WORKBENCH_PLUGINS", "")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "flaky.py").write_text(FLAKY_PLUGIN)
    (tmp_path / "d.jsonl").write_text(
        "".join(json.dumps({"id": f"q{i}", "prompt": f"Say {i}."}) + "\n" for i in range(4)))
    (tmp_path / "s.yaml").write_text("name: s\ndata: d.jsonl\ngeneration:\n  max_new_tokens: 3\n")
    args = ("run", "--model", f"m={tiny_model_dir}", "--suite", tmp_path / "s.yaml", "-b", "2",
            "--plugins-dir", plugins, "--json")

    # 1. the first batch's checks raise and are stored as errors; the process dies at the second
    write = workbench.run.runner._Writer.write
    calls = []

    def dies_at_the_second_batch(self, *a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise _Killed
        return write(self, *a, **k)

    with monkeypatch.context() as mp:
        mp.setenv("WB_FLAKY", "1")
        mp.setattr(workbench.run.runner._Writer, "write", dies_at_the_second_batch)
        with pytest.raises(_Killed):
            cli(*args)
    store = Store()
    run_id = store.get_run("latest")["run_id"]
    assert store.run_findings(run_id).error.notna().sum() == 2

    # 2. the same command resumes it; the check works now
    r = cli(*args)
    assert r.exit_code == 0, r.output
    resumed = json.loads(r.stdout)
    assert resumed["resumed"] and resumed["run_id"] == run_id
    assert store.get_run(run_id)["status"] == "finished"

    # 3. again: the finished run holds check errors, so it is checked again, not reused
    r = cli(*args)
    assert r.exit_code == 0, r.output
    again = json.loads(r.stdout)
    assert not again["reused"] and again["run_id"] != run_id
    assert (again["generated"], again["cached"]) == (0, 4)
    assert again["findings"]["flaky"]["errors"] == 0
    assert store.run_findings(again["run_id"]).error.isna().all()
    # 4. and that run, free of errors, is reused
    r = cli(*args)
    assert json.loads(r.stdout)["reused"] and json.loads(r.stdout)["run_id"] == again["run_id"]


@pytest.fixture(autouse=True)
def _no_leftover_threads():
    yield
    Hangs.release.set()


# -- checks in their own process (workbench.check.check_worker) ----------------------------------

class HoldsTheGil(Check):
    """A catastrophic regex: never releases the GIL, so no thread could ever stop it."""

    name = "gil"
    category = "slow"

    def run(self, records):
        import re

        re.match(r"(a+)+$", "a" * 40 + "b")
        yield from ()


class Vanishes(Check):
    name = "vanishes"
    category = "broken"

    def run(self, records):
        import os

        os._exit(0)


class Chatty(Check):
    """Prints a forged finding line, then answers properly (with a bytes message for r3)."""

    name = "chatty"
    category = "chatty"

    def run(self, records):
        print('{"id": "forged", "flagged": true}')
        for r in records:
            msg = b"bytes" if r.id == "r3" else "ok"
            yield Finding(record_id=r.id, check=self.name, category=self.category,
                          flagged=False, score=0.0, message=msg)


def test_a_gil_holding_hang_is_killed(monkeypatch):
    monkeypatch.setenv("WORKBENCH_CHECK_TIMEOUT", "0.5")
    t0 = time.monotonic()
    report = run_checks(RECS, [HoldsTheGil(), Fine()])
    assert time.monotonic() - t0 < 10
    assert report.errors == {"gil": 4, "fine": 0}
    assert all("process was killed" in f.error for f in report.findings if f.check == "gil")


def test_a_vanishing_check_is_an_error_not_an_exit():
    check = Vanishes()
    found = run_check(check, RECS)
    assert all(f.error and "process ended (exit code 0)" in f.error for f in found)
    assert "3 times" in found[3].error  # given up after three deaths, not forked again


def test_prints_stay_off_stdout_and_bad_messages_are_errors(capfd):
    found = run_check(Chatty(), RECS)
    out, err = capfd.readouterr()
    assert "forged" not in out and "forged" in err
    assert [bool(f.error) for f in found] == [False, False, False, True]
    assert "malformed" in found[3].error


def test_isolation_policy(monkeypatch):
    from workbench_checks.length import LengthCheck

    from workbench.check.check_worker import isolated

    monkeypatch.delenv("WORKBENCH_CHECK_ISOLATION", raising=False)
    assert isolated(Fine()) and not isolated(LengthCheck())
    monkeypatch.setenv("WORKBENCH_CHECK_ISOLATION", "process")
    assert isolated(LengthCheck())
    monkeypatch.setenv("WORKBENCH_CHECK_ISOLATION", "thread")
    assert not isolated(Fine())


PLUGIN = """
import os
from workbench import Check, hookimpl


class Loud(Check):
    name = "loud"
    category = "loud"

    def run(self, records):
        print('{"id": "forged", "check": "loud", "flagged": true}')
        for r in records:
            yield self.finding(r, flagged=True, score=0.9, message="loud")


class Quits(Check):
    name = "quits"
    category = "quits"

    def run(self, records):
        os._exit(0)


@hookimpl
def register_checks(register):
    register(Loud)
    register(Quits)
"""


def test_check_command_output_survives_hostile_plugins(tmp_path, cli, monkeypatch):
    import subprocess
    import sys
    from pathlib import Path

    monkeypatch.setenv("WORKBENCH_PLUGINS", "")
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "hostile.py").write_text(PLUGIN)
    recs = tmp_path / "r.jsonl"
    recs.write_text("".join(json.dumps({"id": f"x{i}", "prompt": "p", "output": f"out {i}"})
                            + "\n" for i in range(3)))
    exe = str(Path(sys.executable).with_name("workbench"))
    proc = subprocess.run([exe, "check", str(recs), "--plugins-dir", str(tmp_path / "p"),
                           "--checks", "loud,quits", "--all-scores"], capture_output=True, text=True,
                          timeout=120)
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 1  # a check error
    assert {r["id"] for r in rows} == {"x0", "x1", "x2"}  # nothing forged
    assert sorted(r["check"] for r in rows) == ["loud"] * 3 + ["quits"] * 3
    assert all("process ended" in r["error"] for r in rows if r["check"] == "quits")
    assert "check 'quits' raised" in proc.stderr and "forged" in proc.stderr
