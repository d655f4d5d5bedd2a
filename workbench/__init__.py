"""workbench: evaluate a fine-tuned LLM, find the errors that recur, retrain on them, check they are gone.

The plugin API: ``Check``, ``Record``, ``Finding``, ``Repair``, ``Trainer`` (with ``TrainExample`` and
``TrainResult``) and the ``hookimpl`` marker.
"""

from .check.checks import Check, Finding, Record
from .hookspecs import hookimpl
from .suggest.repairs import Repair
from .train.trainers import Trainer, TrainExample, TrainResult

__version__ = "0.1.0"
__all__ = [
    "Check", "Finding", "Record", "Repair", "Trainer", "TrainExample", "TrainResult", "hookimpl",
    "__version__",
]
