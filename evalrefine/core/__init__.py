"""The headless core: everything that computes, nothing that draws.

Modules here never import textual, rich, typer/click, torch, transformers or LLM SDKs (enforced by
import-linter and ``tests/unit/test_import_hygiene.py``). Models reach the core through the small
Protocols in :mod:`evalrefine.core.protocols`.
"""
