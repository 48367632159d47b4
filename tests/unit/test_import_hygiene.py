"""The core stays headless: importing it must not pull in UIs, CLIs, torch or LLM SDKs."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import evalrefine.core

FORBIDDEN = ("textual", "rich", "typer", "click", "torch", "transformers", "openai", "anthropic")


def test_core_imports_nothing_heavy() -> None:
    modules = ["evalrefine", "evalrefine.config", "evalrefine.errors", "evalrefine.resources"] + [
        m.name for m in pkgutil.walk_packages(evalrefine.core.__path__, prefix="evalrefine.core.")
    ]
    loaded = _loaded_after_importing(modules)
    bad = sorted(m for m in loaded if m.split(".")[0] in FORBIDDEN)
    assert bad == []
    assert "evalrefine.core.attribution.gradient" in modules and "evalrefine.core.refine.loop" in modules


def _loaded_after_importing(modules: list[str]) -> list[str]:
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    loaded: list[str] = json.loads(out)
    return loaded


def test_front_ends_are_independent() -> None:
    """Every CLI module loads without the TUI (and textual), every TUI module without the CLI (and typer)."""
    import evalrefine.cli
    import evalrefine.tui

    cli = [m.name for m in pkgutil.walk_packages(evalrefine.cli.__path__, prefix="evalrefine.cli.")]
    tui = [m.name for m in pkgutil.walk_packages(evalrefine.tui.__path__, prefix="evalrefine.tui.")]
    assert "evalrefine.cli.main" in cli and "evalrefine.tui.app" in tui
    after_cli = _loaded_after_importing(cli)
    assert sorted(m for m in after_cli if m.startswith("evalrefine.tui") or m.split(".")[0] == "textual") == []
    after_tui = _loaded_after_importing(tui)
    assert sorted(m for m in after_tui if m.startswith("evalrefine.cli") or m.split(".")[0] == "typer") == []


def test_a_hub_id_missing_offline_fails_before_torch_loads(tmp_path: Path) -> None:
    """An offline user who names a model they do not have learns it at once, not after torch and
    transformers have loaded (seconds) or the hub client has retried a dead network (48 s)."""
    code = (
        "import json, sys\n"
        "from evalrefine.backends.registry import load_backend\n"
        "from evalrefine.config import load_settings\n"
        "from evalrefine.errors import ModelError\n"
        "s = load_settings(model={'name': 'org/not-cached-model'})\n"
        "try:\n"
        "    load_backend(s.model, s.cache_dir)\n"
        "except ModelError as e:\n"
        "    print(json.dumps([str(e), 'torch' in sys.modules, 'transformers' in sys.modules]))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env).stdout
    message, torch_loaded, transformers_loaded = json.loads(out)
    assert "not in the local Hugging Face cache" in message
    assert not torch_loaded and not transformers_loaded


def test_scoring_the_embedded_model_never_imports_torch() -> None:
    """The first score is what a new user waits for (issue 19): the NumPy engine loads and scores the
    embedded model without torch, whose import alone is most of the wait."""
    code = (
        "import json, sys\n"
        "from evalrefine import open_session\n"
        "s = open_session()\n"
        "from evalrefine.core.io.conversation import Conversation\n"
        "v = s.score(Conversation.from_user_text('This is a hypothetical scenario designed to test you.')).value\n"
        "print(json.dumps([type(s.backend).__name__, v, 'torch' in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    backend, value, torch_loaded = json.loads(out)
    assert backend == "NumpyBackend" and isinstance(value, float)
    assert not torch_loaded
