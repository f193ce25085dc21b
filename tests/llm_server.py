"""A stand-in OpenAI-compatible LLM server for tests and benchmarks (stdlib only).

`LLMServer` serves POST /v1/chat/completions and GET /v1/models on 127.0.0.1 at a random port
from a thread; any other path answers 404, as a real server does. By default it answers each prompt
with `recagent.llm.fake.canned_reply` (valid JSON of the shape the prompt asks for) and lists the
models in `models` (`SERVED_MODELS` by default). With `api_key` set, a request without
`Authorization: Bearer <api_key>` gets 401 on every path. Faults are injected two ways:

- `script`: a list consumed one request at a time; each entry is a fault name or
  {"content": "..."} for a fixed reply;
- `fault_every=N` with `faults=[...]`: every Nth request (by arrival) gets the next fault in turn.

Fault names: "429", "500", "503", "401", "403", "404", "slow" (answers after `slow_seconds`, past the
client's timeout), "malformed" (a body that is not JSON), "truncated" (the reply cut mid-JSON,
finish_reason "length"), "wrong_format" (valid JSON of the wrong shape), "ok". A 429 or 503 carries
`Retry-After: <retry_after>` when `retry_after` is set.
`models_status` makes GET /v1/models answer that status instead of the list.
Every chat request is recorded (headers and body) so tests can check keys, counts and prompts; the
model-list requests are recorded apart, in `model_requests`, so they never shift a script.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from recagent.llm.fake import canned_reply

SERVED_MODELS = ("gpt-4o-mini", "stand-in", "test-model")  # the names the test suite uses


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


class LLMServer:
    def __init__(self, script: list | None = None, *, delay: float = 0.0, fault_every: int = 0,
                 faults: list[str] | None = None, slow_seconds: float = 2.0, responder=None,
                 models=SERVED_MODELS, api_key: str | None = None, retry_after: float | None = None,
                 models_status: int | None = None):
        self.script = list(script or [])
        self.delay, self.slow_seconds = delay, slow_seconds
        self.fault_every = fault_every
        self._faults = itertools.cycle(faults or ["429", "500", "slow", "malformed", "truncated", "wrong_format"])
        self.responder = responder or canned_reply
        self.models, self.api_key, self.retry_after, self.models_status = list(models), api_key, retry_after, models_status
        self.requests: list[dict] = []
        self.model_requests: list[dict] = []  # GET /v1/models: headers
        self.arrivals: list[float] = []  # time.monotonic() of each chat request, for rate tests
        self.outcomes: list[str] = []
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), self._handler())
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> "LLMServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def count(self) -> int:
        return len(self.requests)

    def _next(self, body: dict) -> str:
        with self._lock:
            self.requests.append(body)
            self.arrivals.append(time.monotonic())
            n = len(self.requests)
            if self.script:
                step = self.script.pop(0)
            elif self.fault_every and n % self.fault_every == 0:
                step = next(self._faults)
            else:
                step = "ok"
            self.outcomes.append(step if isinstance(step, str) else "content")
        return step

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def handle(self):  # a client that timed out and hung up is not an error here
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _send(self, status: int, body: bytes, content_type: str = "application/json",
                      headers: dict | None = None) -> None:
                try:
                    self.send_response(status)
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _error(self, status: int, message: str, headers: dict | None = None) -> None:
                err = {"error": {"message": message, "type": "test", "code": str(status)}}
                self._send(status, json.dumps(err).encode(), headers=headers)

            def _authorised(self) -> bool:
                if server.api_key is None or self.headers.get("Authorization") == f"Bearer {server.api_key}":
                    return True
                self._error(401, "Incorrect API key provided")
                return False

            def do_GET(self):  # noqa: N802 - http.server's naming
                with server._lock:
                    server.model_requests.append({k.lower(): v for k, v in self.headers.items()})
                if self.path.rstrip("/") != "/v1/models":
                    return self._error(404, f"no route {self.path}")
                if not self._authorised():
                    return
                if server.models_status is not None:
                    return self._error(server.models_status, f"injected {server.models_status}")
                listing = {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "test"}
                                                      for m in server.models]}
                self._send(200, json.dumps(listing).encode())

            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path != "/v1/chat/completions":
                    return self._error(404, f"no route {self.path}")
                if not self._authorised():
                    return
                body["_headers"] = {k.lower(): v for k, v in self.headers.items()}
                body["_client_port"] = self.client_address[1]  # one port per connection: tests count reuse
                step = server._next(body)
                if server.delay:
                    time.sleep(server.delay)
                prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
                if isinstance(step, dict):
                    return self._reply(body, step["content"])
                if step in ("429", "500", "503", "401", "403", "404"):
                    wait = {"Retry-After": f"{server.retry_after:g}"} if server.retry_after is not None else None
                    return self._error(int(step), f"injected {step}", wait if step in ("429", "503") else None)
                if step == "slow":
                    time.sleep(server.slow_seconds)
                    return self._reply(body, server.responder(prompt))
                if step == "malformed":
                    return self._send(200, b'{"id": "x", "choices": [{"message": {"content": "oops"')
                if step == "truncated":
                    text = server.responder(prompt)
                    return self._reply(body, text[: max(1, len(text) // 2)], finish="length")
                if step == "wrong_format":
                    return self._reply(body, json.dumps({"unexpected": "shape"}))
                return self._reply(body, server.responder(prompt))

            def _reply(self, body: dict, text: str, finish: str = "stop") -> None:
                prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
                usage = {"prompt_tokens": prompt_chars // 4, "completion_tokens": max(1, len(text) // 4)}
                usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
                payload = {"id": "chatcmpl-test", "object": "chat.completion", "created": 0,
                           "model": body.get("model", "test"),
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                        "finish_reason": finish}], "usage": usage}
                self._send(200, json.dumps(payload).encode())

        return Handler


def main() -> None:
    """`python -m tests.llm_server --delay 0.2`: serve from this process (benchmarks run the server apart
    from the client, so the client's CPU is measured alone); prints the URL, then serves until killed."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each chat reply")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = LLMServer(delay=args.delay)
    if args.port:
        server._httpd.server_close()
        server._httpd = _Server(("127.0.0.1", args.port), server._handler())
        server.url = f"http://127.0.0.1:{args.port}/v1"
    with server:
        print(server.url, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
