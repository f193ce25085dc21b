"""From a validated scenario to a ready model: dataset, feedback model, recommender, backend."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..cache import cache_dir
from ..data import Dataset, load_movielens_100k, load_ratings_csv, load_recagent_population, make_synthetic
from ..errors import DataError, UserError
from ..feedback import FeedbackContext, make_feedback
from ..llm import make_backend
from ..recommenders import RecommenderContext, make_pipeline
from ..scenario import Scenario
from .events import EventLog
from .model import RecSimModel


def load_dataset(scenario: Scenario) -> Dataset:
    spec = scenario.dataset
    try:
        if spec.kind == "synthetic":
            seed = scenario.seed if spec.seed is None else spec.seed
            return make_synthetic(spec.users, spec.items, spec.history_length, seed)
        if spec.kind == "movielens-100k":
            return load_movielens_100k(spec.path, fold=spec.fold, tmdb=spec.tmdb)
        if spec.kind == "recagent":
            return load_recagent_population(spec.path, spec.users_file, spec.relations_file,
                                            spec.history_length, seed=scenario.seed)
        return load_ratings_csv(spec.ratings, spec.items, dict(spec.columns), spec.implicit, spec.scale)
    except DataError:
        raise
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"could not read the dataset ({getattr(e, 'strerror', None) or 'not UTF-8 text'})",
                        getattr(e, "filename", None)) from None


def build_model(scenario: Scenario, dataset: Dataset, event_log: EventLog | None = None, *,
                preflight: bool = True, prepare_progress: Callable[[str, float], None] | None = None) -> RecSimModel:
    """`preflight=False` skips the LLM endpoint check (recagent/llm/preflight.py): a dry run makes no request.
    `prepare_progress(stage, fraction)` hears about a feedback model's one-time preparation for a new
    catalog (recagent/preparation.py prints it); a model loaded from the cache never calls it."""
    spec = scenario.feedback
    try:
        feedback = make_feedback(spec.model, FeedbackContext(scenario.seed, cache_dir(), dataset.name), **spec.params)
    except TypeError as e:
        raise UserError(f"field 'feedback.params': {e}") from None
    backend = make_backend(scenario.llm, cache_dir=cache_dir(), preflight=preflight)
    if hasattr(feedback, "attach_backend"):  # feedback models that call the LLM (llm_rating)
        feedback.attach_backend(backend)
    if prepare_progress is not None and hasattr(feedback, "progress"):  # models that prepare (the ensemble)
        feedback.progress = prepare_progress
    feedback.fit(dataset.catalog, dataset.interactions)
    if spec.calibration is not None:  # ratings of randomly shown items refit the shown correction (issue 12)
        from ..feedback.exposure import calibrate_from_file

        calibrate_from_file(feedback, spec.calibration, dataset)
    if spec.self_selection is not None:  # the self-selection prior pins the shown answers' like ratio (issue 25)
        from ..feedback.self_selection_prior import apply_self_selection

        apply_self_selection(feedback, spec.self_selection, dataset, scenario.seed)

    def recommender_factory(name: str, params: dict, rng: np.random.Generator, rerankers=()):
        """`rerankers`: (name, params) pairs or RerankerSpec objects, applied in order."""
        context = RecommenderContext(rng=rng, seed=scenario.seed, cache_dir=cache_dir())
        chain = [(r.name, r.params) if hasattr(r, "name") else tuple(r) for r in rerankers]
        try:
            return make_pipeline(name, params, chain, context)
        except TypeError as e:
            label = "+".join([name] + [n for n, _ in chain])
            raise UserError(f"recommender {label!r}: bad params: {e}") from None

    return RecSimModel(scenario, dataset, feedback=feedback, recommender_factory=recommender_factory,
                       backend=backend, event_log=event_log)
