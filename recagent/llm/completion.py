"""One chat completion, as the backend needs it: the text, the tokens and why the reply ended.

For an OpenAI-compatible endpoint (LangChain's `ChatOpenAI`) the request is posted by a `ChatPoster`:
one aiohttp session per endpoint, with as many kept-alive connections as calls in flight, the
request body ChatOpenAI sends, the key, URL and timeout ChatOpenAI holds. The layers above the
socket cost more client CPU than the exchange itself and a wave of 10,000 acts pays them 10,000
times: LangChain's per-call machinery (callbacks, run managers, message objects) about 0.9 ms, and
the OpenAI SDK's request pipeline (request options, httpx request and response objects over the
aiohttp transport) about 0.5 ms, with answers coming back up to a whole round late at 100 in flight
(`docs/llm.md`, "Large waves"). Failures raise the OpenAI SDK's own exceptions
(`openai.RateLimitError`, `openai.APITimeoutError`, ...: status code, message and headers, so
Retry-After reads the same), built from the reply the way the SDK builds them.
Any other chat model (the scripted fake) is called through LangChain's `ainvoke`.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from dataclasses import dataclass

from langchain_core.messages import BaseMessage

ROLES = {"system": "system", "human": "user", "ai": "assistant"}


@dataclass(slots=True)
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    has_usage: bool = False  # the endpoint reported its token counts


class MalformedCompletion(Exception):
    """The endpoint answered 200 with a body that is not a chat completion (retried like a 5xx)."""


def parse_completion(content: bytes) -> Completion:
    try:
        data = json.loads(content)
        choice = data["choices"][0]
        text = choice["message"]["content"] or ""
        usage = data.get("usage") or {}
        return Completion(str(text), int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0),
                          choice.get("finish_reason"), bool(usage))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise MalformedCompletion(f"not a chat completion: {content[:80]!r}") from None


async def invoke(model, messages: list[BaseMessage]) -> Completion:
    """A completion from any LangChain chat model (the path for models that are not ChatOpenAI)."""
    message = await model.ainvoke(messages)
    meta = getattr(message, "usage_metadata", None) or {}
    return Completion(str(message.content), int(meta.get("input_tokens", 0)), int(meta.get("output_tokens", 0)),
                      (getattr(message, "response_metadata", None) or {}).get("finish_reason"), bool(meta))


def status_error(status: int, headers, content: bytes, url: str):
    """The OpenAI SDK's exception for an HTTP error reply, with the SDK's message ("Error code: 429 - {...}")."""
    import httpx
    import openai

    response = httpx.Response(status, headers=headers, content=content, request=httpx.Request("POST", url))
    try:
        body = json.loads(content)
    except ValueError:
        body = content.decode(errors="replace")
    error = body.get("error", body) if isinstance(body, dict) else body
    kind = {400: openai.BadRequestError, 401: openai.AuthenticationError, 403: openai.PermissionDeniedError,
            404: openai.NotFoundError, 409: openai.ConflictError, 422: openai.UnprocessableEntityError,
            429: openai.RateLimitError}.get(status, openai.InternalServerError if status >= 500 else openai.APIStatusError)
    return kind(f"Error code: {status} - {body}", response=response, body=error)


def env_proxy(url: str) -> str | None:
    """The proxy that HTTP(S)_PROXY and NO_PROXY give `url`, as the OpenAI SDK's client and the preflight
    read them. Read once per endpoint: aiohttp's `trust_env` reads the environment again for every
    request, 0.1-0.3 ms of client CPU per call."""
    parts = urllib.parse.urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme)


class ChatPoster:
    """Posts chat completions to one OpenAI-compatible endpoint, as the `ChatOpenAI` it is built from would."""

    # how replies are constrained to their schema, strongest first; a server that refuses one (400/422)
    # gets the next: json_schema (OpenAI, vLLM), json_object + schema (llama.cpp's server), nothing
    FORMATS = ("json_schema", "json_object", "off")

    def __init__(self, model, connections: int, structured_output: str = "json_schema"):
        self.model = model
        self.structured = structured_output
        client = model.root_async_client  # the SDK's own resolution of URL, key, headers and timeout
        self.url = str(client.base_url).rstrip("/") + "/chat/completions"
        self.headers = {k: v for k, v in {**client.default_headers, **client.auth_headers}.items()
                        if isinstance(v, str)}  # the SDK marks headers it leaves out with an Omit object
        self.connections = connections
        timeout = client.timeout
        self.timeout = float(timeout) if isinstance(timeout, (int, float)) else None
        self._session = None  # created on the event loop that uses it

    def _body(self, messages: list[BaseMessage], schema=None, structured: str = "off") -> bytes:
        body = {"messages": [{"role": ROLES.get(m.type, "user"), "content": m.content} for m in messages],
                "model": self.model.model_name, "stream": False}
        if self.model.max_tokens is not None:
            # under both names: OpenAI reads max_completion_tokens, llama.cpp's and older servers only
            # max_tokens; a server that reads neither would run on to its context limit
            body["max_completion_tokens"] = body["max_tokens"] = self.model.max_tokens
        if schema is not None and structured == "json_schema":
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": schema.__name__, "schema": schema.model_json_schema()}}
        elif schema is not None and structured == "json_object":
            body["response_format"] = {"type": "json_object", "schema": schema.model_json_schema()}
        if self.model.temperature is not None:
            body["temperature"] = self.model.temperature
        return json.dumps(body).encode()

    def _open(self):
        import aiohttp

        # keep-alive connections, one per call in flight: a wave never reconnects
        connector = aiohttp.TCPConnector(limit=self.connections, limit_per_host=0, keepalive_timeout=30)
        self._session = aiohttp.ClientSession(connector=connector, headers=self.headers, proxy=env_proxy(self.url),
                                              timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    async def complete(self, messages: list[BaseMessage], schema=None) -> Completion:
        while True:
            structured = self.structured
            try:
                return await self._post(self._body(messages, schema, structured))
            except Exception as e:
                # a refusal that names the response_format: the server does not support that one; step
                # down once (llama_cpp.server answers a json_schema with a 500 naming json_object)
                if (schema is None or structured == "off" or getattr(e, "status_code", None) not in (400, 422, 500)
                        or "response_format" not in str(e) and "json_schema" not in str(e)):
                    raise
                if self.structured == structured:
                    self.structured = self.FORMATS[self.FORMATS.index(structured) + 1]

    async def _post(self, data: bytes) -> Completion:
        import aiohttp
        import httpx
        import openai

        session = self._session or self._open()
        try:
            async with session.post(self.url, data=data) as response:
                content = await response.read()
                status, headers = response.status, response.headers
        except TimeoutError:
            raise openai.APITimeoutError(request=httpx.Request("POST", self.url)) from None
        except aiohttp.ClientError as e:
            raise openai.APIConnectionError(message=f"Connection error: {e}",
                                            request=httpx.Request("POST", self.url)) from e
        if status >= 400:
            raise status_error(status, list(headers.items()), content, self.url)
        return parse_completion(content)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
