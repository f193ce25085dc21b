#!/usr/bin/env bash
# The 5-fold fidelity table of the feedback models on MovieLens-100K (offline keyword route).
# Usage: benchmarks/eval_feedback_ml100k.sh [OUT.json]   (needs ../shared/data/ml-100k)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
data="${DATA:-$here/../shared/data}"
out="${1:-$here/benchmarks/results/feedback_ml100k.json}"
mkdir -p "$(dirname "$out")"
time recagent eval feedback --dataset ml100k --path "$data/ml-100k" \
    --items "$data/ml-100k-tmdb/movies_enriched.csv" --folds 1,2,3,4,5 --json "$out"
