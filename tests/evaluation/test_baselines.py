"""The popularity baseline, checked by hand."""

from __future__ import annotations

import numpy as np

from jobrec.evaluation.baselines import popularity_by_group

AD_GROUP = np.array([0, 0, 1, 1, 2, 2])  # department x family
AD_FAMILY = np.array([0, 0, 0, 0, 1, 1])
APPLICATIONS = np.array([5, 1, 3, 9, 7, 0])


def lists(groups, families, k):
    return popularity_by_group(
        np.array(groups), np.array(families), AD_GROUP, AD_FAMILY, APPLICATIONS, k
    )


def test_own_group_first_then_family_then_everyone():
    # group 0: its ads by applications (0, 1), then family 0 elsewhere (3, 2), then the rest
    assert lists([0], [0], 4).tolist() == [[0, 1, 3, 2]]
    assert lists([0], [0], 6).tolist() == [[0, 1, 3, 2, 4, 5]]
    assert lists([0], [0], 1).tolist() == [[0]]


def test_a_group_without_active_ads_gets_its_family_then_the_rest():
    assert lists([3], [1], 4).tolist() == [[4, 5, 3, 0]]


def test_lists_are_distinct_and_capped_at_the_catalogue():
    out = lists([0, 1, 2, 3], [0, 0, 1, 1], 10)
    assert out.shape == (4, 6)
    assert all(len(set(row)) == 6 for row in out.tolist())
