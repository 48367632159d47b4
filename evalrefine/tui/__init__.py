"""The Textual front end: ``evalrefine tui`` (it only drives core functions through Session)."""
