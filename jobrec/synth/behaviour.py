"""The hidden behaviour of the market: the utility of every seeker x ad pair, the application
rate that follows from it, its exact sampling by thinning, and the employer utility.

Applications. Seeker u applies to ad j, both active on day t, at the rate of a Poisson process

    r_uj(t) = c · λ_u · a_j · F(u, j) · geo(d_uj, m_u) · exp(S_uj + G_uj) / N_u(t)^α

    λ_u     hidden activity, Gamma(1.5, 1/1.5) (mean 1)
    a_j     hidden attractiveness, lognormal(0, 1.0): the heavy tail creates congestion
    F       occupation match: same code 1, same domain 0.4, same family 0.08, another family
            0.0003 (LEVEL_FACTOR, CROSS_FAMILY: ≈ 60% / 20% / 17% / 1% of applications)
    geo     exp(−½ (d_uj / m_u)²), d in km, m_u the seeker's mobility radius
    S_uj    1.6 · skill share (share of the ad's skills the seeker holds; 0 across families)
            + 0.8 · clip(log(wage_j / desired_wage_u), −1, 0.25)
            + 0.4 · 1[contract = desired contract]
            − 0.5 · 1[hours do not suit: part-time wanted and ≥ 32 h, or full time and < 30 h]
            + 0.4 · clip(taste_u · taste_j / 2, −1, 1)          (hidden latent tastes, 4 dims)
    G_uj    planted gender term, women (F) only:
            gender_effect · (−clip(γ_w z_wage_j + γ_h z_hours_j, ±0.7) − κ_f),
            γ_w = 0.20, γ_h = 0.35, z standardised within the ad's occupation family, κ_f the
            log of the attractiveness-weighted mean of exp(−clip(·)) over the family's ads, so
            that the term moves women's applications towards lower-wage, shorter-hours ads
            without changing how much they apply
    N_u(t)  the seeker's opportunity mass that day: Σ over the active ads of a_j · F(u, j) ·
            geo bound(u, department of j) (the proposal bound below, without its constant);
            search effort is spread over what there is, α = 0.7
    c       calibrated so that seekers make 6 applications on average over the timeline (≈ 1
            per 10 active days; 30 per hire)

The harder market (`Effects`, issue 17) multiplies λ_u by the seeker's freshness and a_j by the
ad's freshness on day t (both folded into the day's proposal weights, so thinning stays exact),
takes F against the code the seeker searches (a career changer's target, not the declared
one), weighs a wage cut by the seeker's own weight, and draws employer effects into a_j.

A seeker applies to an ad at most once: the first event of the pair's process is the
application. The oracle's p_apply(u, j, t) = 1 − exp(−r_uj(t)) is then the exact probability
that u applies to j on day t, given no application before.

Sampling (exact thinning). S_uj ≤ PAIR_MAX = 2.6 (2.6 − 1.6 across families, where the skill
share is 0), G_uj ≤ B = max(0, max_j shift_j) for every effect in [0, 1], and geo(d, m) ≤
geo(d_min, m) with d_min the distance from u to the centroid of j's department less 2.5 spreads
+ 2 km (every ad lies within 2.5 spreads of its centroid). So r_uj ≤ q_uj = c λ_u e^{PAIR_MAX}
e^{B·female} a_j F(u, j) G[u, dep_j] / N_u^α, a product of a seeker factor, an ad factor and a
(code, department) structure. Per day: the attractiveness mass of each (code, department) cell
and its cumulative sums over codes (codes are sorted by family and domain, so a domain and a
family are ranges) give each seeker's total bound N_u by one gather of a (codes x departments)
row times the seeker's geo row (precomputed once: seekers do not move). A seeker gets
Poisson(c λ e^{PAIR_MAX + B·female} N_u^{1−α}) proposals; each picks a department ∝ bound mass,
then own family (level: same code / rest of the domain / rest of the family ∝ F x mass, a code
of that range ∝ mass, an ad of the cell ∝ a_j) or another family (an ad of the department ∝ a_j;
own-family ones are refused), and is accepted with probability r/q. Women's bound does not
depend on the effect, so a run with gender_effect = 0 makes exactly the same draws (the same
uniform decides acceptance in both markets) and differs only in which proposals pass. The rate
constant c is drawn a little high and then thinned exactly to its calibrated value (each
accepted draw keeps a uniform v; at c' ≤ c the draws with v < c'/c are the process at c').

Hires. Every applicant gets an employer utility e = 1.5 · skill share + 0.4 · clip((experience
− required) / 3, ±1) + 0.4 · 1[education ≥ required] + 0.7 · Gumbel noise (a hash of the pair,
so the same pair always draws the same noise); each ad hires among its top `positions`
applicants those with e ≥ τ, τ calibrated to ≈ 0.2 hires per seeker; a hire comes 3-23 days
after the application; a seeker is hired once (the first hire wins), then exits and stops
applying; an ad whose positions are all filled closes 0-3 days after its last hire.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from jobrec.synth.world import FAMILIES, SPREAD_CLIP

LEVEL_FACTOR = (1.0, 0.4, 0.08)  # same code, same domain, same family
CROSS_FAMILY = 0.0003  # another family
W_SKILL, W_WAGE, WAGE_CLIP, W_CONTRACT, W_HOURS, W_TASTE = 1.6, 0.8, (-1.0, 0.25), 0.4, 0.5, 0.4
PAIR_MAX = W_SKILL + W_WAGE * WAGE_CLIP[1] + W_CONTRACT + W_TASTE  # upper bound of S_uj
GAMMA_WAGE, GAMMA_HOURS, GENDER_CLIP = 0.20, 0.35, 0.7
TARGET_APPLICATIONS_PER_SEEKER = 6.0  # all channels, over the timeline
TARGET_HIRES_PER_SEEKER = 0.2
EMPLOYER_NOISE = 0.7
CHUNK = 100_000  # seekers per block of the daily loop
GEO_MARGIN_KM = 2.0  # slack of the geographic bound (equirectangular distance is not exact)


ALPHA = 0.7  # the rate falls as N_u(t)^-α: search effort is spread over the opportunities


@dataclasses.dataclass(frozen=True)
class Effects:
    """The harder market's effects (issue 17). The defaults are the standard market: every
    effect off, every draw as before. Each is a real labour-market pattern that a factored
    model and a popularity list find hard:

    - wage_cut: a wage cut costs each seeker their own weight (lognormal(0, 0.3) around this
      mean) per unit of log ratio, against W_WAGE for a raise (the standard market: W_WAGE
      both ways);
    - employer_sd: an employer effect exp(sd z_e − sd²/2), z_e ~ N(0, 1), shared by all of an
      employer's ads, multiplies their attractiveness;
    - fresh_ad_boost, fresh_ad_days: an ad of age t days draws (1 + boost e^(−t/days)) times its
      rate: applications concentrate in its first days;
    - fresh_seeker_boost, fresh_seeker_days: the same for a seeker's activity after registering;
    - career_changers: the share of seekers who search a code of another domain of their family
      (drawn ∝ its ads + 1) while their profile still names their former occupation; the target
      shows in their applications, and in the profile text of `changers_say_it` of them.
    Distance tolerated in proportion to the seeker's own mobility is in both markets.
    """

    wage_cut: float = W_WAGE
    employer_sd: float = 0.0
    fresh_ad_boost: float = 0.0
    fresh_ad_days: float = 3.0
    fresh_seeker_boost: float = 0.0
    fresh_seeker_days: float = 7.0
    career_changers: float = 0.0
    changers_say_it: float = 0.0

    def ad_freshness(self, age_days: np.ndarray) -> np.ndarray | None:
        """The ads' rate factor at these ages (days since posting), None when off."""
        if not self.fresh_ad_boost:
            return None
        return 1.0 + self.fresh_ad_boost * np.exp(-np.maximum(age_days, 0) / self.fresh_ad_days)

    def seeker_freshness(self, days_registered: np.ndarray) -> np.ndarray | None:
        """The seekers' activity factor, days since registering, None when off."""
        if not self.fresh_seeker_boost:
            return None
        return 1.0 + self.fresh_seeker_boost * np.exp(
            -np.maximum(days_registered, 0) / self.fresh_seeker_days
        )


MARKETS = {
    "standard": Effects(),
    "harder": Effects(
        wage_cut=1.6,
        employer_sd=0.6,
        fresh_ad_boost=4.0,
        fresh_ad_days=3.0,
        fresh_seeker_boost=2.0,
        fresh_seeker_days=7.0,
        career_changers=0.2,
        changers_say_it=0.3,
    ),
}


def effort(mass: np.ndarray) -> np.ndarray:
    """N^(1 - α): a seeker's total proposal rate grows sublinearly with their opportunity mass
    N (search effort is spread over what there is)."""
    return np.where(mass > 0, np.maximum(mass, 1e-300) ** (1 - ALPHA), 0.0)


def distance_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Equirectangular distance: accurate to well under 1% at the scale of a country."""
    dy = (lat1 - lat2) * 110.57
    dx = (lon1 - lon2) * 111.32 * np.cos(np.radians((lat1 + lat2) / 2))
    return np.sqrt(dx * dx + dy * dy)


def level_matrix(occ) -> np.ndarray:
    """(codes, codes): the occupation-match factor F of a seeker's code against an ad's code of
    the same family (0 across families: the cross-family proposals are drawn apart)."""
    same_dom = occ.domain[:, None] == occ.domain[None, :]
    same_fam = occ.family[:, None] == occ.family[None, :]
    lv = np.where(same_fam, LEVEL_FACTOR[2], 0.0)
    lv = np.where(same_dom, LEVEL_FACTOR[1], lv)
    np.fill_diagonal(lv, LEVEL_FACTOR[0])
    return lv


def level_factor(occ, code_u, code_j) -> np.ndarray:
    same_fam = occ.family[code_u] == occ.family[code_j]
    f = np.where(occ.domain[code_u] == occ.domain[code_j], LEVEL_FACTOR[1], LEVEL_FACTOR[2])
    f = np.where(code_u == code_j, LEVEL_FACTOR[0], f)
    return np.where(same_fam, f, CROSS_FAMILY)


def skill_share(s, a, u, j) -> np.ndarray:
    common = np.bitwise_count(s.skill_bits[u] & a.skill_bits[j]).sum(axis=-1)
    required = np.bitwise_count(a.skill_bits[j]).sum(axis=-1)
    same_family = s.family[u] == a.family[j]  # skill indices are family-local
    return np.where(same_family, common / np.maximum(required, 1), 0.0)


def pair_score(s, a, u, j) -> np.ndarray:
    """S_uj (see the module docstring), always ≤ PAIR_MAX."""
    ratio = np.log(a.wage[j] / s.desired_wage[u])
    # a cut at the seeker's own weight (W_WAGE in the standard market), a raise at W_WAGE
    wage = np.where(
        ratio < 0,
        s.wage_cut[u] * np.maximum(ratio, WAGE_CLIP[0]),
        W_WAGE * np.minimum(ratio, WAGE_CLIP[1]),
    )
    hours_bad = np.where(s.wants_part_time[u], a.hours[j] >= 32, a.hours[j] < 30)
    taste = np.clip((s.taste[u] * a.taste[j]).sum(axis=-1) / 2, -1, 1)
    return (
        W_SKILL * skill_share(s, a, u, j)
        + wage
        + W_CONTRACT * (a.contract[j] == s.desired_contract[u])
        - W_HOURS * hours_bad
        + W_TASTE * taste
    )


def gender_shift(a) -> np.ndarray:
    """The planted term of women's log-rate at gender_effect 1, per ad (see the docstring)."""
    raw = -np.clip(GAMMA_WAGE * a.z_wage + GAMMA_HOURS * a.z_hours, -GENDER_CLIP, GENDER_CLIP)
    n_fam = len(FAMILIES)
    mean = np.bincount(a.family, a.attractiveness * np.exp(raw), n_fam) / np.maximum(
        np.bincount(a.family, a.attractiveness, n_fam), 1e-12
    )
    return raw - np.log(np.maximum(mean, 1e-12))[a.family]


def gender_bound(shift: np.ndarray, gender_effect: float) -> float:
    """log of the bound of exp(G) used for women's proposals: the same for every effect in
    [0, 1], so that such runs share every random draw."""
    if 0.0 <= gender_effect <= 1.0:
        return float(max(shift.max(), 0.0))
    return float(max((gender_effect * shift).max(), 0.0))


def pair_log_utility(s, a, u, j, gender_effect: float) -> np.ndarray:
    """S_uj + G_uj + log geo(d_uj, m_u): everything of log r_uj but the rate's factors."""
    d = distance_km(s.lat[u], s.lon[u], a.lat[j], a.lon[j])
    return (
        pair_score(s, a, u, j)
        + np.where(s.female[u], gender_effect * a.gender_shift[j], 0.0)
        - 0.5 * (d / s.mobility_km[u]) ** 2
    )


def log_rate(
    s, a, occ, u, j, c: float, gender_effect: float, opportunity, seeker_factor=1.0, ad_factor=1.0
) -> np.ndarray:
    """log r_uj for pairs (u, j) given the seekers' opportunity mass N_u(t) (same shape as u)
    and the day's freshness factors (`Effects`; 1 in the standard market), ignoring activity
    dates. The occupation match is the code the seeker searches (a career changer's target)."""
    return (
        np.log(c * s.activity[u] * a.attractiveness[j] * seeker_factor * ad_factor)
        - ALPHA * np.log(np.maximum(opportunity, 1e-300))
        + np.log(level_factor(occ, s.search_code[u], a.code[j]))
        + pair_log_utility(s, a, u, j, gender_effect)
    )


def employer_utility_mean(s, a, u, j) -> np.ndarray:
    exp_gap = np.clip((s.experience[u] - a.required_experience[j]) / 3, -1, 1)
    return (
        1.5 * skill_share(s, a, u, j)
        + 0.4 * exp_gap
        + 0.4 * (s.education[u] >= a.required_education[j])
    )


# ----------------------------------------------------------------------------------------------
# Proposals from the factorised bound
# ----------------------------------------------------------------------------------------------


def geo_bound_matrix(lat, lon, mobility_km, geo) -> np.ndarray:
    """(seekers, departments) float32: an upper bound of geo() for any ad of the department
    (ads lie within SPREAD_CLIP spreads of its centroid). Computed once: seekers do not move."""
    out = np.empty((len(lat), len(geo.lat)), dtype=np.float32)
    reach = SPREAD_CLIP * geo.spread_km[None, :] + GEO_MARGIN_KM
    for lo in range(0, len(lat), CHUNK):  # blocks bound the memory of the temporaries
        sl = slice(lo, lo + CHUNK)
        d = distance_km(lat[sl, None], lon[sl, None], geo.lat[None, :], geo.lon[None, :])
        d_min = np.maximum(d - reach, 0)
        out[sl] = np.exp(-0.5 * (d_min / mobility_km[sl, None]) ** 2)
    return out


def opportunity(day, code_u, g_u) -> np.ndarray:
    """N_u(t): the seeker's bound mass of the day (float32, as the sampler computes it)."""
    return (day.total[code_u] * g_u).sum(axis=1)


@dataclasses.dataclass
class DayMarket:
    """The active ads of one day, grouped for proposals."""

    cell_ads: np.ndarray  # ad indices sorted by (code, department) cell
    cell_start: np.ndarray  # (cells + 1,) where each cell starts in that order
    cell_cum: np.ndarray  # cumulative attractiveness in that order
    dep_ads: np.ndarray  # the same ads sorted by department
    dep_start: np.ndarray  # (departments + 1,)
    dep_cum: np.ndarray
    cum_codes: np.ndarray  # (departments, codes + 1): cumulative mass over codes, normalised
    #                        per department, plus the department number (one sorted array)
    dep_mass: np.ndarray  # (departments,) total mass
    own: np.ndarray  # (codes, departments) float32: F-weighted mass of the seeker's family
    total: np.ndarray  # (codes, departments) float32: own + the cross-family bound


def code_ranges(occ) -> tuple[np.ndarray, ...]:
    """Codes are sorted by family and domain: each code's domain and family are ranges."""
    dom_lo = np.searchsorted(occ.domain, occ.domain, side="left")
    dom_hi = np.searchsorted(occ.domain, occ.domain, side="right")
    return dom_lo, dom_hi, occ.family_start[occ.family], occ.family_start[occ.family + 1]


def day_market(a, occ, n_deps: int, active: np.ndarray, freshness=None) -> DayMarket:
    """The day's active ads, grouped; `freshness` (per ad, `Effects.ad_freshness`) multiplies
    their attractiveness that day."""
    n_codes = len(occ.family)
    j = np.flatnonzero(active)
    w = a.attractiveness[j] if freshness is None else a.attractiveness[j] * freshness[j]
    cell = a.code[j].astype(np.int64) * n_deps + a.dep[j]
    order = np.argsort(cell, kind="stable")
    mass = np.bincount(cell, w, n_codes * n_deps).reshape(n_codes, n_deps)
    cum = np.vstack([np.zeros((1, n_deps)), np.cumsum(mass, axis=0)])  # (codes + 1, deps)
    dom_lo, dom_hi, fam_lo, fam_hi = code_ranges(occ)
    m_dom = cum[dom_hi] - cum[dom_lo]
    m_fam = cum[fam_hi] - cum[fam_lo]
    l_code, l_dom, l_fam = LEVEL_FACTOR
    own = l_code * mass + l_dom * (m_dom - mass) + l_fam * (m_fam - m_dom)
    # cross-family proposals draw any ad of the department (own-family ones are then refused):
    # their bound drops the skill term (no shared skills across families)
    dep_mass = cum[-1]
    cross = CROSS_FAMILY * np.exp(-W_SKILL) * dep_mass
    norm = cum.T / np.where(dep_mass > 0, dep_mass, 1.0)[:, None]
    norm += np.arange(n_deps)[:, None]
    dep_order = np.argsort(a.dep[j], kind="stable")
    return DayMarket(
        j[order],
        np.searchsorted(cell[order], np.arange(n_codes * n_deps + 1)),
        np.cumsum(w[order]),
        j[dep_order],
        np.searchsorted(a.dep[j][dep_order], np.arange(n_deps + 1)),
        np.cumsum(w[dep_order]),
        norm,
        dep_mass,
        own.astype(np.float32),
        (own + cross[None, :]).astype(np.float32),
    )


def _code_in_range(day: DayMarket, dep, lo, hi, skip_lo, skip_hi, u01) -> np.ndarray:
    """A code of [lo, hi) outside [skip_lo, skip_hi), drawn ∝ its mass in department `dep`."""
    base = day.cum_codes.shape[1]
    flat = day.cum_codes.ravel()

    def at(k):
        return flat[dep * base + k] - dep  # normalised cumulative mass before code k

    gap = at(skip_hi) - at(skip_lo)
    y = at(lo) + u01 * (at(hi) - at(lo) - gap)
    y = np.where(y > at(skip_lo), y + gap, y)
    code = np.searchsorted(flat, y + dep, side="left") - dep * base - 1
    return np.clip(code, lo, hi - 1)


def _pick(cum_rows: np.ndarray, rng) -> np.ndarray:
    """For each row of a cumulative-weight matrix, a column drawn ∝ the row's weights."""
    n, k = cum_rows.shape
    total = cum_rows[:, -1].astype(np.float64)
    norm = cum_rows / np.where(total > 0, total, 1)[:, None] + np.arange(n)[:, None]
    target = np.arange(n) + (1.0 - rng.random(n))  # in (row, row + 1]: never a zero weight
    pos = np.searchsorted(norm.ravel(), target, side="left") - np.arange(n) * k
    return np.clip(pos, 0, k - 1)


def _in_group(starts, cum, key, rng) -> np.ndarray:
    """Positions drawn ∝ weight within group `key` (groups start at `starts`)."""
    start, end = starts[key], starts[key + 1]
    base = np.where(start > 0, cum[np.maximum(start - 1, 0)], 0.0)
    target = base + (1.0 - rng.random(len(key))) * (cum[np.maximum(end - 1, 0)] - base)
    return np.clip(np.searchsorted(cum, target, side="left"), start, end - 1)


def propose(ranges, day: DayMarket, code_u, g_u, weights, counts, rng, cross=True):
    """counts[i] proposals for the i-th seeker (code code_u[i], geo bound row g_u[i], per
    department weights `weights` = day.total or day.own rows x g_u; `ranges` from code_ranges).
    Returns (row, ad, is_cross, geo bound of the ad's department)."""
    rep = np.repeat(np.arange(len(code_u)), counts)
    if len(rep) == 0:
        return rep, rep, np.zeros(0, bool), np.zeros(0, np.float32)
    has = np.flatnonzero(counts)
    dep = _pick(np.cumsum(weights[has], axis=1, dtype=np.float64), rng)
    dep = dep[np.repeat(np.arange(len(has)), counts[has])]
    code = code_u[rep]
    is_cross = np.zeros(len(rep), bool)
    if cross:
        p_own = day.own[code, dep] / np.maximum(day.total[code, dep], 1e-30)
        is_cross = rng.random(len(rep)) >= p_own
    ad = np.empty(len(rep), np.int64)
    # own family: the level (same code, rest of the domain, rest of the family) ∝ F x mass,
    # then a code of that range ∝ mass, then an ad of the cell ∝ a_j
    o = np.flatnonzero(~is_cross)
    c, d = code[o], dep[o]
    dom_lo, dom_hi, fam_lo, fam_hi = (r[c] for r in ranges)
    flat, base = day.cum_codes.ravel(), day.cum_codes.shape[1]

    def at(k):
        return flat[d * base + k] - d

    m_code, m_dom, m_fam = at(c + 1) - at(c), at(dom_hi) - at(dom_lo), at(fam_hi) - at(fam_lo)
    w1 = LEVEL_FACTOR[0] * m_code
    w2 = w1 + LEVEL_FACTOR[1] * (m_dom - m_code)
    w3 = w2 + LEVEL_FACTOR[2] * (m_fam - m_dom)
    x = (1.0 - rng.random(len(o))) * w3
    u01 = 1.0 - rng.random(len(o))
    ad_code = c.copy()
    i = np.flatnonzero((x > w1) & (x <= w2))
    ad_code[i] = _code_in_range(day, d[i], dom_lo[i], dom_hi[i], c[i], c[i] + 1, u01[i])
    i = np.flatnonzero(x > w2)
    ad_code[i] = _code_in_range(day, d[i], fam_lo[i], fam_hi[i], dom_lo[i], dom_hi[i], u01[i])
    cell = ad_code.astype(np.int64) * day.own.shape[1] + dep[o]
    ad[o] = day.cell_ads[_in_group(day.cell_start, day.cell_cum, cell, rng)]
    # another family: an ad of the department ∝ a_j (same-family ones are refused)
    x = np.flatnonzero(is_cross)
    ad[x] = day.dep_ads[_in_group(day.dep_start, day.dep_cum, dep[x], rng)]
    return rep, ad, is_cross, g_u[rep, dep]


def acceptance(s, a, uu, jj, is_cross, g_bound, gender_effect, log_bound_female):
    """r/q of each proposal, for the run's gender effect and for gender effect 0 (the same
    uniform decides both: the counterfactual market without the planted gap)."""
    base = pair_log_utility(s, a, uu, jj, 0.0) - PAIR_MAX + W_SKILL * is_cross
    base -= np.log(np.maximum(g_bound, 1e-300))
    female = s.female[uu]
    base -= np.where(female, log_bound_female, 0.0)
    refused = is_cross & (s.family[uu] == a.family[jj])
    acc0 = np.where(refused, 0.0, np.exp(np.minimum(base, 0.0)))
    shifted = base + np.where(female, gender_effect * a.gender_shift[jj], 0.0)
    acc = np.where(refused, 0.0, np.exp(np.minimum(shifted, 0.0)))
    return acc, acc0


def pair_hash_uniform(key: int, u, j, salt: int) -> np.ndarray:
    """A uniform in [0, 1) that depends only on (key, pair, salt) (splitmix64): draws keyed by
    the pair stay the same whatever else changes in the market."""
    x = (np.asarray(u).astype(np.uint64) << np.uint64(32)) | np.asarray(j).astype(np.uint64)
    x = x ^ np.uint64((key * 0x9E3779B97F4A7C15 + salt * 0xD1B54A32D192ED03) % 2**64)
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) * 2.0**-53
