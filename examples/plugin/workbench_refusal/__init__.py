"""An example workbench plugin: the ``refusal`` check."""

from .check import RefusalCheck

__all__ = ["RefusalCheck"]
