"""Non-learned reference rankings the models are compared with.

Popularity: for each seeker, the most-applied active ads of the seeker's department × occupation
family (applications counted before the list date), topped up with the family's most-applied ads
in other departments, then with the most-applied ads anywhere, so that every list has k ads.
The list depends on the seeker's (department, family) only, so it is computed once per pair.
"""

from __future__ import annotations

import numpy as np


def _top_outside(
    level_of_list: np.ndarray,
    excluded_of_list: np.ndarray,
    ad_level: np.ndarray,
    ad_excluded: np.ndarray,
    popularity: np.ndarray,
    width: int,
) -> np.ndarray:
    """For each list: its level's ads by popularity, minus those of its excluded (finer) group,
    the first `width` of them (-1 padded)."""
    n_ads = len(ad_level)
    order = np.lexsort((np.arange(n_ads), -popularity, ad_level))
    n_levels = max(int(ad_level.max()), int(level_of_list.max())) + 2
    starts = np.searchsorted(ad_level[order], np.arange(n_levels))
    lo, hi = starts[level_of_list], starts[level_of_list + 1]
    # the finer group holds fewer than `width` ads here (else the list was full): 2·width suffice
    pos = lo[:, None] + np.arange(2 * width)[None, :]
    cand = np.where(pos < hi[:, None], order[np.minimum(pos, n_ads - 1)], -1)
    cand = np.where((cand >= 0) & (ad_excluded[cand] == excluded_of_list[:, None]), -1, cand)
    # compact each row: kept ads first, in ranking order
    rank = np.argsort(cand < 0, axis=1, kind="stable")
    return np.take_along_axis(cand, rank, axis=1)[:, :width]


def popularity_by_group(
    list_dep_family: np.ndarray,
    list_family: np.ndarray,
    ad_dep_family: np.ndarray,
    ad_family: np.ndarray,
    ad_applications: np.ndarray,
    k: int,
) -> np.ndarray:
    """(lists, k') ad indices for each (department × family) group, k' = min(k, ads).

    Codes are non-negative integers: `*_dep_family` identifies a department × family pair,
    `*_family` the family; every ad passed is active; `ad_applications` its popularity.
    """
    k = min(k, len(ad_dep_family))
    n_lists = len(list_dep_family)
    never = np.full(n_lists, -1)
    finest = _top_outside(
        list_dep_family, never, ad_dep_family, np.full(len(ad_family), -2), ad_applications, k
    )
    family = _top_outside(
        list_family, list_dep_family, ad_family, ad_dep_family, ad_applications, k
    )
    everyone = _top_outside(
        np.zeros(n_lists, np.int64),
        list_family,
        np.zeros(len(ad_family), np.int64),
        ad_family,
        ad_applications,
        k,
    )
    merged = np.concatenate([finest, family, everyone], axis=1)
    rank = np.argsort(merged < 0, axis=1, kind="stable")  # finer levels first, gaps last
    return np.take_along_axis(merged, rank, axis=1)[:, :k]
