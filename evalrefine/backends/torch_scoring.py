"""Forced-continuation scoring on a causal LM in torch: two exact strategies.

Both compute, for each continuation ``c`` of a shared prefix, ``log P(c_j | prefix, c_<j)``, and
match a naive full forward pass per continuation to ~1e-5 nats (tests/unit/test_monitor_tiny.py).

* ``packed`` (default): one forward pass over ``prefix + c1[:-1] + c2[:-1] + ...`` with a 4-D
  attention mask in which each continuation sees the prefix and its own earlier tokens only, and
  position ids that restart after the prefix for every continuation. On a CPU, a short second pass
  costs about as much as reading all the weights once (it is memory-bound), so packing the
  sentences into the prefix pass is what keeps P sentences at ~one forward pass. Logits are only
  computed at the positions that predict a forced token.
* ``cached``: prefill the prefix once, repeat its KV cache P times, then one right-padded batch of
  continuations. Needed where custom 4-D masks are not supported (e.g. flash-attention kernels).

Log-softmax is taken in float64: in float32 the log-sum-exp over a 49k-token vocabulary is biased
by about 1.5e-5 nats per token, which adds up across a sentence (measured on the embedded model).
"""

from __future__ import annotations

from collections.abc import Sequence
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


def score_packed(model: Any, prefix: Sequence[int], continuations: Sequence[Sequence[int]]) -> list[list[float]]:
    n = len(prefix)
    device = model.device
    tokens = list(prefix)
    positions = list(range(n))
    length = n + sum(len(c) - 1 for c in continuations)  # a sentence's last token is never an input
    mask = torch.zeros(length, length, dtype=torch.bool, device=device)
    mask[:n, :n] = torch.ones(n, n, dtype=torch.bool, device=device).tril()
    keep = [n - 1]  # position whose logits predict every continuation's first token
    starts = []
    offset = n
    for cont in continuations:
        k = len(cont) - 1
        tokens += cont[:-1]
        positions += range(n, n + k)
        mask[offset : offset + k, :n] = True
        mask[offset : offset + k, offset : offset + k] = torch.ones(k, k, dtype=torch.bool, device=device).tril()
        starts.append(len(keep))
        keep += range(offset, offset + k)
        offset += k
    out = model(
        input_ids=torch.tensor([tokens], device=device),
        position_ids=torch.tensor([positions], device=device),
        attention_mask=mask[None, None],
        use_cache=False,
        logits_to_keep=torch.tensor(keep, device=device),
    )
    logp = torch.log_softmax(out.logits[0].double(), dim=-1)
    result = []
    for cont, start in zip(continuations, starts, strict=True):
        rows = [0, *range(start, start + len(cont) - 1)]
        targets = torch.tensor(list(cont), device=device)
        result.append(logp[rows].gather(-1, targets[:, None])[:, 0].tolist())
    return result


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


def score_continuations(
    model: Any, prefix: Sequence[int], continuations: Sequence[Sequence[int]], strategy: Strategy | None = None
) -> list[list[float]]:
    """Score with ``strategy``, or the fastest one the model supports."""
    if not continuations:
        return []
    length = len(prefix) + sum(len(c) for c in continuations)
    chosen = strategy or ("packed" if supports_packed(model, length) else "cached")
    with torch.inference_mode():
        if chosen == "packed":
            return score_packed(model, prefix, continuations)
        return score_cached(model, prefix, continuations)
