"""Language backends for social and emotional acts (the offline one is the default)."""

from .backend import LanguageBackend, Usage, make_backend
from .offline import OfflineChatModel, speak
from .prompts import render
from .requests import SpeechRequest

__all__ = ["LanguageBackend", "OfflineChatModel", "SpeechRequest", "Usage", "make_backend", "render", "speak"]
