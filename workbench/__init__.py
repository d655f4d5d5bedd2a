"""workbench: evaluate a fine-tuned LLM, find the errors that recur, retrain on them, check they are gone.

The plugin API: ``Check``, ``Record``, ``Finding`` and the ``hookimpl`` marker.
"""

from .checks import Check, Finding, Record
from .hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["Check", "Finding", "Record", "hookimpl", "__version__"]
