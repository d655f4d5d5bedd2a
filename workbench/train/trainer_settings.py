"""A trainer's settings on the command line, read against its own Config dataclass.

The core CLI knows no training option. A trainer's ``Config`` fields are its settings: any of
them is set with ``--set KEY=VALUE`` (the value read as the field's type), and a field whose
metadata names a ``flag`` (``field(..., metadata={"flag": "--lr"})``) may also be given as
``--lr VALUE``. ``workbench train --help`` lists them, from the Config.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from ..errors import ConfigError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_NONE = {"none", "null"}


@dataclass(frozen=True)
class Setting:
    """One field of a trainer's Config, as the command line shows and reads it."""

    name: str
    type: Any
    default: Any
    help: str
    flag: str | None

    @property
    def type_name(self) -> str:
        return _type_name(self.type)


def settings(config_cls: type) -> list[Setting]:
    """The settings of a Config dataclass, in field order."""
    if not dataclasses.is_dataclass(config_cls):
        return []
    try:
        hints = typing.get_type_hints(config_cls)
    except Exception:  # noqa: BLE001 - an unresolvable annotation: read values as JSON
        hints = {}
    out = []
    for f in dataclasses.fields(config_cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        out.append(Setting(f.name, hints.get(f.name, Any), default, f.metadata.get("help", ""),
                           f.metadata.get("flag")))
    return out


def _type_name(tp: Any) -> str:
    if tp is Any:
        return "value"
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if tp is type(None):
        return "None"
    if origin is Literal:
        return "|".join(str(a) for a in args)
    if origin in (list, tuple, set, frozenset):
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in args if a is not ...)}]"
    return getattr(tp, "__name__", str(tp))


def _coerce(tp: Any, raw: str) -> Any:
    """``raw`` read as a value of type ``tp``; ValueError says what was expected."""
    text = raw.strip()
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        if type(None) in args and text.lower() in _NONE:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, raw)
            except ValueError:
                continue
        raise ValueError(f"expected {_type_name(tp)}")
    if tp is bool:
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise ValueError("expected true or false")
    if tp is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError("expected an integer") from None
    if tp is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError("expected a number") from None
    if tp is str:
        return raw
    if origin is Literal:
        for a in args:
            if str(a) == text:
                return a
        raise ValueError(f"expected one of {', '.join(str(a) for a in args)}")
    if origin in (list, tuple, set, frozenset):
        item = args[0] if args else Any
        return origin(_coerce(item, x.strip()) for x in text.split(",") if x.strip())
    try:  # any other type: JSON when it parses, else the string
        return json.loads(text)
    except ValueError:
        return raw


def _valid_keys(known: Sequence[Setting]) -> str:
    return ", ".join(s.name for s in known)


def parse_settings(trainer: str, config_cls: type, pairs: Iterable[str]) -> dict[str, Any]:
    """``["r=8", "target_modules=q_proj,v_proj"]`` -> ``{"r": 8, "target_modules": [...]}``,
    each value read as its Config field's type; ConfigError (one line, naming the valid keys)
    for an unknown key or a value of the wrong type."""
    known = settings(config_cls)
    by_name = {s.name: s for s in known}
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ConfigError(f"bad --set {pair!r}: expected KEY=VALUE (keys of trainer "
                              f"{trainer!r}: {_valid_keys(known)})")
        if key not in by_name:
            raise ConfigError(f"unknown setting {key!r} for trainer {trainer!r} (valid keys: "
                              f"{_valid_keys(known)})")
        setting = by_name[key]
        try:
            out[key] = _coerce(setting.type, raw)
        except ValueError as exc:
            raise ConfigError(f"bad value for {key}={raw!r} (trainer {trainer!r}): {exc} "
                              f"({setting.type_name})") from None
    return out


def flag_pairs(trainer: str, config_cls: type, args: Sequence[str]) -> list[str]:
    """Command-line words ``--lr 0.1`` / ``--lr=0.1`` (the flags the Config declares) as
    ``KEY=VALUE`` pairs; ConfigError names a word that is no such flag."""
    known = settings(config_cls)
    flags = {s.flag: s.name for s in known if s.flag}
    out: list[str] = []
    i = 0
    while i < len(args):
        word = args[i]
        flag, eq, value = word.partition("=")
        if flag not in flags:
            shown = ", ".join(sorted(flags)) or "none"
            what = "no such option" if word.startswith("-") else "unexpected argument"
            raise ConfigError(f"{what}: {word!r} (trainer {trainer!r} flags: {shown}; any "
                              f"setting with --set KEY=VALUE, keys: {_valid_keys(known)})")
        if not eq:
            if i + 1 >= len(args):
                raise ConfigError(f"option {flag} needs a value")
            i += 1
            value = args[i]
        out.append(f"{flags[flag]}={value}")
        i += 1
    return out


def help_text(trainer: str, config_cls: type, width: int | None = None) -> str:
    """The trainer's settings for ``--help``: ``KEY: TYPE = DEFAULT (FLAG)``, then the help."""
    import shutil
    import textwrap

    width = width or min(100, shutil.get_terminal_size((100, 24)).columns)
    lines = textwrap.wrap(f"Settings of trainer {trainer!r}, from its Config: --set KEY=VALUE "
                          "sets any of them; a flag, where shown, is a shorthand for it.", width)
    for s in settings(config_cls):
        flag = f"  ({s.flag})" if s.flag else ""
        lines.append(f"  {s.name}: {s.type_name} = {s.default!r}{flag}")
        lines += textwrap.wrap(s.help, max(40, width - 6), initial_indent=" " * 6,
                               subsequent_indent=" " * 6)
    return "\n".join(lines)
