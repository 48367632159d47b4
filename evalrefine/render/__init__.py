"""Rich renderables of core results, shared by the CLI and the TUI.

Both front ends draw the same tables, heatmaps and charts; keeping them here lets ``cli/`` and
``tui/`` stay independent of each other (an import-linter contract) while showing one picture.
Nothing in this package prints: it builds renderables and a front end decides where they go.
"""
