"""A real OpenAI-compatible server on 127.0.0.1, serving a local model with transformers, for
end-to-end tests (no network, no GPU): chat completions for the openai-compatible rewriter, and
completions whose prompt log-probabilities have **vLLM's response shapes exactly** (vLLM 0.33.0,
``vllm/entrypoints/openai/completion/protocol.py`` and ``serving.py``, ``vllm/logprobs.py``):
``choices[i].logprobs`` is a ``CompletionLogProbs`` (with ``echo``, the prompt tokens come first, the
first with ``None``), and ``choices[i].prompt_logprobs`` is a list of ``None | {token_id_str:
{logprob, rank, decoded_token}}`` whose first key is the prompt token itself, then the top k.

Fault modes imitate real servers' failures, so the remote backend's checks can be tested against a
real process: a base URL ``http://127.0.0.1:PORT/fault/NAME/v1`` selects fault NAME for that
request, ``/fault/echo-only+shift/v1`` combines two (one process serves every fault). See ``FAULTS``.

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

FAULTS = {
    "echo-only": "no prompt_logprobs field: only the echo shape (a non-vLLM server returning vLLM's echo shape)",
    "no-prompt-logprobs": "ignores echo: log-probs of the generated token only (llama.cpp's server)",
    "shift": "drops the first prompt token's entry: n - 1 entries for n tokens",
    "offset": "gives each prompt token log P(token i | tokens <= i), the first included (llama-cpp-python #1983)",
    "extra-bos": "scores a BOS it added before the prompt: n + 1 entries",
    "nan": "one prompt log-prob is NaN",
    "positive": "one prompt log-prob is +2.5",
    "html": "a 200 HTML page",
    "invalid-json": "a 200 application/json body that is not JSON",
    "empty-choices": "a reply with no choices",
    "crash-echo": "500 Internal Server Error on a request with echo (llama-cpp-python 0.3.36 crashes)",
}
Faults = frozenset[str]
BAD_POSITION = 3  # where nan/positive put their bad value (every test prompt is longer)
TOP_K_CAP = 20  # logprobs/prompt_logprobs of -1 (all the vocabulary) are capped in this test server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    args = parser.parse_args()

    import torch

    from evalrefine.backends.registry import load_backend
    from evalrefine.config import load_settings

    settings = load_settings(model={"name": args.model, "engine": "transformers"})  # it generates, as vLLM would
    backend: Any = load_backend(settings.model, settings.cache_dir)
    lock = threading.Lock()
    served = {"requests": 0}

    def _entries(rows: Any, actual: list[int], k: int | None) -> list[dict[str, dict[str, Any]]]:
        """Positions as vLLM's ``append_logprobs_for_next_position`` builds them: the actual token
        first (with its vocabulary rank), then the top k with ranks 1..k; a repeated id keeps its
        first place (a dict). Ranks and strings are computed for all rows at once."""
        k = TOP_K_CAP if k is None or k < 0 else min(k, TOP_K_CAP)
        index = torch.tensor(actual).unsqueeze(1)
        chosen = rows.gather(1, index)
        ranks = ((rows > chosen).sum(dim=1) + 1).tolist()
        tops = torch.topk(rows, k, dim=1).indices.tolist() if k > 0 else [[] for _ in actual]
        out = []
        for row, token, rank, top in zip(rows, actual, ranks, tops, strict=True):
            ranked = [(token, rank), *((t, r) for r, t in enumerate(top, 1))]
            strings = backend.tokenizer.batch_decode([[t] for t, _ in ranked])
            out.append(
                {
                    str(t): {"logprob": float(row[t]), "rank": r, "decoded_token": text}
                    for (t, r), text in zip(ranked, strings, strict=True)
                }
            )
        return out

    def _prompt_entries(logp: Any, ids: list[int], k: int, faults: Faults) -> list[dict[str, Any] | None]:
        """``prompt_logprobs``: ``None`` for the first token, then log P(token i | tokens < i) (with faults)."""
        # "offset" is llama-cpp-python #1983: position i's own logits score token i, the first included
        offset = "offset" in faults
        steps: list[dict[str, Any] | None] = (
            [*_entries(logp, ids, k)] if offset else [None, *_entries(logp[:-1], ids[1:], k)]
        )
        if "shift" in faults:
            steps = steps[1:]
        if faults & {"nan", "positive"}:
            entry = steps[BAD_POSITION]
            assert entry is not None
            entry[str(ids[BAD_POSITION])]["logprob"] = float("nan") if "nan" in faults else 2.5
        return steps

    def _completion_logprobs(token_ids: list[int], steps: list[Any], k: int) -> dict[str, Any]:
        """vLLM's ``_create_completion_logprobs``: ``CompletionLogProbs`` over the given positions;
        a ``None`` step is decoded with no log-prob, values are clamped at -9999.0, and each
        ``top_logprobs`` holds a position's first ``k + 1`` candidates."""
        tokens: list[str] = []
        values: list[float | None] = []
        tops: list[dict[str, float] | None] = []
        offsets: list[int] = []
        for token_id, step in zip(token_ids, steps, strict=True):
            if step is None:
                token, value, top = backend.tokenizer.decode([token_id]), None, None
            else:
                mine = step.get(str(token_id)) or next(iter(step.values()))
                token, value = mine["decoded_token"], max(mine["logprob"], -9999.0)
                limit = None if k == -1 else max(k + 1, 0)
                top = {e["decoded_token"]: max(e["logprob"], -9999.0) for e in list(step.values())[:limit]}
            offsets.append(offsets[-1] + len(tokens[-1]) if tokens else 0)
            tokens.append(token)
            values.append(value)
            tops.append(top)
        return {"text_offset": offsets, "token_logprobs": values, "tokens": tokens, "top_logprobs": tops}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:  # keep the test output clean
            return

        def _send(self, status: int, payload: object) -> None:
            self._raw(status, json.dumps(payload).encode(), "application/json")

        def _raw(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _route(self) -> tuple[Faults, str]:
            """``/fault/A+B/v1/...`` -> ({A, B}, ``/v1/...``); any other path has no fault."""
            if self.path.startswith("/fault/"):
                names, _, rest = self.path.removeprefix("/fault/").partition("/")
                return frozenset(names.split("+")), "/" + rest
            return frozenset(), self.path

        def do_GET(self) -> None:
            _, path = self._route()
            if path == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": args.model, "object": "model"}]})
            elif path == "/stats":
                self._send(200, served)
            else:
                self._send(404, {"error": {"message": "not found"}})

        def _completion(
            self,
            request: dict[str, Any],
            choice: dict[str, Any],
            n_prompt: int,
            n_out: int,
            faults: Faults = frozenset(),
        ) -> None:
            """A ``CompletionResponse`` with one ``CompletionResponseChoice``, every field vLLM dumps."""
            choice = {
                "index": 0,
                "text": "",
                "logprobs": None,
                "finish_reason": "length",
                "stop_reason": None,
                "token_ids": None,
                "prompt_logprobs": None,
                "prompt_token_ids": None,
                "routed_experts": None,
                "weight_versions": None,
                **choice,
            }
            self._send(
                200,
                {
                    "id": f"cmpl-{served['requests']}",
                    "object": "text_completion",
                    "created": int(time.time()),
                    "model": request.get("model", args.model),
                    "choices": [] if "empty-choices" in faults else [choice],
                    "service_tier": None,
                    "system_fingerprint": None,
                    "usage": {
                        "prompt_tokens": n_prompt,
                        "total_tokens": n_prompt + n_out,
                        "completion_tokens": n_out,
                        "prompt_tokens_details": None,
                        "completion_tokens_details": None,
                    },
                    "kv_transfer_params": None,
                    "ec_transfer_params": None,
                    "metrics": None,
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
            self._completion(request, {"text": tok.decode(new[:stop]), "finish_reason": finish}, len(ids), stop)

        def completions(self, request: dict[str, Any], faults: Faults) -> None:
            """Greedy completion with vLLM's log-prob shapes, in float32 like a serving engine.

            As in vLLM's ``CompletionRequest.to_sampling_params``: prompt log-probs are computed when
            ``prompt_logprobs`` is set, or with ``echo`` at ``logprobs``' top k; ``echo`` puts them
            before the generated token's in ``logprobs``; ``prompt_logprobs`` are returned whenever
            computed. ``max_tokens: 0`` with ``echo`` returns the prompt only.
            """
            tok = backend.tokenizer
            prompt = request["prompt"]
            ids = list(prompt) if isinstance(prompt, list) else tok.encode(prompt, add_special_tokens=False)
            echo = bool(request.get("echo"))
            if not echo and float(request.get("temperature", 1.0)) > 0:
                self.sample(ids, request)
                return
            if echo and "crash-echo" in faults:
                self._raw(500, b"Internal Server Error", "text/plain; charset=utf-8")
                return
            if "html" in faults:
                self._raw(200, b"<!DOCTYPE html><html><body><h1>Sign in</h1></body></html>", "text/html")
                return
            if "invalid-json" in faults:
                self._raw(200, b'{"id": "cmpl-1", "choices": [', "application/json")
                return
            if "no-prompt-logprobs" in faults:
                echo = False
            scored = [tok.bos_token_id or 0, *ids] if "extra-bos" in faults else ids
            with lock:
                served["requests"] += 1
                with torch.inference_mode():
                    logits = backend.model(input_ids=torch.tensor([scored])).logits[0].float()
                logp = torch.log_softmax(logits, dim=-1)
            top_n = request.get("logprobs")
            want = request.get("prompt_logprobs") if not faults & {"echo-only", "no-prompt-logprobs"} else None
            if want is None and echo:
                want = top_n
            max_tokens = request.get("max_tokens", 16)  # only one token is ever generated here
            nxt = int(logp[-1].argmax())
            generated = [] if echo and max_tokens == 0 else [nxt]
            steps: list[dict[str, Any] | None]
            out_steps: list[dict[str, Any] | None] = [*_entries(logp[-1:], generated, top_n)] if generated else []
            prompt_steps = _prompt_entries(logp, scored, want, faults) if want is not None else None
            if echo:
                token_ids = [*scored, *generated]
                if "shift" in faults:
                    token_ids = token_ids[1:]
                steps = [*(prompt_steps or []), *out_steps]
                text = tok.decode(scored) + tok.decode(generated)
            else:
                token_ids, steps, text = generated, out_steps, tok.decode(generated)
            returned = None if "echo-only" in faults else prompt_steps  # vLLM returns them whenever computed
            choice: dict[str, Any] = {"text": text, "prompt_logprobs": returned}
            if top_n is not None:
                choice["logprobs"] = _completion_logprobs(token_ids, steps, top_n)
            self._completion(request, choice, len(scored), len(generated), faults)

        def do_POST(self) -> None:
            faults, path = self._route()
            if faults - FAULTS.keys():
                self._send(404, {"error": {"message": f"unknown fault {sorted(faults - FAULTS.keys())}"}})
                return
            if path == "/v1/completions":
                self.completions(json.loads(self.rfile.read(int(self.headers["content-length"]))), faults)
                return
            if path != "/v1/chat/completions":
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
