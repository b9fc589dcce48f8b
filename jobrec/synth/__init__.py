"""The synthetic labour market: jobrec's embedded default data source.

`generate(scale, out_dir, seed)` writes the five contract files (Parquet, streamed in chunks),
an `oracle/` folder with the hidden parameters (never read by a model) and `summary.json`.
`load_oracle(out_dir / "oracle")` gives the true application and hire probability of any
seeker × ad pair on a day, so that evaluations can measure the distance to the best ranking.

The generative model is documented in `jobrec.synth.behaviour` (utility, applications, hires)
and `jobrec.synth.world` (geography, occupations, skills, entities). Planted truths:
- applications follow the hidden utility (skills, distance vs mobility, occupation level, wage,
  contract, hours, latent taste, heavy-tailed ad attractiveness);
- a conditional gender gap: women apply more to lower-wage, shorter-hours ads (`gender_effect`
  scales it; 0 removes it with every other random draw unchanged);
- per-family funnel heterogeneity in `recommendation_feedback` (see `simulate.family_funnel`).
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from jobrec.contract import RAW_SCHEMAS
from jobrec.metrics import gini
from jobrec.synth import behaviour as bh
from jobrec.synth import simulate as sim
from jobrec.synth import text
from jobrec.synth.oracle import Oracle, load_oracle, save_oracle
from jobrec.synth.world import (
    CONTRACTS,
    FAMILIES,
    N_GENERIC_SKILLS,
    SCALES,
    SKILLS_PER_FAMILY,
    Streams,
    make_ads,
    make_geography,
    make_occupations,
    make_seekers,
)

__all__ = ["SCALES", "Oracle", "generate", "load_oracle", "parameters"]

CHUNK_ROWS = 200_000
N_SKILLS = len(FAMILIES) * SKILLS_PER_FAMILY + N_GENERIC_SKILLS
SKILL_CODES = np.array([f"SK{i + 1:04d}" for i in range(N_SKILLS)])


def parameters(gender_effect: float = 1.0) -> dict:
    """The documented hidden parameters (the truths an evaluation may compare against)."""
    return {
        "level_factor": {"code": bh.LEVEL_FACTOR[0], "domain": bh.LEVEL_FACTOR[1],
                         "family": bh.LEVEL_FACTOR[2], "other_family": 0.0},
        "utility_weights": {"skill_share": bh.W_SKILL, "log_wage_ratio": bh.W_WAGE,
                            "wage_clip": list(bh.WAGE_CLIP), "contract_match": bh.W_CONTRACT,
                            "hours_mismatch": -bh.W_HOURS, "taste": bh.W_TASTE,
                            "distance": "-0.5 * (d / mobility)^2"},
        "gender": {"effect": gender_effect, "gamma_wage": bh.GAMMA_WAGE,
                   "gamma_hours": bh.GAMMA_HOURS, "clip": bh.GENDER_CLIP,
                   "term": "-effect * clip(gamma_wage*z_log_wage + gamma_hours*z_hours) for F"},
        "attractiveness": "lognormal(0, 1.0)",
        "targets": {"applications_per_seeker": bh.TARGET_APPLICATIONS_PER_SEEKER,
                    "hires_per_seeker": bh.TARGET_HIRES_PER_SEEKER},
        "funnel": {k: v.round(3).tolist() for k, v in sim.family_funnel().items()},
    }  # fmt: skip


def _list_column(mat: np.ndarray) -> pa.Array:
    valid = mat >= 0
    offsets = np.concatenate([[0], np.cumsum(valid.sum(axis=1))]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(SKILL_CODES[mat[valid]]))


def _global_skills(local: np.ndarray, family: np.ndarray, generic: np.ndarray) -> np.ndarray:
    glob = np.where(local >= 0, local + (family * SKILLS_PER_FAMILY)[:, None], -1)
    return np.concatenate([glob, generic], axis=1)


def _dates(start: dt.date, day_index: np.ndarray, valid: np.ndarray) -> pa.Array:
    days = (np.datetime64(start, "D") + day_index.astype("timedelta64[D]")).astype("datetime64[D]")
    return pa.array(days, type=pa.date32(), mask=~valid)


def _timestamps(start: dt.date, seconds: np.ndarray) -> pa.Array:
    base = np.datetime64(start, "us")
    return pa.array(base + (seconds * 1_000_000).astype("timedelta64[us]"),
                    type=pa.timestamp("us", tz="UTC"))  # fmt: skip


def _write(path: Path, name: str, n: int, build) -> None:
    """Stream `n` rows to Parquet, CHUNK_ROWS at a time; build(lo, hi) -> dict of columns."""
    schema = RAW_SCHEMAS[name]
    with pq.ParquetWriter(path / f"{name}.parquet", schema, compression="zstd") as writer:
        for lo in range(0, max(n, 1), CHUNK_ROWS):
            hi = min(n, lo + CHUNK_ROWS)
            if hi <= lo:
                break
            cols = build(lo, hi)
            writer.write_table(pa.table([cols[f.name] for f in schema], schema=schema))


def _ids(prefix: str, idx: np.ndarray, width: int = 7) -> pa.Array:
    """Identifiers: the prefix and the zero-padded index (the oracle maps them back)."""
    return pa.array(np.char.add(prefix, np.char.zfill(idx.astype(str), width)))


def generate(
    scale: str = "small",
    out_dir: str | Path = "data/raw",
    seed: int = 0,
    end_date: dt.date | None = None,
    days: int = 90,
    gender_effect: float = 1.0,
    progress: bool = True,
) -> dict:
    """Generate the market; returns the summary (also written to out_dir/summary.json)."""
    t0 = time.perf_counter()
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}: one of {', '.join(SCALES)}")
    size = SCALES[scale]
    end_date = end_date or (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1))
    start = end_date - dt.timedelta(days=days - 1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    streams = Streams(seed)
    geo = make_geography(streams["geography"])
    occ = make_occupations(streams["occupations"])
    seekers = make_seekers(streams["seekers"], size.seekers, geo, occ, end_date.year)
    ads = make_ads(streams["ads"], size.ads, geo, occ)
    tl = sim.make_timeline(streams["timeline"], seekers.n, ads.n, days, start.weekday())
    entropy = int(streams["applications"].integers(2**62))

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=days, desc=f"synth {scale}: days", unit="day")
    ev = sim.simulate(seekers, ads, occ, geo, tl, entropy, gender_effect, bar)
    if bar is not None:
        bar.close()

    # final exits (hire day) and closings (never before an event on the ad)
    seeker_last = tl.seeker_end - 1
    hire_day = (ev.hire_time // 86400).astype(np.int64)
    seeker_last[ev.hire_seeker] = np.minimum(seeker_last[ev.hire_seeker], hire_day)
    ad_last = tl.ad_end - 1
    np.maximum.at(ad_last, ev.app_ad, (ev.app_time // 86400).astype(np.int64))
    np.maximum.at(ad_last, ev.hire_ad, hire_day)

    _write_files(out, streams["text"], start, days, seekers, ads, occ, geo, tl, ev,
                 seeker_last, ad_last)  # fmt: skip
    save_oracle(out / "oracle", seekers, ads, occ, tl, ev, seeker_last, ad_last, start,
                gender_effect, parameters(gender_effect))  # fmt: skip
    summary = summarise(seekers, ads, occ, ev, scale, seed, start, end_date)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    summary["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _write_files(out, rng, start, days, s, a, occ, geo, tl, ev, seeker_last, ad_last):
    occ_label = text.occupation_labels(rng, len(occ.codes))
    skill_label = text.pseudo_words(rng, N_SKILLS, 2)
    s_skills = _global_skills(s.skills_local, s.family, s.generic_skills)

    def sid(idx):
        return _ids("S", idx)

    def aid(idx):
        return _ids("A", idx)

    a_skills = _global_skills(a.skills_local, a.family, a.generic_skills)

    def seekers_chunk(lo, hi):
        sl = slice(lo, hi)
        label = pa.array(occ_label[s.code[sl]])
        return {
            "jobseeker_id": sid(np.arange(lo, hi)),
            "registered_on": _dates(start, tl.seeker_start[sl], np.ones(hi - lo, bool)),
            "exited_on": _dates(start, seeker_last[sl], seeker_last[sl] < days),
            "gender": pa.array(s.gender[sl].tolist(), pa.string()),
            "birth_year": pa.array(s.birth_year[sl].astype(np.int16)),
            "education_level": pa.array(s.education[sl]),
            "experience_years": pa.array(s.experience[sl].astype(np.float32)),
            "desired_occupation": pa.array(occ.codes[s.code[sl]]),
            "desired_contract": pa.array(CONTRACTS[s.desired_contract[sl]]),
            "desired_wage": pa.array(s.desired_wage[sl].astype(np.float32)),
            "mobility_km": pa.array(s.mobility_km[sl].astype(np.float32)),
            "latitude": pa.array(s.lat[sl].round(5)),
            "longitude": pa.array(s.lon[sl].round(5)),
            "department": pa.array(geo.codes[s.dep[sl]]),
            "skills": _list_column(s_skills[sl]),
            "profile_text": text.seeker_profiles(rng, label, skill_label, s_skills[sl],
                                                 s.experience[sl]),
        }  # fmt: skip

    def ads_chunk(lo, hi):
        sl = slice(lo, hi)
        label = pa.array(occ_label[a.code[sl]])
        contract = pa.array(CONTRACTS[a.contract[sl]])
        return {
            "ad_id": aid(np.arange(lo, hi)),
            "employer_id": _ids("E", a.employer[sl], 6),
            "posted_on": _dates(start, tl.ad_start[sl], np.ones(hi - lo, bool)),
            "closed_on": _dates(start, ad_last[sl], ad_last[sl] < days),
            "occupation": pa.array(occ.codes[a.code[sl]]),
            "contract": contract,
            "wage": pa.array(a.wage[sl].astype(np.float32)),
            "hours_per_week": pa.array(a.hours[sl].astype(np.float32)),
            "required_experience_years": pa.array(a.required_experience[sl].astype(np.float32)),
            "required_education": pa.array(a.required_education[sl]),
            "latitude": pa.array(a.lat[sl].round(5)),
            "longitude": pa.array(a.lon[sl].round(5)),
            "department": pa.array(geo.codes[a.dep[sl]]),
            "skills": _list_column(a_skills[sl]),
            "positions": pa.array(a.positions[sl]),
            "title": text.ad_titles(rng, label, contract),
            "description": text.ad_descriptions(rng, label, skill_label, a_skills[sl],
                                                a.hours[sl], a.wage[sl]),
        }  # fmt: skip

    app_order = np.argsort(ev.app_time, kind="stable")
    hire_order = np.argsort(ev.hire_time, kind="stable")
    send_order = np.argsort(ev.send_time, kind="stable")
    channels = np.array(["organic", "recommendation"])

    def apps_chunk(lo, hi):
        o = app_order[lo:hi]
        return {"jobseeker_id": sid(ev.app_seeker[o]), "ad_id": aid(ev.app_ad[o]),
                "applied_at": _timestamps(start, ev.app_time[o]),
                "channel": pa.array(channels[ev.app_channel[o]])}  # fmt: skip

    def hires_chunk(lo, hi):
        o = hire_order[lo:hi]
        return {"jobseeker_id": sid(ev.hire_seeker[o]), "ad_id": aid(ev.hire_ad[o]),
                "hired_at": _timestamps(start, ev.hire_time[o])}  # fmt: skip

    def sends_chunk(lo, hi):
        o = send_order[lo:hi]
        cols = {"jobseeker_id": sid(ev.send_seeker[o]), "ad_id": aid(ev.send_ad[o]),
                "sent_at": _timestamps(start, ev.send_time[o])}  # fmt: skip
        cols.update({k: pa.array(v[o]) for k, v in ev.outcomes.items()})
        return cols

    _write(out, "jobseekers", s.n, seekers_chunk)
    _write(out, "job_ads", a.n, ads_chunk)
    _write(out, "applications", len(ev.app_time), apps_chunk)
    _write(out, "hires", len(ev.hire_time), hires_chunk)
    _write(out, "recommendation_feedback", len(ev.send_time), sends_chunk)


def _conditional_gap(y: np.ndarray, female: np.ndarray, family: np.ndarray) -> float:
    """OLS coefficient of `female` with occupation-family fixed effects."""
    x = np.column_stack([female.astype(float), np.eye(len(FAMILIES))[family]])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    return float(coef[0])


def summarise(s, a, occ, ev, scale, seed, start, end_date) -> dict:
    u, j = ev.app_seeker, ev.app_ad
    d = bh.distance_km(s.lat[u], s.lon[u], a.lat[j], a.lon[j])
    level = np.where(s.code[u] == a.code[j], "code",
                     np.where(occ.domain[s.code[u]] == occ.domain[a.code[j]], "domain",
                              np.where(s.family[u] == a.family[j], "family", "other")))  # fmt: skip
    fam = a.family[ev.send_ad]
    o = ev.outcomes
    funnel = {}
    for f, letter in enumerate(FAMILIES):  # 14 families
        m = fam == f
        resp, appl = o["responded"][m], o["applied"][m]
        funnel[letter] = {
            "sends": int(m.sum()),
            "response_rate": round(float(resp.mean()), 4) if m.any() else None,
            "apply_per_response": round(float(appl.sum() / max(resp.sum(), 1)), 4),
            "positive_per_apply": round(
                float(o["positive_outcome"][m].sum() / max(appl.sum(), 1)), 4
            ),
            "unsubscribe_rate": round(float(o["unsubscribed"][m].mean()), 6) if m.any() else None,
            "negative_ratio": round(float(o["negative_feedback"][m].sum() / max(resp.sum(), 1)), 4),
        }  # fmt: skip
    fm = (s.gender[u] == "F") | (s.gender[u] == "M")
    female = s.gender[u][fm] == "F"
    log_wage, hours = np.log(a.wage[j][fm]), a.hours[j][fm]
    return {
        "scale": scale, "seed": seed, "start_date": start.isoformat(),
        "end_date": end_date.isoformat(),
        "seekers": int(s.n), "ads": int(a.n),
        "applications": int(len(u)),
        "applications_drawn": int(ev.drawn),
        "applications_organic": int((ev.app_channel == 0).sum()),
        "applications_recommendation": int((ev.app_channel == 1).sum()),
        "hires": int(len(ev.hire_time)), "sends": int(len(ev.send_time)),
        "applications_per_ad_gini": round(gini(np.bincount(j, minlength=a.n)), 4),
        "share_within_mobility": round(float((d <= s.mobility_km[u]).mean()), 4),
        "occupation_match_share": {k: round(float((level == k).mean()), 4)
                                   for k in ("code", "domain", "family", "other")},
        "hires_per_application": round(len(ev.hire_time) / max(len(u), 1), 4),
        "unsubscribe_rate": round(float(o["unsubscribed"].mean()), 6),
        "funnel_by_family": funnel,
        "gender_gap_raw": {
            "log_wage": round(float(log_wage[female].mean() - log_wage[~female].mean()), 4),
            "hours": round(float(hours[female].mean() - hours[~female].mean()), 3),
        },
        "gender_gap_within_family": {
            "log_wage": round(_conditional_gap(log_wage, female, a.family[j][fm]), 4),
            "hours": round(_conditional_gap(hours, female, a.family[j][fm]), 3),
        },
        "rate_scale_c": ev.scale_c, "hire_threshold": round(ev.hire_threshold, 4),
    }  # fmt: skip
