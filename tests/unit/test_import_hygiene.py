"""The core stays headless: importing it must not pull in UIs, CLIs, torch or LLM SDKs."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import evalrefine.core

FORBIDDEN = ("textual", "rich", "typer", "click", "torch", "transformers", "openai", "anthropic")


def test_core_imports_nothing_heavy() -> None:
    modules = ["evalrefine", "evalrefine.config", "evalrefine.errors"] + [
        f"evalrefine.core.{m.name}" for m in pkgutil.iter_modules(evalrefine.core.__path__)
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
    assert len(modules) >= 6
