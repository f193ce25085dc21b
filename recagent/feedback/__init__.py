"""User simulators that decide watch / like / rating without an LLM."""

from .base import LIKE_THRESHOLD, Exposure, FeedbackModel, predict_both
from .bias import BiasFeedback
from .registry import FEEDBACK_MODELS, FeedbackContext, make_feedback

__all__ = ["FEEDBACK_MODELS", "FeedbackContext", "LIKE_THRESHOLD", "BiasFeedback", "Exposure", "FeedbackModel",
           "make_feedback", "predict_both"]
