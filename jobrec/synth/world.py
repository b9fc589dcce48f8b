"""The static side of the synthetic labour market: scales, geography, occupations, skills, and
the attributes (observed and hidden) of every seeker and ad.

Everything is drawn with numpy, vectorised over entities, from independent random streams
(`Streams`), so that one component can change without shifting the draws of another.

Geography: 100 departments "01".."100" (20 at the tiny scale), centroids on a jittered grid
over lat 42.5-51, lon -4.5-8; populations lognormal(0, 1.0) (a few big cities); ads follow
population^1.25 (more concentrated in big departments); people and ads lie around their
centroid (normal, sd 15-25 km, truncated at 2.5 sd radially); department wage index
1 + 0.06 log(relative population).

Occupations: 14 families A-N, 3-6 domains a family, 500 codes (140 at the tiny scale), e.g.
"K2204": family letter, domain digits, code digits within the domain; Zipf(1.05) popularity
among seekers, times a lognormal(0, 0.6) shortage/surplus factor among ads. Skills: 2,000 codes,
a block of 130 per family plus 180 generic ones; each domain draws a pool of 50 skills from its
family block, each code a profile of 20 from its domain pool with gamma(0.8) weights; entities
draw 4-12 (seekers) or 4-10 (ads) profile skills by weight, plus 0-2 generic (noise) skills.

Seekers: birth year (age 18-62), education 0-8 around the family's level, experience from age,
desired contract by the family's mix, mobility lognormal(log 25 km, 0.6) clipped 5-150, gender
by the family's female share (1.5% X, 1.5% unknown); women want part-time 1.8x the family rate,
men 0.6x; desired wage = code base x department index x (1 + 1.2% per year of experience, up to
25) x 0.94 for women x 0.75 if part-time x lognormal(0, 0.1). Hidden: activity λ ~ Gamma(1.5,
1/1.5), 4-dim taste ~ N(0, 1).

Ads: employers Zipf(0.9) over n/6 employers; contract by the family's mix; 35 h (39 h for 15%)
or part-time (20-30 h) at the family's part-time rate; wage = code base x department index x
hours/35 x (1 + 1.5% per required year) x 1.04 if permanent x lognormal(0, 0.15); positions 1 +
geometric (mostly 1, up to 10). Hidden: attractiveness lognormal(0, 1), 4-dim taste ~ N(0, 1).

The harder market (`apply_market_effects`, from its own stream): each seeker's wage-cut weight,
employer effects on the ads' attractiveness, and the code a career changer searches.
"""

from __future__ import annotations

import dataclasses

import numpy as np

FAMILIES = "ABCDEFGHIJKLMN"  # ROME-like occupation families
SKILLS_PER_FAMILY = 130  # family skill blocks: 14 x 130 = 1,820 skills
N_GENERIC_SKILLS = 180  # shared "soft" skills: 2,000 skills in all
PROFILE = 20  # skills in an occupation's profile
MAX_SKILLS = 12
SPREAD_CLIP = 2.5  # people and ads lie within 2.5 spreads of their department's centroid
CONTRACTS = np.array(["permanent", "fixed_term", "temp", "other"])


@dataclasses.dataclass(frozen=True)
class Scale:
    seekers: int  # over the timeline, the stock at the start included
    ads: int
    departments: int = 100
    occupations: int = 500
    # the market written when none is asked for: the harder one (issue 17) is the benchmark
    # market since it was measured (BENCHMARKS.md, "Market versions"); `tiny`, the tests'
    # market, stays the standard one its hand-checked facts were written on
    market: str = "harder"


SCALES = {
    # a small region: with 100 departments x 500 codes, 2,000 seekers would have almost no ad
    # of their occupation within reach
    "tiny": Scale(2_000, 3_000, departments=20, occupations=140, market="standard"),
    "small": Scale(30_000, 50_000),
    "medium": Scale(200_000, 350_000),
    "pes": Scale(1_200_000, 2_200_000),
}


class Streams:
    """One independent numpy Generator per named component, all derived from the seed."""

    NAMES = (
        "geography",
        "occupations",
        "seekers",
        "ads",
        "timeline",
        "applications",
        "feedback",
        "hires",
        "text",
        "market_effects",  # last: the streams above draw as before
    )

    def __init__(self, seed: int):
        children = np.random.SeedSequence(seed).spawn(len(self.NAMES))
        self._rng = {n: np.random.default_rng(c) for n, c in zip(self.NAMES, children, strict=True)}

    def __getitem__(self, name: str) -> np.random.Generator:
        return self._rng[name]


@dataclasses.dataclass
class Geography:
    codes: np.ndarray  # department codes "01".."100"
    lat: np.ndarray
    lon: np.ndarray
    spread_km: np.ndarray  # sd of the placement around the centroid
    population: np.ndarray  # share of seekers
    ad_share: np.ndarray  # share of ads (more concentrated in big departments)
    wage_index: np.ndarray


def make_geography(rng: np.random.Generator, n: int = 100) -> Geography:
    # centroids on a jittered grid over a France-sized box, so departments tile the country
    side = int(np.ceil(np.sqrt(n)))
    gy, gx = np.divmod(np.arange(n), side)
    lat = 42.5 + (gy + rng.uniform(0.2, 0.8, n)) * (8.5 / side)
    lon = -4.5 + (gx + rng.uniform(0.2, 0.8, n)) * (12.5 / side)
    population = rng.lognormal(0.0, 1.0, n)
    population /= population.sum()
    ad_share = population**1.25
    ad_share /= ad_share.sum()
    # bigger departments pay a little more
    wage_index = 1.0 + 0.06 * (np.log(population * n)) + rng.normal(0, 0.03, n)
    return Geography(
        codes=np.array([f"{i + 1:02d}" for i in range(n)]),
        lat=lat,
        lon=lon,
        spread_km=rng.uniform(15.0, 25.0, n),
        population=population,
        ad_share=ad_share,
        wage_index=wage_index,
    )


@dataclasses.dataclass
class Occupations:
    codes: np.ndarray  # "K2204"
    family: np.ndarray  # 0..13; codes are sorted by family
    domain: np.ndarray  # global domain index
    family_start: np.ndarray  # (families + 1,) first code of each family
    seeker_share: np.ndarray  # Zipf popularity among seekers
    ad_share: np.ndarray  # among ads: correlated, with shortages and surpluses
    base_wage: np.ndarray  # monthly EUR
    profile: np.ndarray  # (codes, PROFILE) family-local skill indices
    profile_weight: np.ndarray  # (codes, PROFILE)
    family_contract_mix: np.ndarray  # (families, 4)
    family_part_time: np.ndarray  # (families,)
    family_female_share: np.ndarray  # (families,)
    family_education: np.ndarray  # (families,) typical education level

    @property
    def max_family_size(self) -> int:
        return int(np.diff(self.family_start).max())


def make_occupations(rng: np.random.Generator, n_codes: int = 500) -> Occupations:
    n_fam = len(FAMILIES)
    per_family = np.full(n_fam, n_codes // n_fam)
    per_family[: n_codes % n_fam] += 1
    family = np.repeat(np.arange(n_fam), per_family)
    local = np.concatenate([np.arange(k) for k in per_family])
    n_domains = rng.integers(3, 7, n_fam)  # 3-6 domains a family
    domain_in_family = (local * n_domains[family]) // per_family[family]
    domain_offsets = np.concatenate([[0], np.cumsum(n_domains)[:-1]])
    domain = domain_offsets[family] + domain_in_family
    # domain digits: distinct two-digit numbers within a family (11-39), sorted
    digits = np.concatenate(
        [np.sort(rng.choice(np.arange(11, 40), k, replace=False)) for k in n_domains]
    )  # a loop over the 14 families
    first_of_domain = np.searchsorted(domain, domain)  # codes are sorted by domain
    code_in_domain = np.arange(n_codes) - first_of_domain + 1
    codes = np.array(
        [
            f"{FAMILIES[f]}{digits[d]:02d}{c:02d}"
            for f, d, c in zip(family, domain, code_in_domain, strict=True)
        ]
    )
    rank = rng.permutation(n_codes) + 1
    seeker_share = 1.0 / rank**1.05
    seeker_share /= seeker_share.sum()
    ad_share = seeker_share * rng.lognormal(0.0, 0.6, n_codes)
    ad_share /= ad_share.sum()
    family_wage = rng.lognormal(np.log(2100), 0.15, n_fam)
    base_wage = family_wage[family] * rng.lognormal(0.0, 0.18, n_codes)
    # skill profiles: each domain draws a pool from its family block, each code 20 from its pool
    profile = np.empty((n_codes, PROFILE), dtype=np.int16)
    for dom in np.unique(domain):  # ~60 domains, not a loop over entities
        members = np.flatnonzero(domain == dom)
        pool = rng.choice(SKILLS_PER_FAMILY, 50, replace=False)
        keys = rng.random((len(members), len(pool)))
        profile[members] = pool[np.argsort(keys, axis=1)[:, :PROFILE]]
    profile_weight = rng.gamma(0.8, 1.0, (n_codes, PROFILE))
    mix = rng.dirichlet([6.0, 3.0, 2.0, 0.6], n_fam)
    return Occupations(
        codes=codes,
        family=family,
        domain=domain,
        family_start=np.concatenate([[0], np.cumsum(per_family)]),
        seeker_share=seeker_share,
        ad_share=ad_share,
        base_wage=base_wage,
        profile=profile,
        profile_weight=profile_weight,
        family_contract_mix=mix,
        family_part_time=rng.uniform(0.03, 0.35, n_fam),
        family_female_share=np.clip(rng.beta(2.0, 2.0, n_fam), 0.12, 0.88),
        family_education=rng.uniform(2.0, 6.5, n_fam),
    )


def _draw_skills(rng, occ: Occupations, code: np.ndarray, low: int, high: int):
    """Skills of entities of occupation `code`: weighted draws without replacement from the
    code's profile (Gumbel top-k), as family-local indices padded with -1, plus a bitset."""
    n = len(code)
    k = rng.integers(low, high + 1, n)
    keys = np.log(occ.profile_weight[code]) - np.log(-np.log(rng.random((n, PROFILE))))
    order = np.argsort(-keys, axis=1)[:, :MAX_SKILLS]
    local = np.take_along_axis(occ.profile[code], order, axis=1).astype(np.int16)
    local[np.arange(MAX_SKILLS)[None, :] >= k[:, None]] = -1
    return local, skill_bits(local)


def skill_bits(local: np.ndarray) -> np.ndarray:
    """(n, 3) uint64 bitsets of family-local skill indices (130 < 192 bits)."""
    bits = np.zeros((len(local), 3), dtype=np.uint64)
    valid = local >= 0
    rows = np.broadcast_to(np.arange(len(local))[:, None], local.shape)[valid]
    idx = local[valid].astype(np.int64)
    np.bitwise_or.at(
        bits, (rows, idx // 64), np.left_shift(np.uint64(1), (idx % 64).astype(np.uint64))
    )
    return bits


def _place(rng, geo: Geography, dep: np.ndarray):
    """Coordinates around the department centroid, truncated at SPREAD_CLIP spreads (radially:
    the geographic bound of the proposals relies on it)."""
    n = len(dep)
    off = rng.normal(0, 1, (n, 2))
    radius = np.sqrt((off**2).sum(axis=1))
    off *= (np.minimum(radius, SPREAD_CLIP) / np.maximum(radius, 1e-12))[:, None]
    off *= geo.spread_km[dep][:, None]
    lat = geo.lat[dep] + off[:, 0] / 110.57
    lon = geo.lon[dep] + off[:, 1] / (111.32 * np.cos(np.radians(geo.lat[dep])))
    return lat, lon


def _generic_skills(rng, n: int) -> np.ndarray:
    """0-2 generic skills per entity (global indices after the family blocks), padded -1."""
    k = rng.choice(3, n, p=[0.4, 0.4, 0.2])
    g = rng.integers(0, N_GENERIC_SKILLS, (n, 2)) + len(FAMILIES) * SKILLS_PER_FAMILY
    g[np.arange(2)[None, :] >= k[:, None]] = -1
    return g.astype(np.int16)


@dataclasses.dataclass
class Seekers:
    n: int
    code: np.ndarray
    family: np.ndarray
    dep: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    mobility_km: np.ndarray
    gender: np.ndarray  # "F", "M", "X" or None
    female: np.ndarray  # bool
    birth_year: np.ndarray
    education: np.ndarray
    experience: np.ndarray
    desired_contract: np.ndarray  # index into CONTRACTS
    desired_wage: np.ndarray
    wants_part_time: np.ndarray  # a search parameter, said in the profile text only
    skills_local: np.ndarray  # (n, 12) family-local, -1 padded
    skill_bits: np.ndarray  # (n, 3) uint64
    generic_skills: np.ndarray  # (n, 2)
    activity: np.ndarray  # hidden λ_u: propensity to apply
    taste: np.ndarray  # hidden (n, 4)
    # hidden, set by `apply_market_effects` (the standard market: the declared code, W_WAGE)
    search_code: np.ndarray | None = None  # the code searched: a career changer's target
    wage_cut: np.ndarray | None = None  # weight of a wage cut (log ratio < 0)


def make_seekers(rng, n: int, geo: Geography, occ: Occupations, end_year: int) -> Seekers:
    code = rng.choice(len(occ.codes), n, p=occ.seeker_share)
    family = occ.family[code]
    dep = rng.choice(len(geo.codes), n, p=geo.population)
    lat, lon = _place(rng, geo, dep)
    # gender depends on the occupation family (search parameters differ by gender)
    u = rng.random(n)
    p_f = occ.family_female_share[family] * 0.97
    gender = np.where(u < p_f, "F", np.where(u < 0.97, "M", np.where(u < 0.985, "X", None)))
    female = gender == "F"
    birth_year = end_year - rng.integers(18, 63, n)
    education = np.clip(np.rint(rng.normal(occ.family_education[family], 1.4)), 0, 8)
    age = end_year - birth_year
    experience = np.clip((age - 18 - education / 2) * rng.beta(2.0, 2.5, n), 0, 45).round(1)
    mix = occ.family_contract_mix[family]
    desired_contract = np.minimum((rng.random(n)[:, None] > np.cumsum(mix, axis=1)).sum(1), 3)
    # women want part-time 3x as often as men in the same family (as in real data)
    wants_part_time = rng.random(n) < occ.family_part_time[family] * np.where(female, 1.8, 0.6)
    # desired wages: occupation, region, experience; women ask ~6% less in the raw data
    desired_wage = (
        occ.base_wage[code]
        * geo.wage_index[dep]
        * (1 + 0.012 * np.minimum(experience, 25))
        * np.where(female, 0.94, 1.0)
        * np.where(wants_part_time, 0.75, 1.0)
        * rng.lognormal(0, 0.1, n)
    ).round(-1)
    local, bits = _draw_skills(rng, occ, code, 4, 12)
    return Seekers(
        n=n,
        code=code,
        family=family,
        dep=dep,
        lat=lat,
        lon=lon,
        mobility_km=np.clip(rng.lognormal(np.log(25), 0.6, n), 5, 150).round(),
        gender=gender,
        female=female,
        birth_year=birth_year,
        education=education.astype(np.int8),
        experience=experience,
        desired_contract=desired_contract,
        desired_wage=desired_wage,
        wants_part_time=wants_part_time,
        skills_local=local,
        skill_bits=bits,
        generic_skills=_generic_skills(rng, n),
        activity=rng.gamma(1.5, 1 / 1.5, n),
        taste=rng.normal(0, 1, (n, 4)),
    )


@dataclasses.dataclass
class Ads:
    n: int
    code: np.ndarray
    family: np.ndarray
    dep: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    employer: np.ndarray
    contract: np.ndarray  # index into CONTRACTS
    wage: np.ndarray
    hours: np.ndarray
    required_experience: np.ndarray
    required_education: np.ndarray
    positions: np.ndarray
    skills_local: np.ndarray
    skill_bits: np.ndarray
    generic_skills: np.ndarray
    attractiveness: np.ndarray  # hidden, heavy-tailed: creates congestion
    taste: np.ndarray  # hidden (n, 4)
    z_wage: np.ndarray  # hidden: log wage standardised within the family
    z_hours: np.ndarray  # hidden: hours standardised within the family
    gender_shift: np.ndarray | None = None  # hidden: set by behaviour.gender_shift


def _standardise_within(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    count = np.bincount(group, minlength=len(FAMILIES)).clip(1)
    mean = np.bincount(group, values, len(FAMILIES)) / count
    var = np.bincount(group, (values - mean[group]) ** 2, len(FAMILIES)) / count
    return (values - mean[group]) / np.sqrt(var[group]).clip(1e-6)


def make_ads(rng, n: int, geo: Geography, occ: Occupations) -> Ads:
    code = rng.choice(len(occ.codes), n, p=occ.ad_share)
    family = occ.family[code]
    dep = rng.choice(len(geo.codes), n, p=geo.ad_share)
    lat, lon = _place(rng, geo, dep)
    # employers: Zipf(0.9) over n/6 employers in random order, so that most post several ads
    # and the biggest a few percent of all
    n_employers = max(10, n // 6)
    size = 1.0 / np.arange(1, n_employers + 1) ** 0.9
    employer = rng.permutation(n_employers)[rng.choice(n_employers, n, p=size / size.sum())]
    mix = occ.family_contract_mix[family]
    contract = np.minimum((rng.random(n)[:, None] > np.cumsum(mix, axis=1)).sum(axis=1), 3)
    part_time = rng.random(n) < occ.family_part_time[family]
    hours = np.where(part_time, rng.choice([20.0, 24.0, 25.0, 28.0, 30.0], n), 35.0)
    hours = np.where(~part_time & (rng.random(n) < 0.15), 39.0, hours)
    required_experience = np.clip(rng.gamma(1.2, 1.5, n), 0, 15).round()
    wage = (
        occ.base_wage[code]
        * geo.wage_index[dep]
        * (hours / 35.0)
        * (1 + 0.015 * required_experience)
        * rng.lognormal(0.0, 0.15, n)
        * np.where(contract == 0, 1.04, 1.0)
    ).round(-1)
    local, bits = _draw_skills(rng, occ, code, 4, 10)
    positions = np.minimum(rng.geometric(0.62, n) + (rng.random(n) < 0.03) * 3, 10)
    return Ads(
        n=n,
        code=code,
        family=family,
        dep=dep,
        lat=lat,
        lon=lon,
        employer=employer,
        contract=contract,
        wage=wage,
        hours=hours,
        required_experience=required_experience,
        required_education=np.clip(
            np.rint(rng.normal(occ.family_education[family] - 0.5, 1.2)), 0, 8
        ).astype(np.int8),
        positions=positions.astype(np.int16),
        skills_local=local,
        skill_bits=bits,
        generic_skills=_generic_skills(rng, n),
        attractiveness=rng.lognormal(0.0, 1.0, n),
        taste=rng.normal(0, 1, (n, 4)),
        z_wage=_standardise_within(np.log(wage), family),
        z_hours=_standardise_within(hours, family),
    )


def apply_market_effects(rng, s: Seekers, a: Ads, occ: Occupations, effects) -> None:
    """Draw the hidden parts of the market's `Effects` (behaviour.Effects) in place, from their
    own stream: the standard market draws nothing and keeps every other draw."""
    s.search_code = s.code.copy()
    s.wage_cut = np.full(s.n, effects.wage_cut)
    if effects == type(effects)():  # the standard market
        return
    s.wage_cut = effects.wage_cut * rng.lognormal(-0.045, 0.3, s.n)  # mean effects.wage_cut
    if effects.employer_sd:
        sd = effects.employer_sd
        z = rng.normal(0, 1, int(a.employer.max()) + 1)
        a.attractiveness = a.attractiveness * np.exp(sd * z - sd * sd / 2)[a.employer]
    if effects.career_changers:
        s.search_code = career_targets(rng, s.code, occ, a.code, effects.career_changers)


def career_targets(rng, code, occ: Occupations, ad_code, share: float) -> np.ndarray:
    """The searched code of each seeker: their own, or for `share` of them a code of another
    domain of their family, drawn ∝ the code's ads + 1 (people retrain towards work)."""
    out = code.copy()
    changer = np.flatnonzero(rng.random(len(code)) < share)
    weight = np.bincount(ad_code, minlength=len(occ.family)) + 1.0
    for f in range(int(occ.family.max()) + 1):
        members = changer[occ.family[code[changer]] == f]
        codes = np.arange(occ.family_start[f], occ.family_start[f + 1])
        for dom in np.unique(occ.domain[codes]):
            who = members[occ.domain[code[members]] == dom]
            other = codes[occ.domain[codes] != dom]
            if len(who) and len(other):
                p = weight[other] / weight[other].sum()
                out[who] = rng.choice(other, len(who), p=p)
    return out
