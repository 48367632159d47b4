"""Where the shipped ``prompts/`` and ``rubrics/`` folders are.

In a checkout (and an editable install) they sit at the repository's top level, where authors edit
them; a wheel carries them inside the package as ``evalrefine/_data/`` (see pyproject's
``force-include``). Looking in both places keeps one source of truth for both installs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from evalrefine.errors import EvalRefineError

_PACKAGE = Path(__file__).resolve().parent


def data_dir(kind: Literal["prompts", "rubrics"]) -> Path:
    for candidate in (_PACKAGE / "_data" / kind, _PACKAGE.parent / kind):
        if candidate.is_dir():
            return candidate
    raise EvalRefineError(f"the {kind}/ folder is missing from this installation", "reinstall evalrefine")
