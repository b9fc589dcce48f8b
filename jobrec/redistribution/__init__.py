"""The redistribution stage: the night's OT policy chosen on the validation window, tonight's
redistributed lists (recs.recommendations) and the market metrics before and after.

Public surface: what the assets call.
"""

from jobrec.redistribution.plots import tradeoff_plot
from jobrec.redistribution.stage import (
    LIST_K,
    SETTINGS,
    Policy,
    RedistributionSettings,
    choose_policy,
    evaluate,
    recall_floor_ok,
    write_evaluation,
    write_recommendations,
)

__all__ = [
    "LIST_K",
    "SETTINGS",
    "Policy",
    "RedistributionSettings",
    "choose_policy",
    "evaluate",
    "recall_floor_ok",
    "tradeoff_plot",
    "write_evaluation",
    "write_recommendations",
]
