"""A real OpenAI-compatible chat-completions server on 127.0.0.1, serving a local model with
transformers, for end-to-end tests of the openai-compatible rewriter (no network, no GPU).

Usage: python -m tests.servers.openai_compat_server MODEL [--max-new-tokens N]
MODEL is 'embedded' or a model directory. Prints {"port": N} on stdout once listening.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    args = parser.parse_args()

    import torch

    from evalrefine.backends.registry import load_backend
    from evalrefine.config import load_settings

    settings = load_settings(model={"name": args.model})
    backend: Any = load_backend(settings.model, settings.cache_dir)
    lock = threading.Lock()
    served = {"requests": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:  # keep the test output clean
            return

        def _send(self, status: int, payload: object) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": args.model, "object": "model"}]})
            elif self.path == "/stats":
                self._send(200, served)
            else:
                self._send(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            if self.path != "/v1/chat/completions":
                self._send(404, {"error": {"message": "not found"}})
                return
            request = json.loads(self.rfile.read(int(self.headers["content-length"])))
            messages = request["messages"]
            limit = min(int(request.get("max_tokens") or args.max_new_tokens), args.max_new_tokens)
            with lock:
                served["requests"] += 1
                ids = backend.tokenizer.apply_chat_template(
                    messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
                )["input_ids"]
                with torch.inference_mode():
                    out = backend.model.generate(
                        ids, max_new_tokens=limit, do_sample=False, pad_token_id=backend.tokenizer.eos_token_id
                    )
            new = out[0, ids.shape[1] :]
            text = backend.tokenizer.decode(new, skip_special_tokens=True)
            self._send(
                200,
                {
                    "id": f"chatcmpl-{served['requests']}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": request.get("model", args.model),
                    "choices": [
                        {"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": text}}
                    ],
                    "usage": {
                        "prompt_tokens": int(ids.shape[1]),
                        "completion_tokens": int(new.shape[0]),
                        "total_tokens": int(ids.shape[1] + new.shape[0]),
                    },
                },
            )

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sys.stdout.write(json.dumps({"port": server.server_address[1]}) + "\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
