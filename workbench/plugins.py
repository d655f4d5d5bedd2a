"""One PluginManager: plugins from the ``workbench`` entry-point group and from ``--plugins-dir``.

The first-party checks and the LoRA trainer are distributions in ``plugins/`` registered through
the same entry-point group a third-party plugin uses. ``WORKBENCH_PLUGINS`` (comma-separated
entry-point names) restricts which entry points load, for tests and debugging.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginError

GROUP = "workbench"


@dataclass
class Registry:
    """Classes registered by plugins, by name, with the plugin that registered each."""

    kind: str
    classes: dict[str, type] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)

    def add(self, cls: type, owner: str) -> None:
        name = getattr(cls, "name", "") or ""
        if not name:
            raise PluginError(f"plugin {owner!r} registered a {self.kind} with no name: {cls!r}")
        if name in self.classes:
            raise PluginError(
                f"duplicate {self.kind} name {name!r}: registered by plugin "
                f"{self.owners[name]!r} and by plugin {owner!r}"
            )
        self.classes[name] = cls
        self.owners[name] = owner


class Plugins:
    """Loads plugins once and collects what they register.

    A plugin that fails to import (or whose hook raises) is recorded in ``failures`` by name and,
    with ``warn=True``, reported as one warning line on stderr; the other plugins keep working. A
    plugin that breaks the contract (a hookimpl argument or hook name the spec does not know, a
    duplicate check name) raises ``PluginError`` naming it.
    """

    def __init__(
        self,
        plugins_dirs: list[Path] | None = None,
        entry_points: bool = True,
        warn: bool = False,
    ):
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.failures: dict[str, str] = {}
        self.warn = warn
        if entry_points:
            self._load_entry_points()
        for d in plugins_dirs or []:
            self.load_dir(Path(d))
        self._checks: Registry | None = None
        self._trainers: Registry | None = None

    def _fail(self, name: str, message: str) -> None:
        self.failures[name] = message
        if self.warn:
            print(f"Warning: plugin {name!r} failed to load: {message}", file=sys.stderr)

    # -- loading ------------------------------------------------------------------------
    def _register(self, obj: Any, name: str) -> None:
        try:
            self.pm.register(obj, name=name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {name!r} is invalid: {exc}") from None
        except ValueError as exc:  # pluggy: name already registered
            raise PluginError(f"plugin {name!r} is registered twice: {exc}") from None
        # a hookimpl whose name is no hook (a typo such as "register_check") would never be
        # called: refuse it now, naming the plugin, rather than ignore it silently
        known = set(vars(hookspecs))
        for attr in dir(obj):
            fn = getattr(obj, attr, None)
            if callable(fn) and self.pm.parse_hookimpl_opts(obj, attr) is not None:
                if attr not in known:
                    self.pm.unregister(name=name)
                    hooks = ", ".join(sorted(h for h in known if h.startswith("register_")))
                    raise PluginError(
                        f"plugin {name!r} is invalid: {attr!r} is not a workbench hook "
                        f"(hooks: {hooks})"
                    )

    def _load_entry_points(self) -> None:
        allow = os.environ.get("WORKBENCH_PLUGINS")
        allowed = {a.strip() for a in allow.split(",") if a.strip()} if allow is not None else None
        for ep in importlib.metadata.entry_points(group=GROUP):
            if allowed is not None and ep.name not in allowed:
                continue
            if self.pm.get_plugin(ep.name) is not None:
                continue
            try:
                obj = ep.load()
            except Exception as exc:  # noqa: BLE001 - one broken plugin must not stop the others
                self._fail(ep.name, f"{type(exc).__name__}: {exc}")
                continue
            self._register(obj, ep.name)

    def load_dir(self, directory: Path) -> None:
        """Load every loose ``*.py`` file in ``directory`` as a plugin named after the file."""
        if not directory.is_dir():
            raise PluginError(f"plugins dir not found: {directory}")
        for path in sorted(directory.glob("*.py")):
            if path.name.startswith("_"):
                continue
            name = f"{directory.name}/{path.stem}"
            mod_name = f"workbench_dir_plugin_{abs(hash(str(path.resolve())))}_{path.stem}"
            try:
                spec = importlib.util.spec_from_file_location(mod_name, path)
                assert spec and spec.loader
                mod = importlib.util.module_from_spec(spec)
                sys.modules[mod_name] = mod
                spec.loader.exec_module(mod)
            except Exception as exc:  # noqa: BLE001
                sys.modules.pop(mod_name, None)
                self._fail(name, f"{type(exc).__name__}: {exc}")
                continue
            self._register(mod, name)

    # -- collecting -----------------------------------------------------------------------
    def _collect(self, hook_name: str, kind: str) -> Registry:
        reg = Registry(kind)
        hook = getattr(self.pm.hook, hook_name)
        for impl in hook.get_hookimpls():
            owner = impl.plugin_name

            def register(cls: type, _owner: str = owner) -> None:
                reg.add(cls, _owner)

            try:
                impl.function(register=register)
            except PluginError:
                raise
            except Exception as exc:  # noqa: BLE001
                self._fail(owner, f"{type(exc).__name__} in {hook_name}: {exc}")
        return reg

    @property
    def checks(self) -> Registry:
        if self._checks is None:
            self._checks = self._collect("register_checks", "check")
        return self._checks

    @property
    def trainers(self) -> Registry:
        if self._trainers is None:
            self._trainers = self._collect("register_trainers", "trainer")
        return self._trainers

    def make_checks(self, selection: dict[str, dict[str, Any]] | None = None) -> list[Any]:
        """Instantiate checks. ``selection`` maps check name -> options; None means all, defaults."""
        if selection is None:
            return [cls() for cls in self.checks.classes.values()]
        unknown = [n for n in selection if n not in self.checks.classes]
        if unknown:
            from .run.suite_files import near_name

            known = ", ".join(sorted(self.checks.classes)) or "none"
            named = ", ".join(f"{n}{near_name(n, self.checks.classes)}" for n in unknown)
            raise PluginError(f"unknown check(s): {named} (available: {known})")
        return [self.checks.classes[n](opts or {}) for n, opts in selection.items()]


_default: Plugins | None = None


def get_plugins(plugins_dirs: list[Path] | None = None) -> Plugins:
    """The process-wide plugin set (rebuilt when extra plugin dirs are given). Plugins that fail
    to load are warned about on stderr, once."""
    global _default
    if plugins_dirs:
        _default = Plugins(plugins_dirs, warn=True)
    elif _default is None:
        _default = Plugins(warn=True)
    return _default


def parse_check_options(pairs: list[str] | None) -> dict[str, dict[str, Any]]:
    """``["length.max_ratio_to_reference=2", "repetition.flag_doubled_words=false"]`` ->
    ``{"length": {"max_ratio_to_reference": 2}, ...}``. Values are read as JSON when they parse
    (numbers, true/false, lists), else kept as strings."""
    out: dict[str, dict[str, Any]] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        check, dot, opt = key.strip().partition(".")
        if not sep or not dot or not check or not opt:
            raise PluginError(f"bad option {pair!r}: expected CHECK.KEY=VALUE")
        try:
            value: Any = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply
            value = raw
        out.setdefault(check, {})[opt] = value
    return out


def reset_plugins() -> None:
    """Forget loaded plugins (tests)."""
    global _default
    _default = None
