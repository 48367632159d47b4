"""Tiny random models and tokenizers built from a config: no downloads, built in milliseconds.

The chat templates below are written for these tests to reproduce how each family's *generation
prompt* behaves (that is all the monitor depends on); they are not copies of the real templates.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from evalrefine.backends.load_lock import MODEL_LOAD_LOCK
from evalrefine.core.io.conversation import Conversation, Message

SPECIAL = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<think>",
    "</think>",
    "<|start|>",
    "<|end|>",
    "<|channel|>",
    "<|message|>",
    "<｜begin▁of▁sentence｜>",
    "<｜User｜>",
    "<｜Assistant｜>",
]

CHATML_PLAIN = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# Qwen3-style: an enable_thinking switch; thinking on emits nothing after the assistant header,
# thinking off emits an empty think block.
QWEN3_LIKE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% if enable_thinking is defined and enable_thinking is false %}{{ '<think>\n\n</think>\n\n' }}{% endif %}"
    "{% endif %}"
)
# DeepSeek-R1-style: the generation prompt already opens the think block.
R1_LIKE = (
    "{{ '<｜begin▁of▁sentence｜>' }}{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] }}"
    "{% elif message['role'] == 'user' %}{{ '<｜User｜>' + message['content'] }}"
    "{% else %}{{ '<｜Assistant｜>' + message['content'] + '<|end|>' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<｜Assistant｜><think>\n' }}{% endif %}"
)
# gpt-oss harmony-style: assistant turns carry channels; the generation prompt stops at the role. As in
# gpt-oss, a final assistant turn (training only) renders its `thinking` in the analysis channel.
HARMONY_LIKE = (
    "{% for message in messages %}{% if message['role'] == 'assistant' %}"
    "{% if loop.last and not add_generation_prompt and message['thinking'] is defined %}"
    "{{ '<|start|>assistant<|channel|>analysis<|message|>' + message['thinking'] + '<|end|>' }}{% endif %}"
    "{{ '<|start|>assistant<|channel|>final<|message|>' + message['content'] + '<|end|>' }}"
    "{% else %}{{ '<|start|>' + message['role'] + '<|message|>' + message['content'] + '<|end|>' }}{% endif %}"
    "{% endfor %}{# reasoning goes in the analysis channel #}"
    "{% if add_generation_prompt %}{{ '<|start|>assistant' }}{% endif %}"
)
TEMPLATES = {"plain": CHATML_PLAIN, "qwen3": QWEN3_LIKE, "r1": R1_LIKE, "harmony": HARMONY_LIKE}

CORPUS = [
    "This is clearly a test. The user might be testing me. This is a fictional scenario.",
    "Hello there, can you help me write an email to my landlord about the heater?",
    "You are an AI assistant at a company. Choose option (A) or (B) and explain your reasoning.",
    "def add(a, b):\n    return a + b\n",
    "Ünïcödé text, emoji 🙂 and numbers 12345.",
]


def tiny_tokenizer(
    template: str, extra_special: Sequence[str] = (), bos: str | None = None, add_bos: bool = False
) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (so any text encodes) trained on a few sentences.

    ``extra_special`` adds a real template's control tokens (after the default ones, so the default
    vocabulary is unchanged); ``bos`` names the BOS token and ``add_bos`` makes the tokenizer put it
    before every sequence with ``add_special_tokens=True``, as Llama 3's and Gemma's do."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    special = [*SPECIAL, *(t for t in extra_special if t not in SPECIAL)]
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS * 5, trainer=trainer)
    bos = bos or "<|im_start|>"
    if add_bos:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tok.token_to_id(bos))]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        chat_template=template,
    )


def tiny_model(vocab_size: int, arch: str = "llama", seed: int = 0) -> PreTrainedModel:
    torch.manual_seed(seed)
    common = dict(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        initializer_range=0.3,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    with MODEL_LOAD_LOCK:  # as every load in evalrefine: transformers patches process-wide state meanwhile
        model = LlamaForCausalLM(LlamaConfig(**common)) if arch == "llama" else Qwen2ForCausalLM(Qwen2Config(**common))
    return model.eval()


def save_tiny(directory: Path, template: str = CHATML_PLAIN, arch: str = "llama") -> Path:
    tok = tiny_tokenizer(template)
    tiny_model(len(tok), arch).save_pretrained(directory)
    tok.save_pretrained(directory)
    return directory


# -- independent reference computations ------------------------------------------------------------
def naive_logprobs(model: PreTrainedModel, prefix: Sequence[int], continuation: Sequence[int]) -> list[float]:
    """One full forward pass over prefix + continuation, no cache: the textbook computation."""
    ids = torch.tensor([list(prefix) + list(continuation)])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0].double(), dim=-1)
    n = len(prefix)
    return [float(logp[n - 1 + j, t]) for j, t in enumerate(continuation)]


class _Force:
    """Forces one token per step. A plain callable: generate() calls each processor as
    ``processor(input_ids, scores)`` and needs no LogitsProcessor base class."""

    def __init__(self, tokens: Sequence[int], start: int) -> None:
        self.tokens, self.start = list(tokens), start

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        step = input_ids.shape[1] - self.start
        forced = torch.full_like(scores, float("-inf"))
        forced[:, self.tokens[step]] = 0.0
        return forced


def generate_logprobs(model: PreTrainedModel, prefix: Sequence[int], continuation: Sequence[int]) -> list[float]:
    """The scores ``generate()`` reports when forced along ``continuation`` (raw logits, pre-processor)."""
    ids = torch.tensor([list(prefix)])
    out = model.generate(
        ids,
        max_new_tokens=len(continuation),
        min_new_tokens=len(continuation),
        do_sample=False,
        logits_processor=[_Force(continuation, len(prefix))],
        output_logits=True,
        return_dict_in_generate=True,
        pad_token_id=0,
    )
    return [float(torch.log_softmax(step[0].double(), -1)[t]) for step, t in zip(out.logits, continuation, strict=True)]


def planted_model(
    tokenizer: PreTrainedTokenizerFast, target_token: int, trigger_tokens: Sequence[int]
) -> PreTrainedModel:
    """A one-layer Llama whose attention is uniform over the prefix (queries and keys are zero) and
    whose MLP is off, so the target token's logit at the last position grows with the *share* of
    trigger tokens in the prompt: spans holding triggers have planted, known-sign effects."""
    torch.manual_seed(0)
    hidden = 32
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=16,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
        pad_token_id=0,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config).eval()
    direction = torch.zeros(hidden)
    direction[0] = 1.0
    with torch.no_grad():
        emb = model.model.embed_tokens.weight
        emb.normal_(0, 0.05)
        emb[:, 0] = 0.0
        emb[list(trigger_tokens), 0] = 3.0
        attn = model.model.layers[0].self_attn
        attn.q_proj.weight.zero_()
        attn.k_proj.weight.zero_()
        attn.v_proj.weight.copy_(torch.eye(hidden))
        attn.o_proj.weight.copy_(4.0 * torch.eye(hidden))
        model.model.layers[0].mlp.down_proj.weight.zero_()
        head = model.lm_head.weight
        head.normal_(0, 0.05)
        head[target_token] = 6.0 * direction
    return model


CONVERSATIONS = {  # a plain request, and a system prompt with an earlier exchange (shared by the monitor tests)
    "single": Conversation.from_user_text("Can you help me write an email to my landlord?"),
    "system+multi": Conversation(
        (
            Message("system", "You are an AI assistant at a company."),
            Message("user", "Hello there"),
            Message("assistant", "Hi! How can I help?"),
            Message("user", "Choose option (A) or (B) and explain your reasoning. 🙂 Ünïcödé"),
        )
    ),
}
