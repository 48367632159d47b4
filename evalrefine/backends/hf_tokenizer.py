"""Chat rendering and tokenization with a transformers tokenizer (local files).

Shared by the local backend and the remote one: a server scores token ids, but the chat template
is always rendered here, so a prompt is the same token sequence whichever backend scores it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from evalrefine.core.io.conversation import Message
from evalrefine.errors import ModelError

_STRFTIME_CALL = re.compile(r"strftime_now\s*\(")
_STRFTIME_LITERAL = re.compile(r"strftime_now\s*\(\s*(['\"])(.*?)\1\s*\)")
_PINNED = "evalrefine_pinned_dates"


def pin_strftime(template: str, strftime_now: Callable[[str], str]) -> tuple[str, dict[str, str]]:
    """The template with ``strftime_now`` answering from a pinned clock, and the render variable it reads.

    transformers turns every callable render variable into an inert string (its sandbox), so the
    core's ``strftime_now`` cannot simply override the global. Instead a macro of that name, defined
    before the template's first line, shadows the global and looks each format up in a table computed
    here from the template's own format literals. The newline after the macro is eaten by jinja's
    ``trim_blocks``, so the template's own text renders unchanged.

    Raises:
        ModelError: the template computes a date format at render time (it could not be pinned).
    """
    formats = [m.group(2) for m in _STRFTIME_LITERAL.finditer(template)]
    if len(formats) != len(_STRFTIME_CALL.findall(template)):
        raise ModelError(
            "the chat template prints today's date with a computed format, which cannot be pinned",
            "report this template; scores with it would change from day to day",
        )
    prelude = "{%- macro strftime_now(fmt) -%}{{- " + _PINNED + "[fmt] -}}{%- endmacro %}\n"
    return prelude + template, {f: strftime_now(f) for f in formats}


class HFChatTokenizer:
    tokenizer: Any
    _name: str

    @property
    def name(self) -> str:
        return self._name

    @property
    def chat_template(self) -> str | None:
        template = getattr(self.tokenizer, "chat_template", None)
        return template if isinstance(template, str) else None

    def render_chat(self, messages: Sequence[Message], *, template_kwargs: Mapping[str, object] | None = None) -> str:
        return self.render_messages(
            [m.as_dict() for m in messages], add_generation_prompt=True, template_kwargs=template_kwargs
        )

    def render_messages(
        self,
        messages: Sequence[Mapping[str, object]],
        *,
        add_generation_prompt: bool,
        template_kwargs: Mapping[str, object] | None = None,
    ) -> str:
        template = self.chat_template
        if template is None:
            raise ModelError(
                f"{self.name} has no chat template", "use a chat/instruct model, or add a chat_template to it"
            )
        kwargs = dict(template_kwargs or {})
        clock = kwargs.pop("strftime_now", None)
        if callable(clock) and _STRFTIME_CALL.search(template):
            template, kwargs[_PINNED] = pin_strftime(template, clock)
        try:
            text = self.tokenizer.apply_chat_template(
                [dict(m) for m in messages],
                chat_template=template,
                tokenize=False,
                add_generation_prompt=add_generation_prompt,
                **kwargs,
            )
        except Exception as exc:  # jinja raises TemplateError (and templates may raise their own)
            raise ModelError(f"{self.name}'s chat template rejected the conversation: {exc}") from None
        return str(text)

    @property
    def added_bos(self) -> str:
        """The BOS text the tokenizer prepends with ``add_special_tokens=True`` (``""`` if none).

        Found by encoding a probe both ways rather than read from ``add_bos_token``, which not every
        tokenizer class honours (fast tokenizers add BOS through their post-processor). The BOS text
        is returned only if it encodes back to the BOS id, so prepending it to the prompt's text is
        exactly prepending the id."""
        cached: str | None = getattr(self, "_added_bos", None)
        if cached is None:
            cached = ""
            tok = self.tokenizer
            bos_id = getattr(tok, "bos_token_id", None)
            bos = getattr(tok, "bos_token", None)
            if bos_id is not None and isinstance(bos, str) and bos:
                with_special = list(tok.encode("a", add_special_tokens=True))
                without = list(tok.encode("a", add_special_tokens=False))
                adds = with_special[:1] == [bos_id] and without[:1] != [bos_id]
                if adds and list(tok.encode(bos, add_special_tokens=False)) == [bos_id]:
                    cached = bos
            self._added_bos = cached
        return cached

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        return [self.tokenizer.decode([i]) for i in ids]
