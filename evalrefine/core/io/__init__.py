"""Reading and writing prompts: conversations, prompt sets, JSONL, and writing a prompt back in its own format."""
