"""Pair features (jobrec.cross) on a hand-written market, every column checked by hand.

Market (lists dated D = 2026-03-10, popularity counted on applications before 2026-03-03):

  seekers  row  city       occupation  contract    wage  exp  edu   mobility  skills
           0    Paris      K2204       permanent   2000  2    3     400 km    a b c
           1    Lyon       K2111       fixed_term  1800  5    5     10 km     d
           2    Marseille  M1234       -           -     0    -     0 km      (none)

  ads      row  city       occupation  contract    wage  hours exp edu  posted      skills
           0    Lyon       K2204       permanent   2500  35    3   4    2026-02-08  b c e
           1    Paris      K2210       fixed_term  1500  17.5  0   2    2026-03-01  a
           2    Paris      K1111       temp        2000  35    1   3    2026-01-09  d a
           3    Marseille  A1101       -           0     28    0   0    2026-03-09  (none)

  applications before 2026-03-03: A0 three times, A2 once (A0 also on 2026-03-03 and after:
  not counted; A1 only after) -> popularity A0 3, A1 0, A2 1, A3 0.
  employers: A0 and A1 employer E1, A2 and A3 employer E2 -> applications per other ad of the
  employer: A0 0 (A1's), A1 3 (A0's), A2 0 (A3's), A3 1 (A2's).
  ages (jobrec.ad_response; the log starts 2026-02-01, its first application): A0 is seen at
  ages 0-22 with applications at 2, 12 and 22, A1 at 0-1, A2 at 23-52 (older than the log)
  with one at 23, A3 not yet: m = 4 applications / 55 days online.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from jobrec.data import model_store
from jobrec.data.market import Events, Market
from jobrec.pair_features import (
    AD_ONLY_COLUMNS,
    CROSS_COLUMNS,
    MUSE0_COLUMNS,
    PAIR_COLUMNS,
    ad_features,
    build_entities,
    cross_features,
    entities_as_of,
    entity_numerics,
    list_pair_features,
    muse0_score_feature,
)

D = dt.date(2026, 3, 10)
POPULARITY_BEFORE = dt.date(2026, 3, 3)
PARIS, LYON, MARSEILLE = (48.8566, 2.3522), (45.7640, 4.8357), (43.2965, 5.3698)
COL = {name: i for i, name in enumerate(CROSS_COLUMNS)}


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    (lat1, lon1), (lat2, lon2) = (tuple(map(math.radians, p)) for p in (a, b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def events(rows: list[tuple[int, int, str]]) -> Events:
    rows = sorted(rows, key=lambda r: r[0])
    return Events(
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([r[1] for r in rows], dtype=np.int64),
        np.array([r[2] for r in rows], dtype="datetime64[D]"),
    )


def hand_market() -> Market:
    cities = [PARIS, LYON, MARSEILLE]
    seekers = pd.DataFrame(
        {
            "jobseeker_id": ["S0", "S1", "S2"],
            "desired_occupation": ["K2204", "K2111", "M1234"],
            "desired_contract": ["permanent", "fixed_term", None],
            "desired_wage": [2000.0, 1800.0, None],
            "experience_years": [2.0, 5.0, 0.0],
            "education_level": [3, 5, None],
            "mobility_km": [400.0, 10.0, 0.0],
            "latitude": [c[0] for c in cities],
            "longitude": [c[1] for c in cities],
            "department": ["75", "69", "13"],
            "skills": [["a", "b", "c"], ["d"], []],
            "registered_on": pd.to_datetime(["2025-01-01"] * 3),
            "active": [True, True, True],
        }
    )
    ad_cities = [LYON, PARIS, PARIS, MARSEILLE]
    ads = pd.DataFrame(
        {
            "ad_id": ["A0", "A1", "A2", "A3"],
            "occupation": ["K2204", "K2210", "K1111", "A1101"],
            "contract": ["permanent", "fixed_term", "temp", None],
            "wage": [2500.0, 1500.0, 2000.0, 0.0],
            "hours_per_week": [35.0, 17.5, 35.0, 28.0],
            "required_experience_years": [3.0, 0.0, 1.0, 0.0],
            "required_education": [4, 2, 3, 0],
            "latitude": [c[0] for c in ad_cities],
            "longitude": [c[1] for c in ad_cities],
            "department": ["69", "75", "75", "13"],
            "skills": [["b", "c", "e"], ["a"], ["d", "a"], []],
            "employer_id": ["E1", "E1", "E2", "E2"],
            "posted_on": pd.to_datetime(["2026-02-08", "2026-03-01", "2026-01-09", "2026-03-09"]),
            "closed_on": pd.to_datetime([None, None, None, None]),
            "positions": [1, 2, 1, 1],
            "active": [True, True, True, True],
        }
    )
    applications = events(
        [
            (0, 0, "2026-02-10"),
            (1, 0, "2026-02-20"),
            (2, 0, "2026-03-02"),  # the day before popularity_before: counted
            (1, 2, "2026-02-01"),
            (0, 0, "2026-03-03"),  # on popularity_before: not counted
            (1, 0, "2026-03-08"),
            (0, 1, "2026-03-05"),
        ]
    )
    return Market(D, seekers, ads, applications, events([]), None, None)


@pytest.fixture(scope="module")
def entities():
    return build_entities(hand_market(), D, POPULARITY_BEFORE)


# (seeker row, ad row, Muse.0 cosine, Muse.0 rank)
PAIRS = [(0, 0, 0.7, 1), (0, 1, -0.1, 1000), (1, 1, 0.3, 9), (0, 3, 0.05, 50), (2, 2, 0.0, 3)]


def features(ent, pairs=PAIRS, **kwargs) -> np.ndarray:
    u, j, cos, rank = (np.array(col) for col in zip(*pairs, strict=True))
    return cross_features(ent, u, j, cos.astype(np.float32), rank.astype(np.float32), **kwargs)


M = 4 / 55  # the ads' mean applications per day online before the cut


def rate_at(count: int, exposure: int) -> float:
    """The age profile's rate at an age with `count` applications over `exposure` ad-days
    (shrunk by ten ad-days at the mean)."""
    return (count + 10 * M) / (exposure + 10)


def appeal(count: int, expected: float) -> float:
    return math.log((count + 7 * M) / (expected + 7 * M))  # α = 7 days


# by hand, each ad's expected applications (its observed ages' rates summed) and its log appeal
EXPECTED = {
    0: 2 * rate_at(0, 2) + (rate_at(1, 1) * 3 + rate_at(0, 1) * 18),  # ages 0-1, then 2-22
    1: 2 * rate_at(0, 2),
    2: rate_at(1, 1) + 29 * rate_at(0, 1),  # ages 23-52
}
LOG_APPEAL = {
    0: appeal(3, EXPECTED[0]),
    1: appeal(0, EXPECTED[1]),
    2: appeal(1, EXPECTED[2]),
    3: 0.0,
}
# what each ad's age at D promises: the rates of its next seven ages against M
LOG_WEEK_AHEAD = {
    0: math.log(rate_at(0, 1) / M),  # ages 30-36: A2's, no application
    1: math.log((rate_at(1, 1) + 6 * rate_at(0, 1)) / 7 / M),  # ages 9-15: A0's, one at 12
    2: 0.0,  # ages 60-66: the pool, never seen, so the mean
    3: math.log((rate_at(0, 2) + rate_at(1, 1) + 5 * rate_at(0, 1)) / 7 / M),  # ages 1-7
}


def expected_rows() -> list[dict[str, float]]:
    log_rank = lambda r: math.log(1 + r) / math.log(1001)  # noqa: E731
    return [
        {  # S0 Paris -> A0 Lyon: same code, 2 shared skills of 3 + 3
            "distance_100km": haversine_km(PARIS, LYON) / 100,
            "within_mobility": 1.0,  # ~392 km <= 400 km
            "occupation_code": 1.0,
            "occupation_domain": 0.0,
            "occupation_family": 0.0,
            "occupation_none": 0.0,
            "skill_overlap": 0.2,
            "skill_jaccard": 2 / 4,
            "log_wage_ratio": math.log(2500 / 2000),
            "experience_gap_10y": (3 - 2) / 10,
            "education_gap": (4 - 3) / 4,
            "contract_match": 1.0,
            "hours_35h": 1.0,
            "muse0_cosine": 0.7,
            "muse0_log_rank": log_rank(1),
            "ad_age_30d": 30 / 30,  # posted 2026-02-08, 30 days before D
            "ad_log_popularity": math.log1p(3),
            "ad_fresh_3d": math.exp(-30 / 3),
            "ad_fresh_10d": math.exp(-30 / 10),
            "ad_applications_per_day": math.log1p(3 / 30),
            "history_code_share": 1.0,  # S0 applied to A0 (K2204) before the cut
            "history_domain_share": 1.0,
            "distance_over_mobility": haversine_km(PARIS, LYON) / 400,
            "distance_over_mobility_sq": (haversine_km(PARIS, LYON) / 400) ** 2 / 5,
            "wage_cut": 0.0,  # a raise
            "employer_applications_per_ad": 0.0,  # E1's other ad A1 has none
            "ad_unposted_week": 0.0,  # posted before D
            "ad_log_appeal": LOG_APPEAL[0],
            "ad_log_week_ahead": LOG_WEEK_AHEAD[0],
        },
        {  # S0 Paris -> A1 Paris: same domain K22, 1 shared skill
            "distance_100km": 0.0,
            "within_mobility": 1.0,
            "occupation_code": 0.0,
            "occupation_domain": 1.0,
            "occupation_family": 0.0,
            "occupation_none": 0.0,
            "skill_overlap": 0.1,
            "skill_jaccard": 1 / 3,
            "log_wage_ratio": math.log(1500 / 2000),
            "experience_gap_10y": (0 - 2) / 10,
            "education_gap": (2 - 3) / 4,
            "contract_match": 0.0,
            "hours_35h": 0.5,
            "muse0_cosine": -0.1,
            "muse0_log_rank": 1.0,  # log(1001) / log(1001)
            "ad_age_30d": 9 / 30,
            "ad_log_popularity": 0.0,
            "ad_fresh_3d": math.exp(-9 / 3),
            "ad_fresh_10d": math.exp(-9 / 10),
            "ad_applications_per_day": 0.0,
            "history_code_share": 0.0,  # K2210: not S0's A0 code K2204...
            "history_domain_share": 1.0,  # ... but its domain K22
            "distance_over_mobility": 0.0,
            "distance_over_mobility_sq": 0.0,
            "wage_cut": math.log(1500 / 2000),
            "employer_applications_per_ad": math.log1p(3),  # E1's other ad A0
            "ad_unposted_week": 0.0,  # posted before D
            "ad_log_appeal": LOG_APPEAL[1],
            "ad_log_week_ahead": LOG_WEEK_AHEAD[1],
        },
        {  # S1 Lyon -> A1 Paris: beyond 10 km, same family K only (K21 vs K22), no shared skill
            "distance_100km": haversine_km(LYON, PARIS) / 100,
            "within_mobility": 0.0,
            "occupation_code": 0.0,
            "occupation_domain": 0.0,
            "occupation_family": 1.0,
            "occupation_none": 0.0,
            "skill_overlap": 0.0,
            "skill_jaccard": 0.0,
            "log_wage_ratio": math.log(1500 / 1800),
            "experience_gap_10y": (0 - 5) / 10,
            "education_gap": (2 - 5) / 4,
            "contract_match": 1.0,
            "hours_35h": 0.5,
            "muse0_cosine": 0.3,
            "muse0_log_rank": log_rank(9),
            "ad_age_30d": 9 / 30,
            "ad_log_popularity": 0.0,
            "ad_fresh_3d": math.exp(-9 / 3),
            "ad_fresh_10d": math.exp(-9 / 10),
            "ad_applications_per_day": 0.0,
            "history_code_share": 0.0,  # S1 applied to A0 (K2204) and A2 (K1111)
            "history_domain_share": 0.5,  # one of the two in K22
            "distance_over_mobility": 5.0,  # ~392 km for 10 km of mobility: capped
            "distance_over_mobility_sq": 5.0,
            "wage_cut": math.log(1500 / 1800),
            "employer_applications_per_ad": math.log1p(3),
            "ad_unposted_week": 0.0,  # posted before D
            "ad_log_appeal": LOG_APPEAL[1],
            "ad_log_week_ahead": LOG_WEEK_AHEAD[1],
        },
        {  # S0 Paris -> A3 Marseille: no occupation match, ad without skills, wage 0: unknown
            "distance_100km": haversine_km(PARIS, MARSEILLE) / 100,
            "within_mobility": 0.0,  # ~660 km > 400 km
            "occupation_code": 0.0,
            "occupation_domain": 0.0,
            "occupation_family": 0.0,
            "occupation_none": 1.0,
            "skill_overlap": 0.0,
            "skill_jaccard": 0.0,
            "log_wage_ratio": 0.0,  # a missing (0) wage on either side is neutral
            "experience_gap_10y": (0 - 2) / 10,
            "education_gap": (0 - 3) / 4,
            "contract_match": 0.0,
            "hours_35h": 28 / 35,
            "muse0_cosine": 0.05,
            "muse0_log_rank": log_rank(50),
            "ad_age_30d": 1 / 30,
            "ad_log_popularity": 0.0,
            "ad_fresh_3d": math.exp(-1 / 3),
            "ad_fresh_10d": math.exp(-1 / 10),
            "ad_applications_per_day": 0.0,
            "history_code_share": 0.0,
            "history_domain_share": 0.0,
            "distance_over_mobility": haversine_km(PARIS, MARSEILLE) / 400,
            "distance_over_mobility_sq": (haversine_km(PARIS, MARSEILLE) / 400) ** 2 / 5,
            "wage_cut": 0.0,  # unknown wage: neutral
            "employer_applications_per_ad": math.log1p(1),  # E2's other ad A2
            "ad_unposted_week": 0.0,  # posted before D
            "ad_log_appeal": LOG_APPEAL[3],
            "ad_log_week_ahead": LOG_WEEK_AHEAD[3],
        },
        {  # S2 Marseille (no wage, no education, no skills) -> A2 Paris
            "distance_100km": haversine_km(MARSEILLE, PARIS) / 100,
            "within_mobility": 0.0,
            "occupation_code": 0.0,
            "occupation_domain": 0.0,
            "occupation_family": 0.0,
            "occupation_none": 1.0,
            "skill_overlap": 0.0,
            "skill_jaccard": 0.0,
            "log_wage_ratio": 0.0,  # a missing wage on either side is neutral
            "experience_gap_10y": (1 - 0) / 10,
            "education_gap": (3 - 0) / 4,  # a missing level reads 0
            "contract_match": 0.0,
            "hours_35h": 1.0,
            "muse0_cosine": 0.0,
            "muse0_log_rank": log_rank(3),
            "ad_age_30d": 60 / 30,
            "ad_log_popularity": math.log1p(1),
            "ad_fresh_3d": math.exp(-60 / 3),
            "ad_fresh_10d": math.exp(-60 / 10),
            "ad_applications_per_day": math.log1p(1 / 60),
            "history_code_share": 0.0,  # S2 applied to A0 (K2204) only
            "history_domain_share": 0.0,
            "distance_over_mobility": 5.0,  # no mobility reads as 1 km: capped
            "distance_over_mobility_sq": 5.0,
            "wage_cut": 0.0,
            "employer_applications_per_ad": 0.0,  # E2's other ad A3 has none
            "ad_unposted_week": 0.0,  # posted before D
            "ad_log_appeal": LOG_APPEAL[2],
            "ad_log_week_ahead": LOG_WEEK_AHEAD[2],
        },
    ]


def test_haversine_reference_is_right():
    assert haversine_km(PARIS, LYON) == pytest.approx(392, abs=2)
    assert haversine_km(PARIS, MARSEILLE) == pytest.approx(661, abs=3)


def test_columns_are_the_documented_ones():
    assert len(CROSS_COLUMNS) == 29 and len(set(CROSS_COLUMNS)) == 29
    assert [CROSS_COLUMNS[i] for i in MUSE0_COLUMNS] == ["muse0_cosine", "muse0_log_rank"]


@pytest.mark.parametrize("pair", range(len(PAIRS)))
def test_every_column_by_hand(entities, pair):
    got = features(entities)
    assert got.shape == (len(PAIRS), len(CROSS_COLUMNS)) and got.dtype == np.float32
    want = expected_rows()[pair]
    assert set(want) == set(CROSS_COLUMNS)
    for name, value in want.items():
        tol = 2e-3 if name == "distance_100km" else 1e-5  # distance: within ~0.2 km
        assert got[pair, COL[name]] == pytest.approx(value, abs=tol), name


def test_exactly_one_occupation_level(entities):
    levels = [COL[c] for c in CROSS_COLUMNS if c.startswith("occupation_")]
    assert len(levels) == 4
    every = [(u, j, 0.0, 1) for u in range(3) for j in range(4)]
    got = features(entities, every)[:, levels]
    assert set(np.unique(got)) == {0.0, 1.0}
    assert (got.sum(1) == 1).all()


def test_distance_is_symmetric_and_zero_on_the_same_spot(entities):
    got = features(entities, [(0, 1, 0, 1), (0, 2, 0, 1), (1, 0, 0, 1), (2, 3, 0, 1)])
    assert got[:, COL["distance_100km"]] == pytest.approx([0, 0, 0, 0], abs=1e-5)
    paris_lyon = features(entities, [(0, 0, 0, 1), (1, 1, 0, 1)])[:, COL["distance_100km"]]
    assert paris_lyon[0] == pytest.approx(paris_lyon[1], abs=1e-5)


def test_same_location_is_within_zero_mobility():
    market = hand_market()
    market.seekers.loc[1, ["latitude", "longitude"]] = PARIS  # S1 in Paris, will not move
    market.seekers.loc[1, "mobility_km"] = 0.0
    ent = build_entities(market, D, POPULARITY_BEFORE)
    got = features(ent, [(1, 1, 0.0, 1), (1, 2, 0.0, 1)])  # A1 and A2 are in Paris too
    assert got[:, COL["within_mobility"]].tolist() == [1.0, 1.0]


def test_unknown_contracts_do_not_match(entities):
    got = features(entities, [(2, 3, 0.0, 1)])  # S2 (no desired contract) -> A3 (no contract)
    assert got[0, COL["contract_match"]] == 0.0


def test_popularity_counts_applications_before_the_cut():
    market = hand_market()
    ent = build_entities(market, D, POPULARITY_BEFORE)
    assert ent.ads.popularity.tolist() == [3, 0, 1, 0]
    later = build_entities(market, D, dt.date(2026, 3, 8))  # + A0 on 03-03, A1 on 03-05
    assert later.ads.popularity.tolist() == [4, 1, 1, 0]
    assert (ent.seekers.popularity == 0).all()


def test_employer_record_counts_its_other_ads_posted_by_the_list_date():
    market = hand_market()
    ent = build_entities(market, D, POPULARITY_BEFORE)
    assert ent.ads.employer_popularity.tolist() == [0.0, 3.0, 0.0, 1.0]
    # on 2026-03-05, A3 (posted 03-09) is not yet E2's: A2 has no other ad
    early = build_entities(market, dt.date(2026, 3, 5), POPULARITY_BEFORE)
    assert early.ads.employer_popularity.tolist() == [0.0, 3.0, 0.0, 1.0]
    market.ads.loc[1, "employer_id"] = "E9"  # A0 alone at E1, A1 alone at E9
    alone = build_entities(market, D, POPULARITY_BEFORE)
    assert alone.ads.employer_popularity.tolist() == [0.0, 0.0, 0.0, 1.0]
    assert (ent.seekers.employer_popularity == 0).all()


def test_ad_age_follows_the_list_date():
    market = hand_market()
    early = build_entities(market, dt.date(2026, 3, 1), POPULARITY_BEFORE)
    got = features(early, [(0, 0, 0.0, 1), (0, 1, 0.0, 1)])[:, COL["ad_age_30d"]]
    assert got == pytest.approx([21 / 30, 0.0], abs=1e-6)


@pytest.mark.parametrize("day", ["2026-02-15", "2026-03-03", "2026-03-06"])
def test_entities_as_of_a_day_are_those_built_on_that_day(day):
    market, day = hand_market(), dt.date.fromisoformat(day)
    shifted = entities_as_of(build_entities(market, D, POPULARITY_BEFORE), market, day)
    full = build_entities(market, day, day)
    assert shifted.day == full.day
    np.testing.assert_array_equal(shifted.ads.popularity, full.ads.popularity)
    np.testing.assert_array_equal(shifted.history.total, full.history.total)
    all_pairs = [(u, j, 0.5, 3) for u in range(3) for j in range(4)]
    np.testing.assert_array_equal(features(shifted, all_pairs), features(full, all_pairs))


def test_unposted_share_of_the_label_week():
    # lists dated 2026-03-05: A3 is posted on 03-09, 4 days into the week after; A1 on
    # 03-01, before; dated 2026-02-20, A1 is posted 9 days on, after the whole week (capped)
    market = hand_market()
    week = lambda day, ads: features(  # noqa: E731
        build_entities(market, day, POPULARITY_BEFORE), [(0, j, 0.0, 1) for j in ads]
    )[:, COL["ad_unposted_week"]]
    assert week(dt.date(2026, 3, 5), [3, 1]) == pytest.approx([4 / 7, 0.0], abs=1e-6)
    assert week(dt.date(2026, 2, 20), [1, 0]) == pytest.approx([1.0, 0.0], abs=1e-6)
    assert week(D, [0, 1, 2, 3]).tolist() == [0.0] * 4  # tonight's candidates: all posted


def test_blocks_give_the_same_array(entities):
    rng = np.random.default_rng(0)
    n = 37
    pairs = list(
        zip(
            rng.integers(0, 3, n).tolist(),
            rng.integers(0, 4, n).tolist(),
            rng.normal(size=n).tolist(),
            rng.integers(1, 1001, n).tolist(),
            strict=True,
        )
    )
    whole = features(entities, pairs)
    for block in (1, 5, 36, 37):
        np.testing.assert_array_equal(features(entities, pairs, block=block), whole)
    # and each row is the row of the pair computed on its own
    for i in (0, 17, 36):
        np.testing.assert_array_equal(features(entities, [pairs[i]])[0], whole[i])


def test_ad_only_columns_do_not_depend_on_the_seeker(entities):
    """The premise of Muse's folded tables: these columns are one value an ad, whoever the
    seeker and whatever Muse.0 says, and `ad_features` holds that value."""
    assert sorted(AD_ONLY_COLUMNS + PAIR_COLUMNS) == list(range(len(CROSS_COLUMNS)))
    assert not set(AD_ONLY_COLUMNS) & set(MUSE0_COLUMNS)
    every = [(u, j, 0.1 * u, 1 + 7 * u) for u in range(3) for j in range(4)]
    got = features(entities, every)[:, AD_ONLY_COLUMNS].reshape(3, 4, len(AD_ONLY_COLUMNS))
    per_ad = ad_features(entities)
    assert per_ad.shape == (4, len(AD_ONLY_COLUMNS)) and per_ad.dtype == np.float32
    for u in range(3):
        np.testing.assert_array_equal(got[u], per_ad)
    # the ads differ in all but the unposted share (every ad is posted by D): a real check
    assert (per_ad.std(0) > 0).sum() == len(AD_ONLY_COLUMNS) - 1


def test_a_subset_of_columns_is_those_columns_of_the_whole(entities):
    rng = np.random.default_rng(1)
    pairs = [
        (u, j, float(rng.normal()), int(rng.integers(1, 1001))) for u in range(3) for j in range(4)
    ]
    whole = features(entities, pairs)
    np.testing.assert_array_equal(
        features(entities, pairs, columns=PAIR_COLUMNS), whole[:, PAIR_COLUMNS]
    )
    backwards = tuple(reversed(range(len(CROSS_COLUMNS))))
    np.testing.assert_array_equal(features(entities, pairs, columns=backwards), whole[:, backwards])
    ads = np.array([[0, 3, 1, -1], [2, -1, -1, -1]])
    cosine = rng.normal(size=ads.shape).astype(np.float32)
    full = list_pair_features(entities, np.array([0, 2]), ads, cosine)
    some = list_pair_features(entities, np.array([0, 2]), ads, cosine, columns=PAIR_COLUMNS)
    assert some.shape == (2, 4, len(PAIR_COLUMNS))
    np.testing.assert_array_equal(some, full[..., PAIR_COLUMNS])
    assert not some[ads < 0].any()  # padding stays zeros


def test_entity_numerics_by_hand(entities):
    seekers = entity_numerics(entities.seekers, is_ads=False)
    ads = entity_numerics(entities.ads, is_ads=True)
    assert seekers.shape == (3, 5) and ads.shape == (4, 5) and seekers.dtype == np.float32
    # [experience / 10, education / 4, log1p(wage) / 8, log1p(mobility) / 5 | hours / 35, skills/10]
    np.testing.assert_allclose(
        seekers,
        [
            [0.2, 3 / 4, math.log1p(2000) / 8, math.log1p(400) / 5, 0.3],
            [0.5, 5 / 4, math.log1p(1800) / 8, math.log1p(10) / 5, 0.1],
            [0.0, 0.0, 0.0, 0.0, 0.0],
        ],
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        ads,
        [
            [0.3, 1.0, math.log1p(2500) / 8, 1.0, 0.3],
            [0.0, 0.5, math.log1p(1500) / 8, 0.5, 0.1],
            [0.1, 0.75, math.log1p(2000) / 8, 1.0, 0.2],
            [0.0, 0.0, 0.0, 0.8, 0.0],
        ],
        rtol=1e-6,
    )


def test_side_arrays(entities):
    s, a = entities.seekers, entities.ads
    assert s.n_skills.tolist() == [3, 1, 0] and a.n_skills.tolist() == [3, 1, 2, 0]
    # codes are ids in the sorted union of codes; unknown contracts are -1
    assert s.code[0] == a.code[0] and s.domain[0] == a.domain[1] and s.family[1] == a.family[2]
    assert s.contract[2] == -1 and a.contract[3] == -1
    assert entities.day == (np.datetime64(D, "D") - np.datetime64("1970-01-01", "D")).astype(int)


def test_a_mapped_market_gives_the_same_pair_features(tmp_path):
    """The market as the night's steps load it (skill lists pickled as Arrow lists, mapped back
    to Python lists) gives the same pair features; a missing list stays None."""
    market = hand_market()
    market.seekers.at[2, "skills"] = None
    model_store.save_mapped(market, tmp_path / "market.pkl")
    loaded = model_store.load_mapped(tmp_path / "market.pkl")
    assert loaded.seekers["skills"].dtype == object
    assert loaded.seekers["skills"].tolist() == [["a", "b", "c"], ["d"], None]
    assert loaded.ads["skills"].tolist() == [["b", "c", "e"], ["a"], ["d", "a"], []]
    pd.testing.assert_frame_equal(
        loaded.ads.drop(columns="skills"), market.ads.drop(columns="skills")
    )
    np.testing.assert_array_equal(
        features(build_entities(loaded, D, POPULARITY_BEFORE)),
        features(build_entities(market, D, POPULARITY_BEFORE)),
    )


def test_muse0_score_feature_keeps_the_cosines_and_folds_the_distance_tail():
    scores = np.array([-50.0, -5.0, -1.0, 0.0, 0.1, 0.9])
    got = muse0_score_feature(scores, 0.05)
    np.testing.assert_allclose(got, 0.05 * np.log(scores + np.sqrt(scores**2 + 1)))
    assert got[3] == 0 and np.all(np.diff(got) > 0)  # the order of the scores is kept
    assert got[4] == pytest.approx(0.05 * 0.1, rel=2e-3)  # cosines near 0: as they were
    assert -0.05 * 4.7 < got[0] < -0.05 * 4.5  # asinh(-50) = -4.61: the tail folded
