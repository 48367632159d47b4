"""Beyond the start of the CoT: sampled rollouts, verbalized awareness, verify and AUROC against K."""
