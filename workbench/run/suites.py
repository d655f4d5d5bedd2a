"""Custom suites: a YAML file naming a JSONL data file (or inline items), validated with pydantic.

Every problem is reported with its file and line; a suite with any problem is rejected whole, so
nothing is written to the store. The schema is in ``suite_schema.py``, reading the files and
locating problems in ``suite_files.py``."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import SuiteError
from .suite_files import (
    near_name,
    place_of,
    read_jsonl_items,
    read_or_note,
    validation_problems,
    yaml_alias_problem,
    yaml_line,
    yaml_line_at,
)
from .suite_schema import GenerationConfig, Item, SuiteSpec
from .template_limits import render_bounded, sandbox


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
            raise SuiteError(validation_problems(exc)[0]) from None
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
    # template, nor loop, grow or run without bound (see template_limits)
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


def _check_problems(path: Path, node: Any, spec: SuiteSpec, checks: Any) -> list[str]:
    """Unknown checks (with the near name) and bad check options of a ``checks:`` selection."""
    out = []
    selection = Suite(spec=spec, items=[]).check_selection() or {}
    names = list(spec.checks) if isinstance(spec.checks, list) else None
    for name, opts in selection.items():
        at = ("checks", names.index(name)) if names is not None else ("checks", name)
        line = yaml_line_at(node, at) or 1
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
    raw = read_or_note(path, "suite file", problems)
    if raw is None:
        return empty
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(f"{path}: not valid UTF-8 (byte {exc.start})")
        return empty
    try:
        node = yaml.compose(text)
        alias_problem = yaml_alias_problem(node)
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
            line = yaml_line_at(node, tuple(e["loc"]))
            problems.append(f"{path}:{line or 1}: {place_of(e['loc'])}: {e['msg']}")
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
                problems.append(f"{path}:{yaml_line(node, key) or 1}: {key}: not used by "
                                f"lm-eval suites ({why} decides it); remove it")
    if spec.lm_eval is None:
        from ..check.metrics import available

        for m in spec.metrics:
            if m not in available():
                line = yaml_line_at(node, ("metrics", spec.metrics.index(m))) or 1
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
            for p in validation_problems(exc):
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
                line = yaml_line(node, "data") or 1
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
                problems.append(f"{path}:{yaml_line(node, 'template') or 1}: bad template: {exc}")
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
