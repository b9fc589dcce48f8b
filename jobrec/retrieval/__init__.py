"""The retrieval stage: the feature space, Muse.0 (two towers), the night's shared inputs, the
Muse.0 embeddings, the top-1,000 candidates and their evaluation beside popularity and the oracle.

Public surface: what the assets call, what later stages read (the night's inputs) and what the
benchmarks time (Muse.0's training, the exact top-k).
"""

from jobrec.retrieval.night_inputs import (
    EntityInputs,
    NightInputs,
    load_market,
    load_night_inputs,
    load_space,
    space_facts,
    tower_inputs,
)
from jobrec.retrieval.stage import (
    CANDIDATES_K,
    EMBEDDING_SIDES,
    SETTINGS,
    RetrievalEvaluation,
    RetrievalSettings,
    evaluate,
    fit_features,
    load_muse0,
    train,
    warm_start_source,
    write_candidates,
    write_embeddings,
    write_evaluation,
    write_night_inputs,
    write_warm_start_facts,
)
from jobrec.retrieval.topk import block_rows, exact_topk
from jobrec.retrieval.two_tower import (
    ApplicationHistory,
    Muse0Config,
    TowerInputs,
    embed,
    train_muse0,
    training_pairs,
    validation_set,
    with_history,
)

__all__ = [
    "ApplicationHistory",
    "Muse0Config",
    "TowerInputs",
    "block_rows",
    "embed",
    "exact_topk",
    "tower_inputs",
    "train_muse0",
    "training_pairs",
    "validation_set",
    "with_history",
    "CANDIDATES_K",
    "EMBEDDING_SIDES",
    "SETTINGS",
    "EntityInputs",
    "NightInputs",
    "RetrievalEvaluation",
    "RetrievalSettings",
    "evaluate",
    "fit_features",
    "load_market",
    "load_muse0",
    "load_night_inputs",
    "load_space",
    "space_facts",
    "warm_start_source",
    "write_warm_start_facts",
    "train",
    "write_candidates",
    "write_embeddings",
    "write_evaluation",
    "write_night_inputs",
]
