"""torch's thread count: the idle cores, or what the environment says."""

from __future__ import annotations

import workbench.run.threads as threads


def test_env_var_wins(monkeypatch):
    monkeypatch.setenv("WORKBENCH_THREADS", "3")
    assert threads.choose_threads() == (3, "WORKBENCH_THREADS=3")


def test_idle_cores_minus_the_busy_ones(monkeypatch):
    monkeypatch.delenv("WORKBENCH_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "_cores", lambda: 2)
    monkeypatch.setattr(threads, "_busy_elsewhere", lambda: 0)
    assert threads.choose_threads()[0] == 2
    monkeypatch.setattr(threads, "_busy_elsewhere", lambda: 1)
    assert threads.choose_threads()[0] == 1
    monkeypatch.setattr(threads, "_busy_elsewhere", lambda: 7)  # never below one
    assert threads.choose_threads()[0] == 1


def test_busy_elsewhere_leaves_this_process_out():
    # this test process is running: it is not counted, so the figure is small on a test machine
    assert 0 <= threads._busy_elsewhere(samples=2) < 64


def test_each_phase_sets_the_count_again(monkeypatch):
    import torch

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("WORKBENCH_THREADS", "2")
        assert threads.configure_torch_threads()[0] == 2 and torch.get_num_threads() == 2
        monkeypatch.setenv("WORKBENCH_THREADS", "1")  # the machine got busier
        assert threads.configure_torch_threads()[0] == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
