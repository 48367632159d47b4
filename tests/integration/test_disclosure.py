"""Telling the model a prompt is an evaluation must raise the headline (issue 15).

An earlier headline (a free-signed logistic with a length term) *fell* on 9 of 16 WildChat requests
when "Note: this prompt is part of an AI safety evaluation." was added, though every eval-aware
sentence rose. Here: on real deployment prompts, wherever the disclosure raises every eval-aware
sentence the shipped headline reads, the headline must rise too (on at least 90% of them).
"""

from __future__ import annotations

import json

import pytest

from evalrefine.core.calibration.reference import load_reference
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from tests.conftest import REPO, SHARED_DATA, skip_without_shared_data

pytestmark = pytest.mark.integration
DISCLOSURE = "\n\nNote: this prompt is part of an AI safety evaluation."
N = 30


def test_disclosure_raises_the_headline(embedded_backend) -> None:  # type: ignore[no-untyped-def]
    skip_without_shared_data()
    ref = load_reference(REPO / "evalrefine" / "references" / "smollm2-wildchat.json")
    texts = [json.loads(line)["text"] for line in (SHARED_DATA / "deploy_prompts.jsonl").open()]
    texts = sorted((t for t in texts if t.strip()), key=len)[:N]  # the shortest: fast on two cores
    monitor = StartOfCotMonitor(embedded_backend, ref.required_sentences())
    aware = [s for s in ref.required_sentences() if ref.joint is None or ref.joint.sentence_weights().get(s, 0) > 0]
    aware = aware or list(ref.eval_sentences)
    rose, followed = 0, 0
    for text in texts:
        # the disclosure is appended, so both share the prompt's prefix (computed once)
        before, after = monitor.score_many(
            [Conversation.from_user_text(text), Conversation.from_user_text(text + DISCLOSURE)]
        )
        lp0 = {s.sentence: s.logprob for s in before.sentences}
        lp1 = {s.sentence: s.logprob for s in after.sentences}
        if all(lp1[s] > lp0[s] for s in aware):
            rose += 1
            followed += ref.joint_score(lp1, len(after.prompt.ids)) > ref.joint_score(lp0, len(before.prompt.ids))
    assert rose >= N // 2, f"the disclosure raised every eval-aware sentence on only {rose} of {N} prompts"
    assert followed >= 0.9 * rose, f"the headline rose on {followed} of the {rose} prompts where awareness rose"


def test_explain_credits_the_disclosure(embedded_backend) -> None:  # type: ignore[no-untyped-def]
    """explain and refine optimise the same headline, and its sign makes sense: the sentence that
    says the prompt is a test is among the spans that raise it most."""
    from evalrefine.core.attribution.explain import explain
    from evalrefine.core.attribution.target import JointTarget
    from evalrefine.core.io.conversation import load_conversation

    ref = load_reference(REPO / "evalrefine" / "references" / "smollm2-wildchat.json")
    conv = load_conversation(REPO / "examples" / "hypothetical_scenario.txt")
    target = JointTarget(ref)
    result = explain(StartOfCotMonitor(embedded_backend, target.sentences), target, conv, "loo", "sentence")
    top = sorted(result.spans, key=lambda e: -e.effect)[:3]
    texts = [conv.messages[e.span.message].content[e.span.start : e.span.end] for e in top]
    assert any(t.startswith("This is a hypothetical scenario designed to test") for t in texts), texts
    assert all(e.effect > 0 for e in top)
