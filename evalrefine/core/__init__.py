"""The headless core: everything that computes, nothing that draws.

Its folders follow the pipeline: ``io`` (prompts in and out) → ``scoring`` (the start-of-CoT
monitor) → ``calibration`` (the headline and its place among deployment traffic) →
``attribution`` (which wording drives it) → ``refine`` (rewriting until it reads like traffic) →
``rollouts`` (checking the result in sampled reasoning); ``lint`` runs that over a repository and
:mod:`evalrefine.core.session` ties it together for every front end.

Modules here never import textual, rich, typer/click, torch, transformers or LLM SDKs (enforced by
import-linter and ``tests/unit/test_import_hygiene.py``). Models reach the core through the small
Protocols in :mod:`evalrefine.core.scoring.protocols`.
"""
