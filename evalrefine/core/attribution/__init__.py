"""Which wording drives the eval-awareness score: span attribution with a faithfulness check.

Every method returns an :class:`~evalrefine.core.attribution.base.Attribution` whose span effects
are in the target's units (nats for one sentence's log P, logits for the fitted joint monitor):
the amount the span *raises* the score, so deleting a span with effect +2 lowers log P by about 2.
"""
