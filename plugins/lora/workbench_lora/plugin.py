"""Registers the LoRA trainer through the `workbench` entry-point group."""

from workbench.hookspecs import hookimpl


@hookimpl
def register_trainers(register):
    pass
