"""From log-probabilities to a verdict: the joint score, deployment references, percentiles and validation."""
