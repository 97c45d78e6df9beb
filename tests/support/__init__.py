"""The test suite's pytest plugin package: fixtures and settings every tier shares.

`tests/conftest.py` registers each module with `pytest_plugins`, so test files use the fixtures
by name and never import them by hand.
"""
