"""The console's fixtures (the real app on both databases) for the records, cases and report tests."""

from tests.console.conftest import console, make_console

__all__ = ["console", "make_console"]
