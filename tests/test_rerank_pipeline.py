"""Pure helpers of the rerank stage (jobrec.rerank_pipeline) that need no warehouse: each list's
best k (`top_of`), the seeded train / hold-out split of the window's seekers and the nightly
scoring order (`locality_order`, `tonight_ads`)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from jobrec import rerank_pipeline as rp
from jobrec.evaluation import Split
from jobrec.market import Events, Market
from jobrec.rerank import Lists


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
    top_ads, top_scores = rp.top_of(scores, lists_of(ads), 3)
    assert top_ads.tolist() == [[11, 13, 10], [22, -1, -1], [31, 33, 30]]
    assert top_scores.tolist() == [
        pytest.approx([0.9, 0.5, 0.1]),
        [pytest.approx(0.2), -np.inf, -np.inf],
        pytest.approx([0.7, 0.7, 0.3]),
    ]
    assert top_scores.dtype == np.float32
    # k beyond the list length: the whole list, -inf entries padded with -1
    top_ads, top_scores = rp.top_of(scores, lists_of(ads), 10)
    assert top_ads.shape == (3, 4) and top_ads[0].tolist() == [11, 13, 10, -1]
    assert top_ads[1].tolist() == [22, -1, -1, -1]
    assert np.isneginf(top_scores[0, 3]) and np.isneginf(top_scores[1, 1:]).all()
    top_ads, _ = rp.top_of(scores, lists_of(ads), 1)
    assert top_ads.tolist() == [[11], [22], [31]]


def window(n_seekers: int, seed: int = 0) -> Split:
    """A validation window where seekers 0, 2, 4, ... applied and every third one was hired
    (events out of order, repeated), so the window's seekers are the even ones and the multiples
    of 3."""
    rng = np.random.default_rng(seed)
    applied = np.repeat(np.arange(0, n_seekers, 2), 2)
    hired = np.arange(0, n_seekers, 3)

    def ev(who):
        who = rng.permutation(who)
        return Events(who, rng.integers(0, 50, len(who)), np.full(len(who), "2026-03-05", "M8[D]"))

    start, end = dt.date(2026, 3, 3), dt.date(2026, 3, 10)
    empty = Events(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, "M8[D]"))
    return Split(
        "validation",
        start,
        end,
        np.arange(50),
        {"applications": ev(applied), "hires": ev(hired)},
        empty,
        np.zeros(50),
    )


def window_seekers(n: int) -> np.ndarray:
    return np.array([u for u in range(n) if u % 2 == 0 or u % 3 == 0])


def test_split_seekers_is_seeded_disjoint_and_about_30_percent():
    split = window(3000)
    who = window_seekers(3000)  # 2,000 seekers
    train, held = rp.split_seekers(split, seed=0)
    assert len(np.intersect1d(train, held)) == 0
    np.testing.assert_array_equal(np.union1d(train, held), who)
    assert (np.diff(train) > 0).all() and (np.diff(held) > 0).all()  # sorted
    # 30% of 2,000: 600 +- 3 sd (20.5)
    assert 540 <= len(held) <= 660, len(held)
    again = rp.split_seekers(window(3000, seed=1), seed=0)  # same seekers, events reshuffled
    np.testing.assert_array_equal(again[0], train)
    np.testing.assert_array_equal(again[1], held)
    other_train, other_held = rp.split_seekers(split, seed=1)
    assert not np.array_equal(other_held, held)
    np.testing.assert_array_equal(np.union1d(other_train, other_held), who)


def test_split_seekers_caps(monkeypatch):
    split = window(3000)
    train, held = rp.split_seekers(split, seed=0)
    monkeypatch.setattr(rp, "MAX_TRAIN_SEEKERS", 100)
    monkeypatch.setattr(rp, "MAX_HOLDOUT_SEEKERS", 50)
    small_train, small_held = rp.split_seekers(split, seed=0)
    assert len(small_train) == 100 and len(small_held) == 50
    assert (np.diff(small_train) > 0).all() and (np.diff(small_held) > 0).all()
    # capping samples within each side: no seeker changes side
    assert np.isin(small_train, train).all() and np.isin(small_held, held).all()
    assert np.array_equal(rp.split_seekers(split, seed=0)[0], small_train)  # still seeded
    # caps above the sizes change nothing
    monkeypatch.setattr(rp, "MAX_TRAIN_SEEKERS", len(train))
    monkeypatch.setattr(rp, "MAX_HOLDOUT_SEEKERS", len(held))
    same_train, same_held = rp.split_seekers(split, seed=0)
    np.testing.assert_array_equal(same_train, train)
    np.testing.assert_array_equal(same_held, held)


def test_split_seekers_of_an_empty_window():
    train, held = rp.split_seekers(window(0), seed=0)
    assert len(train) == 0 and len(held) == 0


def test_locality_order_groups_seekers_by_desired_occupation():
    """Seekers of one occupation end up next to each other (occupations in sorted order, market
    rows ascending within one); every seeker exactly once."""
    seekers = pd.DataFrame({"desired_occupation": ["B2", "A1", "B2", "C3", "A1", "B2"]})
    market = SimpleNamespace(seekers=seekers)
    got = rp.locality_order(market, np.array([5, 0, 3, 1, 4, 2]))
    np.testing.assert_array_equal(got, [1, 4, 0, 2, 5, 3])
    np.testing.assert_array_equal(rp.locality_order(market, np.array([3, 2])), [2, 3])


def test_tonight_ads_are_the_active_ones_grouped_by_occupation():
    ads = pd.DataFrame(
        {
            "occupation": ["B2", "A1", "B2", "A1", "C3", "A1"],
            "active": [True, True, False, True, True, True],
        }
    )
    market = Market(dt.date(2026, 11, 20), pd.DataFrame(), ads, *[None] * 4)
    np.testing.assert_array_equal(rp.tonight_ads(market), [1, 3, 5, 0, 4])
