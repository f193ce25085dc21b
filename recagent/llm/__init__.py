"""Language backends for social and emotional acts (the offline one is the default)."""

from .backend import LanguageBackend, Reply, Task, Usage, make_backend
from .cache import PromptCache
from .fake import ScriptedChatModel, canned_reply
from .offline import OfflineChatModel, speak
from .prompts import render
from .requests import SpeechRequest
from .structured import ReplyFormatError, parse_reply

__all__ = ["LanguageBackend", "OfflineChatModel", "PromptCache", "Reply", "ReplyFormatError", "ScriptedChatModel",
           "SpeechRequest", "Task", "Usage", "canned_reply", "make_backend", "parse_reply", "render", "speak"]
