"""Offline evaluation on a hand-written market: splits, exclusions, popularity lists, recall.

The market (run date D = 2026-03-10, validation window [2026-03-03, 2026-03-10)):

  seekers  row  id  department  occupation (family)
           0    S0  75          K2204 (K)
           1    S1  75          A1101 (A)
           2    S2  69          K1111 (K)
           3    S3  13          M1234 (M)   no event in the window: only makes ads popular

  ads      row  id  department  occupation  posted      closed      active  open in the window
           0    A0  75          K2204       2026-02-01  -           yes     yes
           1    A1  75          K2204       2026-02-01  2026-02-20  no      no (closed before)
           2    A2  69          K3333       2026-02-15  -           yes     yes
           3    A3  75          A1101       2026-03-05  -           yes     yes
           4    A4  75          K2204       2026-03-10  -           yes     no (posted at D)
           5    A5  69          A2222       2026-02-01  2026-03-03  no      yes (its last day)

  validation universe = ads [0, 2, 3, 5] (positions 0..3); len(universe) = 4 marks "outside".
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from jobrec.data.market import Events, Market
from jobrec.evaluation.offline import (
    drop_excluded,
    metric_rows,
    paired_difference,
    pairs_in,
    per_seeker_recall,
    popularity_lists,
    positions,
    splits,
)

D = dt.date(2026, 3, 10)
START = dt.date(2026, 3, 3)


def events(rows: list[tuple[int, int, str]]) -> Events:
    rows = sorted(rows, key=lambda r: r[0])  # Events are sorted by seeker
    return Events(
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([r[1] for r in rows], dtype=np.int64),
        np.array([r[2] for r in rows], dtype="datetime64[D]"),
    )


def hand_market(forward: bool = False) -> Market:
    """The market of the module docstring (also used by tests/test_muse0.py)."""
    seekers = pd.DataFrame(
        {
            "jobseeker_id": ["S0", "S1", "S2", "S3"],
            "department": ["75", "75", "69", "13"],
            "desired_occupation": ["K2204", "A1101", "K1111", "M1234"],
            "active": [True, True, True, True],
        }
    )
    ads = pd.DataFrame(
        {
            "ad_id": ["A0", "A1", "A2", "A3", "A4", "A5"],
            "department": ["75", "75", "69", "75", "75", "69"],
            "occupation": ["K2204", "K2204", "K3333", "A1101", "K2204", "A2222"],
            "posted_on": pd.to_datetime(
                ["2026-02-01", "2026-02-01", "2026-02-15", "2026-03-05", "2026-03-10", "2026-02-01"]
            ),
            "closed_on": pd.to_datetime([None, "2026-02-20", None, None, None, "2026-03-03"]),
            "active": [True, False, True, True, True, False],
        }
    )
    applications = events(
        [
            # before the window (seen): popularity A0 2, A1 1, A2 1, A3 2, A5 4
            (0, 0, "2026-02-10"),
            (0, 1, "2026-02-12"),
            (1, 0, "2026-02-20"),
            (2, 2, "2026-02-25"),
            (2, 5, "2026-03-02"),  # the day before the window
            (3, 5, "2026-02-02"),
            (3, 5, "2026-02-03"),
            (3, 5, "2026-02-04"),
            (3, 3, "2026-03-01"),
            (3, 3, "2026-03-02"),
            # in the window (relevant)
            (0, 2, "2026-03-05"),
            (0, 2, "2026-03-07"),  # the same pair twice: one relevant ad
            (1, 3, "2026-03-06"),
            (2, 0, "2026-03-09"),  # the window's last day
            (2, 1, "2026-03-05"),  # an ad outside the universe: a miss for every model
        ]
    )
    hires = events(
        [
            (0, 0, "2026-03-04"),  # in the window, on a pair applied to before it: dropped
            (1, 3, "2026-03-08"),  # in the window, applied to in the window: kept
            (2, 2, "2026-02-28"),  # before the window
        ]
    )
    fwd_apps = fwd_hires = None
    if forward:
        fwd_apps = events([(0, 3, "2026-03-11"), (2, 4, "2026-03-12")])
        fwd_hires = events([(1, 3, "2026-03-12"), (0, 3, "2026-03-13")])
    return Market(D, seekers, ads, applications, hires, fwd_apps, fwd_hires)


def pair_set(rows, pos) -> list[tuple[int, int]]:
    return sorted(zip(np.asarray(rows).tolist(), np.asarray(pos).tolist(), strict=True))


# -- positions, pairs_in, drop_excluded ----------------------------------------------------------


def test_positions_of_present_and_absent_rows():
    got = positions(np.array([2, 5, 9]), np.array([5, 2, 3, 9, 10, 0]))
    assert got.tolist() == [1, 0, -1, 2, -1, -1]
    assert positions(np.array([], dtype=np.int64), np.array([1, 2])).tolist() == [-1, -1]
    assert positions(np.array([2, 5, 9]), np.array([], dtype=np.int64)).tolist() == []


def test_pairs_in_keeps_or_drops_ads_outside_the_universe():
    ev = Events(
        np.array([1, 1, 2, 4, 4]), np.array([20, 99, 20, 10, 30]), np.zeros(5, "datetime64[D]")
    )
    seekers, universe = np.array([1, 4]), np.array([10, 20, 30])
    rows, pos = pairs_in(seekers, universe, ev, keep_outside=True)
    # seeker 2 is not among the seekers; ad 99 is outside: position len(universe) = 3
    assert rows.tolist() == [0, 0, 1, 1] and pos.tolist() == [1, 3, 0, 2]
    rows, pos = pairs_in(seekers, universe, ev, keep_outside=False)
    assert rows.tolist() == [0, 1, 1] and pos.tolist() == [1, 0, 2]


def test_drop_excluded_keeps_order_cuts_to_k_and_pads():
    lists = np.array([[3, 1, 2, 0], [0, 1, -1, -1], [4, 5, 2, 1]])
    ex_rows, ex_pos = np.array([0, 0, 1, 2]), np.array([1, 0, 5, 2])
    got = drop_excluded(lists, ex_rows, ex_pos, 6, 3)
    # row 0 loses 1 and 0; row 1's exclusion (5) is not in its list; row 2 loses 2
    assert got.tolist() == [[3, 2, -1], [0, 1, -1], [4, 5, 1]]
    # an exclusion of one row never removes the same ad from another row
    got = drop_excluded(np.array([[1, 2], [1, 2]]), np.array([0]), np.array([1]), 6, 2)
    assert got.tolist() == [[2, -1], [1, 2]]


# -- splits -----------------------------------------------------------------------------------


def test_validation_split_window_universe_and_relevance():
    market = hand_market()
    (val,) = splits(market)  # no forward data: one split
    assert (val.name, val.start, val.end) == ("validation", START, D)
    assert val.days() == [START + dt.timedelta(days=i) for i in range(7)]
    assert val.universe.tolist() == [0, 2, 3, 5]
    apps = val.relevant["applications"]
    assert pair_set(apps.seeker, apps.ad) == [(0, 2), (0, 2), (1, 3), (2, 0), (2, 1)]
    assert apps.day.min() >= np.datetime64(START) and apps.day.max() < np.datetime64(D)
    # hires: S0-A0 is dropped (S0 applied to A0 before the window), S2-A2 is before the window
    hires = val.relevant["hires"]
    assert pair_set(hires.seeker, hires.ad) == [(1, 3)]
    # seen: every application before the window, none in it
    assert pair_set(val.seen.seeker, val.seen.ad) == [
        (0, 0),
        (0, 1),
        (1, 0),
        (2, 2),
        (2, 5),
        (3, 3),
        (3, 3),
        (3, 5),
        (3, 5),
        (3, 5),
    ]
    assert val.popularity.tolist() == [2, 1, 1, 2, 0, 4]
    assert val.seekers(10, seed=0).tolist() == [0, 1, 2]  # S3 has no event in the window


def test_split_seekers_sample_is_seeded_sorted_and_bounded():
    val = splits(hand_market())[0]
    a, b = val.seekers(2, seed=5), val.seekers(2, seed=5)
    assert a.tolist() == b.tolist() and len(a) == 2
    assert set(a.tolist()) <= {0, 1, 2} and a.tolist() == sorted(a.tolist())


def test_forward_split_uses_active_ads_and_all_earlier_applications():
    market = hand_market(forward=True)
    val, fwd = splits(market)
    assert (fwd.name, fwd.start, fwd.end) == ("forward", D, D + dt.timedelta(days=7))
    assert fwd.universe.tolist() == [0, 2, 3, 4]  # the ads active at D
    assert len(fwd.seen) == len(market.applications)
    # S1 applied to A3 in [D-7, D): its forward hire on A3 is not a target; S0's is
    hires = fwd.relevant["hires"]
    assert pair_set(hires.seeker, hires.ad) == [(0, 3)]
    assert pair_set(fwd.relevant["applications"].seeker, fwd.relevant["applications"].ad) == [
        (0, 3),
        (2, 4),
    ]


# -- popularity lists ---------------------------------------------------------------------------


def test_popularity_lists_group_order_and_seen_ads_removed():
    market = hand_market()
    val = splits(market)[0]
    seekers = np.array([0, 1, 2])
    lists = popularity_lists(market, val, seekers, 4)
    # universe positions (group, applications before the window):
    #   0 = A0 (75|K, 2), 1 = A2 (69|K, 1), 2 = A3 (75|A, 2), 3 = A5 (69|A, 4)
    # S0 (75|K): A0 | A2 | A5, A3 -> A0 seen -> A2, A5, A3
    # S1 (75|A): A3 | A5 | A0, A2 -> A0 seen -> A3, A5, A2
    # S2 (69|K): A2 | A0 | A5, A3 -> A2, A5 seen -> A0, A3
    assert lists.tolist() == [[1, 3, 2, -1], [2, 3, 1, -1], [0, 2, -1, -1]]
    # cut to k: the exclusions do not leave S2 short while unseen ads remain
    assert popularity_lists(market, val, seekers, 2).tolist() == [[1, 3], [2, 3], [0, 2]]
    # the department x family group comes first even when less popular than other ads
    assert val.popularity[val.universe][lists[0, 0]] < val.popularity[val.universe][lists[0, 1]]


def test_popularity_lists_never_hold_a_seen_ad():
    market = hand_market()
    val = splits(market)[0]
    seekers = np.array([0, 1, 2])
    lists = popularity_lists(market, val, seekers, 4)
    ex_rows, ex_pos = pairs_in(seekers, val.universe, val.seen, keep_outside=False)
    assert len(ex_rows) == 4
    for r, p in zip(ex_rows, ex_pos, strict=True):
        assert p not in lists[r]


# -- recall -----------------------------------------------------------------------------------

LISTS = np.array([[1, 3, -1], [3, 2, 0], [0, 2, -1]])  # universe positions of S0, S1, S2


def test_per_seeker_recall_hand_values():
    val = splits(hand_market())[0]
    seekers = np.array([0, 1, 2])
    # relevant positions: S0 {1} (A2 applied to twice), S1 {2}, S2 {0, outside}
    np.testing.assert_allclose(per_seeker_recall(LISTS, val, seekers, 1), [1.0, 0.0, 0.5])
    np.testing.assert_allclose(per_seeker_recall(LISTS, val, seekers, 2), [1.0, 1.0, 0.5])
    # hires: only S1 has a relevant hire (A3, position 2); the others are left out
    np.testing.assert_allclose(per_seeker_recall(LISTS, val, seekers, 1, "hires"), [0.0])
    np.testing.assert_allclose(per_seeker_recall(LISTS, val, seekers, 2, "hires"), [1.0])


def test_metric_rows_for_both_relevance_kinds():
    val = splits(hand_market())[0]
    rows = metric_rows(LISTS, val, np.array([0, 1, 2]), (1, 2), model="m", stage="s")
    got = {(r["relevance"], r["k"]): r for r in rows}
    assert sorted(got) == [("applications", 1), ("applications", 2), ("hires", 1), ("hires", 2)]
    assert got["applications", 1]["recall"] == pytest.approx(0.5)
    assert got["applications", 2]["recall"] == pytest.approx(2.5 / 3)
    assert got["applications", 1]["hit_rate"] == pytest.approx(2 / 3)
    assert got["hires", 1]["recall"] == 0.0 and got["hires", 2]["recall"] == 1.0
    assert got["applications", 1]["seekers"] == 3 and got["hires", 1]["seekers"] == 1
    # NDCG@2 of S1's hire at rank 2: (1 / log2 3) / 1
    assert got["hires", 2]["ndcg"] == pytest.approx(1 / np.log2(3))
    assert all(r["split"] == "validation" and r["model"] == "m" and r["stage"] == "s" for r in rows)


def test_metric_rows_agree_with_per_seeker_recall():
    val = splits(hand_market())[0]
    seekers = np.array([0, 1, 2])
    for relevance in ("applications", "hires"):
        rows = metric_rows(LISTS, val, seekers, (1, 2, 3))
        for r in rows:
            if r["relevance"] == relevance:
                mean = per_seeker_recall(LISTS, val, seekers, r["k"], relevance).mean()
                assert r["recall"] == pytest.approx(mean)


# -- paired difference (jobrec.evaluation.offline) -------------------------------------------------


def test_paired_difference_mean_and_standard_error():
    rng = np.random.default_rng(3)
    a, b = rng.random(50), rng.random(50)
    mean, se = paired_difference(a, b)
    assert mean == pytest.approx(np.mean(a - b))
    assert se == pytest.approx(scipy.stats.sem(a - b))
    assert se == pytest.approx(np.std(a - b, ddof=1) / np.sqrt(50))
    assert paired_difference([1.0, 0.0, 0.5], [0.5, 0.5, 0.5]) == pytest.approx((0.0, 0.5 / 3**0.5))
    assert paired_difference([0.3], [0.1]) == pytest.approx((0.2, 0.0))
    assert paired_difference([], []) == (0.0, 0.0)
