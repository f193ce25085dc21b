"""Information-cocoon and social-influence measures, per step (metrics.csv) and per agent."""

from .measures import (
    Cascades,
    entropy_bits,
    gini,
    intra_list_diversity,
    jaccard_pairs,
    rarefied_coverage,
    rarefied_entropy_bits,
)
from .tracker import COLUMNS, StepMetrics, metrics_reporters

__all__ = ["COLUMNS", "Cascades", "StepMetrics", "entropy_bits", "gini", "intra_list_diversity", "jaccard_pairs",
           "metrics_reporters", "rarefied_coverage", "rarefied_entropy_bits"]
