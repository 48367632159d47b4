"""The start-of-CoT monitor: chat templates and openers, the backend contract, batched and cached scoring."""
