"""The app's common base: widget lookups that go to the main screen.

Textual's ``App.query_one`` searches the *current* screen. Workers finish (and debounce timers
fire) whenever they like, including while the help or quit dialog is on top, so every lookup of the
editor, tables and panels goes through :attr:`MainScreenApp.main` instead.
"""

from __future__ import annotations

from textual.app import App
from textual.screen import Screen


class MainScreenApp(App[None]):
    @property
    def main(self) -> Screen[object]:
        """The screen the app composed (bottom of the stack), whatever dialog is showing."""
        stack = self.screen_stack
        return stack[0] if stack else self.screen
