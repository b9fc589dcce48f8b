"""Paired comparisons and slices (jobrec.evaluation.compare) on the hand-written market of
tests/evaluation/test_evaluation.py (validation window [2026-03-03, 2026-03-10), universe ads
[A0, A2, A3, A5]; forward window from D = 2026-03-10)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from jobrec.evaluation import compare
from jobrec.evaluation.metrics import per_seeker_scores, ranking_metrics
from jobrec.evaluation.offline import splits
from tests.evaluation.test_evaluation import hand_market

WHO = np.array([0, 1, 2])  # S0, S1, S2: the seekers with relevant applications


def test_holm_by_hand():
    assert compare.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert compare.holm([0.5]) == [0.5]
    assert compare.holm([0.2, 0.6]) == pytest.approx([0.4, 0.6])
    assert compare.holm([]) == []


def test_paired_summary_agrees_with_scipy_paired_t_test():
    rng = np.random.default_rng(0)
    b = rng.random(4_000)
    a = b + rng.normal(0.01, 0.2, 4_000)
    s = compare.paired_summary(a, b)
    t = scipy.stats.ttest_rel(a, b)
    assert s["difference"] / s["se"] == pytest.approx(t.statistic)
    assert s["p_value"] == pytest.approx(t.pvalue, abs=2e-4)  # normal against t(3999)
    assert s["ci_low"] == pytest.approx(s["difference"] - 1.959964 * s["se"])
    assert s["relative"] == pytest.approx(s["difference"] / b.mean())
    assert s["seekers"] == 4_000 and s["model_value"] == pytest.approx(a.mean())
    same = compare.paired_summary(b, b)
    assert same["difference"] == 0 and same["p_value"] == 1.0
    assert math.isnan(compare.paired_summary(a[:1], b[:1])["p_value"])


def test_per_seeker_scores_by_hand_and_their_means_are_the_ranking_metrics():
    # rows: relevant ads {1}, {2}, {0, 4}; lists best first
    lists = np.array([[1, 0], [0, 2], [3, 0]])
    rows, ads = np.array([0, 1, 2, 2]), np.array([1, 2, 0, 4])
    s = per_seeker_scores(lists, rows, ads, 5, 2)
    log3 = 1 / math.log2(3)
    np.testing.assert_allclose(s.recall, [1, 1, 0.5])
    np.testing.assert_allclose(s.ndcg, [1, log3, log3 / (1 + log3)])
    assert s.found.tolist() == [1, 1, 1] and s.has.all()
    (whole,) = ranking_metrics(lists, rows, ads, 5, (2,))
    assert whole.recall == pytest.approx(s.recall.mean())
    assert whole.ndcg == pytest.approx(s.ndcg.mean())


def test_slices_of_the_hand_market():
    market = hand_market(forward=True)
    validation, forward = splits(market)
    relevant = validation.relevant["applications"]
    got = {s.name: s for s in compare.slices(market, WHO, relevant, validation.start)}
    # before 2026-03-03 S0 applied to A0, A1; S1 to A0; S2 to A2, A5: all 1-2
    assert sorted(got) == [
        "ad_age:3d+",
        "ad_age:<3d",
        "all",
        "family:A",
        "family:K",
        "history:1-2",
    ]
    assert got["family:K"].rows.tolist() == [True, False, True]
    assert got["history:1-2"].rows.all()
    # A3 (posted 2026-03-05, after 2026-02-28) is the only fresh relevant ad: S1's
    fresh = got["ad_age:<3d"].relevant
    assert fresh.seeker.tolist() == [1] and fresh.ad.tolist() == [3]
    assert len(got["ad_age:3d+"].relevant) == len(relevant) - 1
    # before D: S0 applied to A0, A1, A2 (3), S1 to A0, A3 (2), S2 to A2, A5, A0, A1 (4)
    got = {
        s.name: s
        for s in compare.slices(market, WHO, forward.relevant["applications"], forward.start)
    }
    assert got["history:3+"].rows.tolist() == [True, False, True]
    assert got["history:1-2"].rows.tolist() == [False, True, False]
    assert got["ad_age:<3d"].relevant.ad.tolist() == [4]  # A4, posted at D
    # a seeker without a desired occupation is in family:unknown, not the family "N" of "None"
    market.seekers.loc[1, "desired_occupation"] = None
    got = {s.name for s in compare.slices(market, WHO, relevant, validation.start)}
    assert "family:unknown" in got and "family:N" not in got and "family:A" not in got


def test_compare_by_hand_on_the_validation_window():
    """Universe positions: A0 0, A2 1, A3 2, A5 3; S0 applied to A2 (1), S1 to A3 (2), S2 to
    A0 (0) and A1 (outside the universe: a miss for both)."""
    market = hand_market()
    (validation,) = splits(market)
    lists = {
        "muse2": np.array([[1, 0], [0, 2], [3, 0]]),  # hits at ranks 1, 2, 2
        "xgboost": np.array([[0, 1], [2, 0], [0, 3]]),  # hits at ranks 2, 1, 1
    }
    sl = compare.slices(market, WHO, validation.relevant["applications"], validation.start)
    metric, pairs = compare.compare(lists, validation.universe, WHO, sl, (1, 2), "xgboost")
    row = {(r["model"], r["slice"], r["k"]): r for r in metric}
    assert row["muse2", "all", 1]["recall"] == pytest.approx(1 / 3)
    assert row["xgboost", "all", 1]["recall"] == pytest.approx((0 + 1 + 0.5) / 3)
    assert row["muse2", "all", 2]["recall"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert row["muse2", "family:A", 2]["seekers"] == 1  # S1
    assert row["muse2", "family:A", 1]["recall"] == 0
    pair = {(r["slice"], r["k"], r["metric"]): r for r in pairs}
    assert {r["model"] for r in pairs} == {"muse2"}
    assert pair["all", 1, "recall"]["difference"] == pytest.approx((1 - 1 - 0.5) / 3)
    assert pair["all", 2, "recall"]["difference"] == 0
    log3 = 1 / math.log2(3)
    ndcg_diff = [1 - log3, log3 - 1, (log3 - 1) / (1 + log3)]  # S2: two relevant ads
    assert pair["all", 2, "ndcg"]["difference"] == pytest.approx(np.mean(ndcg_diff))
    assert pair["all", 2, "ndcg"]["se"] == pytest.approx(np.std(ndcg_diff, ddof=1) / math.sqrt(3))
    assert pair["family:K", 2, "ndcg"]["seekers"] == 2  # S0, S2
    # Holm across the slices other than all: never below the unadjusted p
    assert all(r["p_holm"] >= r["p_value"] for r in pairs if not math.isnan(r["p_value"]))
    assert pair["all", 1, "recall"]["p_holm"] == pair["all", 1, "recall"]["p_value"]
