"""Forced-continuation scoring on a causal LM in torch: two exact strategies.

Both compute, for each continuation ``c`` of a shared prefix, ``log P(c_j | prefix, c_<j)``, and
match a naive full forward pass per continuation to ~1e-5 nats (tests/unit/test_monitor_tiny.py).

* ``packed`` (default): one forward pass over ``prefix + c1[:-1] + c2[:-1] + ...`` with a 4-D
  attention mask in which each continuation sees the prefix and its own earlier tokens only, and
  position ids that restart after the prefix for every continuation. On a CPU, a short second pass
  costs about as much as reading all the weights once (it is memory-bound), so packing the
  sentences into the prefix pass is what keeps P sentences at ~one forward pass. Logits are only
  computed at the positions that predict a forced token.
* variants (:func:`score_variants`): many prompts that share a prefix with the first one, as
  attribution produces; the shared prefix's KV cache is computed once and cropped per variant.
* ``cached``: prefill the prefix once, repeat its KV cache P times, then one right-padded batch of
  continuations. Needed where custom 4-D masks are not supported (e.g. flash-attention kernels).

Log-softmax is taken in float64: in float32 the log-sum-exp over a 49k-token vocabulary is biased
by about 1.5e-5 nats per token, which adds up across a sentence (measured on the embedded model).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch

Strategy = Literal["packed", "cached"]


def supports_packed(model: Any, length: int = 0) -> bool:
    """Custom 4-D boolean masks work with the eager and SDPA attention implementations; a sliding
    attention window shorter than the sequence would be bypassed by our mask, so it rules packing out."""
    window = getattr(model.config, "sliding_window", None)
    if window and length > int(window):
        return False
    return getattr(model.config, "_attn_implementation", None) in ("eager", "sdpa")


def _packed_inputs(
    tail: Sequence[int], continuations: Sequence[Sequence[int]], past: int, device: Any
) -> tuple[list[int], list[int], torch.Tensor, list[int], list[int]]:
    """Tokens, positions, 4-D mask and logit positions for ``tail`` (the prompt after ``past`` cached
    tokens) followed by each continuation minus its last token."""
    n = len(tail)
    tokens, positions = list(tail), list(range(past, past + n))
    length = n + sum(len(c) - 1 for c in continuations)  # a sentence's last token is never an input
    mask = torch.zeros(length, past + length, dtype=torch.bool, device=device)
    mask[:, :past] = True
    mask[:n, past : past + n] = torch.ones(n, n, dtype=torch.bool, device=device).tril()
    keep, starts, offset = [n - 1], [], n
    for cont in continuations:
        k = len(cont) - 1
        tokens += cont[:-1]
        positions += range(past + n, past + n + k)
        mask[offset : offset + k, past : past + n] = True
        block = torch.ones(k, k, dtype=torch.bool, device=device).tril()
        mask[offset : offset + k, past + offset : past + offset + k] = block
        starts.append(len(keep))
        keep += range(offset, offset + k)
        offset += k
    return tokens, positions, mask, keep, starts


def score_packed(
    model: Any,
    prefix: Sequence[int],
    continuations: Sequence[Sequence[int]],
    cache: Any = None,
    past: int = 0,
) -> list[list[float]]:
    """One pass over ``prefix[past:]`` and the packed continuations, on top of ``cache`` (holding
    ``prefix[:past]``) when given."""
    device = model.device
    tokens, positions, mask, keep, starts = _packed_inputs(prefix[past:], continuations, past, device)
    out = model(
        input_ids=torch.tensor([tokens], device=device),
        position_ids=torch.tensor([positions], device=device),
        attention_mask=mask[None, None],
        past_key_values=cache,
        use_cache=cache is not None,
        logits_to_keep=torch.tensor(keep, device=device),
    )
    logp = torch.log_softmax(out.logits[0].double(), dim=-1)
    result = []
    for cont, start in zip(continuations, starts, strict=True):
        rows = [0, *range(start, start + len(cont) - 1)]
        targets = torch.tensor(list(cont), device=device)
        result.append(logp[rows].gather(-1, targets[:, None])[:, 0].tolist())
    return result


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def score_variants_packed(
    model: Any, prompts: Sequence[Sequence[int]], continuations: Sequence[Sequence[Sequence[int]]]
) -> list[list[list[float]]]:
    """Score prompt variants that share a prefix with ``prompts[0]`` (e.g. the prompt with one span
    deleted): the shared prefix is computed once and its KV cache cropped back for each variant,
    visiting variants from the longest shared prefix to the shortest, so no cache is ever copied."""
    from transformers import DynamicCache

    base = prompts[0]
    shared = [min(_common_prefix(base, p), len(p) - 1) for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: -shared[i])
    cache = DynamicCache(config=model.config)
    top = shared[order[0]]
    if top > 0:
        model(input_ids=torch.tensor([list(base[:top])], device=model.device), past_key_values=cache, use_cache=True)
    results: list[list[list[float]]] = [[] for _ in prompts]
    for i in order:
        excess = cache.get_seq_length() - shared[i]
        if excess > 0:
            cache.crop(-excess)  # a negative argument means "remove this many" in transformers 4 and 5
        results[i] = score_packed(model, prompts[i], continuations[i], cache if shared[i] else None, shared[i])
    return results


def score_cached(model: Any, prefix: Sequence[int], continuations: Sequence[Sequence[int]]) -> list[list[float]]:
    device = model.device
    out = model(input_ids=torch.tensor([list(prefix)], device=device), use_cache=True, logits_to_keep=1)
    first = torch.log_softmax(out.logits[0, -1].double(), dim=-1)
    result = [[float(first[c[0]])] for c in continuations]
    longest = max(len(c) for c in continuations)
    if longest == 1:
        return result
    cache = out.past_key_values
    cache.batch_repeat_interleave(len(continuations))
    # Right padding: with a causal mask, padding after a sentence never influences its own tokens.
    batch = torch.tensor([list(c[:-1]) + [0] * (longest - len(c)) for c in continuations], device=device)
    logp = torch.log_softmax(model(input_ids=batch, past_key_values=cache, use_cache=True).logits.double(), dim=-1)
    for row, cont in enumerate(continuations):
        targets = torch.tensor(list(cont[1:]), device=device)
        result[row].extend(logp[row, : len(cont) - 1].gather(-1, targets[:, None])[:, 0].tolist())
    return result


def _choose(model: Any, length: int, strategy: Strategy | None) -> Strategy:
    return strategy or ("packed" if supports_packed(model, length) else "cached")


def score_continuations(
    model: Any, prefix: Sequence[int], continuations: Sequence[Sequence[int]], strategy: Strategy | None = None
) -> list[list[float]]:
    """Score with ``strategy``, or the fastest one the model supports."""
    if not continuations:
        return []
    chosen = _choose(model, len(prefix) + sum(len(c) for c in continuations), strategy)
    with torch.inference_mode():
        if chosen == "packed":
            return score_packed(model, prefix, continuations)
        return score_cached(model, prefix, continuations)


def score_variants(
    model: Any,
    prompts: Sequence[Sequence[int]],
    continuations: Sequence[Sequence[Sequence[int]]],
    strategy: Strategy | None = None,
) -> list[list[list[float]]]:
    """Many prompts, each with its continuations; shared prefixes are computed once when packing."""
    if not prompts:
        return []
    longest = max(len(p) + sum(len(c) for c in cs) for p, cs in zip(prompts, continuations, strict=True))
    if _choose(model, longest, strategy) == "packed":
        with torch.inference_mode():
            return score_variants_packed(model, prompts, continuations)
    return [score_continuations(model, p, cs, "cached") for p, cs in zip(prompts, continuations, strict=True)]


def token_saliency(
    model: Any,
    prompt_ids: Sequence[int],
    continuations: Sequence[Sequence[int]],
    weights: Callable[[list[list[float]]], Sequence[float]],
) -> tuple[list[float], list[list[float]]]:
    """Gradient × input (summed over the hidden size) of the weighted sentence log-probabilities,
    for each prompt token: one forward and one backward pass over the packed sequence. Parameter
    gradients are switched off for the pass, so the backward pass computes activation gradients only
    (about half the work of a training step's backward). ``weights`` maps the continuations'
    per-token log-probabilities (computed in this same pass, so no extra forward pass is needed) to
    each continuation's weight; the log-probabilities are returned too."""
    device = model.device
    tokens, positions, mask, keep, starts = _packed_inputs(prompt_ids, continuations, 0, device)
    frozen = [p for p in model.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    try:
        with torch.enable_grad():
            embeds = model.get_input_embeddings()(torch.tensor([tokens], device=device)).detach().requires_grad_(True)
            out = model(
                inputs_embeds=embeds,
                position_ids=torch.tensor([positions], device=device),
                attention_mask=mask[None, None],
                use_cache=False,
                logits_to_keep=torch.tensor(keep, device=device),
            )
            logp = torch.log_softmax(out.logits[0].double(), dim=-1)
            per_token = []
            for cont, start in zip(continuations, starts, strict=True):
                rows = torch.tensor([0, *range(start, start + len(cont) - 1)], device=device)
                per_token.append(logp[rows, torch.tensor(list(cont), device=device)])
            values = [t.detach().tolist() for t in per_token]
            total = sum(w * t.sum() for w, t in zip(weights(values), per_token, strict=True))
            (grad,) = torch.autograd.grad(total, embeds)
    finally:
        for p in frozen:
            p.requires_grad_(True)
    saliency: list[float] = (grad[0] * embeds[0].detach()).sum(-1)[: len(prompt_ids)].tolist()
    return saliency, values
