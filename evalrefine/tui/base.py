"""Late results: workers finish (and debounce timers fire) whenever they like, including while the
app is closing, after its screens are gone. The app's handlers of such results are wrapped in
:func:`while_open`, which drops them. (The widgets are held by reference, never looked up on the
current screen, so a result that lands while a dialog is open updates the main screen.)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from textual.app import App

F = TypeVar("F", bound=Callable[..., Any])


def while_open(handler: F) -> F:
    """Run ``handler`` only while the app runs and has its screens (not during shutdown)."""

    @functools.wraps(handler)
    def guarded(self: App[None], *args: Any, **kwargs: Any) -> Any:
        if not self.screen_stack or not self.is_running:  # closing: its widgets may already be gone
            return None
        return handler(self, *args, **kwargs)

    return guarded  # type: ignore[return-value]
