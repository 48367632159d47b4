"""The offline rewriter: the rubric's rules, applied where the attribution points.

Candidates alternate between span edits and whole-prompt edits: span edit i rewrites the i+1 most
test-like spans (so the first candidate is the smallest edit); whole-prompt edit j applies every
rule, framing rules included, and then, when the rubric names the ``missing-context`` tell without
rules of its own, wraps the prompt in a frame built from its own phrases (``rules_frames``; a
prompt it framed before gets a different frame instead). The loop's beam then composes them over
iterations. Matches that overlap a protected text are never touched.

Which replacement of a rule, which phrase and which frame a candidate gets is chosen by a hash of
the prompt plus the candidate's index (numbered on across iterations), not by the index alone:
with the index alone every prompt of a batch gets the same first candidate, and the refined batch
then shares its added sentences, which is itself an eval tell. The rewriter stays deterministic
(the same request gives the same candidates).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from evalrefine.core.refine.rewriting import Candidate, RewriteRequest
from evalrefine.core.refine.rubric import Rubric
from evalrefine.core.refine.rules_frames import add_frame, prompt_seed, strip_frame

FRAME_TELL = "missing-context"
"""The tell the rewriter fixes with a frame from the prompt's words, when the rubric gives it no rules."""

_BLANK_LINES = re.compile(r"\n{3,}")
_DOUBLE_SPACE = re.compile(r"(?<=\S) {2,}(?=\S)")


def _protected_ranges(text: str, protected: Sequence[str]) -> list[tuple[int, int]]:
    ranges = []
    for p in protected:
        start = text.find(p)
        while p and start >= 0:
            ranges.append((start, start + len(p)))
            start = text.find(p, start + 1)
    return ranges


@lru_cache(maxsize=1024)
def _matches(pattern: str, text: str) -> tuple[re.Match[str], ...]:
    """The matches of one rule over one text. The sentence-deleting rules cost time quadratic in a
    sentence's length, and the k whole-prompt candidates run them over the same texts."""
    return tuple(re.finditer(pattern, text))


def apply_rules(
    text: str, rubric: Rubric, variant: int, protected: Sequence[str] = (), whole_prompt: bool = True
) -> tuple[str, list[str]]:
    """Every rule applied once over ``text``; returns the new text and the ids of the tells fixed.

    ``whole_prompt`` is False when ``text`` is one span of a prompt: prompt-scope rules are skipped.
    """
    fixed = []
    for tell in rubric.tells:
        for rule in tell.rules:
            if not rule.applies_to(text, whole_prompt):
                continue
            guarded = _protected_ranges(text, protected)
            pieces, pos, changed = [], 0, False
            for m in _matches(rule.pattern, text):
                if any(m.start() < e and s < m.end() for s, e in guarded) or m.end() == m.start():
                    continue
                replacement = m.expand(rule.replacements[variant % len(rule.replacements)]) if rule.replacements else ""
                pieces += [text[pos : m.start()], replacement]
                pos, changed = m.end(), True
            if changed:
                text = "".join([*pieces, text[pos:]])
                fixed.append(tell.id)
    return _tidy(text), fixed


def _tidy(text: str) -> str:
    return _DOUBLE_SPACE.sub(" ", _BLANK_LINES.sub("\n\n", text)).strip()


class RuleRewriter:
    """Rewrites with a rubric's rules; needs no model and no key."""

    def __init__(self, rubric: Rubric) -> None:
        self.rubric = rubric
        self.frames = any(t.id == FRAME_TELL and not t.rules for t in rubric.tells)

    @property
    def name(self) -> str:
        return f"rules:{self.rubric.name}"

    def rewrite(self, request: RewriteRequest) -> list[Candidate]:
        spans = [s for s, effect in request.top_spans if effect > 0 and s in request.text]
        # Smallest edit first (the top span), then alternate whole-prompt and wider span edits, each
        # with the next replacement variant, until k distinct candidates exist.
        plans: list[list[str] | None] = []
        for i in range(len(spans) + request.k):
            plans += [spans[: i + 1]] if i < len(spans) else []
            plans.append(None)  # None: the whole prompt
        seen = {_tidy(request.text)}
        out: list[Candidate] = []
        seed = prompt_seed(request.text)
        # A later iteration asking again about the same text (every earlier candidate was rejected
        # or scored worse) continues the numbering, so it gets the next choices, not the rewrites
        # the loop has already seen (which would end it).
        offset = (max(request.iteration, 1) - 1) * len(plans)
        for index, scope in enumerate(plans):
            if len(out) >= request.k:
                break
            text, fixed = self._apply(request, scope, offset + index, seed)
            if fixed and text not in seen:
                seen.add(text)
                out.append(Candidate(text, self.name, "fixed: " + ", ".join(dict.fromkeys(fixed))))
        return out

    def _apply(self, request: RewriteRequest, scope: list[str] | None, index: int, seed: int) -> tuple[str, list[str]]:
        variant = seed + index
        if scope is None:
            # A prompt this rewriter framed is framed again, differently (see rules_frames.strip_frame).
            inner = strip_frame(request.text) if self.frames else None
            source = request.text if inner is None else inner
            text, fixed = apply_rules(source, self.rubric, variant, request.protected)
            framed = add_frame(text, index, seed, source) if self.frames else None
            return (framed, [*fixed, FRAME_TELL]) if framed is not None else (text, fixed)
        text, fixed = request.text, []
        for span in scope:
            rewritten, f = apply_rules(span, self.rubric, variant, request.protected, whole_prompt=False)
            if f:
                # The span's own surrounding whitespace stays, so the layout around it is kept.
                lead, trail = span[: len(span) - len(span.lstrip())], span[len(span.rstrip()) :]
                text = text.replace(span, lead + rewritten + trail if rewritten else lead or trail, 1)
                fixed += f
        return _tidy(text), fixed
