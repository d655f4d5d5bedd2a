"""A check plugin in a process of its own, where it can be stopped.

A thread cannot be stopped: a plugin that hangs while holding the GIL (a catastrophic regex),
calls ``os._exit`` or prints would hang, end or corrupt the command that runs it. So every check
that is not one of workbench's own runs in a forked worker process, one per check:

- the records go to it through a pipe and its findings come back (validated by ``run_check``);
- past its time limit the worker is killed (SIGKILL), whatever the plugin is doing;
- a worker that vanishes (``os._exit``, a crash) is an error of that check, named;
- its stdout goes to stderr: a plugin's prints never mix with a command's own output.

``WORKBENCH_CHECK_ISOLATION`` chooses: ``process`` (every check), ``thread`` (none: the old
in-process worker thread), or ``auto`` (default: third-party checks in processes, the built-in
ones in-process). Processes need ``fork`` (Linux); elsewhere checks run in threads.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from ..processes import die_with_parent

ISOLATION_ENV = "WORKBENCH_CHECK_ISOLATION"
TRUSTED_MODULES = ("workbench_checks.", "workbench.")


class WorkerGone(Exception):
    """The check's process ended without answering."""


class PluginRaised(Exception):
    """The check raised in its process; the message is its exception's last line."""


def isolated(check: Any) -> bool:
    """Does ``check`` run in a worker process (see the module doc)?"""
    mode = os.environ.get(ISOLATION_ENV, "auto").strip().lower() or "auto"
    if mode == "thread" or not sys.platform.startswith("linux"):
        return False
    if mode == "process":
        return True
    return not type(check).__module__.startswith(TRUSTED_MODULES)


def _serve(check: Any, conn: Any, parent_end: Any) -> None:
    """The worker: answer each batch of records with ("ok", findings) or ("exc", text)."""
    die_with_parent()
    parent_end.close()  # else the pipe never reads as closed when the command goes away
    os.dup2(2, 1)  # the plugin's prints go to stderr, never into a command's output
    sys.stdout = sys.stderr
    try:
        while True:
            try:
                records = conn.recv()
            except (EOFError, OSError):
                break
            try:
                reply: tuple[str, Any] = ("ok", list(check.run(records)))
            except BaseException as exc:  # noqa: BLE001 - SystemExit too: reported, not obeyed
                reply = ("exc", traceback.format_exception_only(type(exc), exc)[-1].strip())
            try:
                conn.send(reply)
            except Exception as exc:  # noqa: BLE001 - findings that cannot be pickled
                conn.send(("exc", f"returned findings that cannot be sent back: {exc}"))
    finally:
        os._exit(0)  # never run the parent's exit handlers (open databases) in the child


class CheckWorker:
    """One forked process holding one check instance."""

    def __init__(self, check: Any):
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self.conn, child = ctx.Pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        self.proc = ctx.Process(target=_serve, args=(check, child, self.conn), daemon=True,
                                name=f"check-{getattr(check, 'name', '?')}")
        self.proc.start()
        child.close()

    def call(self, records: Sequence[Any], timeout: float | None) -> list[Any]:
        """The check's findings for ``records``; CheckTimeout past ``timeout`` seconds (the
        worker is killed), WorkerGone if it died, PluginRaised with the check's exception."""
        from .runner import CheckTimeout

        try:
            self.conn.send(list(records))
            if not self.conn.poll(timeout):
                self.stop()
                raise CheckTimeout(f"timed out after {timeout:g}s on a batch of {len(records)} "
                                   "(its process was killed)")
            kind, payload = self.conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            self.proc.join(5)
            code = self.proc.exitcode
            raise WorkerGone(f"the check's process ended (exit code {code}) without answering"
                             ) from None
        if kind == "exc":
            raise PluginRaised(payload)
        return payload

    def alive(self) -> bool:
        return self.proc.is_alive()

    def stop(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()


def worker_for(check: Any) -> CheckWorker:
    """The live worker of ``check``, started (again) when needed."""
    worker = getattr(check, "_workbench_worker", None)
    if worker is None or not worker.alive():
        worker = CheckWorker(check)
        try:
            check._workbench_worker = worker
        except AttributeError:  # __slots__: a worker per call, still isolated
            pass
    return worker
