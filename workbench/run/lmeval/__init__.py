"""Benchmark suites through lm-eval, stored and checked like custom suites.

A suite names lm-eval tasks (registered names, task YAML files or directories) in its ``lm_eval``
section, or on the command line as ``lm-eval:TASK[,TASK...]``. On the model workbench loaded
(never loaded twice), generate_until requests go through workbench's engine and the store's output
cache, under the same cache keys as custom suites' outputs, and loglikelihoods through lm-eval's
``HFLM``. On a served model (``openai:MODEL@URL``) generate_until goes through workbench's openai
backend the same way and loglikelihoods through lm-eval's ``local-completions`` client. lm-eval's
other backends (``vllm``, ``local-completions``...) are reachable by name with
a ``model_args`` string. Every sample lm-eval logs becomes an item and an output in the store,
generated text goes through the checks, and the task-level metrics (with stderr) land on the run.

lm_eval, torch and transformers are imported inside functions so the CLI starts instantly.

suites.py (tasks as suites), tasks.py (task names, files and directories resolved and loaded),
models.py (the model lm-eval evaluates), engine_lm.py (its generation through workbench's
engine and output cache), served.py (the same on a served model), evaluate.py (one lm-eval
evaluation), records.py (its logged samples as items, outputs and check records), runner.py (a
suite run on a model, stored).
"""

from .models import LmEvalBackendError
from .runner import LmEvalRun, run_lmeval_spec, run_lmeval_suite
from .suites import PREFIX, lmeval_problems, lmeval_suite, parse_suite_ref, suite_from_tasks

__all__ = ["PREFIX", "LmEvalBackendError", "LmEvalRun", "lmeval_problems", "lmeval_suite",
           "parse_suite_ref", "run_lmeval_spec", "run_lmeval_suite", "suite_from_tasks"]
