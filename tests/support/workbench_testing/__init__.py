"""Helpers shared by the tests of workbench and of its first-party plugins (never installed).

``fixtures`` holds the pytest fixtures, loaded for every test path by the repository's root
``conftest.py``; the other modules are plain helpers that test modules import by name.
"""
