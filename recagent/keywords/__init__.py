"""Item distillation: per item a category (D_cate) and keywords for liking (D_pos) and disliking (D_neg).

Two routes: `offline` (extractive, from the item's own text, ranked with the bundled MiniLM; the
default) and `llm` (the paper's T_obj / T_sub prompts through the language backend to any
OpenAI-compatible endpoint: `recagent prepare --route llm`, see `prepare.py`).
"""

from .base import ItemKeywords, assign_categories, frequency_filter
from .llm import LLMRouteError, ReplyFormatError, distil_with_llm, parse_objective, parse_subjective
from .offline import extract_offline

__all__ = ["ItemKeywords", "LLMRouteError", "ReplyFormatError", "assign_categories", "distil_with_llm", "extract_offline",
           "frequency_filter", "parse_objective", "parse_subjective"]
