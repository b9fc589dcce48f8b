"""The hiring head's data: past applications with their outcome, as they stood when made.

A hire comes days or weeks after the application (3-23 days on the synthetic markets), so an
application of the last days before the training cut has not had time to be hired: labelled
from the hires before the cut, those of the last 3 days were all "not hired" on `small`
(3.6% truly are), and they went mostly to fresh ads. Trained on them, the hiring head learned
that a fresh ad does not hire, and Muse.2's score (log P(apply) + log P(hire | apply)) pushed
tonight's fresh ads down (BENCHMARKS.md, "Thirteenth session"). So the head trains on settled
applications only, those older than nearly every application-to-hire delay seen, and each
with the pair features of its own week (the ad's age and response, the employer's, the
seeker's history as they were then), as the training lists are dated at the cut and labelled
over the week after it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np

from jobrec.data.market import VALIDATION_DAYS, Market
from jobrec.pair_features import CROSS_COLUMNS, Entities, cross_features, entities_as_of
from jobrec.reranker_model import HirePairs


@dataclasses.dataclass(frozen=True)
class HireSettings:
    # an application is settled once older than this quantile of the application-to-hire
    # delays of the hires before the cut
    delay_quantile: float = 0.99
    # but at most this share of the application history is set aside as unsettled
    max_unsettled_share: float = 0.5
    block_days: int = VALIDATION_DAYS  # applications dated together, like a list's label week
    # False: every pair's features as of the cut (the head's data before the thirteenth session,
    # with max_unsettled_share=0; kept for the ablation)
    point_in_time: bool = True


HIRE_SETTINGS = HireSettings()


def _pair_keys(seeker: np.ndarray, ad: np.ndarray, n_ads: int) -> np.ndarray:
    return seeker.astype(np.int64) * n_ads + ad


def hire_delays(market: Market, before: dt.date) -> np.ndarray:
    """Days from each hire before `before` back to its pair's first application (hires without
    an application left out): an int array."""
    apps = market.applications.between(dt.date.min, before)
    hires = market.hires.between(dt.date.min, before)
    n_ads = len(market.ads)
    keys = _pair_keys(apps.seeker, apps.ad, n_ads)
    order = np.lexsort((apps.day, keys))  # by pair, the first application first
    keys, days = keys[order], apps.day[order]
    hire_keys = _pair_keys(hires.seeker, hires.ad, n_ads)
    at = np.minimum(np.searchsorted(keys, hire_keys), max(len(keys) - 1, 0))
    found = (keys[at] == hire_keys) if len(keys) else np.zeros(len(hire_keys), bool)
    return (hires.day[found] - days[at[found]]).astype(np.int64)


def settle_days(market: Market, before: dt.date, settings: HireSettings = HIRE_SETTINGS) -> int:
    """How old an application must be at `before` for its outcome to count as known: the
    `delay_quantile` of the hire delays, rounded up, at most `max_unsettled_share` of the days
    since the first application; 0 without hires."""
    delays = hire_delays(market, before)
    if not len(delays):
        return 0
    apps = market.applications.between(dt.date.min, before)
    span = int((np.datetime64(before, "D") - apps.day.min()).astype(np.int64))
    wanted = math.ceil(float(np.quantile(delays, settings.delay_quantile)))
    return max(0, min(wanted, int(span * settings.max_unsettled_share)))


def hire_pairs(
    market: Market, ent: Entities, before: dt.date, settings: HireSettings = HIRE_SETTINGS
) -> HirePairs:
    """The settled applications before `before`, labelled hired or not (by a hire before
    `before`), with point-in-time pair features.

    Parameters
    ----------
    market : Market
        The market as known at D.
    ent : Entities
        Pair-feature entities of the market (the night's `train_entities`): their static parts
        serve every week; the date-dependent ones are recomputed a week (`entities_as_of`).
    before : date
        The training cut (D - 7): hires before it count, applications made more than
        `settle_days` before it.
    settings : HireSettings
        The delay quantile, its cap, and how many days of applications share one date.

    Returns
    -------
    HirePairs
        P applications: `seeker` and `ad` (P,) market rows, `cross` (P, C) float32 pair
        features as of the start of the application's block of days (the Muse.0 columns zero:
        the hiring head masks them), `hired` (P,) bool, and `settle_days`.
    """
    settle = settle_days(market, before, settings)
    settled_end = before - dt.timedelta(days=settle)
    apps = market.applications.between(dt.date.min, settled_end)
    hires = market.hires.between(dt.date.min, before)
    n_ads = len(market.ads)
    hired = np.isin(
        _pair_keys(apps.seeker, apps.ad, n_ads), _pair_keys(hires.seeker, hires.ad, n_ads)
    )
    cross = np.zeros((len(apps), len(CROSS_COLUMNS)), np.float32)
    if len(apps) and not settings.point_in_time:
        zeros = np.zeros(len(apps), np.float32)
        cross = cross_features(ent, apps.seeker, apps.ad, zeros, zeros)
    elif len(apps):
        first = apps.day.min().astype(dt.date)
        end = settled_end
        while end > first:
            start = end - dt.timedelta(days=settings.block_days)
            rows = np.flatnonzero(
                (apps.day >= np.datetime64(start, "D")) & (apps.day < np.datetime64(end, "D"))
            )
            if len(rows):
                zeros = np.zeros(len(rows), np.float32)  # Muse.0's columns: masked anyway
                then = entities_as_of(ent, market, start)
                cross[rows] = cross_features(then, apps.seeker[rows], apps.ad[rows], zeros, zeros)
            end = start
    return HirePairs(apps.seeker, apps.ad, cross, hired, settle)
