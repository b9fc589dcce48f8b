"""Offline evaluation of ranked lists on held-out events, the same way for every model.

A split is a window of days with its relevant events, the ads one could apply to in it (the
universe) and the pairs seen before it (excluded from every list: one does not apply twice).
  validation  [D - 7, D): models trained before D - 7; universe = ads open in the window
  forward     [D, D + 7): tonight's lists; universe = ads active at D (backfills only)
Baselines: `popularity` (jobrec.baselines, counts before the window) and `oracle` (the
synthetic market's true probabilities summed over the window's days, on a fixed sample of
seekers, with the model scored on the same sample beside it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd

from jobrec.data.market import FORWARD_DAYS, Events, Market
from jobrec.evaluation.baselines import popularity_by_group
from jobrec.evaluation.metrics import hits_matrix, ranking_metrics

RELEVANCE = ("applications", "hires")
EVALUATION_SEEKERS = 20_000  # a seeded sample bounds every evaluation's cost at large scales
ORACLE_SEEKERS = 300  # the fixed sample on which the oracle and the models are scored side by side
SAMPLE_SEED = 0


@dataclasses.dataclass
class Split:
    name: str
    start: dt.date
    end: dt.date
    universe: np.ndarray  # sorted ad rows
    relevant: dict[str, Events]  # by relevance kind
    seen: Events  # applications before the window
    popularity: np.ndarray  # applications per ad row before the window

    def seekers(self, limit: int, seed: int) -> np.ndarray:
        """The seekers with relevant events (a seeded sample of at most `limit`), sorted."""
        who = np.unique(np.concatenate([e.seeker for e in self.relevant.values()]))
        if len(who) > limit:
            who = np.sort(np.random.default_rng(seed).choice(who, limit, replace=False))
        return who

    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range((self.end - self.start).days)]


def _unseen(events: Events, seen: Events, n_ads: int) -> Events:
    """The events on pairs not in `seen`."""
    keys = events.seeker.astype(np.int64) * n_ads + events.ad
    return events.where(~np.isin(keys, seen.seeker.astype(np.int64) * n_ads + seen.ad))


def _split(name, start, end, universe, apps: Events, hires: Events, seen: Events, n_ads):
    # Lists never hold an ad the seeker applied to before the window, so an event on such an ad
    # (a hire after an earlier application, a repeated application) is no target for them:
    # relevant events are those on ads the seeker had not applied to before the window.
    return Split(
        name,
        start,
        end,
        universe,
        {"applications": _unseen(apps, seen, n_ads), "hires": _unseen(hires, seen, n_ads)},
        seen,
        np.bincount(seen.ad, minlength=n_ads),
    )


def splits(market: Market) -> list[Split]:
    """The validation split, and the forward split when the raw data holds its whole window.

    Parameters
    ----------
    market : Market
        The market as known at D.

    Returns
    -------
    list of Split
        [validation] or [validation, forward].
    """
    d, t, n_ads = market.run_date, market.train_end, len(market.ads)
    out = [
        _split(
            "validation",
            t,
            d,
            market.ads_open_between(t, d),
            market.applications.between(t, d),
            market.hires.between(t, d),
            market.applications.between(dt.date.min, t),
            n_ads,
        )
    ]
    if market.forward_applications is not None:
        out.append(
            _split(
                "forward",
                d,
                d + dt.timedelta(days=FORWARD_DAYS),
                market.active_ads(),
                market.forward_applications,
                market.forward_hires,
                market.applications,
                n_ads,
            )
        )
    return out


def positions(sorted_rows: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Position of each of `rows` in `sorted_rows`, -1 when absent.

    Parameters
    ----------
    sorted_rows : (n,) int array
        Sorted, distinct rows (e.g. a split's universe).
    rows : (m,) int array
        Rows to look up.

    Returns
    -------
    (m,) int array
        Positions in `sorted_rows`, -1 for rows not in it.
    """
    rows = np.asarray(rows)
    if not len(sorted_rows):
        return np.full(len(rows), -1, dtype=np.int64)
    p = np.minimum(np.searchsorted(sorted_rows, rows), len(sorted_rows) - 1)
    return np.where(sorted_rows[p] == rows, p, -1)


def pairs_in(seekers: np.ndarray, universe: np.ndarray, events: Events, keep_outside: bool):
    """Events of `seekers` as (list row, universe position). An ad outside the universe gets
    position len(universe) when `keep_outside` (relevance: a miss for every model), else the
    pair is dropped (exclusions).

    Parameters
    ----------
    seekers : (U,) int array
        Sorted market seeker rows: the lists' rows.
    universe : (J,) int array
        Sorted market ad rows.
    events : Events
        Events with market `seeker` and `ad` rows; those of other seekers are dropped.
    keep_outside : bool
        Keep events on ads outside the universe, at position J.

    Returns
    -------
    rows : (E,) int array
        Positions in `seekers`.
    pos : (E,) int array
        Positions in `universe` (J: outside).
    """
    s_pos = positions(seekers, events.seeker)
    a_pos = positions(universe, events.ad)
    if keep_outside:
        a_pos = np.where(a_pos >= 0, a_pos, len(universe))
    ok = (s_pos >= 0) & (a_pos >= 0)
    return s_pos[ok], a_pos[ok]


def drop_excluded(lists: np.ndarray, ex_rows, ex_pos, n: int, k: int) -> np.ndarray:
    """Remove excluded (row, position) pairs from each list, keep the order, cut to k.

    Parameters
    ----------
    lists : (U, K) int array
        Lists of positions 0..n-1, -1 padded.
    ex_rows, ex_pos : (E,) int arrays
        The excluded (list row, position) pairs.
    n : int
        Positions are below n.
    k : int
        List length kept.

    Returns
    -------
    (U, min(k, K)) int array
        The lists without the excluded entries, -1 padded at the end.
    """
    lists = np.where(hits_matrix(lists, ex_rows, ex_pos, n), -1, lists)
    order = np.argsort(lists < 0, axis=1, kind="stable")
    return np.take_along_axis(lists, order, axis=1)[:, :k]


def popularity_lists(market: Market, split: Split, seekers: np.ndarray, k: int) -> np.ndarray:
    """(len(seekers), k) universe positions: department × family popularity, seen ads removed.

    Parameters
    ----------
    market : Market
        The market as known at D.
    split : Split
        The split (its universe, seen pairs and popularity before the window).
    seekers : (U,) int array
        Sorted market seeker rows.
    k : int
        List length.

    Returns
    -------
    (U, k) int array
        Universe positions, most popular first, -1 padded.
    """
    s, a = market.seekers.iloc[seekers], market.ads.iloc[split.universe]
    s_family = s["desired_occupation"].str[:1].to_numpy()
    a_family = a["occupation"].str[:1].to_numpy()
    groups = pd.Index(
        np.unique(
            np.concatenate(
                [
                    s["department"].to_numpy() + "|" + s_family,
                    a["department"].to_numpy() + "|" + a_family,
                ]
            )
        )
    )
    families = pd.Index(np.unique(np.concatenate([s_family, a_family])))
    ex_rows, ex_pos = pairs_in(seekers, split.universe, split.seen, keep_outside=False)
    extra = int(np.bincount(ex_rows, minlength=len(seekers)).max(initial=0))
    lists = popularity_by_group(
        groups.get_indexer(s["department"].to_numpy() + "|" + s_family),
        families.get_indexer(s_family),
        groups.get_indexer(a["department"].to_numpy() + "|" + a_family),
        families.get_indexer(a_family),
        split.popularity[split.universe],
        k + extra,
    )
    return drop_excluded(lists, ex_rows, ex_pos, len(split.universe), k)


def oracle_lists(
    oracle, market: Market, split: Split, seekers: np.ndarray, k: int, kind: str
) -> np.ndarray:
    """The true expected count (apply) or probability mass (hire) of each pair over the
    window's days, ranked; seen ads removed.

    Parameters
    ----------
    oracle : object
        The synthetic market's oracle (its `score_matrix(seeker_ids, ad_ids, day, kind)`).
    market : Market
        The market as known at D.
    split : Split
        The split (its universe, days and seen pairs).
    seekers : (U,) int array
        Sorted market seeker rows.
    k : int
        List length (at most the universe's size).
    kind : str
        "apply" or "hire".

    Returns
    -------
    (U, min(k, J)) int array
        Universe positions, best first (seen ads score -inf: they come last, when at all).
    """
    s_ids = market.seekers["jobseeker_id"].to_numpy()[seekers]
    a_ids = market.ads["ad_id"].to_numpy()[split.universe]
    score = sum(oracle.score_matrix(s_ids, a_ids, day, kind) for day in split.days())
    ex_rows, ex_pos = pairs_in(seekers, split.universe, split.seen, keep_outside=False)
    score[ex_rows, ex_pos] = -np.inf
    k = min(k, score.shape[1])
    top = np.argpartition(-score, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(score, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def metric_rows(lists: np.ndarray, split: Split, seekers: np.ndarray, ks, **labels) -> list[dict]:
    """metrics.ranking rows of one model's lists on one split, for both relevance kinds.

    Parameters
    ----------
    lists : (U, K) int array
        Universe positions in rank order, -1 padded, row-aligned with `seekers`.
    split : Split
        The split (universe and relevant events).
    seekers : (U,) int array
        Sorted market seeker rows.
    ks : iterable of int
        The cut-offs.
    **labels
        Constant columns (stage, model, population...).

    Returns
    -------
    list of dict
        One row per relevance and k: the labels, relevance, split, k, recall, ndcg,
        hit_rate and seekers (those with relevant events).
    """
    out = []
    for relevance in RELEVANCE:
        rows, pos = pairs_in(seekers, split.universe, split.relevant[relevance], keep_outside=True)
        for r in ranking_metrics(lists, rows, pos, len(split.universe) + 1, tuple(ks)):
            out.append(
                {
                    **labels,
                    "relevance": relevance,
                    "split": split.name,
                    "k": r.k,
                    "recall": r.recall,
                    "ndcg": r.ndcg,
                    "hit_rate": r.hit_rate,
                    "seekers": r.seekers,
                }
            )
    return out


def per_seeker_recall(
    lists: np.ndarray, split: Split, seekers: np.ndarray, k: int, relevance: str = "applications"
) -> np.ndarray:
    """Recall@k of each seeker with relevant events (for paired comparisons).

    Parameters
    ----------
    lists : (U, K) int array
        Universe positions in rank order, -1 padded, row-aligned with `seekers`.
    split : Split
        The split.
    seekers : (U,) int array
        Sorted market seeker rows.
    k : int
        The cut-off.
    relevance : str, default "applications"
        "applications" or "hires".

    Returns
    -------
    (U',) float array
        Recall@k of each of the U' seekers with relevant events, in seeker order.
    """
    rows, pos = pairs_in(seekers, split.universe, split.relevant[relevance], keep_outside=True)
    hits = hits_matrix(lists[:, :k], rows, pos, len(split.universe) + 1).sum(axis=1)
    n_rel = np.bincount(
        np.unique(rows.astype(np.int64) * (len(split.universe) + 1) + pos)
        // (len(split.universe) + 1),
        minlength=len(seekers),
    )
    has = n_rel > 0
    return hits[has] / n_rel[has]


def evaluated_seekers(split: Split, limit: int = EVALUATION_SEEKERS) -> np.ndarray:
    """The seekers every stage's evaluation scores on a split (market rows, sorted): those with
    relevant events, a seeded sample of at most `limit`.

    Parameters
    ----------
    split : Split
        The split.
    limit : int, default EVALUATION_SEEKERS
        The sample's size at most.

    Returns
    -------
    (U,) int array
        Sorted market seeker rows.
    """
    return split.seekers(limit, SAMPLE_SEED)


def oracle_sample(n_seekers: int, size: int = ORACLE_SEEKERS) -> np.ndarray:
    """Positions (sorted) of the fixed oracle sample among a split's evaluated seekers: every
    stage scores the same seekers, so their rows compare with the oracle's.

    Parameters
    ----------
    n_seekers : int
        The evaluated seekers.
    size : int, default ORACLE_SEEKERS
        The sample's size at most.

    Returns
    -------
    (min(size, n_seekers),) int array
        Sorted positions 0..n_seekers-1.
    """
    n = min(size, n_seekers)
    return np.sort(np.random.default_rng(SAMPLE_SEED + 1).choice(n_seekers, n, replace=False))


def comparison_k(universe: int) -> int:
    """The k at which models are compared: 1000 unless the universe is too small for Recall@k
    to tell models apart (at least 10 ads per list slot).

    Parameters
    ----------
    universe : int
        Ads in the split's universe.

    Returns
    -------
    int
        1000, 100 or 10; 0 when the universe holds fewer than 100 ads.
    """
    for k in (1000, 100, 10):
        if universe >= 10 * k:
            return k
    return 0


def paired_difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean of a - b over paired per-seeker values, and its standard error.

    Parameters
    ----------
    a, b : (n,) float arrays
        Paired values (e.g. two models' per-seeker recalls).

    Returns
    -------
    mean : float
        0.0 when n = 0.
    se : float
        The standard error of the mean; 0.0 when n < 2.
    """
    diff = np.asarray(a, float) - np.asarray(b, float)
    se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0
    return (float(diff.mean()) if len(diff) else 0.0), se


def frame_of(rows: list[dict], run_date: dt.date) -> pd.DataFrame:
    """Metric rows as a frame with the partition as its first column.

    Parameters
    ----------
    rows : list of dict
        Metric rows.
    run_date : date
        The partition D.

    Returns
    -------
    pandas.DataFrame
        The rows, `run_date` first (an empty frame, without it, for no rows).
    """
    frame = pd.DataFrame(rows)
    if len(frame):
        frame.insert(0, "run_date", run_date)
    return frame
