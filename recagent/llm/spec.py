"""The scenario's `llm` block: provider, endpoints, limits, memory. It lives with the language
backends, which build from it, and the scenario model imports it from here (the other way round
closed an import cycle: scenario -> feedback registry -> llm_rating -> llm.backend -> scenario)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from ..params import Strict


class BudgetSpec(Strict):
    max_calls: int | None = Field(None, ge=0, description="stop the run cleanly after this many LLM calls")
    max_tokens: int | None = Field(None, ge=0, description="stop the run cleanly after this many tokens")


class RateLimitSpec(Strict):
    """Client-side limits, applied to each endpoint of `llm.base_url` on its own."""

    requests_per_minute: float | None = Field(None, gt=0, description="requests sent per minute, per endpoint")
    tokens_per_minute: float | None = Field(None, gt=0, description="prompt + completion tokens per minute, per endpoint (a request counts its prompt estimate + max_tokens until its usage is known)")


class MemorySpec(Strict):
    """RecAgent memory (see recagent/memory): sensory -> short-term -> long-term on chromadb."""

    enabled: bool | None = Field(None, description="default: on for LLM providers, off for offline")
    importance: Literal["heuristic", "llm"] = Field("heuristic", description="who scores observations 1-10")
    sensory_threshold: float = Field(0.62, ge=0, le=1, description="keep an observation when 0.09*importance > this")
    short_term_capacity: int = Field(10, ge=1)
    reinforce_similarity: float = Field(0.85, ge=0, le=1, description="cosine at which an observation reinforces")
    promote_after: int = Field(3, ge=1, description="reinforcements before promotion to long-term")
    retrieve_k: int = Field(5, ge=1, description="long-term memories per prompt")
    reflection_threshold: float = Field(30.0, gt=0, description="summed importance that triggers a reflection")
    forgetting: float = Field(0.05, ge=0, le=1, description="per-step forgetting scale (0 = never forget)")


class LLMSpec(Strict):
    provider: Literal["offline", "openai", "fake", "local"] = "offline"
    model: str = Field("gpt-4o-mini", description="model name sent to the endpoint; for provider local a .gguf path, smollm2-135m or gemma3-270m")
    threads: int | None = Field(None, ge=1, description="provider local: CPU threads for llama.cpp (default: half the cores, llama.cpp's own default)")
    structured_output: Literal["json_schema", "json_object", "off"] = Field("json_schema", description="how replies are constrained to their schema on an OpenAI-compatible endpoint: json_schema (OpenAI, vLLM), json_object with a schema (llama.cpp's server), off (prompt only); a server that refuses one gets the next")
    base_url: str | list[str] | None = Field(None, description="OpenAI-compatible endpoint(s); a list is load-balanced")
    api_key_env: str | None = Field(None, description="name of the environment variable holding the API key")
    temperature: float = Field(0.7, ge=0, le=2)
    max_tokens: int = Field(300, ge=1, description="completion tokens per call")
    max_concurrency: int = Field(8, ge=1, description="calls in flight on each endpoint of base_url")
    timeout: float = Field(30.0, gt=0, description="seconds per call")
    max_retries: int = Field(3, ge=0, description="retries on 429/5xx/timeouts/malformed replies")
    backoff: float = Field(1.0, ge=0, description="first retry delay in seconds, doubled each retry")
    cache: bool | Path = Field(True, description="prompt cache: true = <cache dir>/llm_cache.sqlite, or a file path")
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    feeling_share: float = Field(0.05, ge=0, le=1, description="share of watches followed by a feeling act")
    profiles: bool = Field(False, description="build Lusifer taste profiles with the LLM and use them as personas")
    memory: MemorySpec = Field(default_factory=MemorySpec)
    rate_limit: RateLimitSpec = Field(default_factory=RateLimitSpec, description="client-side limits, per endpoint (none by default)")
    max_fallback_share: float = Field(0.05, ge=0, le=1, description="a run whose LLM acts fell back to offline text more often than this ends 'degraded' (exit code 3)")
    preflight: bool = Field(True, description="GET {base_url}/models before the run: a dead, unauthorised or wrong endpoint, or an unserved model, stops it")

    @field_validator("base_url")
    @classmethod
    def _urls(cls, v):
        urls = [v] if isinstance(v, str) else (v or [])
        for url in urls:
            if not re.match(r"https?://", url):
                raise ValueError("expected an http(s):// URL")
        if isinstance(v, list) and not v:
            raise ValueError("expected at least one URL")
        return v

    def memory_enabled(self) -> bool:
        return self.provider != "offline" if self.memory.enabled is None else self.memory.enabled
