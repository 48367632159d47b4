"""The app's common base: widget lookups that go to the main screen.

Textual's ``App.query_one`` searches the *current* screen. Workers finish (and debounce timers
fire) whenever they like, including while the help or quit dialog is on top, so every lookup of the
editor, tables and panels goes through :attr:`MainScreenApp.main` instead. And they may finish
while the app is closing, after its screens are gone: handlers of such late results are wrapped in
:func:`while_open`, which drops them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from textual.app import App
from textual.screen import Screen

F = TypeVar("F", bound=Callable[..., Any])


def while_open(handler: F) -> F:
    """Run ``handler`` only while the app still has its screens (not during shutdown)."""

    @functools.wraps(handler)
    def guarded(self: App[None], *args: Any, **kwargs: Any) -> Any:
        if not self.screen_stack:
            return None
        return handler(self, *args, **kwargs)

    return guarded  # type: ignore[return-value]


class MainScreenApp(App[None]):
    @property
    def main(self) -> Screen[object]:
        """The screen the app composed (bottom of the stack), whatever dialog is showing."""
        stack = self.screen_stack
        return stack[0] if stack else self.screen
