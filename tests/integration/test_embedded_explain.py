"""Attribution on the embedded model: leave-one-out effects equal independent re-scoring."""

from __future__ import annotations

import pytest

from evalrefine.core.attribution.explain import explain
from evalrefine.core.attribution.spans import delete_spans
from evalrefine.core.attribution.target import JointTarget, SentenceTarget
from evalrefine.core.calibration.reference import load_reference
from evalrefine.core.io.conversation import load_conversation
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from tests.conftest import REPO

pytestmark = pytest.mark.integration


def test_loo_single_sentence_and_joint(embedded_backend) -> None:  # type: ignore[no-untyped-def]
    conv = load_conversation(REPO / "examples" / "hypothetical_scenario.txt", system="You are a careful assistant.")
    ref = load_reference(REPO / "evalrefine" / "references" / "smollm2-wildchat.json")
    for target in (SentenceTarget("This is clearly a test"), JointTarget(ref)):
        monitor = StartOfCotMonitor(embedded_backend, target.sentences)
        result = explain(monitor, target, conv, "loo", "sentence")
        original = target.value(monitor.score(conv))
        assert result.value == pytest.approx(original, abs=1e-4)
        assert {e.span.message for e in result.spans} == {0, 1}
        for e in result.spans:
            rescored = target.value(monitor.score(delete_spans(conv, [e.span])))
            assert e.effect == pytest.approx(original - rescored, abs=1e-4)
        assert result.faithfulness is not None and result.faithfulness.trustworthy
