"""The night's shared inputs (jobrec.retrieval.night_inputs): the seeded train / hold-out split of
the validation window's seekers."""

from __future__ import annotations

import datetime as dt
import pickle

import numpy as np
import pytest

from jobrec.data import model_store
from jobrec.data.market import Events
from jobrec.evaluation.offline import Split
from jobrec.pair_features import CROSS_COLUMNS
from jobrec.reranker_model import Lists
from jobrec.retrieval.night_inputs import (
    NIGHT_INPUTS,
    EntityInputs,
    NightInputs,
    ValidationListSettings,
    load_night_inputs,
    split_seekers,
)


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


def test_split_seekers_is_seeded_disjoint_and_about_the_holdout_share():
    split = window(3000)
    who = window_seekers(3000)  # 2,000 seekers
    train, held = split_seekers(split, ValidationListSettings(seed=0))
    assert len(np.intersect1d(train, held)) == 0
    np.testing.assert_array_equal(np.union1d(train, held), who)
    assert (np.diff(train) > 0).all() and (np.diff(held) > 0).all()  # sorted
    # 15% of 2,000: 300 +- 3 sd (16.0)
    assert ValidationListSettings().holdout_share == 0.15
    assert 252 <= len(held) <= 348, len(held)
    again = split_seekers(
        window(3000, seed=1), ValidationListSettings(seed=0)
    )  # same seekers, events reshuffled
    np.testing.assert_array_equal(again[0], train)
    np.testing.assert_array_equal(again[1], held)
    other_train, other_held = split_seekers(split, ValidationListSettings(seed=1))
    assert not np.array_equal(other_held, held)
    np.testing.assert_array_equal(np.union1d(other_train, other_held), who)


def test_split_seekers_caps():
    split = window(3000)
    train, held = split_seekers(split, ValidationListSettings(seed=0))
    capped = ValidationListSettings(seed=0, max_train_seekers=100, max_holdout_seekers=50)
    small_train, small_held = split_seekers(split, capped)
    assert len(small_train) == 100 and len(small_held) == 50
    assert (np.diff(small_train) > 0).all() and (np.diff(small_held) > 0).all()
    # capping samples within each side: no seeker changes side
    assert np.isin(small_train, train).all() and np.isin(small_held, held).all()
    assert np.array_equal(split_seekers(split, capped)[0], small_train)  # still seeded
    # caps above the sizes change nothing
    roomy = ValidationListSettings(
        seed=0, max_train_seekers=len(train), max_holdout_seekers=len(held)
    )
    same_train, same_held = split_seekers(split, roomy)
    np.testing.assert_array_equal(same_train, train)
    np.testing.assert_array_equal(same_held, held)


def test_split_seekers_of_an_empty_window():
    train, held = split_seekers(window(0), ValidationListSettings(seed=0))
    assert len(train) == 0 and len(held) == 0


def test_night_inputs_of_another_feature_set_are_refused(tmp_path):
    """Inputs pickled before a pair feature was added hold narrower lists: loading them says
    what to re-materialise instead of failing later on a shape."""
    day = dt.date(2026, 3, 10)
    lists = Lists(
        np.zeros(1, np.int64),
        np.zeros((1, 2), np.int64),
        np.zeros((1, 2, len(CROSS_COLUMNS) - 1), np.float32),
        np.zeros((1, 2), bool),
        np.zeros((1, 2), bool),
    )
    old = NightInputs(None, 1.0, EntityInputs(None, None), 0, None, None, lists, lists)
    folder = model_store.model_dir(tmp_path, day, NIGHT_INPUTS)
    folder.mkdir(parents=True)
    (folder / "night_inputs.pkl").write_bytes(pickle.dumps(old))
    with pytest.raises(
        ValueError, match=rf"hold {len(CROSS_COLUMNS) - 1} pair features.*re-materialise"
    ):
        load_night_inputs(tmp_path, day)
