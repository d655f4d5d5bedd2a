"""User-facing errors: the only exceptions the CLI prints as one line (exit code 2)."""


class WorkbenchError(Exception):
    """Base class: a problem the user can fix (bad input, missing file, bad option)."""


class ConfigError(WorkbenchError):
    """Bad command-line options or settings."""


class SuiteError(WorkbenchError):
    """A suite file or its data is invalid. Carries every problem found."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        head = self.problems[0]
        more = f" (and {len(self.problems) - 1} more problem(s))" if len(self.problems) > 1 else ""
        super().__init__(head + more)


class ModelLoadError(WorkbenchError):
    """A checkpoint could not be loaded (missing, corrupt, offline hub, mismatched adapter)."""


class PluginError(WorkbenchError):
    """A plugin is invalid: a duplicate name, a bad hook implementation, bad options."""


class StoreError(WorkbenchError):
    """The database could not be opened or written (locked, read-only, disk full)."""


class NotFoundError(WorkbenchError):
    """A run, model, suite or suggestion set named by the user does not exist."""


class OutputError(WorkbenchError):
    """An output file was refused (it is an input, or exists without --force) or could not be
    written (disk full, permission); the old file, if any, is left as it was."""
