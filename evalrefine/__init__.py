"""evalrefine: make evaluation prompts read like real traffic.

The public API is the headless core (``evalrefine.core``); front ends (CLI, TUI) only drive it.
Nothing heavy is imported here, so ``import evalrefine`` stays cheap.
"""

__version__ = "0.1.0"
