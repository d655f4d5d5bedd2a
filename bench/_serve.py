"""``transformers serve`` on 127.0.0.1, for the benchmarks and tests that need a real
OpenAI-compatible server: started, waited for, killed with its process group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SERVE = Path(sys.executable).with_name("transformers")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``transformers serve MODEL`` on 127.0.0.1:PORT, its log in a file."""

    def __init__(self, model: Path, port: int, log: Path):
        self.model, self.port, self.log = model, port, log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 120.0) -> None:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
        with open(self.log, "ab") as f:
            self.proc = subprocess.Popen(
                [str(SERVE), "serve", str(self.model), "--host", "127.0.0.1", "--port",
                 str(self.port), "--device", "cpu", "--log-level", "info"],
                stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"transformers serve exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/models", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"transformers serve did not answer in {timeout:.0f} s")

    def requests_served(self) -> int:
        return self.log.read_text(errors="replace").count('"POST /v1/completions')

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
