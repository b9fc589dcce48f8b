"""The timeline: who is registered and which ads are open each day, the daily applications, the
sends of a past recommender with their funnel outcomes, and the hires.

Timeline: 55% of the seekers are a stock registered during the year before the first day, the
rest register uniformly over the timeline; a seeker leaves after a geometric(1/200) number of
days, or on the day of their hire. 30% of the ads are a stock posted during the 60 days before
(they close after a geometric(1/30) number of days), the rest are posted uniformly over the
timeline and stay open lognormal(log 30, 0.6) days (3-200); an ad closes earlier when all its
positions are filled, later when a hire needs it open.

Past recommender (recommendation_feedback): on Mondays and Thursdays every active seeker gets
the 5 best of 12 ads drawn around their occupation and home (own family), ranked by the
utility plus Gumbel(0.7) noise; it never sends an ad the seeker already applied to. Funnel:
responded ~ sigmoid(ρ_f + 0.6 m + log λ_u − E log λ) (engaged seekers open more mails),
applied | responded ~ sigmoid(α_f + 0.9 m), positive | applied ~ sigmoid(π_f + 1.2 (employer
utility − 1)), negative | responded ~ sigmoid(ν_f − 0.9 m), unsubscribed ~ sigmoid(−10 − 0.4 m)
(≈ 0.01% of sends), m = clip(S_uj − ½ (d/mobility)² − 0.5, −4, 3); the family intercepts
(`family_funnel`) trade apply rate against positives per apply. A send's application is an
application (channel "recommendation") 0.5-16 hours after it. Response and apply then rest on
different signals (engagement, match), so one threshold triple for all families leaves some
families' sends unevenly cut: what per-segment thresholds correct. The volume (~10 sends a
seeker a week) and the unsubscribe rate (a fifth of the 0.05% SLO) let a large segment's 28
days of sends show a Wilson-bounded unsubscribe rate under the SLO at `small` already.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.special import digamma

from jobrec.synth import behaviour
from jobrec.synth.world import FAMILIES

SEND_WEEKDAYS = (0, 3)  # Monday and Thursday
SEND_SHARE = 1.0  # of the active seekers on a send day
SENDS_PER_SEEKER, SEND_POOL = 5, 12
LOG_ACTIVITY_MEAN = float(digamma(1.5) - np.log(1.5))  # E log λ_u, λ_u ~ Gamma(1.5, 1/1.5)
RATE_MARGIN = 1.15  # the main run draws at c_hi = 1.15 x the pilot's c, then thins exactly
PILOT_SEEKERS = 2500
DISTINCT_PER_FINAL = 1.55  # distinct draws per final application (exits and closings drop some)
SOLVER_STEPS = 6


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


def child(entropy: int, *keys: int) -> np.random.Generator:
    """A generator for one (purpose, day, block) cell: what happens in one cell never shifts
    the random draws of another."""
    return np.random.default_rng(np.random.SeedSequence([entropy, *keys]))


@dataclasses.dataclass
class SimulatedMarket:
    s: object
    a: object
    occ: object
    tl: Timeline
    ranges: tuple  # behaviour.code_ranges: each code's domain and family ranges
    geo_bound: np.ndarray  # (seekers, departments) float32
    gender_effect: float
    log_bound_female: float
    effects: behaviour.Effects = dataclasses.field(default_factory=behaviour.Effects)


@dataclasses.dataclass
class Draws:
    """Accepted proposals (in the run's market or in the one without the planted gap)."""

    u: np.ndarray
    j: np.ndarray
    t: np.ndarray  # seconds since day 0, 00:00 UTC
    v: np.ndarray  # uniform: kept at rate c iff v < c / c_drawn (exact thinning)
    accepted: np.ndarray  # in the run's market
    accepted0: np.ndarray  # with gender_effect 0


def draw_days(
    m: SimulatedMarket, c: float, entropy: int, key: int, sample=None, sends=False, progress=None
):
    """Applications at rate c (and the past recommender's sends) over the timeline."""
    s, a, tl = m.s, m.a, m.tl
    parts, sent = [], []
    lam_scale = (
        c * s.activity * np.exp(behaviour.PAIR_MAX + np.where(s.female, m.log_bound_female, 0))
    )
    n_blocks = -(-s.n // behaviour.CHUNK)
    for t in range(tl.days):
        day = behaviour.day_market(
            a,
            m.occ,
            m.geo_bound.shape[1],
            (tl.ad_start <= t) & (tl.ad_end > t),
            m.effects.ad_freshness(t - tl.ad_start),
        )
        active = (tl.seeker_start <= t) & (tl.seeker_end > t)
        if sample is not None:
            active &= sample
        act = np.flatnonzero(active)
        edges = np.searchsorted(act, np.arange(n_blocks + 1) * behaviour.CHUNK)
        send_day = sends and (tl.weekday0 + t) % 7 in SEND_WEEKDAYS
        for b in range(n_blocks):  # fixed blocks of seeker indices, not a loop over seekers
            u = act[edges[b] : edges[b + 1]]
            if len(u) == 0:
                continue
            rng = child(entropy, key, t, b)
            code_u, g_u = s.search_code[u], m.geo_bound[u]
            weights = day.total[code_u] * g_u
            lam = lam_scale[u]
            fresh = m.effects.seeker_freshness(t - tl.seeker_start[u])
            if fresh is not None:
                lam = lam * fresh
            counts = rng.poisson(lam * behaviour.effort(weights.sum(axis=1, dtype=np.float32)))
            rows, jj, is_cross, g_b = behaviour.propose(
                m.ranges, day, code_u, g_u, weights, counts, rng
            )
            uu = u[rows]
            acc, acc0 = behaviour.acceptance(
                s, a, uu, jj, is_cross, g_b, m.gender_effect, m.log_bound_female
            )
            # one uniform per proposal for acceptance, time of day and thinning, whatever the
            # gender effect: the two markets share every draw
            draw = rng.random((3, len(uu)))
            ok, ok0 = draw[0] < acc, draw[0] < acc0
            keep = ok | ok0
            when = t * 86400 + (6 * 3600 + draw[1] * 17 * 3600).astype(np.int64)
            parts.append(
                (
                    uu[keep],
                    jj[keep],
                    when[keep],
                    draw[2][keep].astype(np.float32),
                    ok[keep],
                    ok0[keep],
                )
            )
            if send_day:
                sent.append(_past_recommender(m, day, u, t, child(entropy, key, t, b, 7)))
        if progress is not None:
            progress.update(1)
    draws = Draws(*_concat(parts, 6, [np.int32, np.int32, np.int64, np.float32, bool, bool]))
    return draws, tuple(_concat(sent, 3, [np.int32, np.int32, np.int32]))


def _concat(parts, k, dtypes):
    if not parts:
        return [np.zeros(0, d) for d in dtypes]
    return [np.concatenate([p[i] for p in parts]).astype(d) for i, d in enumerate(dtypes)]


def _past_recommender(m: SimulatedMarket, day, u, t, rng):
    """Sends: a share of the active seekers get the 5 best of 12 ads drawn from the bound of
    their own family (occupation and home), ranked by a noisy version of the utility."""
    s, a = m.s, m.a
    chosen = u[rng.random(len(u)) < SEND_SHARE]
    g_c = m.geo_bound[chosen]
    weights = day.own[s.code[chosen]] * g_c
    reach = weights.sum(axis=1) > 0
    chosen, g_c, weights = chosen[reach], g_c[reach], weights[reach]
    counts = np.full(len(chosen), SEND_POOL)
    rows, jj, _, _ = behaviour.propose(
        m.ranges, day, s.code[chosen], g_c, weights, counts, rng, cross=False
    )
    uu = chosen[rows]
    d = behaviour.distance_km(s.lat[uu], s.lon[uu], a.lat[jj], a.lon[jj])
    noisy = behaviour.pair_score(s, a, uu, jj) - 0.5 * (d / s.mobility_km[uu]) ** 2
    noisy = noisy + rng.gumbel(0, 0.7, len(uu))
    # the same ad twice in a pool: keep its best copy
    order = np.lexsort((-noisy, jj, rows))
    dup = np.zeros(len(order), bool)
    dup[1:] = (rows[order][1:] == rows[order][:-1]) & (jj[order][1:] == jj[order][:-1])
    noisy[order[dup]] = -np.inf
    best = np.argsort(-noisy.reshape(-1, SEND_POOL), axis=1, kind="stable")[:, :SENDS_PER_SEEKER]
    pick = (np.arange(len(chosen))[:, None] * SEND_POOL + best).ravel()
    pick = pick[np.isfinite(noisy[pick])]
    when = t * 86400 + 6 * 3600 + rng.integers(0, 3600, len(pick))
    # int32 as concatenated (seconds since day 0 fit: sends are the market's largest table)
    return uu[pick].astype(np.int32), jj[pick].astype(np.int32), when.astype(np.int32)


# ----------------------------------------------------------------------------------------------
# Calibration of the rate constant c
# ----------------------------------------------------------------------------------------------


def _unique_curve(d: Draws, n_ads: int) -> np.ndarray:
    """Sorted per-pair minimum of v over the pair's accepted draws (market without the gap):
    at rate c ≤ c_drawn, the number of distinct pairs is #(values < c / c_drawn)."""
    key = d.u[d.accepted0].astype(np.int64) * n_ads + d.j[d.accepted0]
    v = d.v[d.accepted0]
    order = np.lexsort((v, key))
    first = np.ones(len(order), bool)
    first[1:] = key[order][1:] != key[order][:-1]
    return np.sort(v[order][first])


def _extrapolate(c: float, curve: np.ndarray, target: float) -> float:
    """A rate constant above the one that gives `target` distinct pairs, from the curve drawn
    at c (distinct pairs grow slower than c: repeats)."""
    n = max(len(curve), 1)
    half = max(np.searchsorted(curve, 0.5), 1)
    elasticity = np.clip(np.log(n / half) / np.log(2), 0.1, 1.0)
    return float(c * 1.3 * (target / n) ** (1 / elasticity))


def calibrate(m: SimulatedMarket, entropy: int, per_seeker: float, progress=None) -> float:
    """Pilot runs on a sample of PILOT_SEEKERS seekers find the c at which seekers draw
    `per_seeker` distinct organic pairs (gender effect 0)."""
    rng = child(entropy, 90)
    sample = np.zeros(m.s.n, bool)
    sample[rng.choice(m.s.n, min(PILOT_SEEKERS, m.s.n), replace=False)] = True
    target = per_seeker * sample.sum()
    c_p = 3 * _first_guess(m, sample, per_seeker)
    for attempt in range(10):
        if progress is not None:
            progress.reset()
        d, _ = draw_days(m, c_p, entropy, 91 + attempt, sample, progress=progress)
        curve = _unique_curve(d, m.a.n)
        if len(curve) >= target:
            return float(c_p * curve[int(target) - 1])
        c_p = _extrapolate(c_p, curve, target)
    return float(c_p)


def _first_guess(m: SimulatedMarket, sample: np.ndarray, per_seeker: float) -> float:
    """c from the day-0 proposal mass, assuming 1 accepted proposal in 12 and no repeats."""
    s, tl = m.s, m.tl
    day = behaviour.day_market(
        m.a,
        m.occ,
        m.geo_bound.shape[1],
        (tl.ad_start <= 0) & (tl.ad_end > 0),
        m.effects.ad_freshness(-tl.ad_start),
    )
    u = np.flatnonzero(sample)
    mass = behaviour.opportunity(day, s.search_code[u], m.geo_bound[u])
    per_day = (s.activity[u] * np.exp(behaviour.PAIR_MAX) * behaviour.effort(mass)).mean() / 12
    active_days = np.minimum(tl.seeker_end[u], tl.days) - np.maximum(tl.seeker_start[u], 0)
    return float(per_seeker / max(per_day * active_days.clip(0).mean(), 1e-12))


# ----------------------------------------------------------------------------------------------
# Funnel of the sends
# ----------------------------------------------------------------------------------------------


def family_funnel(n_families: int = len(FAMILIES)) -> dict[str, np.ndarray]:
    """Funnel intercepts per occupation family: families with a high apply rate get a lower
    positive rate per apply and vice versa (the heterogeneity the per-segment thresholds use).
    Fixed: a property of the market, not of the seed."""
    rng = np.random.default_rng(20221018)
    delta = np.linspace(-1.1, 1.1, n_families)[rng.permutation(n_families)]
    return {
        "respond": -0.6 + rng.normal(0, 0.25, n_families),
        "apply": -0.9 + delta,
        "positive": -1.4 - 0.9 * delta + rng.normal(0, 0.15, n_families),
        "negative": -2.6 + rng.normal(0, 0.35, n_families),
        "unsubscribe": np.full(n_families, -10.0),
    }


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


OUTCOME_CHUNK = 1 << 20  # sends whose match is computed at once (the taste products are wide)


def funnel_outcomes(s, a, u, j, rng) -> dict[str, np.ndarray]:
    """Response, apply, positive outcome, unsubscribe and negative feedback of each send.

    Memory stays a few arrays of the sends' length: the match and the employer fit are computed
    chunk by chunk, and the uniforms row by row in chunks (the same values as one (5, n) draw)."""
    p = family_funnel()
    n = len(u)
    f = a.family[j].astype(np.int8)
    match, fit = np.empty(n), np.empty(n)
    for lo in range(0, n, OUTCOME_CHUNK):
        uu, jj = u[lo : lo + OUTCOME_CHUNK], j[lo : lo + OUTCOME_CHUNK]
        d = behaviour.distance_km(s.lat[uu], s.lon[uu], a.lat[jj], a.lon[jj])
        # match quality on a logit scale, bounded so that far-fetched sends saturate
        match[lo : lo + OUTCOME_CHUNK] = np.clip(
            behaviour.pair_score(s, a, uu, jj) - 0.5 * (d / s.mobility_km[uu]) ** 2 - 0.5, -4, 3
        )
        fit[lo : lo + OUTCOME_CHUNK] = behaviour.employer_utility_mean(s, a, uu, jj) - 1.0
    # engaged seekers (high hidden activity) open more mails, whatever the match
    engagement = np.log(s.activity) - LOG_ACTIVITY_MEAN  # per seeker

    def draw(logit) -> np.ndarray:
        """One uniform a send, in order, against sigmoid(logit(chunk)): the same values as
        one draw of n, without n-long temporaries."""
        out = np.empty(n, bool)
        for lo in range(0, n, OUTCOME_CHUNK):
            c = slice(lo, min(lo + OUTCOME_CHUNK, n))
            out[c] = rng.random(c.stop - c.start) < _sigmoid(logit(c))
        return out

    responded = draw(lambda c: p["respond"][f[c]] + 0.6 * match[c] + engagement[u[c]])
    applied = responded & draw(lambda c: p["apply"][f[c]] + 0.9 * match[c])
    positive = applied & draw(lambda c: p["positive"][f[c]] + 1.2 * fit[c])
    negative = responded & draw(lambda c: p["negative"][f[c]] - 0.9 * match[c])
    unsubscribed = draw(lambda c: p["unsubscribe"][f[c]] - 0.4 * match[c])
    return {
        "responded": responded,
        "applied": applied,
        "positive_outcome": positive,
        "unsubscribed": unsubscribed,
        "negative_feedback": negative,
    }


# ----------------------------------------------------------------------------------------------
# From draws to events: first applications, hires, exits and closings
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class SimulatedEvents:
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
    seeker_last: np.ndarray  # last registered day (exited_on; >= days: still registered)
    ad_last: np.ndarray  # last open day (closed_on; >= days: still open)
    ad_apply_last: np.ndarray  # last day the ad could receive applications
    applicants: np.ndarray  # per ad, for the oracle's competition term
    hire_threshold: float
    drawn: int  # organic draws at rate c, repeats included


def _first_per_pair(key: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Indices of the earliest row of each key."""
    order = np.lexsort((t, key))
    first = np.ones(len(order), bool)
    first[1:] = key[order][1:] != key[order][:-1]
    return order[first]


def hire_candidates(m: SimulatedMarket, key: int, u, j, t):
    """Employer utility, hire time and candidacy (among the ad's top `positions`, hired while
    the seeker is still registered and within the timeline) of each application."""
    s, a, tl = m.s, m.a, m.tl
    noise = -np.log(-np.log(np.clip(behaviour.pair_hash_uniform(key, u, j, 1), 1e-12, 1 - 1e-12)))
    e = behaviour.employer_utility_mean(s, a, u, j) + behaviour.EMPLOYER_NOISE * noise
    # delay: 2 days + geometric(1/6), at most 21 (3-23 days), at a time of day of its own
    geo_days = (
        np.floor(np.log1p(-behaviour.pair_hash_uniform(key, u, j, 2)) / np.log(1 - 1 / 6)) + 1
    )
    delay = 2 + np.minimum(geo_days, 21)
    hire_t = t + (delay * 86400).astype(np.int64)
    hire_t += ((behaviour.pair_hash_uniform(key, u, j, 3) - 0.5) * 8 * 3600).astype(np.int64)
    order = np.lexsort((-e, j))
    ads_sorted = j[order]
    rank = np.arange(len(order)) - np.searchsorted(ads_sorted, ads_sorted, side="left")
    top = np.zeros(len(u), bool)
    top[order[rank < a.positions[ads_sorted]]] = True
    valid = top & (hire_t < tl.days * 86400) & (hire_t < tl.seeker_end[u] * 86400)
    return e, hire_t, valid


def hire_threshold(m: SimulatedMarket, e, u, valid) -> float:
    """τ such that TARGET_HIRES_PER_SEEKER x seekers are hired: a seeker is hired iff one of
    their candidacies has e ≥ τ (the first hire wins), so τ is a quantile of the per-seeker
    best candidate utility."""
    best = np.full(m.s.n, -np.inf)
    np.maximum.at(best, u[valid], e[valid])
    best = np.sort(best[np.isfinite(best)])[::-1]
    target = int(round(behaviour.TARGET_HIRES_PER_SEEKER * m.s.n))
    if len(best) == 0:
        return float("inf")
    return float(best[min(target, len(best)) - 1])


def assemble(
    m: SimulatedMarket, key: int, org, sends, outcomes, rec_t, tau=None, with_sends: bool = True
) -> SimulatedEvents:
    """First applications, hires (threshold τ, calibrated here when None), exits, closings,
    and the sends and applications that remain consistent with them. `with_sends=False` leaves
    the sends out of the result (the rate solver's markets: two alive at once, and the sends
    are the largest table)."""
    s, a, tl = m.s, m.a, m.tl
    org_u, org_j, org_t = org
    send_u, send_j, send_t = sends
    applied = outcomes["applied"]
    # the past recommender does not send an ad the seeker already applied to (organically or
    # from an earlier send)
    key_all = np.concatenate([org_u, send_u[applied]]).astype(np.int64) * a.n
    key_all += np.concatenate([org_j, send_j[applied]])
    t_all = np.concatenate([org_t, rec_t[applied]])
    first = _first_per_pair(key_all, t_all)
    order = np.argsort(key_all[first])
    ukey, first_t = key_all[first][order], t_all[first][order]
    # chunked: the sends outnumber the applications ten to one
    sent_ok = np.empty(len(send_u), bool)
    for lo in range(0, len(send_u), OUTCOME_CHUNK):
        c = slice(lo, lo + OUTCOME_CHUNK)
        send_key = send_u[c].astype(np.int64) * a.n + send_j[c]
        pos = np.minimum(np.searchsorted(ukey, send_key), max(len(ukey) - 1, 0))
        sent_ok[c] = ~((len(ukey) > 0) & (ukey[pos] == send_key) & (first_t[pos] < send_t[c]))
    rec = sent_ok & applied
    u = np.concatenate([org_u, send_u[rec]])
    j = np.concatenate([org_j, send_j[rec]])
    t = np.concatenate([org_t, rec_t[rec]])
    channel = np.concatenate([np.zeros(len(org_u), np.int8), np.ones(rec.sum(), np.int8)])
    sel = _first_per_pair(u.astype(np.int64) * a.n + j, t)
    sel = sel[np.argsort(t[sel], kind="stable")]
    u, j, t, channel = u[sel], j[sel], t[sel], channel[sel]
    # hires: threshold, then the first hire of each seeker
    e, hire_t, valid = hire_candidates(m, key, u, j, t)
    if tau is None:
        tau = hire_threshold(m, e, u, valid)
    hired = np.flatnonzero(valid & (e >= tau))
    hired = hired[_first_per_pair(u[hired].astype(np.int64), hire_t[hired])]
    hired = hired[np.argsort(hire_t[hired], kind="stable")]
    hire_u, hire_j, hire_time = u[hired], j[hired], hire_t[hired]
    hired_at = np.full(s.n, np.iinfo(np.int64).max)
    hired_at[hire_u] = hire_time
    # exits: the hired seeker leaves on the hire day and stops applying
    seeker_last = tl.seeker_end - 1
    seeker_last[hire_u] = np.minimum(seeker_last[hire_u], hire_time // 86400)
    # closings: open until the last hire at least; filled ads close 0-3 days after it
    last_hire = np.full(a.n, -(10**9), np.int64)
    np.maximum.at(last_hire, hire_j, hire_time // 86400)
    filled = np.bincount(hire_j, minlength=a.n) >= a.positions
    ad_last = np.maximum(tl.ad_end - 1, last_hire)
    lag = np.floor(behaviour.pair_hash_uniform(key, np.arange(a.n), 0, 4) * 4).astype(np.int64)
    ad_last = np.where(filled, np.minimum(ad_last, last_hire + lag), ad_last)
    # what remains: applications before the seeker's hire and while the ad is open
    keep = (t < hired_at[u]) & (t // 86400 <= ad_last[j])
    u, j, t, channel = u[keep], j[keep], t[keep], channel[keep]
    if not with_sends:
        send_u, send_j, send_t = send_u[:0], send_j[:0], send_t[:0]
        sent_ok, applied, rec_t = sent_ok[:0], applied[:0], rec_t[:0]
        outcomes = {k: v[:0] for k, v in outcomes.items()}
    show = np.empty(len(send_u), bool)
    for lo in range(0, len(send_u), OUTCOME_CHUNK):
        c = slice(lo, lo + OUTCOME_CHUNK)
        gone = hired_at[send_u[c]]
        hide = ~sent_ok[c] | (send_t[c] >= gone) | (send_t[c] // 86400 > ad_last[send_j[c]])
        show[c] = ~(hide | (applied[c] & (rec_t[c] >= gone)))
    drawn = len(org_u)
    return SimulatedEvents(
        u,
        j,
        t,
        channel,
        hire_u,
        hire_j,
        hire_time,
        send_u[show],
        send_j[show],
        send_t[show],
        {k: v[show] for k, v in outcomes.items()},
        seeker_last,
        ad_last,
        np.minimum(tl.ad_end - 1, ad_last),
        np.bincount(j, minlength=a.n),
        float(tau),
        drawn,
    )


def simulate(m: SimulatedMarket, entropy: int, progress=None, calibration_progress=None):
    """The whole dynamic market. Returns (events, c).

    c is set in the market without the planted gap (so that it is the same whatever the
    effect): pilots on a sample give c for DISTINCT_PER_FINAL x the target in distinct draws;
    the whole market is drawn at 1.15 x that; exact thinning then picks the c at which the
    final applications (after exits and closings) meet TARGET_APPLICATIONS_PER_SEEKER."""
    s, a = m.s, m.a
    target = behaviour.TARGET_APPLICATIONS_PER_SEEKER * s.n
    distinct = DISTINCT_PER_FINAL * behaviour.TARGET_APPLICATIONS_PER_SEEKER
    if s.n <= PILOT_SEEKERS:  # a pilot would be the whole market: draw it directly
        c_hi = 5 * _first_guess(m, np.ones(s.n, bool), distinct)
    else:
        c_hi = RATE_MARGIN * calibrate(m, entropy, distinct, calibration_progress)
    key = entropy % 2**61
    for attempt in range(5):
        if progress is not None:
            progress.reset()
        draws, sends = draw_days(m, c_hi, entropy, 1, sends=True, progress=progress)
        outcomes = funnel_outcomes(s, a, sends[0], sends[1], child(entropy, 3))
        rec_t = child(entropy, 4).integers(1800, 16 * 3600, len(sends[0]))
        rec_t += sends[2]
        rec_t = rec_t.astype(np.int32)

        def world0(
            c,
            draws=draws,
            sends=sends,
            outcomes=outcomes,
            rec_t=rec_t,
            c_hi=c_hi,
            tau=None,
            with_sends=False,
        ):
            keep = draws.accepted0 & (draws.v < c / c_hi)
            org = draws.u[keep], draws.j[keep], draws.t[keep]
            return assemble(m, key, org, sends, outcomes, rec_t, tau, with_sends)

        # one assembled market alive at a time (they are large at the pes scale): the box
        # hands it to the solver without a second reference
        box = [world0(c_hi)]
        f_hi = len(box[0].app_time)
        if f_hi >= target or attempt == 4:
            break
        box.clear()
        c_hi *= 1.3 * (target / max(f_hi, 1)) ** (1 / 0.6)
    best, c = _solve_rate(world0, c_hi, box, target, _unique_curve(draws, a.n))
    tau = best.hire_threshold
    del best
    if m.gender_effect == 0:  # the solver's market again, now with its sends
        return world0(c, tau=tau, with_sends=True), c
    # the run's market, with the hiring threshold of the market without the planted gap, so
    # that the two markets differ only by who applied where
    keep = draws.accepted & (draws.v < c / c_hi)
    org = draws.u[keep], draws.j[keep], draws.t[keep]
    return assemble(m, key, org, sends, outcomes, rec_t, tau), c


def _solve_rate(world0, c_hi: float, box: list, target: float, curve: np.ndarray):
    """The c ≤ c_hi whose final applications (market without the gap) are closest to the
    target: false position on log(applications) against log(c), from the bracket [c where the
    distinct draws meet the target (final ones are fewer) / 2, c_hi]. `box` holds the market
    at c_hi. Returns (events, c)."""
    best, c_best = box.pop(), c_hi
    f_hi = len(best.app_time)
    if f_hi <= target or len(curve) < target:
        return best, c_best
    hi = (c_hi, f_hi)
    c_lo = c_hi * float(curve[int(target) - 1]) / 2
    lo = (c_lo, max(len(world0(c_lo).app_time), 1))
    for _ in range(SOLVER_STEPS):
        if abs(len(best.app_time) / target - 1) < 0.003 or lo[1] >= target:
            break
        slope = np.log(hi[1] / lo[1]) / np.log(hi[0] / lo[0])
        c = float(np.exp(np.log(lo[0]) + np.log(target / lo[1]) / max(slope, 1e-3)))
        c = min(max(c, lo[0] * 1.0001), hi[0] * 0.9999)
        ev = world0(c)
        f = len(ev.app_time)
        if abs(f - target) < abs(len(best.app_time) - target):
            best, c_best = ev, c
        del ev
        if f >= target:
            hi = (c, f)
        else:
            lo = (c, max(f, 1))
    return best, c_best
