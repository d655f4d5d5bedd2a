"""Run: suites on models. Suite loading and validation (custom YAML+JSONL and lm-eval tasks),
the one prompt renderer, model and weight loading, batched generation (locally or on a served
backend), and the runner that writes a run's outputs, samples, metrics and findings.

Nothing is imported here: each module loads its own dependencies (torch, transformers, lm-eval)
only when used.
"""
