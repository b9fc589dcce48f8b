"""The send stage's verdict on the night's thresholds (jobrec.send_pipeline.threshold_problems):
hand-built rows, one problem at a time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jobrec.send import stage, thresholds

DELTAS = [f"delta_{k}" for k in thresholds.METRICS]


def tuned(rows: list[dict], segments=("A", "B")) -> stage.Tuned:
    frame = pd.DataFrame(rows)
    empty = thresholds.Tables(np.zeros((len(segments), 6, 1, 1, 1)), np.zeros((3, 1)))
    return stage.Tuned(frame, np.zeros((3, 1)), (0, 0, 0), empty, empty, list(segments), {})


def row(
    segment, method, improved=False, slo=True, deltas=(0.0, 0.0, 0.0, 0.0), held=0.0, objective=0.0
):
    return {
        "segment": segment,
        "method": method,
        "improved": improved,
        "slo_met": slo,
        **dict(zip(DELTAS, deltas, strict=True)),
        "holdout_objective": held,
        "objective": objective,
        "tuned_objective": objective,
    }


def test_defaults_kept_everywhere_is_fine():
    rows = [row(s, m) for s in "AB" for m in stage.METHODS]
    assert stage.threshold_problems(tuned(rows)) == []


def test_a_confirmed_move_is_fine_and_each_fault_is_named():
    up = (0.01, 0.02, 0.01, 0.005)
    ok = [
        row("A", "greedy", True, deltas=up, held=0.003, objective=0.011),
        row("A", "grid", True, deltas=up, held=0.003, objective=0.011),
        row("B", "greedy"),
        row("B", "grid"),
    ]
    assert stage.threshold_problems(tuned(ok)) == []
    # moved against the held-out week (the grid row is a reference: only the greedy is applied)
    bad = [dict(ok[0], holdout_objective=-0.01), *ok[1:]]
    assert "unconfirmed" in stage.threshold_problems(tuned(bad))[0]
    bad = [dict(ok[0], holdout_objective=float("nan")), *ok[1:]]
    assert "unconfirmed" in stage.threshold_problems(tuned(bad))[0]
    bad = [ok[0], dict(ok[1], holdout_objective=-0.01), *ok[2:]]
    assert stage.threshold_problems(tuned(bad)) == []
    # moved with a Δ ≤ 0, or without the SLOs
    bad = [dict(ok[0], delta_apply_rate=0.0), *ok[1:]]
    assert "Δ ≤ 0" in stage.threshold_problems(tuned(bad))[0]
    bad = [dict(ok[0], slo_met=False), *ok[1:]]
    assert "SLOs" in stage.threshold_problems(tuned(bad))[0]
    # a segment without its grid row; a greedy above the grid's optimum
    assert "without both rows" in stage.threshold_problems(tuned(ok[:3]))[0]
    bad = [dict(ok[0], tuned_objective=0.02), *ok[1:]]
    assert "above the grid" in stage.threshold_problems(tuned(bad))[0]
