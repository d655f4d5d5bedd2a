"""The LoRA retraining plugin: ``LoraTrainer`` (registered as ``lora``) and its config."""

from .config import LoraTrainConfig

__all__ = ["LoraTrainConfig"]
