"""Scoring through an OpenAI-compatible server: prompts per second at concurrency 1, 4 and 16.

Starts the test server (tests/servers/openai_compat_server.py: a real HTTP server process on
127.0.0.1 serving the embedded model with transformers, one forward pass per request) and scores
the same prompts through the remote backend at each concurrency, against the local backend.
On this 2-core CPU the server is compute-bound, so concurrency mostly hides HTTP and Python
latency; against a GPU serving engine (vLLM batches concurrent requests) it is what keeps the GPU busy.

Usage: python benchmarks/bench_server.py [--prompts N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import load_texts

from evalrefine.backends.registry import load_backend
from evalrefine.config import load_settings
from evalrefine.core.io.conversation import Conversation
from evalrefine.core.scoring.monitor import StartOfCotMonitor
from tests.servers.launch import serve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=32)
    args = parser.parse_args()
    rows = load_texts("deploy_prompts.jsonl")[:: 450 // args.prompts][: args.prompts]
    convs = [Conversation.from_user_text(r["text"]) for r in rows]
    settings = load_settings()
    sentences = list(settings.monitor.sentences)
    local = StartOfCotMonitor(load_backend(settings.model, settings.cache_dir), sentences)
    t0 = time.perf_counter()
    for c in convs:
        local.score(c)
    local_s = time.perf_counter() - t0
    print(f"{len(convs)} WildChat prompts, {len(sentences)} sentences each (one request per sentence), 2-core CPU")
    print(f"  local backend (packed, in process)   {len(convs) / local_s:6.2f} prompts/s")
    with serve() as url:
        for concurrency in (1, 4, 16):
            remote_settings = load_settings(
                model={"name": "embedded", "server": url, "tokenizer": "embedded", "concurrency": concurrency}
            )
            remote = StartOfCotMonitor(load_backend(remote_settings.model, remote_settings.cache_dir), sentences)
            remote.score_batch(convs[:2])  # warm-up
            t0 = time.perf_counter()
            remote.score_batch(convs)  # all prompts' requests in flight together, bounded by concurrency
            secs = time.perf_counter() - t0
            print(f"  server, concurrency {concurrency:<2}               {len(convs) / secs:6.2f} prompts/s")


if __name__ == "__main__":
    main()
