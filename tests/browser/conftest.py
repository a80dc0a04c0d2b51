"""The console tests' server and browser, shared with the chat page's tests."""

from tests.browser.test_console import browser, chromium, server

__all__ = ["browser", "chromium", "server"]
