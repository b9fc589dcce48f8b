"""The oracle: the market's hidden parameters and the true probability that a seeker applies to
(or is hired on) an ad on a given day. No model reads it; evaluations use it to rank a sample of
seekers' active ads by the truth ("oracle recall")."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from jobrec.synth import behaviour as bh

SEEKER_FIELDS = (
    "code", "family", "lat", "lon", "mobility_km", "female", "activity", "taste", "desired_wage",
    "desired_contract", "wants_part_time", "skill_bits", "experience", "education",
)  # fmt: skip
AD_FIELDS = (
    "code", "family", "lat", "lon", "attractiveness", "taste", "wage", "hours", "contract",
    "skill_bits", "z_wage", "z_hours", "required_experience", "required_education", "positions",
)  # fmt: skip


def save_oracle(path: Path, s, a, occ, tl, ev, seeker_last, ad_last, start, gender_effect,
                params) -> None:  # fmt: skip
    path.mkdir(parents=True, exist_ok=True)
    arrays = {f"seeker_{k}": getattr(s, k) for k in SEEKER_FIELDS}
    arrays |= {f"ad_{k}": getattr(a, k) for k in AD_FIELDS}
    arrays |= {
        "seeker_first_day": tl.seeker_start,
        "seeker_last_day": seeker_last,
        "ad_first_day": tl.ad_start,
        "ad_last_day": ad_last,
        "ad_applicants": ev.applicants,
        "occ_family": occ.family,
        "occ_domain": occ.domain,
    }
    np.savez_compressed(path / "hidden.npz", **arrays)
    meta = {
        "start_date": start.isoformat(),
        "scale_c": ev.scale_c,
        "hire_threshold": ev.hire_threshold,
        "gender_effect": gender_effect,
        "parameters": params,
    }
    (path / "oracle.json").write_text(json.dumps(meta, indent=2))


class Oracle:
    """True probabilities from the hidden parameters. Ids are the contract files' string ids."""

    def __init__(self, path: str | Path):
        path = Path(path)
        meta = json.loads((path / "oracle.json").read_text())
        z = np.load(path / "hidden.npz")
        self.start = dt.date.fromisoformat(meta["start_date"])
        self.c = float(meta["scale_c"])
        self.tau = float(meta["hire_threshold"])
        self.gender_effect = float(meta["gender_effect"])
        self.parameters = meta["parameters"]
        self.seekers = SimpleNamespace(**{k: z[f"seeker_{k}"] for k in SEEKER_FIELDS})
        self.ads = SimpleNamespace(**{k: z[f"ad_{k}"] for k in AD_FIELDS})
        self.occ = SimpleNamespace(family=z["occ_family"], domain=z["occ_domain"])
        self.seeker_days = (z["seeker_first_day"], z["seeker_last_day"])
        self.ad_days = (z["ad_first_day"], z["ad_last_day"])
        self.applicants = z["ad_applicants"]

    @staticmethod
    def _index(ids, prefix: str, n: int) -> np.ndarray:
        ids = np.asarray(ids, dtype=str)
        if not np.all(np.char.startswith(ids, prefix)):
            raise KeyError(f"ids must look like {prefix}0000001")
        out = np.char.replace(ids, prefix, "", count=1).astype(np.int64)  # S0000017 -> 17
        if (out >= n).any():
            raise KeyError("unknown id")
        return out

    def _pairs(self, jobseeker_ids, ad_ids):
        u = self._index(jobseeker_ids, "S", len(self.seekers.code))
        j = self._index(ad_ids, "A", len(self.ads.code))
        return np.broadcast_arrays(u, j)

    def _active(self, u, j, day: dt.date) -> np.ndarray:
        t = (day - self.start).days
        (s0, s1), (a0, a1) = self.seeker_days, self.ad_days
        return (s0[u] <= t) & (s1[u] >= t) & (a0[j] <= t) & (a1[j] >= t)

    def application_rate(self, u, j, day: dt.date) -> np.ndarray:
        log_r = bh.log_rate(self.seekers, self.ads, self.occ, u, j, self.c, self.gender_effect)
        return np.where(self._active(u, j, day), np.exp(log_r), 0.0)

    def application_probability(self, jobseeker_ids, ad_ids, day: dt.date) -> np.ndarray:
        """P(seeker applies to ad on `day`), elementwise over the pairs."""
        u, j = self._pairs(jobseeker_ids, ad_ids)
        return -np.expm1(-self.application_rate(u, j, day))

    def hire_probability(self, jobseeker_ids, ad_ids, day: dt.date) -> np.ndarray:
        """P(apply on `day`) × P(hired | applied): the employer utility against the hiring
        threshold (Gumbel noise), times the ad's competition (positions per applicant)."""
        u, j = self._pairs(jobseeker_ids, ad_ids)
        p_apply = -np.expm1(-self.application_rate(u, j, day))
        e = bh.employer_utility_mean(self.seekers, self.ads, u, j)
        above = -np.expm1(-np.exp(-(self.tau - e) / 0.7))
        competition = np.minimum(1.0, self.ads.positions[j] / np.maximum(self.applicants[j], 1))
        return p_apply * above * competition

    def score_matrix(self, jobseeker_ids, ad_ids, day: dt.date, kind: str = "apply",
                     block: int = 256) -> np.ndarray:  # fmt: skip
        """Dense |seekers| × |ads| matrix of true probabilities, computed block by block."""
        fn = {"apply": self.application_probability, "hire": self.hire_probability}[kind]
        seekers, ads = np.asarray(jobseeker_ids, str), np.asarray(ad_ids, str)
        out = np.empty((len(seekers), len(ads)))
        for lo in range(0, len(seekers), block):  # blocks of seekers bound the memory
            s = seekers[lo : lo + block]
            out[lo : lo + len(s)] = fn(s[:, None], ads[None, :], day)
        return out


def load_oracle(oracle_dir: str | Path) -> Oracle:
    return Oracle(oracle_dir)
