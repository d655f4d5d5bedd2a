"""Registers the LoRA trainer through the `workbench` entry-point group."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.hookspecs import hookimpl
from workbench.train.trainers import StepCallback, Trainer, TrainExample, TrainResult

from .config import LoraTrainConfig


class LoraTrainer(Trainer):
    """Trains a PEFT LoRA adapter on the response tokens of the examples (peft + accelerate)."""

    name = "lora"
    description = "PEFT LoRA adapter, loss on response tokens, length-grouped batches, accelerate"
    Config = LoraTrainConfig

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
        from .train import train_lora  # torch/peft only when training

        return train_lora(model, tokenizer, examples, out_dir, self.config, base=base,
                          replay=replay, on_step=on_step)


@hookimpl
def register_trainers(register):
    register(LoraTrainer)
