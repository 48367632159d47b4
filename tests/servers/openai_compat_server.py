"""A real OpenAI-compatible server on 127.0.0.1, serving a local model with transformers, for
end-to-end tests (no network, no GPU): chat completions for the openai-compatible rewriter, and
completions with ``echo`` + ``logprobs`` (prompt log-probabilities, as vLLM and llama.cpp's server
return them) for the remote scoring backend. ``--no-prompt-logprobs`` imitates a server that
ignores ``echo`` (for the refusal test).

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
    parser.add_argument("--no-prompt-logprobs", action="store_true")
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

        def _completion(
            self, request: dict[str, Any], text: str, logprobs: object, finish: str, n_prompt: int, n_out: int
        ) -> None:
            """A ``text_completion`` response, as the OpenAI API shapes it."""
            self._send(
                200,
                {
                    "id": f"cmpl-{served['requests']}",
                    "object": "text_completion",
                    "created": int(time.time()),
                    "model": request.get("model", args.model),
                    "choices": [{"index": 0, "text": text, "logprobs": logprobs, "finish_reason": finish}],
                    "usage": {"prompt_tokens": n_prompt, "completion_tokens": n_out, "total_tokens": n_prompt + n_out},
                },
            )

        def sample(self, ids: list[int], request: dict[str, Any]) -> None:
            """Seeded sampling, as vLLM does with a per-request ``seed``: the same call, seed and
            weights as ``HFSampler`` with k = 1, so a test can compare the two exactly."""
            tok = backend.tokenizer
            with lock:
                served["requests"] += 1
                state = torch.random.get_rng_state()
                torch.manual_seed(int(request.get("seed") or 0))
                try:
                    with torch.inference_mode():
                        out = backend.model.generate(
                            torch.tensor([ids]),
                            attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                            do_sample=True,
                            temperature=float(request["temperature"]),
                            top_p=float(request.get("top_p") or 1.0),
                            top_k=0,
                            max_new_tokens=int(request["max_tokens"]),
                            num_return_sequences=1,
                            pad_token_id=tok.eos_token_id,
                        )
                finally:
                    torch.random.set_rng_state(state)
            new = out[0, len(ids) :].tolist()
            stop = next((i for i, t in enumerate(new) if t == tok.eos_token_id), len(new))
            finish = "stop" if stop < len(new) else "length"
            self._completion(request, tok.decode(new[:stop]), None, finish, len(ids), stop)

        def completions(self, request: dict[str, Any]) -> None:
            """Prompt log-probs in float32 (like a serving engine): entry i is log P(token i | tokens < i)."""
            prompt = request["prompt"]
            ids = (
                list(prompt) if isinstance(prompt, list) else backend.tokenizer.encode(prompt, add_special_tokens=False)
            )
            if not request.get("echo") and float(request.get("temperature", 1.0)) > 0:
                self.sample(ids, request)
                return
            with lock:
                served["requests"] += 1
                with torch.inference_mode():
                    logits = backend.model(input_ids=torch.tensor([ids])).logits[0].float()
                logp = torch.log_softmax(logits, dim=-1)
                nxt = int(logp[-1].argmax())
            token_logprobs: list[float | None] = [None] + [float(logp[i - 1, ids[i]]) for i in range(1, len(ids))]
            tokens = [backend.tokenizer.decode([i]) for i in ids]
            echoed = bool(request.get("echo")) and not args.no_prompt_logprobs
            max_tokens = int(request.get("max_tokens") or 0)
            if echoed:
                out_tokens, out_lp = tokens, token_logprobs
            else:
                out_tokens, out_lp = [], []
            if max_tokens > 0:
                out_tokens, out_lp = [*out_tokens, backend.tokenizer.decode([nxt])], [*out_lp, float(logp[-1, nxt])]
            offsets, pos = [], 0
            for t in out_tokens:
                offsets.append(pos)
                pos += len(t)
            logprobs = None
            if request.get("logprobs") is not None:
                logprobs = {
                    "tokens": out_tokens,
                    "token_logprobs": out_lp,
                    "top_logprobs": None,
                    "text_offset": offsets,
                }
            self._completion(request, "".join(out_tokens), logprobs, "length", len(ids), max_tokens)

        def do_POST(self) -> None:
            if self.path == "/v1/completions":
                self.completions(json.loads(self.rfile.read(int(self.headers["content-length"]))))
                return
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
