"""A suite's schema (pydantic): the suite file's fields, its items and its generation settings.
An unknown field is an error, so a typo is reported rather than ignored."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ALPACA_TEMPLATE = (
    "### Instruction:\n{{ prompt }}\n\n"
    "{% if context %}### Input:\n{{ context }}\n\n{% endif %}"
    "### Response:\n"
)


class GenerationConfig(BaseModel):
    """How outputs are generated. Greedy unless temperature > 0."""

    model_config = ConfigDict(extra="forbid")
    max_new_tokens: int = Field(128, ge=1, le=32768)
    temperature: float = Field(0.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    stop: list[str] = Field(default_factory=list)
    seed: int = 0
    # several answers per item, for consistency checks: each sample is drawn with its own seed
    # from (seed, sample index, prompt); ``first: greedy`` decodes sample 0 greedily instead, so
    # the answer the other checks and the metrics see is the greedy one
    samples: int = Field(1, ge=1, le=64)
    first: Literal["sample", "greedy"] = "sample"

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    @model_validator(mode="after")
    def _samples_need_sampling(self) -> GenerationConfig:
        if self.samples > 1 and self.greedy:
            raise ValueError(f"samples: {self.samples} with temperature 0 gives {self.samples} "
                             "identical answers; set a temperature (e.g. 0.7)")
        return self

    def identity(self) -> dict[str, Any]:
        """What of the config decides the outputs: every field, with ``samples`` and ``first``
        left out at their defaults (so configs written before they existed keep their runs and
        cached outputs)."""
        out = self.model_dump()
        if self.samples == 1:
            out.pop("samples")
        if self.first == "sample":
            out.pop("first")
        return out

    def sample_identity(self, sample: int) -> dict[str, Any]:
        """What decides sample ``sample``'s text: a greedy first sample is the greedy answer (the
        cache shares it with greedy runs); sample 0 of a sampled config is that config's one
        answer; later samples add their index."""
        out = self.identity()
        out.pop("samples", None)
        out.pop("first", None)
        if sample == 0 and self.first == "greedy":
            out.update(temperature=0.0, top_p=1.0)
        elif sample > 0:
            out["sample"] = sample
        return out


class Item(BaseModel):
    """One prompt of a suite."""

    model_config = ConfigDict(extra="allow")
    id: str
    prompt: str | None = None
    messages: list[dict[str, str]] | None = None
    reference: str | None = None
    context: str | None = None
    tags: list[str] = Field(default_factory=list)
    split: Literal["eval", "train"] = "eval"

    @field_validator("id", mode="before")
    @classmethod
    def _id_str(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError("id must be a string or an integer")
        return str(v) if isinstance(v, int) else v

    def model_post_init(self, __context: Any) -> None:
        if not self.id.strip():
            raise ValueError("id is empty")
        if self.prompt is None and not self.messages:
            raise ValueError("an item needs a 'prompt' or 'messages'")
        for m in self.messages or []:
            if set(m) - {"role", "content"} or "role" not in m or "content" not in m:
                raise ValueError("each message needs exactly 'role' and 'content'")
        mnt = (self.__pydantic_extra__ or {}).get("max_new_tokens")
        if mnt is not None and (isinstance(mnt, bool) or not isinstance(mnt, int)
                                or not 1 <= mnt <= 32768):
            raise ValueError("'max_new_tokens' must be an integer from 1 to 32768 (this item's "
                             "generation budget, instead of the suite's)")
        group = (self.__pydantic_extra__ or {}).get("group")
        if group is not None and (isinstance(group, bool) or not isinstance(group, str | int)):
            raise ValueError("'group' must be a string or an integer (items asking one question "
                             "share it)")

    def generation(self, suite_config: GenerationConfig) -> GenerationConfig:
        """The generation config of this item: the suite's, with the item's own
        ``max_new_tokens`` when it gives one (a one-fact question beside an essay)."""
        mnt = (self.__pydantic_extra__ or {}).get("max_new_tokens")
        if mnt is None or mnt == suite_config.max_new_tokens:
            return suite_config
        return suite_config.model_copy(update={"max_new_tokens": mnt})

    @property
    def group(self) -> str | None:
        """The paraphrase group this item belongs to (items sharing it ask one question)."""
        g = (self.__pydantic_extra__ or {}).get("group")
        return None if g is None else str(g)

    @property
    def extra(self) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})


class LmEvalSpec(BaseModel):
    """lm-eval tasks to run as this suite (registered names, or task YAML files/dirs)."""

    model_config = ConfigDict(extra="forbid")
    tasks: list[str]
    include_path: list[str] = Field(default_factory=list)
    num_fewshot: int | None = None
    limit: int | None = None


class SuiteSpec(BaseModel):
    """The YAML file's schema."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    data: str | None = None
    items: list[dict[str, Any]] | None = None
    template: str | None = None
    chat_template: bool = False
    system: str | None = None
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    checks: dict[str, dict[str, Any] | None] | list[str] | None = None
    metrics: list[str] = Field(default_factory=lambda: ["exact_match"])
    lm_eval: LmEvalSpec | None = None
