"""The rerank stage: Muse.1, Muse.2 and the XGBoost baseline on Muse.0's candidates, tonight's
reranked lists (recs.reranked) and their evaluation.

Public surface: what the assets call, what later stages read (the reranked lists and Muse's
inference tables), and what the benchmarks time.
"""

from jobrec.rerank.stage import (
    MODELS,
    RERANK_KEEP,
    SETTINGS,
    XGBOOST_SCOPES,
    ComparedSeekers,
    RerankEvaluation,
    RerankSettings,
    compared_lists,
    compared_seekers,
    evaluate,
    hire_pairs,
    load_scorers,
    locality_order,
    muse_tables,
    reranked_lists,
    score_all,
    tonight_ads,
    tonight_lists,
    tonight_seekers,
    top_of,
    train_model,
    write_evaluation,
    write_reranked,
    xgboost_seekers,
)
from jobrec.rerank.training import RerankReport, candidate_recall, per_list_recall, train_reranker
from jobrec.rerank.xgboost_baseline import (
    XGBConfig,
    XGBReport,
    load_booster,
    pair_rows,
    predict_lists,
    train_xgb,
)

__all__ = [
    "MODELS",
    "RERANK_KEEP",
    "SETTINGS",
    "XGBOOST_SCOPES",
    "ComparedSeekers",
    "RerankEvaluation",
    "RerankReport",
    "RerankSettings",
    "XGBConfig",
    "XGBReport",
    "candidate_recall",
    "compared_lists",
    "compared_seekers",
    "evaluate",
    "hire_pairs",
    "load_booster",
    "load_scorers",
    "locality_order",
    "muse_tables",
    "pair_rows",
    "per_list_recall",
    "predict_lists",
    "reranked_lists",
    "score_all",
    "tonight_ads",
    "tonight_lists",
    "tonight_seekers",
    "top_of",
    "train_model",
    "train_reranker",
    "train_xgb",
    "write_evaluation",
    "write_reranked",
    "xgboost_seekers",
]
