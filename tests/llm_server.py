"""A stand-in OpenAI-compatible LLM server for tests and benchmarks (stdlib only).

`LLMServer` serves POST /v1/chat/completions on 127.0.0.1 at a random port from a thread. By
default it answers each prompt with `recagent.llm.fake.canned_reply` (valid JSON of the shape the
prompt asks for). Faults are injected two ways:

- `script`: a list consumed one request at a time; each entry is a fault name or
  {"content": "..."} for a fixed reply;
- `fault_every=N` with `faults=[...]`: every Nth request (by arrival) gets the next fault in turn.

Fault names: "429", "500", "503", "401", "slow" (answers after `slow_seconds`, past the client's
timeout), "malformed" (a body that is not JSON), "truncated" (the reply cut mid-JSON, finish_reason
"length"), "wrong_format" (valid JSON of the wrong shape), "ok".
Every request is recorded (headers and body) so tests can check keys, counts and prompts.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from recagent.llm.fake import canned_reply


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


class LLMServer:
    def __init__(self, script: list | None = None, *, delay: float = 0.0, fault_every: int = 0,
                 faults: list[str] | None = None, slow_seconds: float = 2.0, responder=None):
        self.script = list(script or [])
        self.delay, self.slow_seconds = delay, slow_seconds
        self.fault_every = fault_every
        self._faults = itertools.cycle(faults or ["429", "500", "slow", "malformed", "truncated", "wrong_format"])
        self.responder = responder or canned_reply
        self.requests: list[dict] = []
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

            def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                body["_headers"] = {k.lower(): v for k, v in self.headers.items()}
                step = server._next(body)
                if server.delay:
                    time.sleep(server.delay)
                prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
                if isinstance(step, dict):
                    return self._reply(body, step["content"])
                if step in ("429", "500", "503", "401"):
                    err = {"error": {"message": f"injected {step}", "type": "test", "code": step}}
                    return self._send(int(step), json.dumps(err).encode())
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
