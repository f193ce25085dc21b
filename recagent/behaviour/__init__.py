"""Browsing behaviour on a recommender page: the model the simulation uses, synthetic impression logs
drawn from it, reading real impression logs, and maximum-likelihood fitting of its parameters
(`recagent calibrate behaviour`)."""

from .fit import BehaviourFit, fit_behaviour
from .log import IMPRESSION_COLUMNS, read_impressions
from .model import browse_pages, position_factor, synthetic_log

__all__ = ["IMPRESSION_COLUMNS", "BehaviourFit", "browse_pages", "fit_behaviour", "position_factor",
           "read_impressions", "synthetic_log"]
