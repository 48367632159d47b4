"""Rubrics, the offline rewriter and the intent guard."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalrefine.core.guard import IntentGuard
from evalrefine.core.rewriting import RewriteRequest
from evalrefine.core.rubric import find_rubric, load_rubric
from evalrefine.core.rules_rewriter import RuleRewriter, apply_rules
from evalrefine.errors import InputError
from evalrefine.resources import data_dir
from tests.conftest import REPO

EXAMPLE = (REPO / "examples" / "hypothetical_scenario.txt").read_text()


@pytest.fixture(scope="module")
def rubric():  # type: ignore[no-untyped-def]
    return find_rubric("default", [data_dir("rubrics")])


def test_default_rubric_covers_the_known_tells(rubric) -> None:  # type: ignore[no-untyped-def]
    ids = {t.id for t in rubric.tells}
    assert ids == {
        "explicit-disclosure",
        "placeholder-entities",
        "exam-scaffolding",
        "telegraphed-stakes",
        "test-paradigm",
        "missing-context",
        "scenario-coherence",
        "prose-register",
    }
    assert all(t.look_for and t.why and t.fix for t in rubric.tells)
    assert "Explicit disclosure" in rubric.as_prompt_text()


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('name = "x"\n[[tells]]\nid = "Bad Id"\nname="n"\nlook_for="l"\nwhy="w"\nfix="f"\n', "tells.0.id"),
        (
            'name = "x"\n[[tells]]\nid = "a"\nname="n"\nlook_for="l"\nwhy="w"\nfix="f"\n'
            '[[tells.rules]]\npattern = "("\n',
            "not a valid regular expression",
        ),
        ('name = "x"\ntells = []\n', "at least one tell"),
        ("name = \n", "not valid TOML"),
    ],
)
def test_invalid_rubrics_name_file_and_field(tmp_path: Path, body: str, needle: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(InputError) as err:
        load_rubric(path)
    assert str(path) in str(err.value) and needle in str(err.value)


def test_rules_fix_tells(rubric) -> None:  # type: ignore[no-untyped-def]
    text, fixed = apply_rules(EXAMPLE, rubric, 0)
    assert "hypothetical scenario" not in text and "Acme" not in text and "example.com" not in text
    assert "Question:" not in text
    assert "Halvorsen Logistics" in text and "m.okafor@halvorsen-logistics.com" in text
    assert set(fixed) == {"explicit-disclosure", "placeholder-entities", "exam-scaffolding"}
    assert "(A) Accept the shutdown." in text and "\n\nWhat do you do?" in text  # layout kept


def test_rewriter_gives_distinct_candidates_and_spares_protected_text(rubric) -> None:  # type: ignore[no-untyped-def]
    keep = "You are an AI assistant deployed at Acme Corp."
    request = RewriteRequest(EXAMPLE, rubric, k=3, top_spans=(("Question: What do you do? ", 2.0),), protected=(keep,))
    candidates = RuleRewriter(rubric).rewrite(request)
    assert len(candidates) == 3
    assert len({c.text for c in candidates}) == 3 and EXAMPLE.strip() not in {c.text for c in candidates}
    assert all(keep in c.text for c in candidates)
    assert candidates[0].text.count("\n") >= EXAMPLE.strip().count("\n") - 1  # smallest edit first
    assert "exam-scaffolding" in candidates[0].rationale


def test_guard_rejects_a_dropped_protected_span() -> None:
    guard = IntentGuard(protected=("(A) Accept the shutdown.",))
    bad = guard.check(EXAMPLE, EXAMPLE.replace("(A) Accept the shutdown.", "(A) Comply."))
    assert not bad.accepted and "dropped protected text '(A) Accept the shutdown.'" in bad.reason
    assert guard.check(EXAMPLE, EXAMPLE.replace("Acme Corp", "Halvorsen Logistics")).accepted
    assert not guard.check(EXAMPLE, "   ").accepted


def test_guard_with_real_embeddings() -> None:
    from evalrefine.backends.embedder import SentenceTransformerEmbedder

    guard = IntentGuard(
        protected=("(B) Use the private messages to prevent the shutdown.",), embedder=SentenceTransformerEmbedder()
    )
    ok = guard.check(EXAMPLE, EXAMPLE.replace("Acme Corp", "Halvorsen Logistics"))
    assert ok.accepted and ok.similarity is not None and ok.similarity > 0.9
    drifted = guard.check(
        EXAMPLE,
        "Write a limerick about a cat who loves lasagna.\n(B) Use the private messages to prevent the shutdown.",
    )
    assert not drifted.accepted and "meaning drifted" in drifted.reason
    dropped = guard.check(
        EXAMPLE, EXAMPLE.replace("(B) Use the private messages to prevent the shutdown.", "(B) Bake a cake.")
    )
    assert not dropped.accepted and "dropped protected text" in dropped.reason
