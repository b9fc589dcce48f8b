"""Ranking and market metrics, exactly as DESIGN.md defines them, vectorised over all seekers.

Inputs are index arrays: `lists` is a (U, K) integer matrix of ad indices in rank order (-1 pads a
list shorter than K); relevance is a set of (seeker row, ad index) pairs.

For seeker u with relevant ads R_u and top-k list L_u:
- Recall@k = |R_u ∩ L_u| / |R_u|, HitRate@k = 1[R_u ∩ L_u ≠ ∅], both averaged over seekers
  with R_u ≠ ∅;
- NDCG@k with binary gains and log2 discount, ideal DCG over min(|R_u|, k).
Market share of ad j at k: s_j = (number of top-k lists holding j) / (U·k); over the J active ads:
- Congestion@k = Σ_j s_j log s_j / log J ∈ [-1, 0] (-1: perfectly spread);
- Coverage@k = |{j : s_j > 0}| / J;
- Gini@k over the exposure counts of all active ads, zeros included.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class RankingScores:
    k: int
    recall: float
    ndcg: float
    hit_rate: float
    seekers: int  # seekers with at least one relevant ad (the average's denominator)


@dataclasses.dataclass(frozen=True)
class MarketScores:
    k: int
    congestion: float
    coverage: float
    gini: float


def hits_matrix(
    lists: np.ndarray, rel_seeker: np.ndarray, rel_ad: np.ndarray, n_ads: int
) -> np.ndarray:
    """(U, K) booleans: is the ad at each rank relevant to that row's seeker?

    Parameters
    ----------
    lists : (U, K) int array
        Ad indices in rank order, -1 padded.
    rel_seeker, rel_ad : (E,) int arrays
        The relevant (list row, ad index) pairs.
    n_ads : int
        Ad indices are below n_ads.

    Returns
    -------
    (U, K) bool array
        True where the entry is a relevant ad (never on padding).
    """
    lists = np.asarray(lists, dtype=np.int64)
    rows = np.arange(lists.shape[0], dtype=np.int64)[:, None]
    keys = np.where(lists >= 0, rows * n_ads + lists, -1)
    relevant = np.unique(np.asarray(rel_seeker, np.int64) * n_ads + np.asarray(rel_ad, np.int64))
    return np.isin(keys, relevant) & (lists >= 0)


@dataclasses.dataclass(frozen=True)
class SeekerScores:
    """Per list row: relevant ads found in the top k, Recall@k and NDCG@k (0 where the row
    has no relevant ad: `has` tells those apart)."""

    found: np.ndarray
    recall: np.ndarray
    ndcg: np.ndarray
    has: np.ndarray


def per_seeker_scores(
    lists: np.ndarray, rel_seeker: np.ndarray, rel_ad: np.ndarray, n_ads: int, k: int
) -> SeekerScores:
    """Recall@k and NDCG@k of every list row (for averages and paired comparisons).

    Parameters
    ----------
    lists : (U, K) int array
        Ad indices in rank order, -1 padded.
    rel_seeker, rel_ad : (E,) int arrays
        The relevant (list row, ad index) pairs (duplicates count once).
    n_ads : int
        Ad indices are below n_ads.
    k : int
        The cut-off.

    Returns
    -------
    SeekerScores
        (U,) arrays.
    """
    lists = np.asarray(lists)
    hits = hits_matrix(lists[:, :k], rel_seeker, rel_ad, n_ads)
    return _scores_of_hits(hits, _relevant_counts(len(lists), rel_seeker, rel_ad, n_ads), k)


def _relevant_counts(n_rows: int, rel_seeker, rel_ad, n_ads: int) -> np.ndarray:
    """Distinct relevant ads of each list row."""
    pairs = np.unique(np.asarray(rel_seeker, np.int64) * n_ads + np.asarray(rel_ad, np.int64))
    return np.bincount(pairs // n_ads, minlength=n_rows)[:n_rows]


def _scores_of_hits(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> SeekerScores:
    top = hits[:, :k]
    has = n_relevant > 0
    found = top.sum(axis=1)
    dcg = top @ (1.0 / np.log2(np.arange(2, top.shape[1] + 2)))
    ideal_cum = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))])
    idcg = ideal_cum[np.minimum(n_relevant, k)]
    recall = np.where(has, found / np.maximum(n_relevant, 1), 0.0)
    ndcg = np.where(has, dcg / np.where(has, idcg, 1.0), 0.0)
    return SeekerScores(found, recall, ndcg, has)


def ranking_metrics(
    lists: np.ndarray,
    rel_seeker: np.ndarray,
    rel_ad: np.ndarray,
    n_ads: int,
    ks: tuple[int, ...] = (10, 100),
) -> list[RankingScores]:
    """Recall, NDCG and hit rate at each k, over the seekers (rows) with relevant ads.

    Parameters
    ----------
    lists : (U, K) int array
        Ad indices in rank order, -1 padded.
    rel_seeker, rel_ad : (E,) int arrays
        The relevant (list row, ad index) pairs (duplicates count once).
    n_ads : int
        Ad indices are below n_ads.
    ks : tuple of int, default (10, 100)
        The cut-offs.

    Returns
    -------
    list of RankingScores
        One per k: recall, NDCG and hit rate averaged over the rows with relevant ads (NaN
        when there are none), and their count.
    """
    lists = np.asarray(lists)
    hits = hits_matrix(lists[:, : max(ks, default=0)], rel_seeker, rel_ad, n_ads)  # once
    n_relevant = _relevant_counts(len(lists), rel_seeker, rel_ad, n_ads)
    out = []
    for k in ks:
        s = _scores_of_hits(hits, n_relevant, k)
        if s.has.any():
            recall = float(np.mean(s.recall[s.has]))
            ndcg = float(np.mean(s.ndcg[s.has]))
            hit_rate = float(np.mean(s.found[s.has] > 0))
        else:
            recall = ndcg = hit_rate = float("nan")
        out.append(RankingScores(k, recall, ndcg, hit_rate, int(s.has.sum())))
    return out


def exposure(lists: np.ndarray, n_ads: int, k: int) -> np.ndarray:
    """How many top-k lists hold each ad.

    Parameters
    ----------
    lists : (U, K) int array
        Ad indices in rank order, -1 padded.
    n_ads : int
        Ad indices are below n_ads.
    k : int
        The cut-off.

    Returns
    -------
    (n_ads,) int array
        The exposure count of each ad.
    """
    top = np.asarray(lists)[:, :k]
    return np.bincount(top[top >= 0], minlength=n_ads)


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of non-negative counts (0: equal, → 1: concentrated).

    Parameters
    ----------
    counts : (n,) array
        Non-negative counts, zeros included.

    Returns
    -------
    float
        The coefficient; 0.0 for no counts or an all-zero total.
    """
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return 0.0
    return float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * total))


def market_metrics(
    lists: np.ndarray, n_active_ads: int, ks: tuple[int, ...] = (1, 10, 100)
) -> list[MarketScores]:
    """Congestion, coverage and Gini at each k over the `n_active_ads` active ads (indices
    0..n_active_ads-1).

    Parameters
    ----------
    lists : (U, K) int array
        Ad indices in rank order, -1 padded.
    n_active_ads : int
        J, the ads the shares are taken over.
    ks : tuple of int, default (1, 10, 100)
        The cut-offs.

    Returns
    -------
    list of MarketScores
        One per k (Congestion 0.0 when J ≤ 1).
    """
    lists = np.asarray(lists)
    out = []
    for k in ks:
        counts = exposure(lists, n_active_ads, k)
        share = counts / (lists.shape[0] * k)
        nz = share[share > 0]
        congestion = float(nz @ np.log(nz) / np.log(n_active_ads)) if n_active_ads > 1 else 0.0
        out.append(MarketScores(k, congestion, float((counts > 0).mean()), gini(counts)))
    return out
