"""Start the Streamlit server for the dashboard as a child process and wait until it answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ..errors import ConfigError, StoreError, WorkbenchError
from ..store import Store
from . import APP_PATH

DEFAULT_PORT = 8501


def streamlit_command(db: str | Path, port: int, host: str = "127.0.0.1") -> list[str]:
    """The command line that serves the dashboard on ``host:port`` for database ``db``."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP_PATH),
        "--server.headless", "true",
        "--server.address", host,
        "--server.port", str(port),
        "--server.fileWatcherType", "none",  # an installed app does not reload on edits
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",  # no deploy/dev menu: this is a local viewer
        "--", "--db", str(db),
    ]


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # as the server will: a port in TIME_WAIT after a restart is still usable
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def pick_port(host: str, port: int | None) -> int:
    """The requested port (which must be free), else 8501 or the next free one after it."""
    if port is not None:
        if not port_free(host, port):
            raise ConfigError(f"port {port} on {host} is in use: pick another with --port")
        return port
    for candidate in range(DEFAULT_PORT, DEFAULT_PORT + 50):
        if port_free(host, candidate):
            return candidate
    raise ConfigError(f"no free port in {DEFAULT_PORT}-{DEFAULT_PORT + 49}: pass --port")


def check_database(db: str | Path) -> str:
    """The database as an absolute path, checked readable; an old schema is upgraded once."""
    path = str(Path(db).expanduser().resolve())
    store = Store(path, read_only=True)  # raises "database not found"
    try:
        with store.connect():
            pass
    except StoreError as exc:
        if "schema upgrade" not in str(exc):
            raise
        Store(path)  # applies the pending migrations (a short write)
    return path


def url_for(host: str, port: int) -> str:
    shown = "localhost" if host in ("127.0.0.1", "localhost", "0.0.0.0", "") else host
    return f"http://{shown}:{port}"


def wait_ready(proc: subprocess.Popen, host: str, port: int, timeout: float = 60.0) -> None:
    """Block until the server's health endpoint answers; raise if it dies or takes too long."""
    probe = "127.0.0.1" if host in ("0.0.0.0", "") else host
    health = f"http://{probe}:{port}/_stcore/health"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise WorkbenchError(
                f"the dashboard server exited with code {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(health, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.2)
    raise WorkbenchError(f"the dashboard server did not answer on {health} within {timeout:.0f}s")


def start(db: str | Path, port: int | None = None, host: str = "127.0.0.1",
          timeout: float = 60.0, preexec_fn: Any = None) -> tuple[subprocess.Popen, str]:
    """Start the server and wait for it; returns (process, url). The caller stops the process.
    ``preexec_fn`` runs in the server's process before Streamlit starts."""
    path = check_database(db)
    port = pick_port(host, port)
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    # Streamlit's banner goes nowhere: the caller prints the URL; errors still reach stderr
    proc = subprocess.Popen(streamlit_command(path, port, host), env=env,
                            stdout=subprocess.DEVNULL, preexec_fn=preexec_fn)
    try:
        wait_ready(proc, host, port, timeout)
    except BaseException:
        stop(proc)
        raise
    return proc, url_for(host, port)


def stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """Terminate the server, killing it if it does not exit within ``grace`` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
