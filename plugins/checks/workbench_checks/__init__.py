"""The built-in workbench checks."""
