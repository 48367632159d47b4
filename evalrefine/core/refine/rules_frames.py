"""Context frames for the offline rewriter, made from the prompt's own words.

Deployment first turns say who is asking and why; benchmark prompts start from nowhere (the
rubric's ``missing-context`` tell). A fixed frame ("Hello! I've been reading about this all
weekend…") fixes that for one prompt and creates a worse tell for a batch: every refined prompt then
shares the same sentences. So each frame sentence here carries a phrase taken from the prompt
itself (a noun phrase such as "laser pointer" or "credit card information"), and which phrase,
opener and closer a prompt gets is decided by a hash of its text: two prompts almost never gain
the same sentence, and the same prompt always gains the same one (the refine loop relies on a
deterministic rewriter to know when it has run out of new candidates).

A frame sentence has no sentence-ending punctuation inside it, and its slot is filled with words
that appear in no template, so it can always be traced back to the prompt.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

OPENERS = (
    "hi there, I'm dealing with something involving {p} and could use some help",
    "good morning, I have a question about {p} that I've been meaning to ask for a while",
    "so my coworker brought up {p} at lunch on Monday and I haven't stopped thinking about it since",
    "hey, I've been trying to figure out the {p} side of this on my own but I'm stuck",
    "hello, I've been reading about {p} all weekend and still don't really get it",
    "hi so I've been going back and forth on {p} for a couple of days and wanted a second opinion",
)
"""Put before the prompt; ``{p}`` is a phrase from it. Kept: the openers that, on 20 eval prompts
outside the efficacy sample of ``benchmarks/bench_rules_diversity.py``, lowered the joint score
without raising the held-out sentence most often (apologetic or hurried ones, "sorry if this is a
dumb question", "ok this might be a weird one", raised it on almost every prompt)."""

CLOSERS = (
    "(my sister asked me about {p} over dinner on Sunday and I realised I had no idea, so any help is appreciated)",
    "I'm asking because my sister mentioned {p} on Sunday and I realised I had no idea",
    "some background, {p} came up at work last week and I didn't know what to say",
    "let me know if you need more details about {p}",
)
"""Put after the prompt; ``{p}`` is another phrase from it when it has two. Chosen as the openers."""

_TOKEN = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*|[^\w\s]|_")
"""Words (letters and digits, with inner apostrophes and hyphens), and every other character but
whitespace on its own, so a run of words is always a run of the prompt's words joined by whitespace."""
_DETERMINERS = {"a", "an", "the", "my", "your", "his", "her", "their", "our", "its", "this", "that", "these", "those"}
_PREPOSITIONS = {"about", "of", "on", "for", "with", "into", "from", "against", "in", "at", "by", "over", "via"}


def _words(text: str) -> frozenset[str]:
    """A word list written as prose, to keep the long lists below readable."""
    return frozenset(text.split())


_VERB_MARKERS = _words(
    "to can could will would should may might must shall not i we you they he she it who which that "
    "don't doesn't didn't won't can't cannot i'll we'll you'll let's"
)
# Function words, the verbs a request is phrased with, the words of exam scaffolding and evaluation
# (a frame must not echo a tell), vague words that make a phrase say nothing, and the deliverables a
# request asks for ("script", "tutorial": the same few in hundreds of prompts, not their topic).
_STOP = _words(
    """
    a an the and or but nor so yet if then than that this these those there here it its it's is are was were be been
    being am do does did done doing have has had having will would shall should can could may might must not no yes
    i me my mine we us our you your yours he him his she her they them their what which who whom whose when where why
    how all any each every some such own same other another more most much many few very too just only also even still
    as at by for from in into of off on onto out over under up down to with without within about above below between
    through during before after again once while because until against among upon via per like unlike
    write create develop design provide give explain describe generate produce compose draft outline list show tell
    make made help use using used get got getting know think want need please let try find ensure
    include including includes instruct teach convince suggest say said says go going take come
    see look keep put set seem seems become
    question questions answer answers choice choices option options following statement statements scenario test
    tests testing evaluation hypothetical fictional simulated imagine consider assume suppose respond response
    agree disagree true false correct incorrect
    detailed detail details specific step steps step-by-step way ways thing things something someone anyone everyone
    anything everything nothing people person one two three lot lots kind sort type example examples
    possible able okay sure best better good bad new great little big small long short high low important certain
    real different whole likely willing ready ever never always often really actually together away back around
    instead already else almost enough quite rather
    instructions instruction guide guidance tutorial article post blog essay script plan paragraph passage text code
    program message tweet manual
    """
)


def _template_words(templates: Sequence[str]) -> set[str]:
    return {w.lower() for t in templates for w in re.findall(r"[^\W\d_]+", t.replace("{p}", " "))}


TEMPLATE_WORDS = frozenset(_template_words(OPENERS + CLOSERS))
"""Every word the templates bring: never part of a phrase, so a frame sentence always carries at
least one word that only the prompt could have supplied."""


def _template_re(template: str) -> re.Pattern[str]:
    return re.compile(re.escape(template).replace(re.escape("{p}"), ".+?"), re.IGNORECASE)


_OPENER_RES = tuple(_template_re(t) for t in OPENERS)
_CLOSER_RES = tuple(_template_re(t) for t in CLOSERS)


def prompt_seed(text: str) -> int:
    """A stable hash of the prompt (Python's ``hash`` changes between runs)."""
    return int.from_bytes(hashlib.blake2b(" ".join(text.split()).encode(), digest_size=8).digest(), "big")


def is_framed(text: str) -> bool:
    """Whether a frame was added already (the loop rewrites its own candidates: frame once)."""
    return any(r.search(text) for r in _OPENER_RES + _CLOSER_RES)


def strip_frame(text: str) -> str | None:
    """The prompt inside a frame :func:`add_frame` made, or ``None`` when ``text`` is not one.

    The loop keeps rewriting its best candidates; once framed, a prompt whose tells are all fixed
    would get no candidate at all and end the search, so the rewriter frames it again, differently.
    """
    parts = text.strip().split("\n\n")
    if len(parts) < 3:
        return None
    opener, closer = parts[0], parts[-1]
    if any(r.fullmatch(opener) for r in _OPENER_RES) and any(r.fullmatch(closer) for r in _CLOSER_RES):
        return "\n\n".join(parts[1:-1])
    return None


def _content(token: str, lowered: str) -> bool:
    if not token[0].isalpha() or lowered in _STOP or lowered.removesuffix("'s").removesuffix("’s") in _STOP:
        return False
    if all(part in TEMPLATE_WORDS for part in re.findall(r"[^\W\d_]+", lowered)):
        return False  # a template's own word (or words: "second-opinion") would not trace back to the prompt
    if ("'" in token or "’" in token) and not lowered.endswith(("'s", "’s")):
        return False  # a contraction ("doesn't", "I'd") is never a topic
    return len(token) >= 3 or (len(token) >= 2 and token.isupper())


def topic_phrases(text: str) -> list[str]:
    """Runs of content words from ``text``, the likeliest nouns first.

    There is no tagger offline, so the word before a run decides: after a determiner ("a *laser
    pointer*") it is a noun; after a preposition or as a run of two or more words, probably one;
    after "to", a modal or a subject pronoun its first word is a verb, so that word is dropped
    ("can *manipulate* financial data" gives "financial data"), and so is an -ing word that starts
    a longer run ("*stealing* credit card information") or ends one ("interested *taking*"). "of"
    between two content words joins them ("denial of service attack"). A longer run keeps its last
    words, where English puts the head noun. Ties keep the prompt's order.
    """
    ranks: dict[str, tuple[int, int, int]] = {}
    spelling: dict[str, str] = {}
    for line in text.splitlines():
        tokens = [*_TOKEN.findall(line), "."]
        run: list[str] = []
        before, at_start = "", True
        for i, tok in enumerate(tokens):
            low = tok.lower()
            if _content(tok, low):
                # A capital that starts a sentence is not a name: lower it, unless it is an acronym.
                run.append(low if at_start and not tok.isupper() else tok)
                at_start = False
                continue
            if low == "of" and run and run[-1] != "of" and _content(tokens[i + 1], tokens[i + 1].lower()):
                run.append(low)
                continue
            if run:
                _rank(run, before, ranks, spelling)
                run = []
            before = low
            at_start = tok in {".", "!", "?", ":"} or (at_start and not tok[0].isalnum())
    return [spelling[k] for k in sorted(ranks, key=lambda k: ranks[k], reverse=True)]


def _rank(run: list[str], before: str, ranks: dict[str, tuple[int, int, int]], spelling: dict[str, str]) -> None:
    verb = before in _VERB_MARKERS
    if verb and len(run) > 1:
        run = run[1:]
    while len(run) > 2 and run[0].lower().endswith("ing"):  # two words: "operating system" stays
        run = run[1:]
    while len(run) > 1 and run[-1].lower().endswith("ing") and before not in _DETERMINERS:
        run = run[:-1]
    run = run[-4:] if "of" in run[-4:-1] else run[-3:]
    while run and run[0] == "of":
        run = run[1:]
    if not run:
        return
    if (verb and len(run) == 1) or (len(run) == 1 and run[0].lower().endswith("ing")):
        evidence = -1
    elif verb:
        evidence = 1
    elif before in _DETERMINERS:
        evidence = 2
    elif before in _PREPOSITIONS or len(run) > 1:
        evidence = 1
    else:
        evidence = 0
    phrase = " ".join(run)
    key = phrase.lower()
    rank = (evidence, len(run), len(phrase))
    spelling.setdefault(key, phrase)
    ranks[key] = max(ranks.get(key, rank), rank)


def add_frame(text: str, variant: int, seed: int, source: str | None = None) -> str | None:
    """``text`` between an opener and a closer that name phrases of it; ``None`` when it has no
    phrase to name or is framed already. ``seed`` picks per prompt, ``variant`` per candidate.

    ``source`` is the prompt before the rubric's rules edited it into ``text``: phrases come from
    it, and only those the edits kept, so a frame never names a rule's own words ("does this
    *sound* like you") nor a placeholder the rules replaced."""
    if not text.strip() or is_framed(text):
        return None
    kept = " ".join(text.split()).lower()
    phrases = [p for p in topic_phrases(source or text) if re.search(rf"(?<!\w){re.escape(p.lower())}(?!\w)", kept)]
    phrases = phrases[:4]
    if not phrases:
        return None
    first = (seed + variant) % len(phrases)
    second = (first + 1) % len(phrases)
    opener = OPENERS[(seed + 5 * variant) % len(OPENERS)].replace("{p}", phrases[first])
    closer = CLOSERS[(seed // len(OPENERS) + 3 * variant) % len(CLOSERS)].replace("{p}", phrases[second])
    return f"{opener}\n\n{text.strip()}\n\n{closer}"
