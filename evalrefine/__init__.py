"""evalrefine: make evaluation prompts read like real traffic.

The public API is :class:`Session` (score, explain, refine, compare, verify, lint) opened with
:func:`open_session`; ``Conversation``/``Message`` are the prompts it takes. Names are resolved on
first use, so ``import evalrefine`` stays cheap (no model, torch or UI library is imported).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Conversation", "Message", "ScoreView", "Session", "Settings", "load_settings", "open_session"]

if TYPE_CHECKING:
    from evalrefine.api import open_session
    from evalrefine.config import Settings, load_settings
    from evalrefine.core.io.conversation import Conversation, Message
    from evalrefine.core.session import ScoreView, Session

_WHERE = {
    "open_session": "evalrefine.api",
    "Settings": "evalrefine.config",
    "load_settings": "evalrefine.config",
    "Conversation": "evalrefine.core.io.conversation",
    "Message": "evalrefine.core.io.conversation",
    "ScoreView": "evalrefine.core.session",
    "Session": "evalrefine.core.session",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'evalrefine' has no attribute {name!r}")
