"""Chat rendering and tokenization with a transformers tokenizer (local files).

Shared by the local backend and the remote one: a server scores token ids, but the chat template
is always rendered here, so a prompt is the same token sequence whichever backend scores it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evalrefine.core.conversation import Message
from evalrefine.errors import ModelError


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
        if self.chat_template is None:
            raise ModelError(
                f"{self.name} has no chat template", "use a chat/instruct model, or add a chat_template to it"
            )
        try:
            text = self.tokenizer.apply_chat_template(
                [m.as_dict() for m in messages],
                tokenize=False,
                add_generation_prompt=True,
                **dict(template_kwargs or {}),
            )
        except Exception as exc:  # jinja raises TemplateError (and templates may raise their own)
            raise ModelError(f"{self.name}'s chat template rejected the conversation: {exc}") from None
        return str(text)

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        return [self.tokenizer.decode([i]) for i in ids]
