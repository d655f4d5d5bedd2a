"""LoRA training settings: one dataclass, each field with its help text and, for the common ones,
the command-line flag that sets it (`workbench train --help` lists them; any field is also set
with `--set KEY=VALUE`)."""

from __future__ import annotations

from dataclasses import dataclass, field


def _opt(default, help: str, **kw):  # noqa: A002 - mirrors peft's field(metadata={"help": ...})
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class LoraTrainConfig:
    """Defaults are tuned on the embedded demo model (a few hundred examples, CPU)."""

    r: int = _opt(16, "LoRA rank (the adapter's inner dimension).", flag="--r")
    alpha: float = _opt(32.0, "LoRA alpha: the update is scaled by alpha / r.",
                        flag="--lora-alpha")
    dropout: float = _opt(0.05, "Dropout on the LoRA branch while training.", flag="--dropout")
    target_modules: list[str] | None = _opt(
        None,
        "Module names to adapt (e.g. q_proj,v_proj). Default: every linear attention and MLP "
        "projection the model has (all nn.Linear layers but the output head).",
        flag="--target-modules",
    )
    learning_rate: float = _opt(1e-3, "Peak learning rate (AdamW), after a linear warmup.",
                                flag="--lr")
    epochs: float = _opt(3.0, "Passes over the training mix (fractions allowed).",
                         flag="--epochs")
    batch_size: int = _opt(8, "Examples per optimizer step (per process).",
                           flag="--train-batch-size")
    max_batch_tokens: int = _opt(
        192,
        "Most padded tokens in one forward pass: a bigger batch runs as several passes whose "
        "gradients add up to the same optimizer step (bounds activation memory).",
    )
    max_length: int = _opt(
        512, "Longest tokenized example; longer ones are cut from the left of the prompt.",
        flag="--max-length",
    )
    seed: int = _opt(0, "Seed for the LoRA init, the replay sample and the batch order.",
                     flag="--seed")
    replay_share: float = _opt(
        0.3,
        "Share of the training mix drawn from general pool data (e.g. the suite's other train-split "
        "items) to guard against forgetting; 0 turns replay off.",
        flag="--replay-share",
    )
    weight_decay: float = _opt(0.0, "AdamW weight decay on the LoRA weights.")
    warmup_ratio: float = _opt(0.1, "Share of the steps spent warming the learning rate up.")
    max_steps: int | None = _opt(None, "Stop after this many optimizer steps (overrides epochs).",
                                 flag="--max-steps")
    grad_clip: float = _opt(1.0, "Clip the gradient norm to this value (0: off).")

    def __post_init__(self) -> None:
        if isinstance(self.target_modules, str):
            self.target_modules = [m.strip() for m in self.target_modules.split(",") if m.strip()]
        checks = [
            (self.r >= 1, "r must be >= 1"),
            (self.alpha > 0, "alpha must be > 0"),
            (0 <= self.dropout < 1, "dropout must be in [0, 1)"),
            (self.learning_rate > 0, "learning_rate must be > 0"),
            (self.epochs > 0, "epochs must be > 0"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
            (self.max_length >= 8, "max_length must be >= 8"),
            (self.max_batch_tokens >= 1, "max_batch_tokens must be >= 1"),
            (0 <= self.replay_share < 1, "replay_share must be in [0, 1)"),
            (0 <= self.warmup_ratio < 1, "warmup_ratio must be in [0, 1)"),
            (self.max_steps is None or self.max_steps >= 1, "max_steps must be >= 1"),
        ]
        bad = [msg for ok, msg in checks if not ok]
        if bad:
            raise ValueError("; ".join(bad))
