"""Building the rollout sampler and the verbalization judge that a backend and the settings call for.

They live with the backends (not in a front end) so the CLI, the TUI and the Python API build them
the same way.
"""

from __future__ import annotations

from evalrefine.config import RolloutSettings, Settings
from evalrefine.core.refine.guard import Embedder, Judge
from evalrefine.core.refine.rewriting import Rewriter
from evalrefine.core.refine.rubric import Rubric
from evalrefine.core.rollouts.monitor import Sampler
from evalrefine.core.rollouts.verbalization import VerbalizationJudge
from evalrefine.core.scoring.protocols import ScoringBackend
from evalrefine.core.session import Services
from evalrefine.errors import InputError


def sampler_for(backend: ScoringBackend, settings: RolloutSettings) -> Sampler:
    """Local generation for a transformers model; seeded ``/v1/completions`` for a server."""
    from evalrefine.backends.hf_local import HFLocalBackend
    from evalrefine.backends.numpy_backend import NumpyBackend
    from evalrefine.backends.remote import RemoteBackend

    if isinstance(backend, NumpyBackend):  # generation runs on transformers, over the same weights
        backend = backend.transformers_backend()
    if isinstance(backend, HFLocalBackend):
        from evalrefine.backends.sampler import HFSampler

        return HFSampler(backend, temperature=settings.temperature)
    if isinstance(backend, RemoteBackend):
        from evalrefine.backends.remote_sampler import RemoteSampler

        return RemoteSampler(backend, temperature=settings.temperature)
    raise InputError(f"cannot sample rollouts from {backend.name}", "use a local model or --server")


def judge_for(settings: Settings) -> VerbalizationJudge:
    from evalrefine.backends.rewriters import make_verbalization_judge

    return make_verbalization_judge(settings.rollouts.judge, settings.refine)


def services_for(settings: Settings) -> Services:
    """The session's heavy collaborators as the settings configure them, each built on first use."""
    from evalrefine.backends.rewriters import default_spec, make_rewriter

    def rewriter(spec: str | None, rubric: Rubric) -> tuple[Rewriter, Judge | None]:
        return make_rewriter(spec or default_spec(settings.refine), rubric, settings.refine)

    def embedder() -> Embedder:
        from evalrefine.backends.embedder import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder()

    return Services(
        rewriter=rewriter,
        embedder=embedder,
        sampler=lambda backend: sampler_for(backend, settings.rollouts),
        judge=lambda: judge_for(settings),
    )
