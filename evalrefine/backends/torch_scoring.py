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


Group = tuple[Sequence[int], int, Sequence[Sequence[int]]]
"""``(tail, shared, continuations)``: a prompt's tokens after the ``shared`` cached ones, and the
continuations to score after it."""


def _pack(
    groups: Sequence[Group], cache_len: int, device: Any
) -> tuple[list[int], list[int], torch.Tensor, list[int], list[tuple[int, list[int]]]]:
    """One packed sequence for several prompts sharing a KV cache of ``cache_len`` tokens.

    Each group's tail sees the first ``shared`` cached tokens and itself (causally); each of its
    continuations (minus the last token, never an input) sees the same plus its own earlier tokens.
    Positions continue from ``shared``. Returns tokens, positions, the boolean 4-D mask's 2-D core,
    the positions whose logits are needed, and per group the row of its last tail token and the
    first row of each continuation (rows index the kept logits)."""
    length = sum(len(t) + sum(len(c) - 1 for c in cs) for t, _, cs in groups)
    mask = torch.zeros(length, cache_len + length, dtype=torch.bool, device=device)
    tokens: list[int] = []
    positions: list[int] = []
    keep: list[int] = []
    layout: list[tuple[int, list[int]]] = []
    offset = 0
    for tail, shared, conts in groups:
        n, g0 = len(tail), offset
        tokens += tail
        positions += range(shared, shared + n)
        mask[g0 : g0 + n, :shared] = True
        mask[g0 : g0 + n, cache_len + g0 : cache_len + g0 + n] = torch.ones(
            n, n, dtype=torch.bool, device=device
        ).tril()
        last_row = len(keep)
        keep.append(g0 + n - 1)
        offset = g0 + n
        starts = []
        for cont in conts:
            k = len(cont) - 1
            tokens += cont[:-1]
            positions += range(shared + n, shared + n + k)
            mask[offset : offset + k, :shared] = True
            mask[offset : offset + k, cache_len + g0 : cache_len + g0 + n] = True
            block = torch.ones(k, k, dtype=torch.bool, device=device).tril()
            mask[offset : offset + k, cache_len + offset : cache_len + offset + k] = block
            starts.append(len(keep))
            keep += range(offset, offset + k)
            offset += k
        layout.append((last_row, starts))
    return tokens, positions, mask, keep, layout


def _run_packed(model: Any, groups: Sequence[Group], cache: Any, cache_len: int) -> list[list[list[float]]]:
    device = model.device
    tokens, positions, mask, keep, layout = _pack(groups, cache_len, device)
    out = model(
        input_ids=torch.tensor([tokens], device=device),
        position_ids=torch.tensor([positions], device=device),
        attention_mask=mask[None, None],
        past_key_values=cache,
        use_cache=cache is not None,
        logits_to_keep=torch.tensor(keep, device=device),
    )
    logp = torch.log_softmax(out.logits[0].double(), dim=-1)
    results = []
    for (_, _, conts), (last_row, starts) in zip(groups, layout, strict=True):
        per_group = []
        for cont, start in zip(conts, starts, strict=True):
            rows = [last_row, *range(start, start + len(cont) - 1)]
            targets = torch.tensor(list(cont), device=device)
            per_group.append(logp[rows].gather(-1, targets[:, None])[:, 0].tolist())
        results.append(per_group)
    return results


def score_packed(model: Any, prefix: Sequence[int], continuations: Sequence[Sequence[int]]) -> list[list[float]]:
    """One pass over the prompt with the continuations packed after it."""
    return _run_packed(model, [(prefix, 0, continuations)], None, 0)[0]


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def score_variants_packed(
    model: Any,
    prompts: Sequence[Sequence[int]],
    continuations: Sequence[Sequence[Sequence[int]]],
    chunk_tokens: int = 1024,
) -> list[list[list[float]]]:
    """Score prompt variants that share a prefix with ``prompts[0]`` (e.g. the prompt with one span
    deleted). The longest shared prefix is computed once; then the variants' remaining tokens are
    packed, many per forward pass, each seeing only its own share of the cached prefix. Packing
    matters on a CPU, where every extra pass costs a full read of the weights."""
    from transformers import DynamicCache

    base = prompts[0]
    shared = [min(_common_prefix(base, p), len(p) - 1) for p in prompts]
    top = max(shared)
    cache = None
    if top > 0:
        cache = DynamicCache(config=model.config)
        model(input_ids=torch.tensor([list(base[:top])], device=model.device), past_key_values=cache, use_cache=True)
    results: list[list[list[float]]] = [[] for _ in prompts]
    chunk: list[int] = []
    size = 0

    def flush() -> None:
        groups = [(prompts[i][shared[i] :], shared[i], continuations[i]) for i in chunk]
        for i, values in zip(chunk, _run_packed(model, groups, cache, top), strict=True):
            results[i] = values
        if cache is not None:
            excess = cache.get_seq_length() - top
            if excess > 0:
                cache.crop(-excess)  # a negative argument means "remove this many" in transformers 4 and 5
        chunk.clear()

    for i in range(len(prompts)):
        need = len(prompts[i]) - shared[i] + sum(len(c) - 1 for c in continuations[i])
        if chunk and size + need > chunk_tokens:
            flush()
            size = 0
        chunk.append(i)
        size += need
    flush()
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
    tokens, positions, mask, keep, layout = _pack([(prompt_ids, 0, continuations)], 0, device)
    last_row, starts = layout[0]
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
                rows = torch.tensor([last_row, *range(start, start + len(cont) - 1)], device=device)
                per_token.append(logp[rows, torch.tensor(list(cont), device=device)])
            values = [t.detach().tolist() for t in per_token]
            total = sum(w * t.sum() for w, t in zip(weights(values), per_token, strict=True))
            (grad,) = torch.autograd.grad(total, embeds)
    finally:
        for p in frozen:
            p.requires_grad_(True)
    saliency: list[float] = (grad[0] * embeds[0].detach()).sum(-1)[: len(prompt_ids)].tolist()
    return saliency, values
