"""A stand-in OpenAI-compatible LLM server for tests and benchmarks, on aiohttp's asyncio web server.

`LLMServer` serves POST /v1/chat/completions and GET /v1/models on 127.0.0.1 at a random port
from its own event loop in a thread; any other path answers 404, as a real server does. By default
it answers each prompt with `recagent.llm.fake.canned_reply` (valid JSON of the shape the prompt
asks for) and lists the models in `models` (`SERVED_MODELS` by default). With `api_key` set, a
request without `Authorization: Bearer <api_key>` gets 401 on every path. Faults are injected two ways:

- `script`: a list consumed one request at a time; each entry is a fault name or
  {"content": "..."} for a fixed reply;
- `fault_every=N` with `faults=[...]`: every Nth request (by arrival) gets the next fault in turn.

Fault names: "429", "500", "503", "401", "403", "404", "slow" (answers after `slow_seconds`, past the
client's timeout), "malformed" (a body that is not JSON), "truncated" (the reply cut mid-JSON,
finish_reason "length"), "wrong_format" (valid JSON of the wrong shape), "ok". A 429 or 503 carries
`Retry-After: <retry_after>` when `retry_after` is set.
`models_status` makes GET /v1/models answer that status instead of the list.
`max_in_flight` is the most chat requests it was answering at once (tests check concurrency limits).
Every chat request is recorded (headers and body) so tests can check keys, counts and prompts; the
model-list requests are recorded apart, in `model_requests`, so they never shift a script.

Why asyncio: a benchmark keeps 100 requests in flight against a server that answers each in 200 ms.
The thread-per-connection server this replaced (http.server) added about 50 ms to every answer at
that load (median 247 ms for a 200 ms delay, even to a bare aiohttp client; 100 threads taking
turns), so the client looked slower than it was; here `delay` is an `asyncio.sleep`, and 100
waiting requests cost the server nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time

from aiohttp import web

from recagent.llm.fake import canned_reply

SERVED_MODELS = ("gpt-4o-mini", "stand-in", "test-model")  # the names the test suite uses
STATUS_FAULTS = ("429", "500", "503", "401", "403", "404")


def _json(status: int, payload, headers: dict | None = None) -> web.Response:
    return web.Response(status=status, body=json.dumps(payload).encode(), content_type="application/json",
                        headers=headers)


def _error(status: int, message: str, headers: dict | None = None) -> web.Response:
    return _json(status, {"error": {"message": message, "type": "test", "code": str(status)}}, headers)


def _completion(body: dict, text: str, finish: str = "stop") -> web.Response:
    prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
    usage = {"prompt_tokens": prompt_chars // 4, "completion_tokens": max(1, len(text) // 4)}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return _json(200, {"id": "chatcmpl-test", "object": "chat.completion", "created": 0,
                       "model": body.get("model", "test"),
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                    "finish_reason": finish}], "usage": usage})


class LLMServer:
    def __init__(self, script: list | None = None, *, delay: float = 0.0, fault_every: int = 0,
                 faults: list[str] | None = None, slow_seconds: float = 2.0, responder=None,
                 models=SERVED_MODELS, api_key: str | None = None, retry_after: float | None = None,
                 models_status: int | None = None, port: int = 0):
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
        self.in_flight = self.max_in_flight = 0  # chat requests being answered now / at most at once
        self._lock = threading.Lock()  # tests read the lists from another thread
        # bound here, so the port is known (and taken) before the server starts
        self._socket = socket.create_server(("127.0.0.1", port), backlog=1024, reuse_port=False)
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="llm-server", daemon=True)
        self._runner: web.AppRunner | None = None

    def __enter__(self) -> LLMServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._route)
        # no grace for requests still sleeping at shutdown (a "slow" fault the client gave up on)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1, handle_signals=False)
        await self._runner.setup()
        await web.SockSite(self._runner, self._socket).start()

    async def _stop(self) -> None:
        await self._runner.cleanup()
        # requests still sleeping (a "slow" fault the client gave up on) end here, not with the loop
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    @property
    def count(self) -> int:
        return len(self.requests)

    def _next(self, body: dict) -> str | dict:
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

    def _authorised(self, request: web.Request) -> bool:
        return self.api_key is None or request.headers.get("Authorization") == f"Bearer {self.api_key}"

    async def _route(self, request: web.Request) -> web.Response:
        if request.method == "GET":
            return self._models(request)
        if request.method == "POST":
            return await self._chat(request)
        return _error(405, f"method {request.method} not allowed")

    def _models(self, request: web.Request) -> web.Response:
        with self._lock:
            self.model_requests.append({k.lower(): v for k, v in request.headers.items()})
        if request.path.rstrip("/") != "/v1/models":
            return _error(404, f"no route {request.path}")
        if not self._authorised(request):
            return _error(401, "Incorrect API key provided")
        if self.models_status is not None:
            return _error(self.models_status, f"injected {self.models_status}")
        return _json(200, {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "test"}
                                                      for m in self.models]})

    async def _chat(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read() or b"{}")
        if request.path != "/v1/chat/completions":
            return _error(404, f"no route {request.path}")
        if not self._authorised(request):
            return _error(401, "Incorrect API key provided")
        body["_headers"] = {k.lower(): v for k, v in request.headers.items()}
        body["_client_port"] = request.transport.get_extra_info("peername")[1]  # one port per connection
        step = self._next(body)
        self.in_flight += 1  # one event loop serves every request: no lock needed
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(body, step)
        finally:
            self.in_flight -= 1

    async def _answer(self, body: dict, step: str | dict) -> web.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        if isinstance(step, dict):
            return _completion(body, step["content"])
        if step in STATUS_FAULTS:
            wait = {"Retry-After": f"{self.retry_after:g}"} if self.retry_after is not None else None
            return _error(int(step), f"injected {step}", wait if step in ("429", "503") else None)
        if step == "slow":
            await asyncio.sleep(self.slow_seconds)
            return _completion(body, self.responder(prompt))
        if step == "malformed":
            return web.Response(status=200, body=b'{"id": "x", "choices": [{"message": {"content": "oops"',
                                content_type="application/json")
        if step == "truncated":
            text = self.responder(prompt)
            return _completion(body, text[: max(1, len(text) // 2)], finish="length")
        if step == "wrong_format":
            return _completion(body, json.dumps({"unexpected": "shape"}))
        return _completion(body, self.responder(prompt))


def main() -> None:
    """`python -m tests.llm_server --delay 0.2`: serve from this process (benchmarks run the server apart
    from the client, so the client's CPU is measured alone); prints the URL, then serves until killed."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each chat reply")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with LLMServer(delay=args.delay, port=args.port) as server:
        print(server.url, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
