"""Forced-continuation scoring on a causal LM in torch: two exact strategies.

Both compute, for each continuation ``c`` of a shared prefix, ``log P(c_j | prefix, c_<j)``, and
match a naive full forward pass per continuation to ~1e-5 nats in float32 on every model family
(tests/unit/test_families.py).

* ``packed`` (default): one forward pass over ``prefix + c1[:-1] + c2[:-1] + ...`` with a 4-D
  attention mask in which each continuation sees the prefix and its own earlier tokens only, and
  position ids that restart after the prefix for every continuation. On a CPU, a short second pass
  costs about as much as reading all the weights once (it is memory-bound), so packing the
  sentences into the prefix pass is what keeps P sentences at ~one forward pass. Logits are only
  computed at the positions that predict a forced token.
* variants (:func:`score_variants`): many prompts that share a prefix with the first one, as
  attribution produces; the shared prefix's KV cache is computed once and cropped per variant.
* ``cached``: prefill the prefix once, repeat its KV cache P times, then one right-padded batch of
  continuations, with the masks transformers builds itself. Used where we cannot build the mask
  the kernel needs (flash-attention kernels take no 4-D mask; unknown layer types).

A custom 4-D mask reaches the attention kernel as it is (transformers' ``masking_utils`` returns
any 4-D mask untouched), so it must be in the kernel's own format: SDPA takes a boolean mask, but
eager and flex attention *add* the mask to the scores, so they get 0 / dtype-min. Sliding-window
layers get their own mask with the window applied on the logical positions (the model forwards of
Gemma-2/3, gpt-oss and Qwen2 take a ``{layer type: mask}`` dict; models whose layers all share one
window take a single mask); a window left out of the mask would let a token see too far back.

Log-softmax is taken in float64: in float32 the log-sum-exp over a 49k-token vocabulary is biased
by about 1.5e-5 nats per token, which adds up across a sentence (measured on the embedded model).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch

from evalrefine.core.scoring.protocols import shared_prefix

Strategy = Literal["packed", "cached"]
Masks = Any
"""A 4-D mask (tensor or flex ``BlockMask``), or a dict of them keyed by layer type."""

PACKED_IMPLEMENTATIONS = ("eager", "sdpa", "flex_attention")
"""Attention kernels that take a custom 4-D mask (flash attention only takes padding)."""


def attention_windows(config: Any) -> dict[str, int | None] | None:
    """Each attention layer type's window (``None``: full attention), or ``None`` when some layer's
    mask is not one we know how to build (chunked or linear attention, ...). ``layer_types`` is the
    authority where a config has it (Gemma-2/3, gpt-oss, Qwen2/3 — whose ``sliding_window`` may be
    set but unused); otherwise a ``sliding_window`` applies to every layer (Mistral, Phi-3)."""
    window = getattr(config, "sliding_window", None)
    types = getattr(config, "layer_types", None)
    if not types:
        return {"sliding_attention": int(window)} if window else {"full_attention": None}
    windows: dict[str, int | None] = {}
    for kind in types:
        if kind == "full_attention":
            windows[kind] = None
        elif kind == "sliding_attention" and window:
            windows[kind] = int(window)
        else:
            return None
    return windows


def supports_packed(model: Any, length: int = 0) -> bool:
    """Whether packed scoring is exact for ``model``: its attention kernel takes a custom 4-D mask
    and every layer's mask is one we can build. Sliding windows are built into the mask, so the
    sequence ``length`` no longer matters (kept for callers)."""
    del length
    impl = getattr(model.config, "_attn_implementation", None)
    return impl in PACKED_IMPLEMENTATIONS and attention_windows(model.config) is not None


@functools.cache
def _cache_kwarg(forward: Callable[..., Any]) -> str:
    """transformers 5 renames the forward's ``past_key_values`` argument to ``cache`` (the old name
    warns); older versions only know ``past_key_values``."""
    return "cache" if "cache" in inspect.signature(forward).parameters else "past_key_values"


def _with_cache(model: Any, cache: Any) -> dict[str, Any]:
    return {_cache_kwarg(type(model).forward): cache, "use_cache": cache is not None}


def _block_mask(allowed: torch.Tensor) -> Any:
    """flex attention's own mask format (a float mask would be added to the scores in a score_mod)."""
    from torch.nn.attention.flex_attention import create_block_mask

    def mask_mod(b: Any, h: Any, q: Any, kv: Any) -> Any:
        return allowed[q, kv]

    q_len, kv_len = allowed.shape
    return create_block_mask(mask_mod, B=None, H=None, Q_LEN=q_len, KV_LEN=kv_len, device=allowed.device)


def _layer_masks(model: Any, allowed: torch.Tensor, q_pos: torch.Tensor, kv_pos: torch.Tensor) -> Masks:
    """The 4-D mask(s) for ``model`` from the boolean ``allowed[query, key]``, in the format its
    attention kernel expects, with each layer type's sliding window applied on logical positions
    (transformers' rule: a query at position p sees keys at positions > p - window)."""
    windows = attention_windows(model.config)
    assert windows is not None, "supports_packed() was checked by the caller"
    impl = model.config._attn_implementation
    dtype = model.dtype
    masks: dict[str, Any] = {}
    built: dict[int | None, Any] = {}
    for kind, window in windows.items():
        if window not in built:
            a = allowed if window is None else allowed & (q_pos[:, None] - kv_pos[None, :] < window)
            if impl == "flex_attention":
                built[window] = _block_mask(a)
            elif impl == "sdpa":
                built[window] = a[None, None]
            else:  # eager adds the mask to the scores
                zero = torch.zeros((), dtype=dtype, device=a.device)
                built[window] = torch.where(a, zero, torch.finfo(dtype).min)[None, None]
        masks[kind] = built[window]
    if len(built) == 1:
        return next(iter(built.values()))
    return masks


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


def _forward_packed(
    model: Any,
    tokens: Sequence[int],
    positions: Sequence[int],
    allowed: torch.Tensor,
    keep: Sequence[int],
    cache: Any,
    cache_len: int,
    embeds: torch.Tensor | None = None,
) -> torch.Tensor:
    """One forward pass over a packed sequence; the log-probabilities (float64) of the ``keep`` rows.
    The cache (if any) holds the tokens at positions ``0 .. cache_len - 1``."""
    device = model.device
    q_pos = torch.tensor([list(positions)], device=device)
    kv_pos = torch.cat([torch.arange(cache_len, device=device), q_pos[0]])
    inputs = (
        {"inputs_embeds": embeds} if embeds is not None else {"input_ids": torch.tensor([list(tokens)], device=device)}
    )
    out = model(
        **inputs,
        position_ids=q_pos,
        attention_mask=_layer_masks(model, allowed, q_pos[0], kv_pos),
        logits_to_keep=torch.tensor(list(keep), device=device),
        **_with_cache(model, cache),
    )
    return torch.log_softmax(out.logits[0].double(), dim=-1)


def _run_packed(model: Any, groups: Sequence[Group], cache: Any, cache_len: int) -> list[list[list[float]]]:
    device = model.device
    tokens, positions, mask, keep, layout = _pack(groups, cache_len, device)
    logp = _forward_packed(model, tokens, positions, mask, keep, cache, cache_len)
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
    shared = [shared_prefix(base, p) for p in prompts]
    top = max(shared)
    cache = None
    if top > 0:
        # No config: every layer keeps all its keys (a sliding layer's cache would drop the ones a
        # packed variant's mask still needs), and the prefill uses our masks like the packed passes.
        cache = DynamicCache()
        _run_packed(model, [(base[:top], 0, [])], cache, 0)
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
    """Prefill, then one right-padded batch of continuations on the repeated cache; transformers
    builds every mask itself (sliding windows included), as it does when generating."""
    from transformers import DynamicCache

    device = model.device
    cache = DynamicCache(config=model.config)
    out = model(input_ids=torch.tensor([list(prefix)], device=device), logits_to_keep=1, **_with_cache(model, cache))
    first = torch.log_softmax(out.logits[0, -1].double(), dim=-1)
    result = [[float(first[c[0]])] for c in continuations]
    longest = max(len(c) for c in continuations)
    if longest == 1:
        return result
    cache.batch_repeat_interleave(len(continuations))
    # Right padding: with a causal mask, padding after a sentence never influences its own tokens.
    batch = torch.tensor([list(c[:-1]) + [0] * (longest - len(c)) for c in continuations], device=device)
    logp = torch.log_softmax(model(input_ids=batch, **_with_cache(model, cache)).logits.double(), dim=-1)
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
    for each prompt token: one forward and one backward pass over the packed sequence (or, where
    packing is not exact, one plain pass per continuation). Parameter gradients are switched off for
    the pass, so the backward pass computes activation gradients only (about half the work of a
    training step's backward). ``weights`` maps the continuations' per-token log-probabilities
    (computed in this same pass, so no extra forward pass is needed) to each continuation's weight;
    the log-probabilities are returned too."""
    packed = supports_packed(model)
    frozen = [p for p in model.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    try:
        with torch.enable_grad():
            per_token, embeds = (_saliency_packed if packed else _saliency_plain)(model, prompt_ids, continuations)
            values = [t.detach().tolist() for t in per_token]
            total = torch.stack([w * t.sum() for w, t in zip(weights(values), per_token, strict=True)]).sum()
            grads = torch.autograd.grad(total, embeds)
    finally:
        for p in frozen:
            p.requires_grad_(True)
    n = len(prompt_ids)
    contributions = [(g[0, :n] * e[0, :n].detach()).sum(-1) for g, e in zip(grads, embeds, strict=True)]
    saliency: list[float] = torch.stack(contributions).sum(0).tolist()
    return saliency, values


def _embed(model: Any, tokens: Sequence[int]) -> torch.Tensor:
    ids = torch.tensor([list(tokens)], device=model.device)
    embeds: torch.Tensor = model.get_input_embeddings()(ids).detach().requires_grad_(True)
    return embeds


def _saliency_packed(
    model: Any, prompt_ids: Sequence[int], continuations: Sequence[Sequence[int]]
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    device = model.device
    tokens, positions, mask, keep, layout = _pack([(prompt_ids, 0, continuations)], 0, device)
    last_row, starts = layout[0]
    embeds = _embed(model, tokens)
    logp = _forward_packed(model, tokens, positions, mask, keep, None, 0, embeds)
    per_token = []
    for cont, start in zip(continuations, starts, strict=True):
        rows = torch.tensor([last_row, *range(start, start + len(cont) - 1)], device=device)
        per_token.append(logp[rows, torch.tensor(list(cont), device=device)])
    return per_token, [embeds]


def _saliency_plain(
    model: Any, prompt_ids: Sequence[int], continuations: Sequence[Sequence[int]]
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """One full causal pass per continuation with the model's own masks (no custom mask needed)."""
    per_token, all_embeds = [], []
    for cont in continuations:
        embeds = _embed(model, [*prompt_ids, *cont[:-1]])
        out = model(inputs_embeds=embeds, use_cache=False, logits_to_keep=len(cont))
        logp = torch.log_softmax(out.logits[0].double(), dim=-1)
        rows = torch.arange(len(cont), device=model.device)
        per_token.append(logp[rows, torch.tensor(list(cont), device=model.device)])
        all_embeds.append(embeds)
    return per_token, all_embeds
