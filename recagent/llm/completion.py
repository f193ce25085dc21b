"""One chat completion, as the backend needs it: the text, the tokens and why the reply ended.

For an OpenAI-compatible endpoint the request goes through the async OpenAI client that LangChain's
`ChatOpenAI` holds (`root_async_client`: our key, URL, timeout and HTTP client), posted as JSON and
read as JSON. LangChain's per-call machinery (callbacks, run managers, message objects) and the
SDK's request transform and response models cost about 0.9 ms of client CPU per call, more than
the HTTP exchange itself, and a wave of 10,000 acts pays it 10,000 times. The request body is the
one ChatOpenAI sends. Any other chat model (the scripted fake) is called through `ainvoke`.
Errors are the OpenAI client's own (`openai.APIStatusError` and the rest), as through ChatOpenAI.
"""

from __future__ import annotations

import json
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


async def complete(model, messages: list[BaseMessage]) -> Completion:
    client = getattr(model, "root_async_client", None)  # ChatOpenAI; duck-typed so langchain_openai stays unimported
    if client is not None:
        return await _post(model, client, messages)
    message = await model.ainvoke(messages)
    meta = getattr(message, "usage_metadata", None) or {}
    return Completion(str(message.content), int(meta.get("input_tokens", 0)), int(meta.get("output_tokens", 0)),
                      (getattr(message, "response_metadata", None) or {}).get("finish_reason"), bool(meta))


async def _post(model, client, messages: list[BaseMessage]) -> Completion:
    import httpx

    body = {"messages": [{"role": ROLES.get(m.type, "user"), "content": m.content} for m in messages],
            "model": model.model_name, "stream": False}
    if model.max_tokens is not None:
        body["max_completion_tokens"] = model.max_tokens
    if model.temperature is not None:
        body["temperature"] = model.temperature
    response = await client.post("/chat/completions", body=body, cast_to=httpx.Response)
    try:
        data = json.loads(response.content)
        choice = data["choices"][0]
        text = choice["message"]["content"] or ""
        usage = data.get("usage") or {}
        return Completion(str(text), int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0),
                          choice.get("finish_reason"), bool(usage))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise MalformedCompletion(f"not a chat completion: {response.content[:80]!r}") from None
