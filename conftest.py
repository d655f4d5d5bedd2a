"""The shared fixtures for every test path: tests/ and each first-party plugin's own tests/.

They live in tests/support/workbench_testing (on sys.path through pyproject's ``pythonpath``)."""

pytest_plugins = ["workbench_testing.fixtures"]
