"""A scripted chat model for tests and dry runs (`llm.provider: fake`).

It is not a language model: by default it answers every prompt with a valid, deterministic JSON
reply of the shape the prompt asks for (`canned_reply`); a `script` can replace replies one call at
a time with fixed text or an exception, to test retries and degradation without a network.
"""

from __future__ import annotations

import json
import re
import threading
import zlib
from typing import Any, Callable

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult


def _detect(prompt: str) -> str:
    marker = "Reply with only a JSON object"  # prompts.with_format's last line
    tail = prompt[prompt.rfind(marker):] if marker in prompt else ""
    for key, kind in (('"turns"', "chat"), ('"scores"', "importance"), ('"insights"', "reflection"),
                      ('"profile"', "profile"), ('"rating"', "rating"), ('"feeling"', "feeling"),
                      ('"answer"', "interview"), ('"text"', "post")):
        if key in tail:
            return kind
    return "text"


def canned_reply(prompt: str) -> str:
    """A valid reply for whatever JSON shape `prompt` asks for, chosen by a hash of the prompt."""
    h = zlib.crc32(prompt.encode())
    kind = _detect(prompt)
    title = (re.findall(r'"([^"]{1,80})" \(', prompt) or ["it"])[0]
    if kind == "chat":
        wants = h % 3 != 0
        return json.dumps({"turns": [{"speaker": "me", "text": f"You have to see {title}."},
                                     {"speaker": "friend", "text": "I will!" if wants else "Not for me."}],
                           "mentioned_items": [title], "sentiment": "liked", "listener_wants_to_watch": wants})
    if kind == "importance":
        n = len(re.findall(r"^\d+\. ", prompt, re.M))
        return json.dumps({"scores": [1 + (h >> k) % 10 for k in range(n)]})
    if kind == "reflection":
        return json.dumps({"insights": [f"I keep coming back to stories like {title}."]})
    if kind == "profile":
        return json.dumps({"profile": f"Enjoys dramas and comedies; rates generously (v{h % 97}).",
                           "update": "more of the same"})
    if kind == "rating":
        return json.dumps({"rating": 1 + h % 5})
    if kind == "feeling":
        return json.dumps({"feeling": f"{title} stayed with me all evening.", "emotion": "moved"})
    if kind == "interview":
        return json.dumps({"answer": "I have watched a few good films lately and talked about them with friends."})
    if kind == "post":
        return json.dumps({"text": f"Just watched {title}. Worth it!", "sentiment": "liked"})
    return "ok"


Step = str | Exception | Callable[[str], str]


class ScriptedChatModel(BaseChatModel):
    """Answers from `script` (consumed in call order), then from `canned_reply`."""

    script: list[Any] = []
    prompts: list[str] = []
    _lock: Any = None

    def model_post_init(self, __context: Any) -> None:
        object.__setattr__(self, "_lock", threading.Lock())

    @property
    def _llm_type(self) -> str:
        return "recagent-fake"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        prompt = "\n".join(str(m.content) for m in messages)
        with self._lock:
            self.prompts.append(prompt)
            step = self.script.pop(0) if self.script else None
        if isinstance(step, Exception):
            raise step
        text = step(prompt) if callable(step) else step if step is not None else canned_reply(prompt)
        usage = {"input_tokens": len(prompt) // 4, "output_tokens": len(text) // 4,
                 "total_tokens": len(prompt) // 4 + len(text) // 4}
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text, usage_metadata=usage))])
