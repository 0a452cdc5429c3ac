"""Project-wide pytest configuration: fixtures live in tests/fixtures.py."""

pytest_plugins = ["tests.fixtures"]
