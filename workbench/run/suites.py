"""Custom suites: a YAML file naming a JSONL data file (or inline items), validated with pydantic.

Every problem is reported with its file and line; a suite with any problem is rejected whole, so
nothing is written to the store.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ..errors import SuiteError
from .suite_limits import read_regular_file, render_bounded, sandbox

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


@dataclass
class Suite:
    """A validated suite: its spec and items, with a fingerprint of both."""

    spec: SuiteSpec
    items: list[Item]
    path: Path | None = None
    source: str = "custom"
    fingerprint: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def suite_id(self) -> str:
        return f"{self.name}@{self.fingerprint[:12]}"

    @property
    def generation(self) -> GenerationConfig:
        return self.spec.generation

    def split(self, split: str) -> list[Item]:
        return [i for i in self.items if i.split == split]

    def with_samples(self, samples: int, temperature: float | None = None) -> Suite:
        """This suite asking for ``samples`` answers per item (``workbench run --samples``). A
        greedy suite keeps its greedy answer first and samples the others at ``temperature``
        (0.7 unless given); a sampling suite samples them all (at ``temperature`` if given)."""
        gen = self.spec.generation.model_dump()
        if temperature is not None:
            gen["temperature"] = temperature
        elif self.spec.generation.greedy and samples > 1:
            gen["temperature"] = 0.7
        if self.spec.generation.greedy and samples > 1:
            gen["first"] = "greedy"
        gen["samples"] = samples
        try:
            generation = GenerationConfig(**gen)
        except ValidationError as exc:
            raise SuiteError(_pyd_errors(exc)[0]) from None
        spec = self.spec.model_copy(update={"generation": generation})
        return Suite(spec=spec, items=self.items, path=self.path, source=self.source,
                     fingerprint=_fingerprint(spec, self.items), problems=list(self.problems))

    def check_selection(self) -> dict[str, dict[str, Any]] | None:
        """Check name -> options, or None for every registered check with defaults."""
        c = self.spec.checks
        if c is None:
            return None
        if isinstance(c, list):
            return {n: {} for n in c}
        return {k: (v or {}) for k, v in c.items()}

    def render(self, item: Item) -> str | None:
        """The prompt text from the template; None when the item is rendered by a chat template."""
        if item.messages and item.prompt is None:
            return None
        template = self.spec.template or "{{ prompt }}"
        return render_bounded(
            _compiled(template), prompt=item.prompt, context=item.context,
            reference=item.reference, id=item.id, **item.extra,
        )


def _jinja():  # jinja is imported lazily: only rendering needs it
    # sandboxed: a suite file from elsewhere must not reach Python internals through its
    # template, nor loop, grow or run without bound (see suite_limits)
    return sandbox()


@lru_cache(maxsize=16)
def _compiled(template: str) -> Any:
    """The compiled template (compiling once per item made a 10^6-item suite take ~20 minutes)."""
    return _jinja().from_string(template)


def _fingerprint(spec: SuiteSpec, items: list[Item]) -> str:
    h = hashlib.sha256()
    dump = spec.model_dump(exclude={"description"})
    dump["generation"] = spec.generation.identity()
    h.update(json.dumps(dump, sort_keys=True).encode())
    for it in items:
        h.update(json.dumps(it.model_dump(), sort_keys=True).encode())
    return h.hexdigest()


def _loc(parts: tuple[Any, ...]) -> str:
    """A pydantic error location as one printable line (odd keys shown quoted)."""
    return ".".join(str(p) if str(p).isprintable() else repr(p) for p in parts)


def _pyd_errors(exc: ValidationError) -> list[str]:
    out = []
    for e in exc.errors():
        loc = _loc(e["loc"])
        out.append(f"{loc}: {e['msg']}" if loc else e["msg"])
    return out


def _yaml_line(node: Any, key: str) -> int | None:
    """The 1-based line of a top-level key in the YAML file, for error messages."""
    if isinstance(node, yaml.MappingNode):
        for k, _ in node.value:
            if getattr(k, "value", None) == key:
                return k.start_mark.line + 1
    return None


def _yaml_line_at(node: Any, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the deepest key (or list entry) of ``loc`` found in the YAML."""
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == str(part)),
                         None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(
                node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def near_name(name: str, known: Any) -> str:
    """' (did you mean 'length'?)' for a misspelt name close to a known one, else ''."""
    import difflib

    close = difflib.get_close_matches(str(name), sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _has_lone_surrogate(obj: Any) -> bool:
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _read_or_note(path: Path, what: str, problems: list[str]) -> bytes | None:
    """The bytes of ``path`` (a regular file under the size limit: not /dev/zero or a FIFO),
    or None with the reason in ``problems``."""
    try:
        return read_regular_file(path)
    except OSError as exc:
        problems.append(f"{path}: cannot read {what}: {exc.strerror or exc}")
    except (ValueError, SuiteError) as exc:
        problems.append(f"{path}: cannot read {what}: {exc}")
    return None


def read_jsonl_items(path: Path, problems: list[str]) -> list[tuple[int, dict[str, Any]]]:
    """Parse a JSONL file into (line number, object) pairs, recording every bad line."""
    rows: list[tuple[int, dict[str, Any]]] = []
    raw = _read_or_note(path, "data file", problems)
    if raw is None:
        return rows
    for n, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(f"{path}:{n}: not valid UTF-8 (byte {exc.start})")
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{n}: malformed JSON: {exc.msg} (column {exc.colno})")
            continue
        except RecursionError:
            problems.append(f"{path}:{n}: malformed JSON: nested too deeply")
            continue
        # a \ud800-style escape can decode to a lone surrogate, which no store or file can hold
        if "\\u" in text and _has_lone_surrogate(obj):
            problems.append(f"{path}:{n}: a string holds an unpaired surrogate escape (\\udXXX)")
            continue
        if not isinstance(obj, dict):
            problems.append(f"{path}:{n}: expected a JSON object, got {type(obj).__name__}")
            continue
        rows.append((n, obj))
    return rows


MAX_YAML_NODES = 1_000_000  # after alias expansion


def _alias_problem(root: Any) -> str | None:
    """Why the YAML's aliases make it unusable (recursive, or expanding past MAX_YAML_NODES, as
    in a "billion laughs" file), else None. Counts each shared node once per use, memoised."""
    if root is None:
        return None
    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def size(node: Any) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_:
            raise ValueError("a recursive alias")
        open_.add(key)
        if isinstance(node, yaml.SequenceNode):
            n = 1 + sum(size(c) for c in node.value)
        elif isinstance(node, yaml.MappingNode):
            n = 1 + sum(size(k) + size(v) for k, v in node.value)
        else:
            n = 1
        open_.discard(key)
        sizes[key] = min(n, MAX_YAML_NODES + 1)
        return sizes[key]

    try:
        total = size(root)
    except ValueError as exc:
        return f"bad YAML: {exc}"
    if total > MAX_YAML_NODES:
        return f"bad YAML: aliases expand to more than {MAX_YAML_NODES:,} values"
    return None


def _check_problems(path: Path, node: Any, spec: SuiteSpec, checks: Any) -> list[str]:
    """Unknown checks (with the near name) and bad check options of a ``checks:`` selection."""
    out = []
    selection = Suite(spec=spec, items=[]).check_selection() or {}
    names = list(spec.checks) if isinstance(spec.checks, list) else None
    for name, opts in selection.items():
        at = ("checks", names.index(name)) if names is not None else ("checks", name)
        line = _yaml_line_at(node, at) or 1
        if name not in checks:
            out.append(f"{path}:{line}: unknown check {name!r}{near_name(name, checks)}"
                       f" (available: {', '.join(sorted(checks)) or 'none'})")
            continue
        try:
            checks[name](opts)
        except Exception as exc:  # noqa: BLE001 - the check's own options error, one line
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            out.append(f"{path}:{line}: {first}" if repr(name) in first
                       else f"{path}:{line}: check {name!r}: {first}")
    return out


def load_suite(path: str | Path) -> Suite:
    """Load and validate a suite; raise SuiteError listing every problem found."""
    suite = inspect_suite(path)
    if suite.problems:
        raise SuiteError(suite.problems)
    return suite


def inspect_suite(path: str | Path, checks: Any = None) -> Suite:
    """Load a suite and collect its problems without raising (for `suites validate`): every
    problem of the file at once, each with its line. ``checks`` (name -> Check class, the
    registered checks) also validates the ``checks:`` selection and its options."""
    path = Path(path)
    problems: list[str] = []
    empty = Suite(spec=SuiteSpec.model_construct(name=path.stem), items=[], path=path,
                  problems=problems)
    if not path.exists():
        problems.append(f"{path}: suite file not found")
        return empty
    raw = _read_or_note(path, "suite file", problems)
    if raw is None:
        return empty
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(f"{path}: not valid UTF-8 (byte {exc.start})")
        return empty
    try:
        node = yaml.compose(text)
        alias_problem = _alias_problem(node)
        if alias_problem:
            problems.append(f"{path}: {alias_problem}")
            return empty
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problems.append(f"{where}: bad YAML: {getattr(exc, 'problem', None) or exc}")
        return empty
    except RecursionError:
        problems.append(f"{path}: bad YAML: nested too deeply")
        return empty
    if not isinstance(raw, dict):
        problems.append(f"{path}:1: a suite must be a YAML mapping with at least 'name'")
        return empty
    try:
        spec = SuiteSpec.model_validate(raw)
    except ValidationError as exc:
        bad = set()
        for e in exc.errors():
            bad.add(e["loc"][0] if e["loc"] else None)
            line = _yaml_line_at(node, tuple(e["loc"]))
            problems.append(f"{path}:{line or 1}: {_loc(e['loc'])}: {e['msg']}")
        # go on without the keys in error, so that one of them hides none of the other problems
        try:
            spec = SuiteSpec.model_validate({k: v for k, v in raw.items() if k not in bad})
        except ValidationError:
            return empty

    if spec.lm_eval is not None:  # what an lm-eval task sets itself is not silently dropped
        for key, why in (("generation", "the task's generation_kwargs"),
                         ("template", "the task's doc_to_text"), ("data", "the task's dataset"),
                         ("items", "the task's dataset"), ("metrics", "the task's metric_list")):
            if key in raw:
                problems.append(f"{path}:{_yaml_line(node, key) or 1}: {key}: not used by "
                                f"lm-eval suites ({why} decides it); remove it")
    if spec.lm_eval is None:
        from ..check.metrics import available

        for m in spec.metrics:
            if m not in available():
                line = _yaml_line_at(node, ("metrics", spec.metrics.index(m))) or 1
                problems.append(f"{path}:{line}: unknown metric {m!r}{near_name(m, available())}"
                                f" (available: {', '.join(available())})")
    if checks is not None and spec.checks is not None:
        problems.extend(_check_problems(path, node, spec, checks))

    items: list[Item] = []
    seen: dict[str, str] = {}

    def add(obj: dict[str, Any], where: str) -> None:
        try:
            item = Item.model_validate(obj)
        except ValidationError as exc:
            for p in _pyd_errors(exc):
                problems.append(f"{where}: {p}")
            return
        except (TypeError, ValueError) as exc:
            problems.append(f"{where}: {exc}")
            return
        if item.id in seen:
            problems.append(f"{where}: duplicate id {item.id!r} (first at {seen[item.id]})")
            return
        seen[item.id] = where
        items.append(item)

    if spec.lm_eval is None:
        if spec.data is None and spec.items is None:
            problems.append(f"{path}: the suite names no 'data' file and has no 'items'")
        if spec.data is not None:
            data_path = (path.parent / spec.data).resolve()
            if not data_path.exists():
                line = _yaml_line(node, "data") or 1
                problems.append(f"{path}:{line}: data file not found: {data_path}")
            else:
                for n, obj in read_jsonl_items(data_path, problems):
                    add(obj, f"{data_path}:{n}")
        for k, obj in enumerate(spec.items or []):
            add(obj, f"{path}: items[{k}]")
        if not problems and not items:
            problems.append(f"{path}: the suite is empty (no items)")
        if spec.template:
            try:
                _jinja().parse(spec.template)
            except Exception as exc:  # noqa: BLE001 - jinja's TemplateSyntaxError
                problems.append(f"{path}:{_yaml_line(node, 'template') or 1}: bad template: {exc}")
        if not problems:
            for it in items:
                if it.prompt is not None or not it.messages:
                    try:
                        Suite(spec=spec, items=[]).render(it)
                    except Exception as exc:  # noqa: BLE001 - undefined template variable
                        problems.append(f"{path}: item {it.id!r}: template cannot render: {exc}")
                        break
    source = "lm-eval" if spec.lm_eval is not None else "custom"
    return Suite(spec=spec, items=items, path=path, source=source,
                 fingerprint=_fingerprint(spec, items), problems=problems)
