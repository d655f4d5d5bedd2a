"""Bounds on what a suite's template may cost to render: its Jinja template renders in a sandbox
whose loops, output size and time are capped (its files are read under a size limit by
``suite_files.read_regular_file``). A suite from elsewhere is untrusted input."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sized
from contextvars import ContextVar
from typing import Any

from ..errors import SuiteError

MAX_TEMPLATE_STEPS = 1_000_000  # loop iterations in one render (any iterable, nested loops and
# the elements filters take apart counted together); also the longest list a template builds
MAX_RENDERED_CHARS = 64 * 2**20  # one rendered prompt, and any value built while rendering it
TEMPLATE_TIMEOUT_S = 10.0  # one render, checked at each loop step, call, filter and output chunk


class TemplateLimit(SuiteError):
    """A template went past a bound (loop steps, value size, time) while rendering."""


class _Budget:
    __slots__ = ("deadline", "steps")

    def __init__(self) -> None:
        self.steps = 0
        self.deadline = time.monotonic() + TEMPLATE_TIMEOUT_S

    def step(self, n: int = 1) -> None:
        before = self.steps
        self.steps += n
        if self.steps > MAX_TEMPLATE_STEPS:
            raise TemplateLimit(f"the template loops more than {MAX_TEMPLATE_STEPS:,} times")
        if (before ^ self.steps) >> 10:  # every 1,024 steps
            self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateLimit(f"the template took more than {TEMPLATE_TIMEOUT_S:g}s to render")


_budget: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


def _step(n: int = 1) -> None:
    budget = _budget.get()
    if budget is not None:
        budget.step(n)


def _check_time() -> None:
    budget = _budget.get()
    if budget is not None:
        budget.check_time()


def _too_long(what: str) -> TemplateLimit:
    return TemplateLimit(f"{what} builds a value over {MAX_RENDERED_CHARS:,} characters long")


def _bounded_range(*args: int) -> range:
    """``range()`` in a template: at most MAX_TEMPLATE_STEPS numbers (no loop could take more)."""
    r = range(*args)
    if len(r) > MAX_TEMPLATE_STEPS:
        raise TemplateLimit(f"the template makes a range of more than {MAX_TEMPLATE_STEPS:,} "
                            "numbers")
    return r


class _Steps:
    """A loop's iterable: each element taken counts one step of the render's budget."""

    __slots__ = ("_it",)

    def __init__(self, iterable: Any) -> None:
        self._it = iterable

    def __iter__(self) -> Any:
        for v in self._it:
            _step()
            yield v

    def __len__(self) -> int:
        return len(self._it)


def _taken(value: Any) -> list[Any]:
    """An iterator's elements, each counted as a step (it can be read only once), their strings
    together at most MAX_RENDERED_CHARS long."""
    out, size = [], 0
    for v in value:
        _step()
        if isinstance(v, str):
            size += len(v)
            _check_size("the template", size)
        out.append(v)
    return out


def _bounded_lipsum(n: Any = 5, html: Any = True, min: Any = 20, max: Any = 100) -> Any:  # noqa: A002
    """``lipsum()`` in a template, refused when its paragraphs would be too long."""
    from jinja2.utils import generate_lorem_ipsum

    if all(isinstance(x, int) for x in (n, min, max)):
        _check_size("lipsum()", n * (max if max > min else min) * 16)
    return generate_lorem_ipsum(n, html, min, max)


def _check_size(what: str, n: int) -> None:
    if n > MAX_RENDERED_CHARS:
        raise _too_long(what)


def _check_numbers(what: str, args: Any) -> None:
    for a in args:
        if isinstance(a, int) and not isinstance(a, bool) and abs(a) > MAX_RENDERED_CHARS:
            raise TemplateLimit(f"the template passes a number over {MAX_RENDERED_CHARS:,} to "
                                f"{what}")


def _check_result(what: str, value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_RENDERED_CHARS:
        raise _too_long(what)
    if isinstance(value, list | tuple | dict | set) and len(value) > MAX_TEMPLATE_STEPS:
        raise TemplateLimit(f"{what} builds a list of more than {MAX_TEMPLATE_STEPS:,} items")
    return value


# filters that take their value apart element by element (each element one step)
_ITERATING = frozenset({"batch", "dictsort", "groupby", "items", "join", "list", "map", "max",
                        "min", "reject", "rejectattr", "select", "selectattr", "slice", "sort",
                        "sum", "unique"})
# filters that never print their value (no need to measure it)
_UNPRINTED = _ITERATING - {"join"} | {"abs", "attr", "count", "d", "default", "first", "float",
                                     "int", "last", "length", "random", "reverse", "round"}


def _estimate(name: str, a: dict[str, Any]) -> int:
    """An upper bound on the length of filter ``name``'s result (0: nothing to fear)."""
    from . import template_sizes as ts

    cap = MAX_RENDERED_CHARS
    if name == "center":
        return max(ts.chars(a["value"], cap), a["width"] if isinstance(a["width"], int) else 0)
    if name == "indent":
        s = str(a["s"]) if isinstance(a["s"], str) else ""
        w = a["width"]
        w = len(w) if isinstance(w, str) else w if isinstance(w, int) else 0
        return len(s) + (s.count("\n") + 1) * w
    if name == "wordwrap":
        s = a["s"] if isinstance(a["s"], str) else ""
        wrap = a["wrapstring"] if isinstance(a["wrapstring"], str) else "\n"
        return len(s) * (1 + len(wrap)) if len(wrap) > 1 else len(s) * 2
    if name == "format":
        return ts.printf_size(str(a["value"]), a["kwargs"] or tuple(a["args"]), cap)
    if name == "join":
        items = a["value"] if isinstance(a["value"], list | tuple) else list(a["value"])
        sep = a["d"] if isinstance(a["d"], str) else ""
        return sum(ts.chars(x, cap) for x in items) + len(sep) * len(items)
    if name == "replace" and all(isinstance(a[k], str) for k in ("s", "old", "new")):
        return ts.replaced_size(a["s"], a["old"], a["new"], a["count"])
    if name in ("batch", "slice"):
        n = a.get("linecount", a.get("slices"))
        if isinstance(n, int) and n > MAX_TEMPLATE_STEPS:
            raise TemplateLimit(f"|{name} makes more than {MAX_TEMPLATE_STEPS:,} parts")
        return 0
    if name == "sum":  # of lists: each + copies the sum so far
        parts = [len(x) for x in a["iterable"] if isinstance(x, list | tuple)]
        if len(parts) * sum(parts) > 100 * MAX_TEMPLATE_STEPS:
            raise TemplateLimit(f"|sum would copy more than {100 * MAX_TEMPLATE_STEPS:,} items")
        return 0
    if name in ("tojson", "pprint"):
        c, items, depth = ts.measure(a["value"], cap)
        indent = a.get("indent")
        return c + items * depth * (indent if isinstance(indent, int) else 1)
    return 0


def _bounded_filter(name: str, func: Any) -> Any:
    """``func`` (a Jinja filter) with the render's bounds: its time is checked, elements it takes
    apart count as steps, numbers it is passed and what it would build are measured first, and
    what it built is measured after. Marked ``pass_context`` so that no filter runs while the
    template compiles (Jinja folds filters on constants at compile time)."""
    import inspect

    import jinja2
    from jinja2.utils import _PassArg

    from . import template_sizes as ts

    pass_arg = _PassArg.from_obj(func)
    try:
        sig = inspect.signature(func)
        params = list(sig.parameters.values())[1 if pass_arg else 0:]
        sig = sig.replace(parameters=params)
    except (TypeError, ValueError):
        sig = None
    what = f"|{name}"

    @jinja2.pass_context
    def bounded(context: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        _check_time()
        if isinstance(value, Iterator):
            value = _taken(value)
        elif name in _ITERATING and isinstance(value, Sized) and not isinstance(
                value, jinja2.Undefined):
            _step(len(value))
        _check_numbers(what, (*args, *kwargs.values()))
        if name not in _UNPRINTED and not isinstance(value, str | jinja2.Undefined):
            _check_size(what, ts.chars(value, MAX_RENDERED_CHARS))
        if sig is not None:
            try:
                bound = sig.bind(value, *args, **kwargs)
            except TypeError:
                pass  # the filter itself says what is wrong with its arguments
            else:
                bound.apply_defaults()
                _check_size(what, _estimate(name, dict(bound.arguments)))
        if pass_arg is _PassArg.context:
            out = func(context, value, *args, **kwargs)
        elif pass_arg is _PassArg.eval_context:
            out = func(context.eval_ctx, value, *args, **kwargs)
        elif pass_arg is _PassArg.environment:
            out = func(context.environment, value, *args, **kwargs)
        else:
            out = func(value, *args, **kwargs)
        return _check_result(what, out)

    return bounded


_LOOP_STEPS = "loop steps"  # the filter every for loop's iterable goes through (no template
# can name it: it is not an identifier)


# str methods whose result can be far longer than the string (the rest are post-checked)
_GROWING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "replace", "join",
                              "translate"})


def _method_size(obj: Any, args: tuple, kwargs: dict) -> tuple[Any, int]:
    """(the arguments to pass, an upper bound on the length of what a str method builds)."""
    from . import template_sizes as ts

    self_ = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", None)
    if not isinstance(self_, str) or name not in _GROWING_METHODS:
        return args, 0
    ints = [a for a in (*args, *kwargs.values()) if isinstance(a, int)]
    if name in ("center", "ljust", "rjust", "zfill"):
        return args, max([len(self_), *ints])
    if name == "expandtabs":
        return args, len(self_) + self_.count("\t") * max([8, *ints])
    if name == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
        return args, ts.replaced_size(self_, args[0], args[1], args[2] if len(args) > 2 else -1)
    if name == "join" and args:
        items = _taken(args[0]) if isinstance(args[0], Iterator) else args[0]
        if isinstance(items, Sized):
            _step(len(items))
            return (items, *args[1:]), (sum(ts.chars(x, MAX_RENDERED_CHARS) for x in items)
                                        + len(self_) * len(items))
    if name == "translate" and args and isinstance(args[0], dict):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        return args, len(self_) * max(1, longest)
    return args, 0


def sandbox() -> Any:
    """A Jinja sandbox (no access to Python internals, no changing lists or dicts in place) in
    which every loop iteration counts against the render's step budget, and every operation
    that can build a long value (``*``, ``+``, ``%``, ``**``, ``~``, filters, str methods,
    ``str.format``, block captures, printing a value) is measured before it builds it."""
    import jinja2
    from jinja2 import nodes
    from jinja2.compiler import CodeGenerator
    from jinja2.runtime import LoopContext, markup_join, str_join
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from . import template_sizes as ts

    cap = MAX_RENDERED_CHARS

    class Generator(CodeGenerator):
        def visit_Concat(self, node: Any, frame: Any) -> None:  # ``a ~ b``, measured first
            if frame.eval_ctx.volatile:
                markup = "context.eval_ctx.volatile"
            else:
                markup = "True" if frame.eval_ctx.autoescape else "False"
            self.write(f"environment.bounded_concat({markup}, (")
            for arg in node.nodes:
                self.visit(arg, frame)
                self.write(", ")
            self.write("))")

    class Bounded(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**", "+", "%"})
        code_generator_class = Generator

        def __init__(self, **kw: Any) -> None:
            super().__init__(finalize=self.bounded_print, **kw)
            self.globals["range"] = _bounded_range
            self.globals["lipsum"] = _bounded_lipsum
            self.filters = {n: _bounded_filter(n, f) for n, f in self.filters.items()}
            self.filters[_LOOP_STEPS] = lambda value: _Steps(value)

        def _parse(self, source: str, name: str | None, filename: str | None) -> Any:
            tree = super()._parse(source, name, filename)
            for loop in tree.find_all(nodes.For):  # every iteration counts, of any iterable
                loop.iter = nodes.Filter(loop.iter, _LOOP_STEPS, [], [], None, None,
                                         lineno=loop.iter.lineno)
            return tree

        @staticmethod
        def concat(parts: Any) -> str:  # block captures ({% set x %}), macros, call blocks
            parts = parts if isinstance(parts, list) else list(parts)
            _check_size("the template", sum(map(len, parts)))
            return "".join(parts)

        @staticmethod
        def bounded_concat(markup: bool, parts: tuple) -> str:
            _check_size("~", sum(ts.chars(p, cap) for p in parts))
            return markup_join(parts) if markup else str_join(parts)

        @staticmethod
        def bounded_print(value: Any) -> Any:  # {{ value }}: printing a list prints all of it
            if not isinstance(value, str):
                _check_size("printing a value", ts.chars(value, cap))
            return value

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "*":
                for seq, n in ((left, right), (right, left)):
                    if isinstance(n, int) and isinstance(seq, str | list | tuple):
                        _check_size("*", (len(seq) if isinstance(seq, str)
                                          else ts.chars(seq, cap)) * n)
                        if not isinstance(seq, str) and len(seq) * n > MAX_TEMPLATE_STEPS:
                            raise TemplateLimit(f"* builds a list of more than "
                                                f"{MAX_TEMPLATE_STEPS:,} items")
            elif operator == "+" and isinstance(left, str | list | tuple) and isinstance(
                    right, str | list | tuple):
                if isinstance(left, str):
                    _check_size("+", len(left) + len(right))
                elif len(left) + len(right) > MAX_TEMPLATE_STEPS:
                    raise TemplateLimit(f"+ builds a list of more than {MAX_TEMPLATE_STEPS:,} "
                                        "items")
            elif operator == "%" and isinstance(left, str):
                _check_size("%", ts.printf_size(left, right, cap))
            elif (operator == "**" and isinstance(left, int) and isinstance(right, int)
                  and abs(left) > 1 and right > 0 and left.bit_length() * right > 1_000_000):
                raise TemplateLimit("the template computes a number over a million bits long")
            return super().call_binop(context, operator, left, right)

        def wrap_str_format(self, value: Any) -> Any:
            fmt = super().wrap_str_format(value)
            if fmt is None:
                return None
            text, is_map = value.__self__, value.__name__ == "format_map"

            def bounded(*args: Any, **kwargs: Any) -> str:
                if is_map and len(args) == 1 and isinstance(args[0], dict):
                    _check_size("str.format_map", ts.format_size(text, (), args[0], cap))
                else:
                    _check_size("str.format", ts.format_size(text, args, kwargs, cap))
                return fmt(*args, **kwargs)

            return bounded

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
            _check_time()
            _check_numbers("a call", (*args, *kwargs.values()))
            if isinstance(__obj, LoopContext) and args:  # a recursive loop's next level
                args = (_Steps(args[0]), *args[1:])
            args, size = _method_size(__obj, args, kwargs)
            _check_size(f"{getattr(__obj, '__name__', 'a call')}()", size)
            out = super().call(__context, __obj, *args, **kwargs)
            return _check_result(f"{getattr(__obj, '__name__', 'a call')}()", out)

    return Bounded(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def render_bounded(template: Any, **variables: Any) -> str:
    """``template.render(**variables)``, stopped with TemplateLimit past the loop, output-size or
    time bound."""
    budget = _Budget()
    token = _budget.set(budget)
    try:
        out: list[str] = []
        size = 0
        for chunk in template.generate(**variables):
            size += len(chunk)
            if size > MAX_RENDERED_CHARS:
                raise TemplateLimit(f"the rendered prompt is over {MAX_RENDERED_CHARS:,} "
                                    "characters long")
            out.append(chunk)
            budget.check_time()
        return "".join(out)
    finally:
        _budget.reset(token)
