"""Pure helpers of the rerank stage (jobrec.rerank) that need no warehouse: each list's best k
(`top_of`), the nightly scoring order (`locality_order`, `tonight_ads`) and the seekers XGBoost
reranks (`compared_seekers`, `xgboost_seekers`)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from jobrec import rerank
from jobrec.data.market import Events, Market
from jobrec.evaluation.offline import Split, oracle_sample
from jobrec.reranker_model import Lists


def lists_of(ads: np.ndarray) -> Lists:
    g, k = ads.shape
    return Lists(
        np.arange(g),
        ads,
        np.zeros((g, k, 1), np.float32),
        np.zeros((g, k), bool),
        np.zeros((g, k), bool),
    )


def test_top_of_orders_cuts_and_pads():
    ads = np.array([[10, 11, -1, 13], [20, 21, 22, -1], [30, 31, 32, 33]])
    scores = np.array(
        [
            [0.1, 0.9, -np.inf, 0.5],
            [-np.inf, -np.inf, 0.2, -np.inf],  # one scored candidate
            [0.3, 0.7, 0.3, 0.7],  # ties: the earlier candidate first
        ],
        dtype=np.float32,
    )
    top_ads, top_scores = rerank.top_of(scores, lists_of(ads), 3)
    assert top_ads.tolist() == [[11, 13, 10], [22, -1, -1], [31, 33, 30]]
    assert top_scores.tolist() == [
        pytest.approx([0.9, 0.5, 0.1]),
        [pytest.approx(0.2), -np.inf, -np.inf],
        pytest.approx([0.7, 0.7, 0.3]),
    ]
    assert top_scores.dtype == np.float32
    # k beyond the list length: the whole list, -inf entries padded with -1
    top_ads, top_scores = rerank.top_of(scores, lists_of(ads), 10)
    assert top_ads.shape == (3, 4) and top_ads[0].tolist() == [11, 13, 10, -1]
    assert top_ads[1].tolist() == [22, -1, -1, -1]
    assert np.isneginf(top_scores[0, 3]) and np.isneginf(top_scores[1, 1:]).all()
    top_ads, _ = rerank.top_of(scores, lists_of(ads), 1)
    assert top_ads.tolist() == [[11], [22], [31]]


def test_locality_order_groups_seekers_by_desired_occupation():
    """Seekers of one occupation end up next to each other (occupations in sorted order, market
    rows ascending within one); every seeker exactly once."""
    seekers = pd.DataFrame({"desired_occupation": ["B2", "A1", "B2", "C3", "A1", "B2"]})
    market = SimpleNamespace(seekers=seekers)
    got = rerank.locality_order(market, np.array([5, 0, 3, 1, 4, 2]))
    np.testing.assert_array_equal(got, [1, 4, 0, 2, 5, 3])
    np.testing.assert_array_equal(rerank.locality_order(market, np.array([3, 2])), [2, 3])


def test_tonight_ads_are_the_active_ones_grouped_by_occupation():
    ads = pd.DataFrame(
        {
            "occupation": ["B2", "A1", "B2", "A1", "C3", "A1"],
            "active": [True, True, False, True, True, True],
        }
    )
    market = Market(dt.date(2026, 11, 20), pd.DataFrame(), ads, *[None] * 4)
    np.testing.assert_array_equal(rerank.tonight_ads(market), [1, 3, 5, 0, 4])


def split_of(name: str, apps: list[int], hires: list[int]) -> Split:
    """A split whose relevant events are by these seekers (market rows); ads and days unused."""

    def events(seekers):
        n = len(seekers)
        return Events(np.array(seekers), np.zeros(n, int), np.zeros(n, "datetime64[D]"))

    d = dt.date(2026, 11, 20)
    relevant = {"applications": events(apps), "hires": events(hires)}
    return Split(name, d, d, np.arange(3), relevant, events([]), np.zeros(3))


def test_the_evaluation_compares_on_the_forward_seekers_and_their_oracle_sample():
    """The evaluation reads tonight's lists of the forward window's seekers with applications
    or hires (every one: fewer than the sample's limit), the oracle sample among them; the
    validation split needs none of tonight's lists."""
    validation = split_of("validation", apps=[0, 1], hires=[1])
    forward = split_of("forward", apps=[7, 3, 3], hires=[5, 3])
    compared = rerank.compared_seekers([validation, forward])
    np.testing.assert_array_equal(compared.forward, [3, 5, 7])
    np.testing.assert_array_equal(compared.oracle, [0, 1, 2])  # under 300: every one
    # no forward window (tonight's own night): nobody, the oracle sample included
    alone = rerank.compared_seekers([validation])
    assert len(alone.forward) == len(alone.oracle) == 0
    many = split_of("forward", apps=list(range(0, 800, 2)), hires=[])
    compared = rerank.compared_seekers([validation, many])
    np.testing.assert_array_equal(compared.forward, np.arange(0, 800, 2))
    np.testing.assert_array_equal(compared.oracle, oracle_sample(400))
    assert len(compared.oracle) == 300 and compared.oracle[-1] < 400


def test_xgboost_reranks_everyone_into_the_table_only_with_scope_all():
    tonight = np.array([5, 0, 3, 1, 4, 2])
    np.testing.assert_array_equal(rerank.xgboost_seekers(tonight, "all"), tonight)
    assert len(rerank.xgboost_seekers(tonight)) == 0  # the evaluation scores its own lists
    with pytest.raises(ValueError, match="unknown XGBoost scope"):
        rerank.xgboost_seekers(tonight, "everyone")
