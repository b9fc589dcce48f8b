"""The timeline: who is registered and which ads are open each day, the daily applications, the
sends of a past recommender, and the hires."""

from __future__ import annotations

import dataclasses

import numpy as np

from jobrec.synth import behaviour as bh
from jobrec.synth.world import FAMILIES, Ads, Geography, Occupations, Seekers


@dataclasses.dataclass
class Timeline:
    days: int
    seeker_start: np.ndarray  # registration day (negative: before the timeline)
    seeker_end: np.ndarray  # exit day (exclusive; >= days: still registered at the end)
    ad_start: np.ndarray
    ad_end: np.ndarray
    weekday0: int  # weekday of day 0


def make_timeline(rng, n_seekers: int, n_ads: int, days: int, weekday0: int) -> Timeline:
    stock = rng.random(n_seekers) < 0.55  # registered before the timeline starts
    s_start = np.where(stock, -rng.integers(1, 366, n_seekers), rng.integers(0, days, n_seekers))
    s_end = np.maximum(s_start, 0) + rng.geometric(1 / 200, n_seekers)
    ad_stock = rng.random(n_ads) < 0.3
    a_start = np.where(ad_stock, -rng.integers(1, 60, n_ads), rng.integers(0, days, n_ads))
    duration = np.clip(rng.lognormal(np.log(30), 0.6, n_ads), 3, 200).astype(np.int64)
    a_end = np.where(ad_stock, rng.geometric(1 / 30, n_ads), a_start + duration)
    return Timeline(days, s_start, s_end, a_start, a_end, weekday0)


def _child(seed_entropy: int, *keys: int) -> np.random.Generator:
    """A generator for one (purpose, day, family) cell: changing what happens in one cell (the
    gender effect, say) never shifts the random draws of another."""
    return np.random.default_rng(np.random.SeedSequence([seed_entropy, *keys]))


@dataclasses.dataclass
class Events:
    app_seeker: np.ndarray
    app_ad: np.ndarray
    app_time: np.ndarray  # seconds since day 0, 00:00 UTC
    app_channel: np.ndarray  # 0 organic, 1 recommendation
    hire_seeker: np.ndarray
    hire_ad: np.ndarray
    hire_time: np.ndarray
    send_seeker: np.ndarray
    send_ad: np.ndarray
    send_time: np.ndarray
    outcomes: dict[str, np.ndarray]
    scale_c: float
    hire_threshold: float
    applicants: np.ndarray  # per ad, for the oracle's competition term
    drawn: int  # applications drawn, before repeats and post-hire ones are removed
    unique: int  # after removing repeats


def calibrate_rate(s, a, occ, geo, tl: Timeline, entropy: int) -> float:
    """The constant c making the organic application volume match its target.

    Estimated on day 0 from a fixed sample of seekers, with the gender effect off so that c (and
    every proposal count) is the same whatever the planted effect."""
    rng = _child(entropy, 99)
    active_days = (np.minimum(tl.seeker_end, tl.days) - np.maximum(tl.seeker_start, 0)).clip(0)
    target_daily = bh.TARGET_APPLICATIONS_PER_SEEKER * s.n / active_days.sum()
    u_all = np.flatnonzero((tl.seeker_start <= 0) & (tl.seeker_end > 0))
    sample = np.sort(rng.choice(u_all, min(4000, len(u_all)), replace=False))
    open_ads = (tl.ad_start <= 0) & (tl.ad_end > 0)
    rates = []
    for f in range(len(FAMILIES)):
        u = sample[s.family[sample] == f]
        j = np.flatnonzero(open_ads & (a.family == f))
        if len(u) == 0 or len(j) == 0:
            continue
        codes = np.flatnonzero(occ.family == f)
        fd = bh.family_day(a, occ, j, a.attractiveness[j], len(codes))
        mass = bh.proposal_mass(s, occ, geo, fd, codes, u)
        k = 16
        uu, jj, g = bh.propose(s, a, occ, geo, fd, codes, u, np.where(mass > 0, k, 0), rng)
        acc = bh.acceptance(s, a, uu, jj, g)
        mean_acc = np.bincount(np.searchsorted(u, uu), acc, len(u)) / k
        rates.append(s.activity[u] * np.exp(bh.PAIR_MAX) * mass * mean_acc)
    rate0 = np.concatenate(rates).sum() / len(sample)
    return float(target_daily / max(rate0, 1e-12))


def draw_applications(s, a, occ, geo, tl: Timeline, entropy: int, gender_effect: float, c: float,
                      seekers: np.ndarray, sends: bool, progress=None):  # fmt: skip
    """Organic applications (and, if `sends`, the past recommender's sends) of the `seekers`
    mask over the timeline, before repeats are removed."""
    g_ad = np.exp(bh.gender_term(a, gender_effect))
    ads_by_family = [np.flatnonzero(a.family == f) for f in range(len(FAMILIES))]
    seekers_by_family = [np.flatnonzero(seekers & (s.family == f)) for f in range(len(FAMILIES))]
    apps, sent = [], []
    for t in range(tl.days):
        send_day = sends and (tl.weekday0 + t) % 7 in bh.SEND_WEEKDAYS and t < tl.days - 1
        for f in range(len(FAMILIES)):
            j = ads_by_family[f]
            j = j[(tl.ad_start[j] <= t) & (tl.ad_end[j] > t)]
            u_f = seekers_by_family[f]
            u_f = u_f[(tl.seeker_start[u_f] <= t) & (tl.seeker_end[u_f] > t)]
            if len(j) == 0 or len(u_f) == 0:
                continue
            codes = np.flatnonzero(occ.family == f)
            for female in (False, True):
                fd = bh.family_day(
                    a, occ, j, a.attractiveness[j] * (g_ad[j] if female else 1.0), len(codes)
                )
                u_g = u_f[s.female[u_f] == female]
                for k0 in range(0, len(u_g), bh.CHUNK):
                    u = u_g[k0 : k0 + bh.CHUNK]
                    rng = _child(entropy, 1, t, f, int(female), k0)
                    mass = bh.proposal_mass(s, occ, geo, fd, codes, u)
                    lam = c * s.activity[u] * np.exp(bh.PAIR_MAX) * mass
                    uu, jj, g = bh.propose(s, a, occ, geo, fd, codes, u, rng.poisson(lam), rng)
                    keep = rng.random(len(uu)) < bh.acceptance(s, a, uu, jj, g)
                    when = t * 86400 + rng.integers(6 * 3600, 23 * 3600, keep.sum())
                    apps.append((uu[keep], jj[keep], when))
                    if send_day:
                        sent.append(_past_recommender(s, a, occ, geo, fd, codes, u, t, rng))
        if progress is not None:
            progress.update(1)
    empty = [np.zeros(0, np.int64)] * 3
    app = tuple(np.concatenate(x) for x in zip(*(apps or [empty]), strict=True))
    send = tuple(np.concatenate(x) for x in zip(*(sent or [empty]), strict=True))
    return app, send


def _unique_pairs(u: np.ndarray, j: np.ndarray, n_ads: int) -> int:
    return len(np.unique(u.astype(np.int64) * n_ads + j))


def calibrate_unique(s, a, occ, geo, tl, entropy, c0: float) -> float:
    """Correct c for repeats: a seeker applies to an ad once, so the unique applications grow
    slower than c. Two pilot runs on a sample of seekers give the elasticity; c is set so that
    the unique organic applications per seeker hit their target. The gender effect is off in
    the pilots, so c is the same whatever the planted effect."""
    rng = _child(entropy, 98)
    sample = np.zeros(s.n, bool)
    sample[rng.choice(s.n, min(s.n, 3000), replace=False)] = True
    uniques = []
    for c in (c0, 3 * c0):
        (u, j, _), _ = draw_applications(s, a, occ, geo, tl, entropy, 0.0, c, sample, False)
        uniques.append(max(_unique_pairs(u, j, a.n), 1) / sample.sum())
    beta = np.clip(np.log(uniques[1] / uniques[0]) / np.log(3), 0.2, 1.0)
    return float(c0 * (bh.TARGET_APPLICATIONS_PER_SEEKER / uniques[0]) ** (1 / beta))


def simulate(s: Seekers, a: Ads, occ: Occupations, geo: Geography, tl: Timeline, entropy: int,
             gender_effect: float, progress=None) -> Events:  # fmt: skip
    c = calibrate_unique(s, a, occ, geo, tl, entropy, calibrate_rate(s, a, occ, geo, tl, entropy))
    everyone = np.ones(s.n, bool)
    (app_u, app_j, app_t), (send_u, send_j, send_t) = draw_applications(
        s, a, occ, geo, tl, entropy, gender_effect, c, everyone, True, progress
    )
    outcomes = funnel_outcomes(s, a, occ, send_u, send_j, _child(entropy, 2))
    # applications that came from a send: a few hours after it
    applied = outcomes["applied"]
    rec_t = send_t[applied] + _child(entropy, 3).integers(1800, 20 * 3600, applied.sum())
    app_u = np.concatenate([app_u, send_u[applied]])
    app_j = np.concatenate([app_j, send_j[applied]])
    app_t = np.concatenate([app_t, rec_t])
    channel = np.concatenate([np.zeros(len(app_t) - applied.sum(), np.int8),
                              np.ones(applied.sum(), np.int8)])  # fmt: skip
    n_drawn = len(app_t)
    # a seeker applies to an ad once: keep the first application
    order = np.lexsort((app_t, app_j, app_u))
    first = np.ones(len(order), bool)
    first[1:] = (app_u[order][1:] != app_u[order][:-1]) | (app_j[order][1:] != app_j[order][:-1])
    sel = order[first]
    app_u, app_j, app_t, channel = app_u[sel], app_j[sel], app_t[sel], channel[sel]
    hires, tau = choose_hires(s, a, tl, app_u, app_j, app_t, _child(entropy, 4))
    hire_u, hire_j, hire_t = hires
    # hired seekers exit on their hire day and stop applying
    n_unique = len(app_t)
    hired_at = np.full(s.n, np.inf)
    hired_at[hire_u] = hire_t
    keep = app_t < hired_at[app_u]
    app_u, app_j, app_t, channel = app_u[keep], app_j[keep], app_t[keep], channel[keep]
    return Events(
        app_u, app_j, app_t, channel, hire_u, hire_j, hire_t, send_u, send_j, send_t, outcomes,
        c, tau, np.bincount(app_j, minlength=a.n), n_drawn, n_unique,
    )  # fmt: skip


def _past_recommender(s, a, occ, geo, fd, codes, u, t, rng):
    """Sends of the past recommender: a share of the active seekers get 5 ads, the best of 8
    drawn around their occupation and home, by a noisy version of the utility."""
    chosen = u[rng.random(len(u)) < bh.SEND_SHARE]
    if len(chosen) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    mass = bh.proposal_mass(s, occ, geo, fd, codes, chosen)
    chosen = chosen[mass > 0]
    uu, jj, _ = bh.propose(s, a, occ, geo, fd, codes, chosen,
                           np.full(len(chosen), bh.SEND_POOL), rng)  # fmt: skip
    noisy = bh.pair_score(s, a, uu, jj) + rng.gumbel(0, 0.7, len(uu))
    noisy = noisy.reshape(-1, bh.SEND_POOL)
    best = np.argsort(-noisy, axis=1)[:, : bh.SENDS_PER_SEEKER]
    rows = np.arange(len(chosen))[:, None] * bh.SEND_POOL + best
    uu, jj = uu[rows.ravel()], jj[rows.ravel()]
    key = uu.astype(np.int64) * a.n + jj
    _, first = np.unique(key, return_index=True)  # the same ad twice in one send: once
    first = np.sort(first)
    when = t * 86400 + 6 * 3600 + rng.integers(0, 3600, len(first))
    return uu[first], jj[first], when


# Funnel parameters per occupation family: families with a high apply rate get a lower positive
# rate per apply and vice versa (the heterogeneity the per-segment thresholds exploit).
def family_funnel(n_families: int = len(FAMILIES)) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20221018)  # fixed: a property of the market, not of the seed
    delta = np.linspace(-1.1, 1.1, n_families)[rng.permutation(n_families)]
    return {
        "respond": -0.6 + rng.normal(0, 0.25, n_families),
        "apply": -0.9 + delta,
        "positive": -1.4 - 0.9 * delta + rng.normal(0, 0.15, n_families),
        "negative": -2.4 + rng.normal(0, 0.35, n_families),
        "unsubscribe": np.full(n_families, -8.9),
    }


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def funnel_outcomes(s, a, occ, u, j, rng) -> dict[str, np.ndarray]:
    """Response, apply, positive outcome, unsubscribe and negative feedback of each send."""
    p = family_funnel()
    f = a.family[j]
    d = bh.distance_km(s.lat[u], s.lon[u], a.lat[j], a.lon[j])
    # match quality on a logit scale, bounded so that far-fetched sends saturate
    match = np.clip(bh.pair_score(s, a, u, j) - 0.5 * (d / s.mobility_km[u]) ** 2 - 0.5, -4, 3)
    fit = bh.employer_utility_mean(s, a, u, j) - 1.0
    n = len(u)
    responded = rng.random(n) < _sigmoid(p["respond"][f] + 0.6 * match)
    applied = responded & (rng.random(n) < _sigmoid(p["apply"][f] + 0.9 * match))
    positive = applied & (rng.random(n) < _sigmoid(p["positive"][f] + 1.2 * fit))
    negative = responded & (rng.random(n) < _sigmoid(p["negative"][f] - 0.9 * match))
    unsubscribed = rng.random(n) < _sigmoid(p["unsubscribe"][f] - 0.4 * match)
    return {
        "responded": responded,
        "applied": applied,
        "positive_outcome": positive,
        "unsubscribed": unsubscribed,
        "negative_feedback": negative,
    }


def choose_hires(s, a, tl: Timeline, app_u, app_j, app_t, rng):
    """Each ad hires among its top-`positions` applicants (employer utility) those above τ."""
    e = bh.employer_utility_mean(s, a, app_u, app_j) + 0.7 * rng.gumbel(0, 1, len(app_u))
    delay = (2 + np.minimum(rng.geometric(1 / 8, len(app_u)), 28)) * 86400
    hire_t = app_t + delay + rng.integers(-3600 * 4, 3600 * 4, len(app_u))
    order = np.lexsort((-e, app_j))
    ads_sorted = app_j[order]
    group_start = np.searchsorted(ads_sorted, ads_sorted, side="left")
    rank = np.arange(len(order)) - group_start
    top = order[rank < a.positions[ads_sorted]]
    # a hire must happen within the timeline and before the seeker leaves for other reasons
    valid = top[(hire_t[top] < tl.days * 86400) & (hire_t[top] < tl.seeker_end[app_u[top]] * 86400)]
    target = int(round(bh.TARGET_HIRES_PER_SEEKER * s.n * 1.08))  # a few are lost below
    tau = np.sort(e[valid])[::-1][min(target, len(valid)) - 1] if len(valid) else np.inf
    hired = valid[e[valid] >= tau]
    # a seeker is hired once: the first hire wins
    hired = hired[np.argsort(hire_t[hired], kind="stable")]
    _, first = np.unique(app_u[hired], return_index=True)
    hired = hired[np.sort(first)]
    return (app_u[hired], app_j[hired], hire_t[hired]), float(tau)
