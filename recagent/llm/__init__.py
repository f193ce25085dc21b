"""Language backends for social and emotional acts (the offline one is the default)."""

from ..lazy import lazy_exports

__all__ = ["LanguageBackend", "OfflineChatModel", "PromptCache", "Reply", "ReplyFormatError", "ScriptedChatModel",
           "SpeechRequest", "Task", "Usage", "canned_reply", "make_backend", "parse_reply", "render", "speak"]
__getattr__ = lazy_exports(__name__, {
    **dict.fromkeys(["LanguageBackend", "Reply", "Task", "Usage", "make_backend"], ".backend"),
    "PromptCache": ".cache", "ScriptedChatModel": ".fake", "canned_reply": ".fake",
    "OfflineChatModel": ".offline", "speak": ".offline", "render": ".prompts", "SpeechRequest": ".requests",
    "ReplyFormatError": ".structured", "parse_reply": ".structured",
})
