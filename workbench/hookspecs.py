"""The plugin contract: every hook a workbench plugin can implement.

A plugin is a module (or object) with functions decorated by ``workbench.hookimpl``, registered
through the ``workbench`` entry-point group or loaded from ``--plugins-dir``. Each hook receives a
``register`` callback; calling it hands a class to workbench, which refuses duplicate names.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

hookspec = pluggy.HookspecMarker("workbench")
hookimpl = pluggy.HookimplMarker("workbench")


@hookspec
def register_checks(register: Callable[[type], None]) -> None:
    """Register check classes: call ``register(MyCheck)`` for each subclass of ``workbench.Check``.

    A check has a unique ``name``, a ``category``, a ``version`` and a nested pydantic ``Options``.
    """


@hookspec
def register_trainers(register: Callable[[type], None]) -> None:
    """Register trainer classes: call ``register(MyTrainer)`` for each subclass of ``workbench.Trainer``.

    A trainer turns a base model and a set of training examples into a tuned checkpoint
    (the first-party LoRA plugin registers ``lora``).
    """
