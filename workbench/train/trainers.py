"""The trainer interface: what a training plugin receives and returns.

The core holds no training code. A plugin (the first-party one is ``lora`` in plugins/lora)
subclasses ``Trainer`` and registers it through the ``register_trainers`` hook; the core hands it a
loaded base model, the training examples and an output directory, and records what comes back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from ..errors import ConfigError

LINEAGE_FILE = "workbench_lineage.json"


@dataclass
class TrainExample:
    """One supervised example: chat ``messages`` whose last message is the target response.

    ``prompt`` is the prompt text exactly as the model saw it at evaluation (the suite's template
    rendered); when it is None the trainer renders ``messages[:-1]`` with the tokenizer's chat
    template. Only the response is trained on; the prompt is context.
    """

    messages: list[dict[str, str]]
    prompt: str | None = None
    source: Literal["suggestion", "replay"] = "suggestion"
    ref: str | None = None  # where it came from (suggestion id, item id), for lineage

    @property
    def response(self) -> str:
        return self.messages[-1]["content"]

    def __post_init__(self) -> None:
        if not self.messages or self.messages[-1].get("role") != "assistant":
            raise ConfigError(
                f"a training example must end with an assistant message (example {self.ref!r})"
            )


@dataclass
class TrainResult:
    """What a trainer returns: the saved checkpoint and how training went."""

    out_dir: Path
    config: dict[str, Any]
    loss_curve: list[tuple[int, float]]
    metrics: dict[str, Any] = field(default_factory=dict)
    # under `accelerate launch` every process trains; only the main one records the result
    is_main_process: bool = True


StepCallback = Callable[[int, int, float], None]
"""on_step(step, total_steps, loss): called after each optimizer step."""


class Trainer:
    """Base class of every trainer. Subclass it, set ``name`` and ``Config``, implement ``train``.

    ``Config`` is a dataclass whose fields carry their help text in ``metadata["help"]`` and,
    optionally, a command-line shorthand in ``metadata["flag"]`` ("--lr"); the CLI sets any field
    with ``--set KEY=VALUE`` (see workbench.train.trainer_settings), and ``make_config`` validates
    overrides against it.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Config: ClassVar[type] = object

    def __init__(self, config: Any = None, **overrides: Any):
        self.config = self.make_config(config, **overrides)

    @classmethod
    def make_config(cls, config: Any = None, **overrides: Any) -> Any:
        """A Config from an instance or dict plus keyword overrides (None values are ignored)."""
        if isinstance(config, cls.Config):
            base = dataclasses.asdict(config)
        else:
            base = dict(config or {})
        base.update({k: v for k, v in overrides.items() if v is not None})
        names = {f.name for f in dataclasses.fields(cls.Config)}
        unknown = sorted(set(base) - names)
        if unknown:
            raise ConfigError(
                f"unknown option(s) for trainer {cls.name!r}: {', '.join(unknown)} "
                f"(known: {', '.join(sorted(names))})"
            )
        try:
            return cls.Config(**base)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"bad options for trainer {cls.name!r}: {exc}") from None

    @classmethod
    def config_help(cls) -> list[tuple[str, Any, str]]:
        """(field, default, help) for each config field, for docs and `--help`."""
        from .trainer_settings import settings

        return [(s.name, s.default, s.help) for s in settings(cls.Config)]

    def train(
        self,
        model: Any,
        tokenizer: Any,
        examples: Sequence[TrainExample],
        out_dir: Path,
        *,
        base: str,
        replay: Sequence[TrainExample] = (),
        on_step: StepCallback | None = None,
    ) -> TrainResult:
        """Train ``model`` (a transformers causal LM, modified in place) on ``examples``.

        ``replay`` is general data the trainer may mix in to guard against forgetting; ``base`` is
        the base model's path or hub id, to record in the saved checkpoint. Saves a checkpoint
        loadable by workbench.run.models.load_model into ``out_dir``.
        """
        raise NotImplementedError


def get_trainer(name: str = "lora") -> type[Trainer]:
    """The registered trainer class called ``name``."""
    from ..errors import PluginError
    from ..plugins import get_plugins

    plugins = get_plugins()
    classes = plugins.trainers.classes
    if name not in classes:
        known = ", ".join(sorted(classes)) or "none"
        hint = ""
        if name == "lora" and "lora" in plugins.failures:
            hint = f" (the lora plugin failed to load: {plugins.failures['lora']})"
        elif name == "lora":
            hint = " (install it: pip install -e plugins/lora)"
        raise PluginError(f"unknown trainer {name!r} (available: {known}){hint}")
    return classes[name]
