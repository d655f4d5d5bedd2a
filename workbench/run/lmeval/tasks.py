"""Finding and loading lm-eval tasks: registered names, task YAML files or directories.

Relative paths in a task YAML's ``dataset_kwargs.data_files`` (and ``data_dir``, and a local
``dataset_path``) are resolved against the YAML's own directory, so the shipped tasks work from
any working directory. lm-eval alone resolves them against the working directory.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

from ...errors import SuiteError, WorkbenchError

# `datasets` builders that read local files: anything else in dataset_path is a hub dataset
LOCAL_BUILDERS = frozenset(
    {
        "json",
        "csv",
        "parquet",
        "text",
        "arrow",
        "pandas",
        "webdataset",
        "xml",
        "sql",
        "imagefolder",
        "audiofolder",
        "videofolder",
    }
)
LOCAL_HINT = (
    "copy the task YAML and point it at local files: "
    "`dataset_path: json` with `dataset_kwargs: {data_files: {test: FILE.jsonl}}`"
)

_managers: dict[tuple[tuple[str, ...], bool], Any] = {}


class LmEvalDatasetError(WorkbenchError):
    """A task's dataset cannot be read (hub unreachable, no cached copy, missing file)."""


def is_task_path(task: str) -> bool:
    return task.endswith((".yaml", ".yml")) or "/" in task or task.startswith(".")


def resolve_specs(
    tasks: list[str], include_path: list[str], base_dir: Path
) -> tuple[list[str], list[Path]]:
    """Task names to load and directories to index, from a suite's ``lm_eval`` section.

    A task given as a YAML file runs the task or group that file defines; a directory runs every
    task defined in it. Relative paths are relative to ``base_dir`` (the suite file's directory).
    """
    from lm_eval.tasks._index import Kind, TaskIndex
    from lm_eval.tasks._yaml_loader import load_yaml

    dirs: list[Path] = []
    for p in include_path:
        d = _abs(p, base_dir)
        if not d.exists():
            raise SuiteError(f"lm-eval include_path not found: {d}")
        dirs.append(d)
    names: list[str] = []
    for t in tasks:
        if not is_task_path(t) and not _abs(t, base_dir).exists():
            names.append(t)
            continue
        p = _abs(t, base_dir)
        if not p.exists():
            raise SuiteError(f"lm-eval task file not found: {p}")
        if p.is_dir():
            index = TaskIndex.build([p])
            found = sorted(n for n, e in index.items() if e.kind in (Kind.TASK, Kind.PY_TASK))
            if not found:
                raise SuiteError(f"no lm-eval task YAML in {p}")
            names += found
            dirs.append(p)
        else:
            try:
                cfg = load_yaml(p, resolve_func=False)
            except Exception as exc:  # noqa: BLE001 - bad YAML: one line for the user
                raise SuiteError(f"{p}: not a valid lm-eval task YAML: {exc}") from None
            name = cfg.get("group") or cfg.get("task")
            if not isinstance(name, str):
                raise SuiteError(f"{p}: an lm-eval task YAML needs a 'task' (or 'group') name")
            names.append(name)
            dirs.append(p.parent)
    return list(dict.fromkeys(names)), list(dict.fromkeys(dirs))


def _abs(p: str | Path, base_dir: Path) -> Path:
    q = Path(p).expanduser()
    return (q if q.is_absolute() else base_dir / q).resolve()


def task_manager(names: list[str], dirs: list[Path]) -> Any:
    """A TaskManager that knows every name; lm-eval's own tasks are indexed only when needed.

    Indexing lm-eval's ~15k built-in task files takes seconds, so the include directories are
    tried alone first. Managers are kept for the life of the process.
    """
    tm = None
    if dirs:
        tm = _manager(dirs, include_defaults=False)
        if _unknown(tm, names):
            tm = None
    if tm is None:
        tm = _manager(dirs, include_defaults=True)
    missing = _unknown(tm, names)
    if missing:
        name = missing[0]
        close = difflib.get_close_matches(name, tm.all_tasks, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise SuiteError(
            f"unknown lm-eval task {name!r}: not a registered task, group or tag, nor a task "
            f"YAML file{hint}"
        )
    return tm


def _unknown(tm: Any, names: list[str]) -> list[str]:
    known = set(tm.all_tasks)
    return [n for n in names if n not in known and not tm.match_tasks([n])]


def _manager(dirs: list[Path], include_defaults: bool) -> Any:
    key = (tuple(str(d) for d in dirs), include_defaults)
    if key not in _managers:
        from lm_eval.tasks import TaskManager

        _managers[key] = TaskManager(
            include_path=[str(d) for d in dirs] or None, include_defaults=include_defaults
        )
    return _managers[key]


def _spec(tm: Any, name: str) -> Any:
    """What to hand ``TaskManager.load`` for ``name``: the name; or, when the task's YAML reads
    data by a path relative to itself, its config (a dict) with those paths made absolute; or,
    for a group of such tasks, the group built from those configs. lm-eval loads a config or a
    group given this way as it is."""
    from lm_eval.tasks._index import Kind

    entry = tm.task_index.get(name)
    path = getattr(entry, "yaml_path", None)
    if entry is None or not path:
        return name
    if entry.kind == Kind.TASK:
        cfg = _full_config(path)
        fixed = resolve_local_paths(dict(cfg), Path(path).parent)
        return fixed if fixed != cfg else name
    if entry.kind != Kind.GROUP:
        return name
    cfg = _full_config(path)
    members = cfg.get("task")
    if not isinstance(members, list) or not all(
        isinstance(m, str) and getattr(tm.task_index.get(m), "kind", None) == Kind.TASK
        for m in members
    ):
        return name  # nested groups, tags and inline members: lm-eval builds them itself
    specs = [_spec(tm, m) for m in members]
    if all(isinstance(x, str) for x in specs):
        return name
    return _group(tm, name, cfg, specs)


def _group(tm: Any, name: str, cfg: dict[str, Any], specs: list[Any]) -> Any:
    """The group ``name`` (its YAML config ``cfg``) of the tasks ``specs`` (names or configs),
    built as lm-eval builds a group: its other keys override each task's own."""
    from dataclasses import fields

    from lm_eval.api.group import Group
    from lm_eval.config.group import GroupConfig

    keys = {f.name for f in fields(GroupConfig)}
    group = Group.from_config(GroupConfig(**{**{k: v for k, v in cfg.items() if k in keys},
                                             "group": name}))
    overrides = {k: v for k, v in cfg.items() if k not in keys}
    for spec in specs:
        task = spec if isinstance(spec, str) else spec["task"]
        if isinstance(spec, str):
            spec = _full_config(tm.task_index[task].yaml_path)
        group.add(tm.load([{**spec, **overrides, "task": task}])["tasks"][task])
    return group


def _full_config(path: str | Path) -> dict[str, Any]:
    from lm_eval.tasks._yaml_loader import load_yaml

    return load_yaml(path, resolve_func=True)


def resolve_local_paths(cfg: dict[str, Any], base: Path) -> dict[str, Any]:
    """Rewrite relative data paths that exist next to the task YAML into absolute ones."""

    def fix(v: Any) -> Any:
        if isinstance(v, str):
            p = Path(v).expanduser()
            if not p.is_absolute() and not re.match(r"^\w+://", v):
                q = base / p
                if q.exists() or any(base.glob(v)):
                    return str(q.resolve()) if q.exists() else str(base.resolve() / v)
            return v
        if isinstance(v, list):
            return [fix(x) for x in v]
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        return v

    kwargs = cfg.get("dataset_kwargs")
    if isinstance(kwargs, dict):
        kwargs = dict(kwargs)
        for key in ("data_files", "data_dir"):
            if key in kwargs:
                kwargs[key] = fix(kwargs[key])
        cfg["dataset_kwargs"] = kwargs
    path = cfg.get("dataset_path")
    if isinstance(path, str) and path not in LOCAL_BUILDERS and (base / path).is_dir():
        cfg["dataset_path"] = str((base / path).resolve())
    return cfg


def load_tasks(tm: Any, names: list[str]) -> list[Any]:
    """Build (and read the data of) each named task, group or tag: lm-eval Task/Group objects.

    A dataset that would come from the hub when the hub is unreachable fails with one line that
    says how to point the task at local files.
    """
    built: list[Any] = []
    for name in names:
        try:
            loaded = tm.load([_spec(tm, name)])
        except Exception as exc:  # noqa: BLE001 - datasets/lm-eval raise many kinds
            raise dataset_error(tm, name, exc) from None
        groups = loaded.get("groups") or {}
        if name in groups:
            built.append(groups[name])
        else:
            built.extend(loaded["tasks"].values())
    return built


def dataset_error(tm: Any, name: str, exc: BaseException) -> WorkbenchError:
    """The one-line error for a task whose data could not be read."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    dataset = _dataset_path(tm, name)
    hub = (
        isinstance(exc, ConnectionError)
        or type(exc).__name__
        in (
            "DatasetNotFoundError",
            "OfflineModeIsEnabled",
            "LocalEntryNotFoundError",
            "HfHubHTTPError",
        )
        or "on the Hub" in text
    )
    if hub:
        what = f"dataset {dataset!r}" if dataset else "its dataset"
        return LmEvalDatasetError(
            f"lm-eval task {name!r} reads {what} from the Hugging Face hub, which is not reachable"
            f" and has no cached copy ({text[:160]}); run it once where the hub is reachable (the"
            f" dataset is then cached), or {LOCAL_HINT}"
        )
    if isinstance(exc, FileNotFoundError) or "Unable to find" in text:
        return LmEvalDatasetError(
            f"lm-eval task {name!r}: data file not found ({text[:200]}); relative data_files are "
            "resolved against the task YAML's directory"
        )
    return WorkbenchError(f"cannot load lm-eval task {name!r}: {type(exc).__name__}: {text[:300]}")


def _dataset_path(tm: Any, name: str) -> str | None:
    entry = tm.task_index.get(name)
    cfg = getattr(entry, "cfg", None) or {}
    path = cfg.get("dataset_path") if isinstance(cfg, dict) else None
    return path if isinstance(path, str) else None


def leaf_tasks(built: list[Any]) -> dict[str, Any]:
    """Task name -> Task for every task inside the built objects (groups expanded)."""
    from lm_eval.api.group import Group

    out: dict[str, Any] = {}
    for obj in built:
        if isinstance(obj, Group):
            for t in obj.get_all_tasks():
                out[t.task_name] = t
        else:
            out[obj.task_name] = obj
    return out


def suite_problems(
    tasks: list[str], include_path: list[str], base_dir: Path, where: str
) -> list[str]:
    """Problems with an lm-eval suite's task list, without reading any dataset.

    Checks include paths and task files exist, names are known (lm-eval's built-in tasks are
    indexed only for names the include directories lack) and local data files are there.
    """
    try:
        names, dirs = resolve_specs(tasks, include_path, base_dir)
        tm = task_manager(names, dirs)
    except WorkbenchError as exc:
        return [f"{where}: {exc}"]
    problems = []
    for name in names:
        entry = tm.task_index.get(name)
        if entry is None or not getattr(entry, "yaml_path", None):
            continue
        cfg = resolve_local_paths(
            dict(getattr(entry, "cfg", None) or {}), Path(entry.yaml_path).parent
        )
        files = (cfg.get("dataset_kwargs") or {}).get("data_files")
        if cfg.get("dataset_path") in LOCAL_BUILDERS and files:
            here = Path(entry.yaml_path).parent
            vals = files.values() if isinstance(files, dict) else [files]
            for f in (f for v in vals for f in (v if isinstance(v, list) else [v])):
                if isinstance(f, str) and not re.match(r"^\w+://", f) and not _exists(f):
                    problems.append(
                        f"{where}: lm-eval task {name!r}: data file not found: {f} "
                        f"(relative paths are looked up in {here})"
                    )
    return problems


def _exists(pattern: str) -> bool:
    p = Path(pattern).expanduser()
    if p.exists():
        return True
    root = Path(p.anchor) if p.is_absolute() else Path.cwd()
    rel = str(p.relative_to(p.anchor)) if p.is_absolute() else pattern
    return any(root.glob(rel))
