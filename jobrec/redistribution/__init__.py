"""The redistribution stage: the night's OT policy chosen on the validation window, tonight's
redistributed lists (recs.recommendations) and the market metrics before and after.

Public surface: what the assets call, and what the ReCon benchmark reuses (the validation
instance of any Muse.2, its trade-off curve, tonight's redistributed lists).
"""

from jobrec.redistribution.plots import tradeoff_plot
from jobrec.redistribution.stage import (
    LIST_K,
    SETTINGS,
    Instance,
    Policy,
    RedistributionSettings,
    choose_policy,
    evaluate,
    lists_for_tonight,
    recall_floor_ok,
    redistribute,
    tradeoff,
    validation_instance,
    write_evaluation,
    write_recommendations,
)

__all__ = [
    "LIST_K",
    "SETTINGS",
    "Instance",
    "Policy",
    "RedistributionSettings",
    "choose_policy",
    "evaluate",
    "lists_for_tonight",
    "recall_floor_ok",
    "redistribute",
    "tradeoff",
    "tradeoff_plot",
    "validation_instance",
    "write_evaluation",
    "write_recommendations",
]
