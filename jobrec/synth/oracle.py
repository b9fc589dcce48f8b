"""The oracle: the market's hidden parameters and the true probability that a seeker applies to
(or is hired on) an ad on a given day. No model reads it; evaluations use it to rank a sample of
seekers' active ads by the truth ("oracle recall").

Files: `oracle/hidden.npz` (per-seeker and per-ad hidden and observed attributes in the order of
the ids S0000000.., A0000000.., activity windows, occupation hierarchy) and `oracle/oracle.json`
(start date, rate constant c, hiring threshold τ, gender effect, documented parameters).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from jobrec.synth import behaviour

SEEKER_FIELDS = (
    "code",
    "family",
    "lat",
    "lon",
    "mobility_km",
    "female",
    "activity",
    "taste",
    "desired_wage",
    "desired_contract",
    "wants_part_time",
    "skill_bits",
    "experience",
    "education",
    "search_code",
    "wage_cut",
)
AD_FIELDS = (
    "code",
    "family",
    "dep",
    "lat",
    "lon",
    "attractiveness",
    "taste",
    "wage",
    "hours",
    "contract",
    "skill_bits",
    "gender_shift",
    "required_experience",
    "required_education",
    "positions",
    "employer",
)
GEO_FIELDS = ("lat", "lon", "spread_km")
SEEKER_PREFIX, AD_PREFIX, ID_WIDTH = "S", "A", 7


def save_oracle(
    path: Path, s, a, occ, geo, tl, ev, start: dt.date, c: float, gender_effect: float, params: dict
) -> None:
    path.mkdir(parents=True, exist_ok=True)
    arrays = {f"seeker_{k}": getattr(s, k) for k in SEEKER_FIELDS}
    arrays |= {f"ad_{k}": getattr(a, k) for k in AD_FIELDS}
    arrays |= {f"geo_{k}": getattr(geo, k) for k in GEO_FIELDS}
    arrays |= {
        # days (since the first day of the timeline) on which applications can happen
        "seeker_first_day": tl.seeker_start,
        "seeker_last_day": ev.seeker_last,
        "ad_first_day": tl.ad_start,
        "ad_last_day": ev.ad_apply_last,
        # the ads' scheduled windows [first, end): they make the seekers' opportunity mass
        "ad_scheduled_end": tl.ad_end,
        "ad_applicants": ev.applicants,
        "occ_family": occ.family,
        "occ_domain": occ.domain,
        "occ_family_start": occ.family_start,
    }
    np.savez_compressed(path / "hidden.npz", **arrays)
    meta = {
        "start_date": start.isoformat(),
        "days": tl.days,
        "rate_constant_c": c,
        "hire_threshold": ev.hire_threshold,
        "gender_effect": gender_effect,
        "id_format": {
            "seeker": f"{SEEKER_PREFIX} + {ID_WIDTH} digits (row index)",
            "ad": f"{AD_PREFIX} + {ID_WIDTH} digits (row index)",
        },
        "parameters": params,
    }
    (path / "oracle.json").write_text(json.dumps(meta, indent=2))


class Oracle:
    """True probabilities from the hidden parameters. Ids are the contract files' string ids."""

    def __init__(self, path: str | Path):
        path = Path(path)
        meta = json.loads((path / "oracle.json").read_text())
        with np.load(path / "hidden.npz") as z:
            self.seekers = SimpleNamespace(
                **{k: z[f"seeker_{k}"] for k in SEEKER_FIELDS if f"seeker_{k}" in z}
            )
            self.ads = SimpleNamespace(**{k: z[f"ad_{k}"] for k in AD_FIELDS if f"ad_{k}" in z})
            self.occ = SimpleNamespace(
                family=z["occ_family"], domain=z["occ_domain"], family_start=z["occ_family_start"]
            )
            self.geo = SimpleNamespace(**{k: z[f"geo_{k}"] for k in GEO_FIELDS})
            self.seeker_days = (z["seeker_first_day"], z["seeker_last_day"])
            self.ad_days = (z["ad_first_day"], z["ad_last_day"])
            self.ad_scheduled_end = z["ad_scheduled_end"]
            self.applicants = z["ad_applicants"]
        self._markets: dict[int, object] = {}
        self.start = dt.date.fromisoformat(meta["start_date"])
        self.c = float(meta["rate_constant_c"])
        self.tau = float(meta["hire_threshold"])
        self.gender_effect = float(meta["gender_effect"])
        self.parameters = meta["parameters"]
        # markets written before the harder market's effects existed are standard ones (their
        # files lack the new fields; the employer is needed by no probability)
        self.effects = behaviour.Effects(**self.parameters.get("market_effects", {}))
        s = self.seekers
        if not hasattr(s, "search_code"):
            s.search_code = s.code
        if not hasattr(s, "wage_cut"):
            s.wage_cut = np.full(len(s.code), behaviour.W_WAGE)

    @staticmethod
    def _index(ids, prefix: str, n: int) -> np.ndarray:
        ids = np.asarray(ids, dtype=str)
        if ids.size and not np.all(np.char.startswith(ids, prefix)):
            raise KeyError(f"ids must look like {prefix}{'0' * ID_WIDTH}")
        out = np.char.lstrip(ids, prefix).astype(np.int64) if ids.size else ids.astype(np.int64)
        if ids.size and ((out >= n) | (out < 0)).any():
            raise KeyError("unknown id")
        return out

    def seeker_index(self, jobseeker_ids) -> np.ndarray:
        return self._index(jobseeker_ids, SEEKER_PREFIX, len(self.seekers.code))

    def ad_index(self, ad_ids) -> np.ndarray:
        return self._index(ad_ids, AD_PREFIX, len(self.ads.code))

    def _day(self, day: dt.date) -> int:
        return (day - self.start).days

    def _active(self, u, j, t: int) -> np.ndarray:
        (s0, s1), (a0, a1) = self.seeker_days, self.ad_days
        return (s0[u] <= t) & (s1[u] >= t) & (a0[j] <= t) & (a1[j] >= t)

    def opportunity(self, u, day: dt.date) -> np.ndarray:
        """N_u(t), the seekers' opportunity mass on the day (from the ads' scheduled windows,
        as the generator drew it)."""
        t = self._day(day)
        if t not in self._markets:
            if len(self._markets) > 8:
                self._markets.clear()
            active = (self.ad_days[0] <= t) & (self.ad_scheduled_end > t)
            fresh = self.effects.ad_freshness(t - self.ad_days[0])
            self._markets[t] = behaviour.day_market(
                self.ads, self.occ, len(self.geo.lat), active, fresh
            )
        uniq, inverse = np.unique(u, return_inverse=True)
        s = self.seekers
        g = behaviour.geo_bound_matrix(s.lat[uniq], s.lon[uniq], s.mobility_km[uniq], self.geo)
        return behaviour.opportunity(self._markets[t], s.search_code[uniq], g)[
            inverse.reshape(np.shape(u))
        ]

    def rate(self, u, j, day: dt.date) -> np.ndarray:
        """r_uj(t) for index arrays (broadcast): 0 when either is inactive that day."""
        u, j = np.broadcast_arrays(u, j)
        t = self._day(day)
        active = self._active(u, j, t)
        out = np.zeros(u.shape)
        if active.any():
            ua, ja = u[active], j[active]
            opportunity = self.opportunity(ua, day)
            seeker_factor = self.effects.seeker_freshness(t - self.seeker_days[0][ua])
            ad_factor = self.effects.ad_freshness(t - self.ad_days[0][ja])
            log_r = behaviour.log_rate(
                self.seekers,
                self.ads,
                self.occ,
                ua,
                ja,
                self.c,
                self.gender_effect,
                opportunity,
                1.0 if seeker_factor is None else seeker_factor,
                1.0 if ad_factor is None else ad_factor,
            )
            out[active] = np.exp(log_r)
        return out

    def _apply_p(self, u, j, day) -> np.ndarray:
        return -np.expm1(-self.rate(u, j, day))

    def _hire_p(self, u, j, day) -> np.ndarray:
        u, j = np.broadcast_arrays(u, j)
        e = behaviour.employer_utility_mean(self.seekers, self.ads, u, j)
        # P(e + 0.7 Gumbel ≥ τ), times the competition for the ad's positions
        above = -np.expm1(-np.exp(-(self.tau - e) / behaviour.EMPLOYER_NOISE))
        competition = np.minimum(1.0, self.ads.positions[j] / np.maximum(self.applicants[j], 1))
        return self._apply_p(u, j, day) * above * competition

    def application_probability(self, jobseeker_ids, ad_ids, day: dt.date) -> np.ndarray:
        """P(seeker applies to ad on `day` | not before), elementwise over the pairs."""
        return self._apply_p(self.seeker_index(jobseeker_ids), self.ad_index(ad_ids), day)

    def hire_probability(self, jobseeker_ids, ad_ids, day: dt.date) -> np.ndarray:
        """P(apply on `day`) x P(hired | applied): the employer utility against the hiring
        threshold τ (Gumbel noise), times positions / applicants of the ad (at most 1)."""
        return self._hire_p(self.seeker_index(jobseeker_ids), self.ad_index(ad_ids), day)

    def score_matrix(
        self, jobseeker_ids, ad_ids, day: dt.date, kind: str = "apply", block_pairs: int = 1_000_000
    ) -> np.ndarray:
        """Dense |seekers| x |ads| matrix of true probabilities, computed block by block."""
        fn = {"apply": self._apply_p, "hire": self._hire_p}[kind]
        u, j = self.seeker_index(jobseeker_ids), self.ad_index(ad_ids)
        out = np.empty((len(u), len(j)))
        block = max(1, block_pairs // max(len(j), 1))
        for lo in range(0, len(u), block):  # blocks of seekers bound the memory
            out[lo : lo + block] = fn(u[lo : lo + block, None], j[None, :], day)
        return out


def oracle_dir(raw_dir: str | Path) -> Path | None:
    """The synthetic market's oracle folder beside the raw files, None for other data."""
    folder = Path(raw_dir) / "oracle"
    return folder if (folder / "oracle.json").exists() else None


def load_oracle(oracle_dir: str | Path) -> Oracle:
    return Oracle(oracle_dir)


def reveal_part_time(seekers, raw_dir: str | Path):
    """The seekers with their true part-time wish written into the profile text (the generator
    writes "Part-time wanted." for 9 in 10 of those who have it): for benchmarks and tests that
    measure what the audit's controls miss. Returns a copy."""
    import numpy as np

    oracle = load_oracle(Path(raw_dir) / "oracle")
    wants = oracle.seekers.wants_part_time[oracle.seeker_index(seekers["jobseeker_id"])]
    out = seekers.copy()
    text = out["profile_text"].fillna("").str.replace("Part-time", "", regex=False)
    out["profile_text"] = text + np.where(wants, " Part-time", "")
    return out
