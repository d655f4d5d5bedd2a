"""Hands the check to workbench. The entry point in pyproject.toml points at this module."""

from workbench import hookimpl

from .check import RefusalCheck


@hookimpl
def register_checks(register):
    register(RefusalCheck)
