"""The language backend: a LangChain chat model behind bounded concurrency and accounting.

All social acts of a step go out as one concurrent wave (`speak_many`). A failing call never
kills a run: that act falls back to the offline text and the failure is counted.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from langchain_core.language_models.chat_models import BaseChatModel

from .offline import OfflineChatModel, speak
from .prompts import render
from .requests import SpeechRequest


@dataclass
class Usage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: int = 0
    offline_replies: int = 0  # replies written by the offline backend (not LLM calls)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"calls": self.calls, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "failures": self.failures,
                "offline_replies": self.offline_replies, "recent_errors": self.errors[-5:]}


class LanguageBackend:
    """Wraps a chat model; `label` is what users see ("offline" for the offline backend)."""

    def __init__(self, model: BaseChatModel, label: str, max_concurrency: int = 8):
        self.model = model
        self.label = label
        self.max_concurrency = max_concurrency
        self.usage = Usage()

    @property
    def is_offline(self) -> bool:
        return isinstance(self.model, OfflineChatModel)

    def speak_many(self, requests: list[SpeechRequest]) -> list[str]:
        """Texts for all requests, in order. One concurrent wave, at most max_concurrency in flight."""
        if not requests:
            return []
        if self.is_offline:
            # The offline model needs no I/O; calling its renderer directly skips LangChain's
            # per-call callback machinery, which would dominate a 10,000-agent step.
            self.usage.offline_replies += len(requests)
            return [speak(r) for r in requests]
        return asyncio.run(self._wave(requests))

    async def _wave(self, requests: list[SpeechRequest]) -> list[str]:
        semaphore = asyncio.Semaphore(self.max_concurrency)

        async def one(request: SpeechRequest) -> str:
            async with semaphore:
                try:
                    reply = await self.model.ainvoke(render(request))
                except Exception as e:  # noqa: BLE001 - any backend failure degrades to offline text
                    self.usage.failures += 1
                    self.usage.errors.append(f"{type(e).__name__}: {e}"[:200])
                    self.usage.offline_replies += 1
                    return speak(request)
            self.usage.calls += 1
            meta = getattr(reply, "usage_metadata", None) or {}
            self.usage.prompt_tokens += int(meta.get("input_tokens", 0))
            self.usage.completion_tokens += int(meta.get("output_tokens", 0))
            return str(reply.content)

        return list(await asyncio.gather(*(one(r) for r in requests)))


def make_backend(provider: str, max_concurrency: int = 8) -> LanguageBackend:
    if provider == "offline":
        return LanguageBackend(OfflineChatModel(), label="offline", max_concurrency=max_concurrency)
    raise ValueError(f"unknown language backend {provider!r}")
