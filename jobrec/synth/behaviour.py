"""The dynamic side of the synthetic market: the hidden utility, applications over time, hires,
and the sends of a past recommender with their funnel outcomes.

Applications: seeker u applies to ad j, active on day t, at the rate of a Poisson process

    r_uj(t) = c · λ_u · a_j · F(level) · exp(g_j · 1[u female]) · geo(d_uj, m_u) · exp(S_uj)

    λ_u     hidden activity (Gamma, mean 1)
    a_j     hidden attractiveness (lognormal σ=1.0): the heavy tail creates congestion
    F       occupation match: same code 1, same domain 0.4, same family 0.15, other family 0
    g_j     planted gender term: −gender_effect · clip(γ_w z_wage_j + γ_h z_hours_j, ±0.8)
            (z standardised within the occupation family), γ_w = 0.45, γ_h = 0.30: conditional
            on search parameters, women apply more to lower-wage, shorter-hours ads
    geo     exp(−½ (d_uj / m_u)²), d in km, m_u the seeker's mobility radius
    S_uj    1.6 · skill share (the ad's skills the seeker holds)
            + 0.8 · clip(log(wage_j / desired_wage_u), −1, 0.25)
            + 0.4 · 1[contract = desired contract]
            − 0.5 · 1[hours do not suit: part-time wanted and ≥ 32 h, or full time and < 30 h]
            + 0.4 · clip(taste_u · taste_j / 2, ±1)          (hidden latent tastes, 4 dims)
    c       calibrated so that seekers apply ≈ 5 times on average over 90 days

and the true probability that u applies to j on day t is 1 − exp(−r_uj(t)) (the oracle).
It is sampled exactly by thinning: proposals from the factorised upper bound (occupation and
department cells, S_uj ≤ 2.6, geo bounded per department), accepted with probability r/q.

Hires: every applicant gets an employer utility e = 1.5 · skill share + 0.4 · clip((experience −
required) / 3, ±1) + 0.4 · 1[education ≥ required] + 0.7 · Gumbel noise; each ad hires among its
top `positions` applicants those above a threshold τ calibrated to ≈ 0.2 hires per seeker; a hire
comes 2–30 days after the application; a seeker is hired once, then exits and stops applying.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from jobrec.synth.world import N_DEPARTMENTS, Ads, Geography, Occupations, Seekers

LEVEL_FACTOR = (1.0, 0.4, 0.15)  # same code, same domain, same family
W_SKILL, W_WAGE, WAGE_CLIP, W_CONTRACT, W_HOURS, W_TASTE = 1.6, 0.8, (-1.0, 0.25), 0.4, 0.5, 0.4
PAIR_MAX = W_SKILL + W_WAGE * WAGE_CLIP[1] + W_CONTRACT + W_TASTE  # upper bound of S_uj
GAMMA_WAGE, GAMMA_HOURS, GENDER_CLIP = 0.45, 0.30, 0.8
TARGET_APPLICATIONS_PER_SEEKER = 5.0  # organic, over the timeline
TARGET_HIRES_PER_SEEKER = 0.2
SEND_WEEKDAYS = (0, 3)  # Monday and Thursday
SEND_SHARE = 0.15  # of active seekers on a send day
SENDS_PER_SEEKER, SEND_POOL = 5, 8
CHUNK = 40_000


def distance_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Equirectangular distance: accurate to well under 1% at the scale of a country."""
    dy = (lat1 - lat2) * 110.57
    dx = (lon1 - lon2) * 111.32 * np.cos(np.radians((lat1 + lat2) / 2))
    return np.sqrt(dx * dx + dy * dy)


def geo_kernel(d_km, mobility_km) -> np.ndarray:
    return np.exp(-0.5 * (d_km / mobility_km) ** 2)


def level_factor(occ: Occupations, code_u, code_j) -> np.ndarray:
    f = np.where(
        code_u == code_j,
        LEVEL_FACTOR[0],
        np.where(occ.domain[code_u] == occ.domain[code_j], LEVEL_FACTOR[1], LEVEL_FACTOR[2]),
    )
    return np.where(occ.family[code_u] == occ.family[code_j], f, 0.0)


def skill_share(s: Seekers, a: Ads, u, j) -> np.ndarray:
    common = np.bitwise_count(s.skill_bits[u] & a.skill_bits[j]).sum(axis=-1)
    required = np.bitwise_count(a.skill_bits[j]).sum(axis=-1)
    same_family = s.family[u] == a.family[j]  # skill indices are family-local
    return np.where(same_family, common / np.maximum(required, 1), 0.0)


def pair_score(s: Seekers, a: Ads, u, j) -> np.ndarray:
    """S_uj (see the module docstring), always ≤ PAIR_MAX."""
    wage = np.clip(np.log(a.wage[j] / s.desired_wage[u]), *WAGE_CLIP)
    hours_bad = np.where(s.wants_part_time[u], a.hours[j] >= 32, a.hours[j] < 30)
    taste = np.clip((s.taste[u] * a.taste[j]).sum(axis=-1) / 2, -1, 1)
    return (
        W_SKILL * skill_share(s, a, u, j)
        + W_WAGE * wage
        + W_CONTRACT * (a.contract[j] == s.desired_contract[u])
        - W_HOURS * hours_bad
        + W_TASTE * taste
    )


def gender_term(a: Ads, gender_effect: float, j=slice(None)) -> np.ndarray:
    """The planted term added to the log-rate of female seekers (ad-level)."""
    raw = GAMMA_WAGE * a.z_wage[j] + GAMMA_HOURS * a.z_hours[j]
    return -gender_effect * np.clip(raw, -GENDER_CLIP, GENDER_CLIP)


def log_rate(s, a, occ, u, j, c: float, gender_effect: float) -> np.ndarray:
    """log r_uj for pairs (u, j), ignoring activity dates (−inf across families)."""
    d = distance_km(s.lat[u], s.lon[u], a.lat[j], a.lon[j])
    with np.errstate(divide="ignore"):
        return (
            np.log(c * s.activity[u] * a.attractiveness[j])
            + np.log(level_factor(occ, s.code[u], a.code[j]))
            + np.where(s.female[u], gender_term(a, gender_effect, j), 0.0)
            - 0.5 * (d / s.mobility_km[u]) ** 2
            + pair_score(s, a, u, j)
        )


def employer_utility_mean(s: Seekers, a: Ads, u, j) -> np.ndarray:
    exp_gap = np.clip((s.experience[u] - a.required_experience[j]) / 3, -1, 1)
    return (
        1.5 * skill_share(s, a, u, j)
        + 0.4 * exp_gap
        + 0.4 * (s.education[u] >= a.required_education[j])
    )


# ----------------------------------------------------------------------------------------------
# Proposals from the factorised bound
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class FamilyDay:
    """Active ads of one family on one day, grouped by (code, department) cell."""

    ads: np.ndarray  # global ad indices sorted by cell
    cell: np.ndarray  # cell of each, sorted
    cum: np.ndarray  # cumulative weights (per population: all / female)
    mass: np.ndarray  # (K, departments) cell masses


def family_day(a: Ads, occ: Occupations, ads_idx: np.ndarray, weights: np.ndarray, k: int):
    cell = occ.local[a.code[ads_idx]].astype(np.int64) * N_DEPARTMENTS + a.dep[ads_idx]
    order = np.argsort(cell, kind="stable")
    mass = np.bincount(cell, weights, k * N_DEPARTMENTS).reshape(k, N_DEPARTMENTS)
    return FamilyDay(ads_idx[order], cell[order], np.cumsum(weights[order]), mass)


def _pick_rows(cum_rows: np.ndarray, rows: np.ndarray, rng) -> np.ndarray:
    """For each entry of `rows`, a column drawn ∝ the row of the cumulative matrix."""
    total = cum_rows[:, -1]
    norm = cum_rows / np.where(total > 0, total, 1)[:, None]
    flat = (norm + np.arange(len(norm))[:, None]).ravel()
    target = rows + rng.random(len(rows)) * (1 - 1e-12)
    pos = np.searchsorted(flat, target, side="right") - rows * cum_rows.shape[1]
    return np.minimum(pos, cum_rows.shape[1] - 1)


def level_matrix(occ: Occupations, code_u: np.ndarray, family_codes: np.ndarray) -> np.ndarray:
    """(n, K) occupation-match factor of each seeker for each code of its family."""
    same = code_u[:, None] == family_codes[None, :]
    dom = occ.domain[code_u][:, None] == occ.domain[family_codes][None, :]
    return np.where(same, LEVEL_FACTOR[0], np.where(dom, LEVEL_FACTOR[1], LEVEL_FACTOR[2]))


def geo_bound(s: Seekers, geo: Geography, u: np.ndarray) -> np.ndarray:
    """(n, departments): an upper bound of geo() for any ad of the department (ads lie within
    2.5 spreads of the centroid)."""
    d = distance_km(s.lat[u][:, None], s.lon[u][:, None], geo.lat[None, :], geo.lon[None, :])
    d_min = np.maximum(d - 2.5 * geo.spread_km[None, :] - 0.5, 0)
    return geo_kernel(d_min, s.mobility_km[u][:, None])


def propose(s, a, occ, geo, fd: FamilyDay, family_codes, u, counts, rng):
    """Draw counts[i] proposals for seeker u[i] from the bound; returns (seeker, ad, bound geo)."""
    levels = level_matrix(occ, s.code[u], family_codes)
    g = geo_bound(s, geo, u)
    dep_mass = (levels @ fd.mass) * g
    rep = np.repeat(np.arange(len(u)), counts)
    if len(rep) == 0:
        return rep, rep, np.zeros(0)
    dep = _pick_rows(np.cumsum(dep_mass, axis=1), rep, rng)
    code_w = levels[rep] * fd.mass[:, dep].T
    code = _pick_rows(np.cumsum(code_w, axis=1), np.arange(len(rep)), rng)
    cell = code.astype(np.int64) * N_DEPARTMENTS + dep
    start = np.searchsorted(fd.cell, cell, side="left")
    end = np.searchsorted(fd.cell, cell, side="right")
    base = np.where(start > 0, fd.cum[np.maximum(start - 1, 0)], 0.0)
    target = base + rng.random(len(rep)) * (fd.cum[np.maximum(end - 1, 0)] - base)
    pos = np.clip(np.searchsorted(fd.cum, target, side="right"), start, end - 1)
    return u[rep], fd.ads[pos], g[rep, dep]


def proposal_mass(s, occ, geo, fd: FamilyDay, family_codes, u) -> np.ndarray:
    levels = level_matrix(occ, s.code[u], family_codes)
    return ((levels @ fd.mass) * geo_bound(s, geo, u)).sum(axis=-1)


def acceptance(s, a, uu, jj, g_bound) -> np.ndarray:
    d = distance_km(s.lat[uu], s.lon[uu], a.lat[jj], a.lon[jj])
    ratio = np.exp(pair_score(s, a, uu, jj) - PAIR_MAX) * geo_kernel(d, s.mobility_km[uu])
    return ratio / np.maximum(g_bound, 1e-300)
