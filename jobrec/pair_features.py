"""Pair features of (seeker, ad) candidate pairs, vectorised over millions of pairs.

Everything a pair feature needs is first reduced to per-entity arrays (`Entities`, built once per
partition), so that a pair costs a few gathers and arithmetic on them: the great-circle distance
from unit 3-D position vectors (one dot product), occupation match levels from integer codes,
skill overlap from 2,048-bit skill sets (AND + popcount of 32 words).

Columns (CROSS_COLUMNS), all scaled to about unit range:
  distance_100km, within_mobility, occupation_code, occupation_domain, occupation_family,
  occupation_none, skill_overlap, skill_jaccard, log_wage_ratio, experience_gap_10y,
  education_gap, contract_match, hours_35h, muse0_cosine, muse0_log_rank, ad_age_30d,
  ad_log_popularity, ad_fresh_3d, ad_fresh_10d, ad_applications_per_day, history_code_share,
  history_domain_share, distance_over_mobility, distance_over_mobility_sq, wage_cut,
  employer_applications_per_ad, ad_unposted_week, ad_log_appeal, ad_log_week_ahead

The last five (issue 17) give a model whose pair term is linear in them what trees find by
splitting: an ad's freshness as exp(-age / 3 days) and exp(-age / 10 days) (applications
concentrate in an ad's first days), its early response (applications per day online), and how
much of the seeker's own past applications went to the ad's occupation code and domain (a
career changer's target shows there, not in the profile). Four more (issue 17, second step)
give the pair term the shapes a seeker's choice has: distance in units of the seeker's own
mobility and its square (a Gaussian tolerance is linear in the square), the wage cut apart from
the raise (a cut costs more than a raise gains), and how many applications the employer's other
ads drew (an employer's appeal is shared by its ads, a fresh ad has no record of its own).
The last (issue 17, third step): the share of the label week after the list date that passed
before the ad was posted. A training list dated at the cut holds ads posted during its label
week (a fifth of its applications on the harder market); they were online only part of it,
and without this column they look like ads posted on the cut day (freshness 1, no
applications), so a model linear in the freshness columns learned to under-rate fresh ads.
Tonight's candidates are all posted: the column is 0 on them.
The last two (issue 17, fourth step) give the ad's appeal and age in the form a logit adds:
the log of its applications against an average ad's at the same ages (shrunk by
APPEAL_PSEUDO_DAYS) and the log of what its age promises for the coming week, against the
mean rate (`jobrec.ad_response`). Trees find the age × rate interaction by splitting; a pair
term linear in its columns cannot.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd

from jobrec import ad_response
from jobrec.data.market import VALIDATION_DAYS, Market

EARTH_KM = 6371.0
SKILL_WORDS = 32  # 2,048-bit skill sets
CROSS_COLUMNS = (
    "distance_100km",
    "within_mobility",
    "occupation_code",
    "occupation_domain",
    "occupation_family",
    "occupation_none",
    "skill_overlap",
    "skill_jaccard",
    "log_wage_ratio",
    "experience_gap_10y",
    "education_gap",
    "contract_match",
    "hours_35h",
    # the rerankers' lists: Muse.0's score (the cosine less the distance term) times the
    # temperature; the funnel's sends: the towers' cosine (jobrec.send.funnel)
    "muse0_cosine",
    "muse0_log_rank",
    "ad_age_30d",
    "ad_log_popularity",
    "ad_fresh_3d",
    "ad_fresh_10d",
    "ad_applications_per_day",
    "history_code_share",
    "history_domain_share",
    "distance_over_mobility",
    "distance_over_mobility_sq",
    "wage_cut",
    "employer_applications_per_ad",
    "ad_unposted_week",
    "ad_log_appeal",
    "ad_log_week_ahead",
)
APPEAL_PSEUDO_DAYS = 7.0  # the appeal's shrinkage towards the mean, in days online (α)
MOBILITY_CAP = 5.0  # distance / mobility beyond this reads as "far": no seeker goes there
MUSE0_COLUMNS = (CROSS_COLUMNS.index("muse0_cosine"), CROSS_COLUMNS.index("muse0_log_rank"))
# functions of the ad and the list date alone: Muse's scoring tables hold them once an ad
# (`ad_features`), so that a scored pair reads only the PAIR_COLUMNS (`reranker_model`)
AD_ONLY_COLUMNS = tuple(
    CROSS_COLUMNS.index(name)
    for name in (
        "hours_35h",
        "ad_age_30d",
        "ad_log_popularity",
        "ad_fresh_3d",
        "ad_fresh_10d",
        "ad_applications_per_day",
        "employer_applications_per_ad",
        "ad_unposted_week",
        "ad_log_appeal",
        "ad_log_week_ahead",
    )
)
PAIR_COLUMNS = tuple(c for c in range(len(CROSS_COLUMNS)) if c not in AD_ONLY_COLUMNS)


@dataclasses.dataclass
class EntitySide:
    """Per-entity arrays of one side, row-aligned with the market's frame."""

    xyz: np.ndarray  # (N, 3) unit position vectors
    code: np.ndarray  # occupation code id; domain and family ids below (-1: unknown)
    domain: np.ndarray
    family: np.ndarray
    skills: np.ndarray  # (N, SKILL_WORDS) uint64 bit sets
    n_skills: np.ndarray
    wage: np.ndarray  # desired (seekers) or offered (ads) monthly wage
    experience: np.ndarray  # years held (seekers) or required (ads)
    education: np.ndarray
    contract: np.ndarray  # contract id
    mobility_km: np.ndarray  # seekers only (0 for ads)
    hours: np.ndarray  # ads only
    posted_day: np.ndarray  # ads only: days since the epoch
    popularity: np.ndarray  # ads only: applications before the list date
    employer_popularity: np.ndarray  # ads only: applications per other ad of the employer
    log_appeal: np.ndarray  # ads only: `ad_response.log_appeal` at APPEAL_PSEUDO_DAYS
    log_week_ahead: np.ndarray  # ads only: what the ad's age promises (`AdHistory.log_ahead`)


@dataclasses.dataclass
class History:
    """Each seeker's past applications (distinct ads, before the popularity cut) by occupation
    code and domain of the ad: sorted keys seeker x N + id with their counts."""

    code_keys: np.ndarray
    code_counts: np.ndarray
    domain_keys: np.ndarray
    domain_counts: np.ndarray
    total: np.ndarray  # (seekers,) distinct ads applied to
    n_codes: int
    n_domains: int

    @staticmethod
    def count(keys: np.ndarray, counts: np.ndarray, query: np.ndarray) -> np.ndarray:
        """Counts of `query` keys (0 where absent)."""
        if not len(keys):
            return np.zeros(len(query), np.float32)
        at = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
        return np.where(keys[at] == query, counts[at], 0).astype(np.float32)


@dataclasses.dataclass
class Entities:
    seekers: EntitySide
    ads: EntitySide
    day: int  # the list date, days since the epoch
    history: History


def _ids(values: pd.Series, index: pd.Index) -> np.ndarray:
    return index.get_indexer(values.fillna("").astype(str))


def _bitsets(lists: pd.Series, vocabulary: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    lengths = lists.map(lambda v: 0 if v is None else len(v)).to_numpy(np.int64)
    flat = [s for v in lists if v is not None for s in v]
    ids = vocabulary.get_indexer(pd.Index(flat, dtype=object)) if flat else np.zeros(0, np.int64)
    rows = np.repeat(np.arange(len(lists)), lengths)
    ok = ids >= 0
    rows, ids = rows[ok], (ids[ok] % (64 * SKILL_WORDS)).astype(np.uint64)
    bits = np.zeros((len(lists), SKILL_WORDS), dtype=np.uint64)
    np.bitwise_or.at(bits, (rows, (ids // 64).astype(np.int64)), np.uint64(1) << (ids % 64))
    return bits, np.bitwise_count(bits).sum(axis=1).astype(np.float32)


def _xyz(frame: pd.DataFrame) -> np.ndarray:
    lat = np.radians(frame["latitude"].to_numpy(np.float64))
    lon = np.radians(frame["longitude"].to_numpy(np.float64))
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def _num(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column], errors="coerce").fillna(0).to_numpy(np.float32)


def build_entities(market: Market, day, popularity_before) -> Entities:
    """Per-entity arrays for lists dated `day` (ad age and popularity are taken at that date:
    applications before `popularity_before`)."""
    s, a = market.seekers, market.ads
    codes = pd.Index(sorted(set(s["desired_occupation"].dropna()) | set(a["occupation"].dropna())))
    domains = pd.Index(sorted({c[:3] for c in codes}))
    families = pd.Index(sorted({c[:1] for c in codes}))
    contracts = pd.Index(sorted(set(s["desired_contract"].dropna()) | set(a["contract"].dropna())))
    skills = pd.Index(
        sorted({x for col in (s["skills"], a["skills"]) for v in col if v is not None for x in v})
    )
    day_number = int(np.datetime64(day, "D").astype(np.int64))
    before = market.applications.between(dt.date.min, popularity_before)
    popularity = np.bincount(before.ad, minlength=len(a)).astype(np.float32)
    response = ad_response.ad_history(market, popularity_before, ahead_from=day)

    def side(frame, occupation, contract, wage, experience, education, is_ads):
        bits, n_skills = _bitsets(frame["skills"], skills)
        occ = frame[occupation].fillna("").astype(str)
        zeros = np.zeros(len(frame), np.float32)
        return EntitySide(
            xyz=_xyz(frame),
            code=_ids(occ, codes),
            domain=_ids(occ.str[:3], domains),
            family=_ids(occ.str[:1], families),
            skills=bits,
            n_skills=n_skills,
            wage=_num(frame, wage),
            experience=_num(frame, experience),
            education=_num(frame, education),
            contract=_ids(frame[contract], contracts),
            mobility_km=zeros if is_ads else _num(frame, "mobility_km"),
            hours=_num(frame, "hours_per_week") if is_ads else zeros,
            posted_day=(
                frame["posted_on"].to_numpy("datetime64[D]").astype(np.int64)
                if is_ads
                else np.zeros(len(frame), np.int64)
            ),
            popularity=popularity if is_ads else zeros,
            employer_popularity=(
                _employer_popularity(frame, popularity, day_number) if is_ads else zeros
            ),
            log_appeal=(ad_response.log_appeal(response, APPEAL_PSEUDO_DAYS) if is_ads else zeros),
            log_week_ahead=response.log_ahead.astype(np.float32) if is_ads else zeros,
        )

    seekers = side(
        s,
        "desired_occupation",
        "desired_contract",
        "desired_wage",
        "experience_years",
        "education_level",
        is_ads=False,
    )
    ads = side(
        a,
        "occupation",
        "contract",
        "wage",
        "required_experience_years",
        "required_education",
        is_ads=True,
    )
    return Entities(
        seekers, ads, day_number, _history(before, ads, len(s), len(codes), len(domains))
    )


def entities_as_of(ent: Entities, market: Market, day: dt.date) -> Entities:
    """`ent` (from `build_entities` on `market`) as it stood on `day`: the date-dependent parts
    (ad ages, the ads' and employers' applications and the seekers' history, all from the
    applications before `day`) recomputed, the rest (places, occupations, skills, wages) shared.
    Point-in-time pair features of past events without rebuilding the skill sets."""
    day_number = int(np.datetime64(day, "D").astype(np.int64))
    before = market.applications.between(dt.date.min, day)
    popularity = np.bincount(before.ad, minlength=len(market.ads)).astype(np.float32)
    response = ad_response.ad_history(market, day)
    ads = dataclasses.replace(
        ent.ads,
        popularity=popularity,
        employer_popularity=_employer_popularity(market.ads, popularity, day_number),
        log_appeal=ad_response.log_appeal(response, APPEAL_PSEUDO_DAYS),
        log_week_ahead=response.log_ahead.astype(np.float32),
    )
    n_seekers, old = len(ent.seekers.code), ent.history
    history = _history(before, ads, n_seekers, old.n_codes, old.n_domains)
    return Entities(ent.seekers, ads, day_number, history)


def _employer_popularity(ads: pd.DataFrame, popularity: np.ndarray, day: int) -> np.ndarray:
    """Per ad, the applications (before the popularity cut) per other ad its employer posted by
    `day`; 0 without another ad or without an employer."""
    employer = pd.factorize(ads["employer_id"], use_na_sentinel=True)[0]
    posted = ads["posted_on"].to_numpy("datetime64[D]").astype(np.int64) <= day
    known = (employer >= 0) & posted
    n = int(employer.max()) + 1 if len(employer) else 0
    count = np.bincount(employer[known], minlength=n).astype(np.float64)
    total = np.bincount(employer[known], popularity[known], minlength=n)
    own = np.where(known, popularity, 0.0)
    others = np.where(employer >= 0, count[employer] - known, 0)
    applications = np.where(employer >= 0, total[employer] - own, 0)
    return np.where(others > 0, applications / np.maximum(others, 1), 0).astype(np.float32)


def _history(before, ads: EntitySide, n_seekers: int, n_codes: int, n_domains: int) -> History:
    pairs = np.unique(before.seeker.astype(np.int64) * len(ads.code) + before.ad)
    seeker, ad = pairs // len(ads.code), pairs % len(ads.code)

    def keyed(ids, n):
        known = ids[ad] >= 0
        keys, counts = np.unique(seeker[known] * n + ids[ad][known], return_counts=True)
        return keys, counts

    code_keys, code_counts = keyed(ads.code, n_codes)
    domain_keys, domain_counts = keyed(ads.domain, n_domains)
    total = np.bincount(seeker, minlength=n_seekers).astype(np.float32)
    return History(code_keys, code_counts, domain_keys, domain_counts, total, n_codes, n_domains)


def cross_features(
    ent: Entities,
    seeker_rows: np.ndarray,
    ad_rows: np.ndarray,
    muse0_cosine: np.ndarray,
    muse0_rank: np.ndarray,
    block: int = 1 << 18,
    columns: tuple[int, ...] | None = None,
) -> np.ndarray:
    """(P, len(columns)) float32 for the pairs (seeker_rows[i], ad_rows[i]), computed in
    blocks of pairs so that temporaries stay small; `columns` are positions in CROSS_COLUMNS,
    in the order wanted (None: all of them; PAIR_COLUMNS: what Muse's folded tables read)."""
    columns = tuple(range(len(CROSS_COLUMNS))) if columns is None else tuple(columns)
    out = np.empty((len(seeker_rows), len(columns)), dtype=np.float32)
    for lo in range(0, len(seeker_rows), block):
        hi = min(len(seeker_rows), lo + block)
        _cross_block(
            ent,
            np.asarray(seeker_rows[lo:hi]),
            np.asarray(ad_rows[lo:hi]),
            muse0_cosine[lo:hi],
            muse0_rank[lo:hi],
            out[lo:hi],
            columns,
        )
    return out


def ad_features(ent: Entities) -> np.ndarray:
    """(N_a, len(AD_ONLY_COLUMNS)) float32: every ad's AD_ONLY_COLUMNS, the values its pairs
    take (functions of the ad and the list date alone)."""
    return np.column_stack(_ad_columns(ent, np.arange(len(ent.ads.hours)))).astype(np.float32)


def _ad_columns(ent: Entities, j: np.ndarray) -> list[np.ndarray]:
    """The AD_ONLY_COLUMNS of ad rows `j`, in that order (the one place their formulas live)."""
    a = ent.ads
    age = (ent.day - a.posted_day[j]).astype(np.float32)
    online = np.maximum(age, 0)
    return [
        a.hours[j] / 35,
        age / 30,
        np.log1p(a.popularity[j]),
        np.exp(-online / 3),
        np.exp(-online / 10),
        np.log1p(a.popularity[j] / np.maximum(online, 1)),
        np.log1p(a.employer_popularity[j]),
        np.clip(-age, 0, VALIDATION_DAYS) / VALIDATION_DAYS,  # the labels' week
        a.log_appeal[j],
        a.log_week_ahead[j],
    ]


def _cross_block(ent: Entities, u, j, muse0_cosine, muse0_rank, out, columns) -> None:
    at = {c: i for i, c in enumerate(columns)}

    def put(column: int, values) -> None:
        if column in at:
            out[:, at[column]] = values

    s, a = ent.seekers, ent.ads
    cos = np.einsum("ij,ij->i", s.xyz[u], a.xyz[j])
    km = EARTH_KM * np.arccos(np.clip(cos, -1.0, 1.0))
    put(0, km / 100)
    put(1, km <= s.mobility_km[u] + 1e-3)  # 1 m: arccos of a rounded 1 is not 0
    same_code = (s.code[u] == a.code[j]) & (s.code[u] >= 0)
    same_domain = (s.domain[u] == a.domain[j]) & (s.domain[u] >= 0)
    same_family = (s.family[u] == a.family[j]) & (s.family[u] >= 0)
    put(2, same_code)
    put(3, same_domain & ~same_code)
    put(4, same_family & ~same_domain)
    put(5, ~same_family)
    overlap = np.bitwise_count(s.skills[u] & a.skills[j]).sum(axis=1).astype(np.float32)
    put(6, overlap / 10)
    put(7, overlap / np.maximum(s.n_skills[u] + a.n_skills[j] - overlap, 1))
    wages_known = (a.wage[j] > 0) & (s.wage[u] > 0)  # a missing wage says nothing
    log_wage_ratio = np.where(
        wages_known, np.log(np.maximum(a.wage[j], 1) / np.maximum(s.wage[u], 1)), 0
    ).astype(np.float32)
    put(8, log_wage_ratio)
    put(9, (a.experience[j] - s.experience[u]) / 10)
    put(10, (a.education[j] - s.education[u]) / 4)
    put(11, (s.contract[u] == a.contract[j]) & (s.contract[u] >= 0))
    put(13, muse0_cosine)
    put(14, np.log1p(muse0_rank) / np.log(1001))
    if any(c in at for c in AD_ONLY_COLUMNS):
        for column, values in zip(AD_ONLY_COLUMNS, _ad_columns(ent, j), strict=True):
            put(column, values)
    h = ent.history
    applied = np.maximum(h.total[u], 1)
    code_key = np.where(a.code[j] >= 0, u * h.n_codes + a.code[j], -1)
    domain_key = np.where(a.domain[j] >= 0, u * h.n_domains + a.domain[j], -1)
    put(20, h.count(h.code_keys, h.code_counts, code_key) / applied)
    put(21, h.count(h.domain_keys, h.domain_counts, domain_key) / applied)
    reach = np.minimum(km / np.maximum(s.mobility_km[u], 1.0), MOBILITY_CAP)  # at least 1 km
    put(22, reach)
    put(23, reach * reach / MOBILITY_CAP)
    put(24, np.minimum(log_wage_ratio, 0))


def entity_numerics(side: EntitySide, is_ads: bool) -> np.ndarray:
    """(N, 5) float32 per-entity numbers for the reranker's entity towers."""
    last = side.hours / 35 if is_ads else np.log1p(side.mobility_km) / 5
    return np.column_stack(
        [
            side.experience / 10,
            side.education / 4,
            np.log1p(np.maximum(side.wage, 0)) / 8,
            last,
            side.n_skills / 10,
        ]
    ).astype(np.float32)


def muse0_score_feature(scores: np.ndarray, temperature: float) -> np.ndarray:
    """The rerankers' `muse0_cosine` column from Muse.0's scores (the cosine less the distance
    term): asinh leaves the cosines' range nearly as it was and folds the distance term's long
    tail (down to −50 among `small`'s candidates), which a pair term linear in it would
    otherwise have to fit; times the temperature, as the column always was."""
    return np.arcsinh(scores) * temperature


def list_pair_features(
    ent: Entities,
    seekers: np.ndarray,
    ads: np.ndarray,
    muse0_cosine: np.ndarray,
    columns: tuple[int, ...] | None = None,
) -> np.ndarray:
    """(G, K, C) pair features of G ranked lists of K ads (market ad rows, -1 padded) of
    `seekers`, with their Muse.0 cosines; a list's rank is its column + 1; padding is zeros.

    Parameters
    ----------
    ent : Entities
        The entities as of the day the lists are taken (`build_entities`).
    seekers : (G,) int array
        Market seeker rows, one per list.
    ads : (G, K) int array
        Market ad rows of each list, best first, -1 for padding.
    muse0_cosine : (G, K) float array
        Muse.0's (temperature-scaled) score of each pair.
    columns : tuple of int, optional
        Positions in CROSS_COLUMNS to compute, in that order (None: all; PAIR_COLUMNS: what
        Muse's folded scoring tables read).

    Returns
    -------
    (G, K, C) float32 array
        C = len(columns), or len(CROSS_COLUMNS).
    """
    g, k = ads.shape
    valid = ads >= 0
    rows = np.repeat(seekers, k).reshape(g, k)
    rank = np.tile(np.arange(1, k + 1), (g, 1))
    width = len(CROSS_COLUMNS) if columns is None else len(columns)
    cross = np.zeros((g, k, width), dtype=np.float32)
    cross[valid] = cross_features(
        ent, rows[valid], ads[valid], muse0_cosine[valid], rank[valid], columns=columns
    )
    return cross
