"""Keeping the terminal the app's own while it runs.

Textual draws the screen on standard error and captures what Python code prints, but not what
reaches file descriptor 2 another way: a C++ or Rust library's warning (torch, tokenizers), or a
Python library that kept a reference to the real stream from before the app started (a progress
bar, a log handler). Any of those would draw over the screen ("Writing model shards" in the middle
of the editor), so while the app runs, descriptor 2 goes to a temporary file and Textual draws on a
duplicate of the terminal; what was caught is written out once the screen is restored. Progress bars
are switched off beforehand (the app shows the load as its own progress instead).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

QUIET = {
    "TQDM_DISABLE": "1",  # read when tqdm is imported: before anything imports it
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}


def quiet_libraries() -> None:
    """No progress bars or advice from tqdm, the Hugging Face hub or transformers (``--verbose``
    cannot show them either: they would draw over the screen)."""
    os.environ.update(QUIET)
    if "transformers" in sys.modules:  # imported already: its bars were decided at import
        from evalrefine.backends.hf_local import quiet_transformers

        quiet_transformers()


@contextmanager
def screen_only() -> Iterator[None]:
    """Descriptor 2 to a temporary file while the block runs, the app drawing on a duplicate of the
    terminal; afterwards the terminal is put back and what was caught is written to it."""
    stream = sys.__stderr__
    try:
        if stream is None or not os.isatty(stream.fileno()):  # no terminal (a pipe, a test): nothing to protect
            yield
            return
    except (OSError, ValueError):
        yield
        return
    stream.flush()
    fd = stream.fileno()
    screen = os.fdopen(os.dup(fd), "w", encoding=stream.encoding or "utf-8", errors="replace")
    caught = tempfile.TemporaryFile()  # noqa: SIM115  # closed below, after the terminal is back
    os.dup2(caught.fileno(), fd)
    sys.__stderr__ = screen  # type: ignore[misc]  # what Textual's driver writes the screen to
    try:
        yield
    finally:
        sys.__stderr__ = stream  # type: ignore[misc]
        for done in (screen, sys.stderr):  # what is buffered belongs where it was written
            done.flush()
        os.dup2(screen.fileno(), fd)
        screen.close()
        caught.seek(0)
        text = caught.read().decode("utf-8", errors="replace")
        caught.close()
        if text.strip():
            sys.stderr.write(text if text.endswith("\n") else text + "\n")
            sys.stderr.flush()
