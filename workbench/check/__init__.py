"""Check: the check contract (``Record``, ``Finding``, ``Check``), running checks on records
with per-check error isolation (in a worker process for untrusted plugins), and the metrics
registry (each metric with its direction)."""
