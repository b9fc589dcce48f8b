"""The send stage: the funnel models, per-segment thresholds (the greedy search of Jin et al.
beside the exhaustive grid) and tonight's send list (recs.to_send).

Public surface: what the assets call, and the threshold searches the benchmarks time.
"""

from jobrec.send.outbox import OutboxVersion, newest_complete, write_outbox
from jobrec.send.plots import segment_objective_plot
from jobrec.send.stage import (
    RECENT_SEND_DAYS,
    SENDS_PER_SEEKER,
    SETTINGS,
    SendSettings,
    Tuned,
    choose_thresholds,
    mailer_list,
    threshold_problems,
    train,
    write_thresholds,
    write_to_send,
)
from jobrec.send.thresholds import greedy_search, grid_search, tuning_tables

__all__ = [
    "OutboxVersion",
    "RECENT_SEND_DAYS",
    "SENDS_PER_SEEKER",
    "SETTINGS",
    "SendSettings",
    "Tuned",
    "choose_thresholds",
    "greedy_search",
    "grid_search",
    "mailer_list",
    "newest_complete",
    "segment_objective_plot",
    "threshold_problems",
    "train",
    "tuning_tables",
    "write_thresholds",
    "write_outbox",
    "write_to_send",
]
