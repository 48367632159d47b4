"""Every action of the TUI by name, for the command palette (ctrl+p), and the tabs' keys.

The palette lists each action with its key, so nothing is reachable only by a key that a terminal
may not send (alt+digit types ¢ or ¡ in a Mac terminal) or that the footer has no room for.
"""

from __future__ import annotations

TABS = ("author", "explain", "refine", "history", "compare", "lint")
FOCUS = {
    "explain": "#spans",
    "refine": "#candidates",
    "history": "#timeline-scroll",
    "compare": "#comparison-scroll",
    "lint": "#lint-path",
}
"""The widget that takes the focus when a tab is shown."""
COMMANDS: tuple[tuple[str, str, str, str], ...] = (
    ("Score now", "F2: score the prompt again", "score", "app"),
    ("Explain", "F3: which spans make the prompt read like a test (Explain tab)", "explain", "app"),
    ("Refine: one step", "F4: rewrite candidates for the scored turn (Refine tab)", "refine(1)", "app"),
    ("Refine: loop", "F5: refine until the target percentile", "refine(5)", "app"),
    ("Compare versions", "F6: the original and every version side by side", "compare", "app"),
    ("Verify with rollouts", "F7: does the difference hold up in what the model writes?", "verify", "app"),
    ("Stop", "Esc: stop a running refine, verify, explain, compare or lint", "stop", "app"),
    ("Open a prompt file", "ctrl+o: txt, md, json, jsonl, yaml, Inspect .eval logs", "open", "app"),
    ("Save", "ctrl+s: write every turn back to the file", "save", "app"),
    ("Save as…", "write the prompt to another file", "save_as", "app"),
    ("Help", "F1: the keys", "help", "app"),
    ("Back one version", "u on the Refine or History tab: undo the last accepted version", "undo", "app"),
    ("Turn: new", "ctrl+n: an empty turn after the current one", "add_turn", "editor"),
    ("Turn: remove", "ctrl+delete: remove the current turn", "remove_turn", "editor"),
    ("Turn: move up", "alt+up", "move_turn(-1)", "editor"),
    ("Turn: move down", "alt+down", "move_turn(1)", "editor"),
    ("Turn: switch role", "ctrl+r: user ↔ assistant", "switch_role", "editor"),
    ("Candidate: accept", "a on the Refine tab", "choose(False)", "refine"),
    ("Candidate: accept and edit", "e on the Refine tab", "choose(True)", "refine"),
    ("Candidate: reject", "x on the Refine tab", "reject", "refine"),
    *((f"Tab: {t.title()}", f"alt+{i}", f"show_tab('{t}')", "app") for i, t in enumerate(TABS, 1)),
    ("Tab: next", "ctrl+page down", "next_tab(1)", "app"),
    ("Tab: previous", "ctrl+page up", "next_tab(-1)", "app"),
)
"""(title, help, action, namespace): the namespace is the node the action runs on ("app", the
conversation "editor", the "refine" tab)."""
