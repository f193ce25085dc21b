"""OpenAI-compatible endpoints through langchain-openai's ChatOpenAI.

OpenAI itself, vLLM, Ollama, llama.cpp's server and LM Studio all speak this protocol; point
`llm.base_url` at them. A list of URLs gives one ChatOpenAI per URL; the backend spreads calls
over them (`endpoints.py`: `max_concurrency` in flight on each, a retry to another one) and posts
them through `completion.ChatPoster`, built from each ChatOpenAI's URL, headers and timeout. The
ChatOpenAI objects stay the LangChain interface (`ainvoke` works, through `http_client` below). The
key comes from the environment variable named by `llm.api_key_env` and is only ever handed to the
clients.
"""

from __future__ import annotations

import os

from pydantic import SecretStr

from ..errors import UserError

LOCAL_PLACEHOLDER_KEY = "not-needed"  # local servers (vLLM, Ollama, llama.cpp) ignore the key


def api_key(spec) -> str:
    if spec.api_key_env:
        key = os.environ.get(spec.api_key_env)
        if not key:
            raise UserError(f"field 'llm.api_key_env': environment variable {spec.api_key_env} is not set")
        return key
    if spec.base_url is None:
        raise UserError("field 'llm.api_key_env': the OpenAI API needs a key; name the environment variable that "
                        "holds it (e.g. api_key_env: OPENAI_API_KEY), or set llm.base_url for a local server")
    return LOCAL_PLACEHOLDER_KEY


def http_client(spec):
    """The async HTTP client of one endpoint's ChatOpenAI (LangChain's `ainvoke`; the backend's waves
    post through `completion.ChatPoster` instead): httpx's interface over aiohttp's transport.

    It is what the OpenAI SDK ships as DefaultAioHttpClient (package httpx-aiohttp): httpcore's own
    pool rescans every connection and waiter on each request, which cost 2-5 ms of CPU per call at
    100 calls in flight; aiohttp's costs a fraction of that. As many connections as calls in
    flight, all kept alive, so a wave reuses them instead of reconnecting.
    """
    import asyncio

    import aiohttp
    import httpx
    from httpx_aiohttp import AiohttpTransport

    class Transport(AiohttpTransport):
        async def handle_async_request(self, request):
            try:
                return await super().handle_async_request(request)
            except httpx.ConnectTimeout as e:
                # httpx-aiohttp maps every aiohttp connection error to ConnectTimeout: a refused or
                # dropped connection must not read "Request timed out" in the run's errors
                if isinstance(e.__cause__, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
                    raise
                raise httpx.ConnectError(str(e), request=request) from e.__cause__

    limits = httpx.Limits(max_connections=spec.max_concurrency, max_keepalive_connections=spec.max_concurrency)
    return httpx.AsyncClient(timeout=spec.timeout, transport=Transport(limits=limits))


def openai_models(spec, key: str) -> list:
    from langchain_openai import ChatOpenAI

    urls = spec.base_url if isinstance(spec.base_url, list) else [spec.base_url]
    # One HTTP client per endpoint: langchain-openai otherwise shares a process-wide async client,
    # which breaks once the event loop it was first used on is closed (a second run, an interview).
    return [ChatOpenAI(model=spec.model, base_url=url, api_key=SecretStr(key), temperature=spec.temperature,
                       max_tokens=spec.max_tokens, timeout=spec.timeout, max_retries=0,
                       http_async_client=http_client(spec))
            for url in urls]
