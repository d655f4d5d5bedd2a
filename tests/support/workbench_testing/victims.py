"""A process killed mid-phase: a check that blocks inside its second batch, the victim's
environment, and a SIGKILL sent once the victim says it is inside the phase."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

BLOCKING_CHECK = '''
import os
import time
from pathlib import Path

from workbench import Check, hookimpl


class Blocker(Check):
    """Blocks inside its second batch when $WB_FAULT_READY names a file (then writes it)."""

    name = "blocker"
    category = "blocked"
    calls = 0

    def run(self, records):
        type(self).calls += 1
        ready = os.environ.get("WB_FAULT_READY")
        if ready and type(self).calls == 2:
            Path(ready).write_text("inside a check")
            time.sleep(120)
        for r in records:
            yield self.finding(r, flagged=len(r.output) % 2 == 0, score=0.5)


@hookimpl
def register_checks(register):
    register(Blocker)
'''


def victim_env(plugins: str | None = "", **extra: str) -> dict[str, str]:
    """The victim's environment: one thread; no entry-point plugins unless ``plugins=None``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", **extra}
    env.pop("WORKBENCH_PLUGINS", None)
    return env if plugins is None else {**env, "WORKBENCH_PLUGINS": plugins}


def kill_when_ready(proc: subprocess.Popen, ready: Path, timeout: float = 150) -> None:
    """SIGKILL ``proc`` as soon as it writes ``ready``; fail if it exits or stalls first."""
    deadline = time.monotonic() + timeout
    try:
        while not ready.exists():
            if proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr else ""
                pytest.fail(f"the victim exited ({proc.returncode}) before the phase: {err[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("the victim never reached the phase")
            time.sleep(0.05)
        time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
