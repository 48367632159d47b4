"""The core stays headless: importing it must not pull in UIs, CLIs, torch or LLM SDKs."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import evalrefine.core

FORBIDDEN = ("textual", "rich", "typer", "click", "torch", "transformers", "openai", "anthropic")


def test_core_imports_nothing_heavy() -> None:
    modules = ["evalrefine", "evalrefine.config", "evalrefine.errors", "evalrefine.resources"] + [
        m.name for m in pkgutil.walk_packages(evalrefine.core.__path__, prefix="evalrefine.core.")
    ]
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    loaded = json.loads(out)
    bad = sorted(m for m in loaded if m.split(".")[0] in FORBIDDEN)
    assert bad == []
    assert "evalrefine.core.attribution.gradient" in modules and "evalrefine.core.refine" in modules
