"""The synthetic labour market: jobrec's embedded default data source.

`generate(scale, out_dir, seed)` writes the five contract files (Parquet, streamed in chunks),
an `oracle/` folder with the hidden parameters (never read by a model) and `summary.json`.
`load_oracle(out_dir / "oracle")` gives the true application and hire probability of any
seeker x ad pair on a day, so that evaluations can measure the distance to the best ranking.

The generative model and every planted coefficient are documented in `jobrec.synth.world`
(geography, occupations, skills, entities), `jobrec.synth.behaviour` (utility, applications,
hires) and `jobrec.synth.simulate` (timeline, past recommender and its funnel); `parameters()`
returns them as a dict. Planted truths:
- applications follow the hidden utility (skills, distance against mobility, occupation match
  level, wage, contract, hours, latent taste, heavy-tailed ad attractiveness);
- a conditional gender gap: women apply more to lower-wage, shorter-hours ads, with the
  coefficients γ_wage = 0.20, γ_hours = 0.35 on the ad's within-family z-scores (clipped at
  ±0.7); `gender_effect` scales it, and 0 removes it with every random draw unchanged. Search
  parameters differ by gender too (occupation mix, 6% lower desired wage, part-time wanted 3x
  as often, said in 90% of those profiles' texts): that is not the planted conditional gap;
- per-family funnel heterogeneity in `recommendation_feedback` (`simulate.family_funnel`).

Scales (`SCALES`): totals over the timeline, the stock at its start included; hires ≈ 0.2 per
seeker and ≈ 30 applications per hire at every scale. `tiny` is a small region (20 departments,
140 occupation codes) so that its 2,000 seekers have ads of their occupation within reach.

Ids: seekers S0000000.., ads A0000000.., employers E000000.. (row indices: the oracle maps them
back). Determinism: numpy Generators from `SeedSequence(seed).spawn` per component and per
(day, block of seekers), pair-keyed hashes for the hiring draws: the same seed, scale and
end date give byte-identical Parquet files.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import resource
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from jobrec.data.contract import RAW_SCHEMAS
from jobrec.synth import behaviour, simulate, text
from jobrec.synth.oracle import AD_PREFIX, ID_WIDTH, SEEKER_PREFIX, Oracle, load_oracle, save_oracle
from jobrec.synth.world import (
    CONTRACTS,
    FAMILIES,
    N_GENERIC_SKILLS,
    SCALES,
    SKILLS_PER_FAMILY,
    Scale,
    Streams,
    apply_market_effects,
    make_ads,
    make_geography,
    make_occupations,
    make_seekers,
)

__all__ = ["SCALES", "Oracle", "Scale", "generate", "load_oracle", "parameters"]

CHUNK_ROWS = 100_000
N_SKILLS = len(FAMILIES) * SKILLS_PER_FAMILY + N_GENERIC_SKILLS
SKILL_CODES = np.array([f"SK{i + 1:04d}" for i in range(N_SKILLS)])


def parameters(gender_effect: float = 1.0, market: str = "standard") -> dict:
    """The documented hidden parameters (the truths an evaluation may compare against)."""
    return {
        "market": market,
        "market_effects": dataclasses.asdict(behaviour.MARKETS[market]),
        "rate": "r_uj(t) = c * activity_u * attractiveness_j * F(level) * geo"
        " * exp(S_uj + G_uj) / N_u(t)^alpha; p_apply = 1 - exp(-r_uj(t))",
        "level_factor": {
            "code": behaviour.LEVEL_FACTOR[0],
            "domain": behaviour.LEVEL_FACTOR[1],
            "family": behaviour.LEVEL_FACTOR[2],
            "other_family": behaviour.CROSS_FAMILY,
        },
        "utility_weights": {
            "skill_share": behaviour.W_SKILL,
            "log_wage_ratio": behaviour.W_WAGE,
            "wage_clip": list(behaviour.WAGE_CLIP),
            "contract_match": behaviour.W_CONTRACT,
            "hours_mismatch": -behaviour.W_HOURS,
            "taste": behaviour.W_TASTE,
            "taste_dims": 4,
            "geo": "exp(-0.5 * (d_km / mobility_km)^2)",
        },
        "activity": "gamma(1.5, 1/1.5)",
        "attractiveness": "lognormal(0, 1.0)",
        "gender": {
            "effect": gender_effect,
            "gamma_wage": behaviour.GAMMA_WAGE,
            "gamma_hours": behaviour.GAMMA_HOURS,
            "clip": behaviour.GENDER_CLIP,
            "term": "women: effect * (-clip(gamma_wage*z_log_wage + gamma_hours*z_hours)"
            " - kappa_family), z within the ad's family",
            "search_parameters": {
                "desired_wage_factor": 0.94,
                "part_time_odds": "1.8x family rate (men 0.6x)",
            },
        },
        "employer_utility": {
            "skill_share": 1.5,
            "experience_gap": 0.4,
            "education_ok": 0.4,
            "noise_gumbel_scale": behaviour.EMPLOYER_NOISE,
        },
        "opportunity_exponent_alpha": behaviour.ALPHA,
        "targets": {
            "applications_per_seeker": behaviour.TARGET_APPLICATIONS_PER_SEEKER,
            "hires_per_seeker": behaviour.TARGET_HIRES_PER_SEEKER,
        },
        "sends": {
            "weekdays": list(simulate.SEND_WEEKDAYS),
            "share": simulate.SEND_SHARE,
            "per_seeker": simulate.SENDS_PER_SEEKER,
            "pool": simulate.SEND_POOL,
        },
        "funnel_intercepts": {k: v.round(3).tolist() for k, v in simulate.family_funnel().items()},
    }


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
    return pa.array(
        base + (seconds.astype(np.int64) * 1_000_000).astype("timedelta64[us]"),
        type=pa.timestamp("us", tz="UTC"),
    )


def _write(path: Path, name: str, n: int, build) -> None:
    """Stream `n` rows to Parquet, CHUNK_ROWS at a time; build(lo, hi) -> dict of columns."""
    schema = RAW_SCHEMAS[name]
    with pq.ParquetWriter(path / f"{name}.parquet", schema, compression="zstd") as writer:
        for lo in range(0, n, CHUNK_ROWS):
            cols = build(lo, min(n, lo + CHUNK_ROWS))
            writer.write_table(pa.table([cols[f.name] for f in schema], schema=schema))
        if n == 0:
            writer.write_table(schema.empty_table())


def _ids(prefix: str, idx: np.ndarray, width: int = ID_WIDTH) -> pa.Array:
    """Identifiers: the prefix and the zero-padded row index (the oracle maps them back)."""
    return pa.array(np.char.add(prefix, np.char.zfill(idx.astype(str), width)))


def gini(x: np.ndarray) -> float:
    x = np.sort(np.asarray(x, dtype=float))
    n = len(x)
    if n == 0 or x.sum() == 0:
        return 0.0
    return float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * x.sum()))


def _peak_rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def generate(
    scale: str = "small",
    out_dir: str | Path = "data/raw",
    seed: int = 0,
    end_date: dt.date | None = None,
    days: int = 90,
    gender_effect: float = 1.0,
    progress: bool = True,
    oracle_days: Sequence[dt.date] | None = None,
    market: str | None = None,
) -> dict:
    """Generate the market; returns the summary (also written to out_dir/summary.json).

    `oracle_days`: the partitions whose oracle rankings are written beside the files for the
    evaluations (jobrec.synth.oracle_rankings); default the day after the timeline, the
    partition the nightly run takes. `market`: "standard", or "harder" (`behaviour.MARKETS`:
    employer effects, fresh ads and seekers, career changers, costlier wage cuts); default the
    scale's (`Scale.market`: harder, but standard at `tiny`)."""
    t0 = time.perf_counter()
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}: one of {', '.join(SCALES)}")
    market = market or SCALES[scale].market
    if market not in behaviour.MARKETS:
        raise ValueError(f"unknown market {market!r}: one of {', '.join(behaviour.MARKETS)}")
    effects = behaviour.MARKETS[market]
    if days < 1:
        raise ValueError("days must be at least 1")
    size = SCALES[scale]
    end_date = end_date or (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1))
    start = end_date - dt.timedelta(days=days - 1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    streams = Streams(seed)
    geo = make_geography(streams["geography"], size.departments)
    occ = make_occupations(streams["occupations"], size.occupations)
    seekers = make_seekers(streams["seekers"], size.seekers, geo, occ, end_date.year)
    ads = make_ads(streams["ads"], size.ads, geo, occ)
    apply_market_effects(streams["market_effects"], seekers, ads, occ, effects)
    ads.gender_shift = behaviour.gender_shift(ads)  # after the employer effects (κ weights)
    tl = simulate.make_timeline(streams["timeline"], seekers.n, ads.n, days, start.weekday())
    entropy = int(streams["applications"].integers(2**62))
    simulated = simulate.SimulatedMarket(
        seekers,
        ads,
        occ,
        tl,
        behaviour.code_ranges(occ),
        behaviour.geo_bound_matrix(seekers.lat, seekers.lon, seekers.mobility_km, geo),
        gender_effect,
        behaviour.gender_bound(ads.gender_shift, gender_effect),
        effects,
    )

    bars = [None, None]
    if progress:
        from tqdm import tqdm

        bars = [
            tqdm(total=days, desc=f"synth {scale}: calibration", unit="day", leave=False),
            tqdm(total=days, desc=f"synth {scale}: days", unit="day"),
        ]
    ev, c = simulate.simulate(simulated, entropy, progress=bars[1], calibration_progress=bars[0])
    for bar in bars:
        if bar is not None:
            bar.close()
    simulated.geo_bound = None  # the largest array: free it before the texts are built

    vocab = text.vocabulary(streams["text"], len(occ.codes), int(occ.domain.max()) + 1, N_SKILLS)
    also_said = None
    if effects.changers_say_it:  # some career changers name their target in the profile
        says = (seekers.search_code != seekers.code) & (
            streams["market_effects"].random(seekers.n) < effects.changers_say_it
        )
        also_said = np.where(
            says, np.char.add(" Retraining as ", vocab.occupation[seekers.search_code]), ""
        )
        also_said = np.char.add(also_said, np.where(says, ".", ""))
    _write_files(
        out, streams["text"], start, days, seekers, ads, occ, geo, tl, ev, vocab, also_said
    )
    save_oracle(
        out / "oracle",
        seekers,
        ads,
        occ,
        geo,
        tl,
        ev,
        start,
        c,
        gender_effect,
        parameters(gender_effect, market),
    )
    summary = summarise(seekers, ads, occ, tl, ev, scale, seed, start, end_date, gender_effect)
    summary["market"] = market
    summary["career_changers"] = int((seekers.search_code != seekers.code).sum())
    days_ranked = [end_date + dt.timedelta(days=1)] if oracle_days is None else list(oracle_days)
    from jobrec.synth.oracle_rankings import write_oracle_rankings  # `python -m` runs it too

    write_oracle_rankings(out, days_ranked, log=None)
    summary["oracle_ranking_days"] = [d.isoformat() for d in days_ranked]
    summary["rate_constant_c"] = c
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    summary["peak_rss_mb"] = _peak_rss_mb()
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _write_files(out, rng, start, days, s, a, occ, geo, tl, ev, vocab, also_said=None) -> None:
    s_skills = _global_skills(s.skills_local, s.family, s.generic_skills)
    a_skills = _global_skills(a.skills_local, a.family, a.generic_skills)

    def seekers_chunk(lo, hi):
        sl = slice(lo, hi)
        return {
            "jobseeker_id": _ids(SEEKER_PREFIX, np.arange(lo, hi)),
            "registered_on": _dates(start, tl.seeker_start[sl], np.ones(hi - lo, bool)),
            "exited_on": _dates(start, ev.seeker_last[sl], ev.seeker_last[sl] < days),
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
            "profile_text": text.seeker_profiles(
                rng,
                pa.array(vocab.occupation[s.code[sl]]),
                vocab.skill,
                s_skills[sl],
                s.experience[sl],
                s.wants_part_time[sl],
                None if also_said is None else also_said[sl],
            ),
        }

    def ads_chunk(lo, hi):
        sl = slice(lo, hi)
        label = pa.array(vocab.occupation[a.code[sl]])
        contract = pa.array(CONTRACTS[a.contract[sl]])
        return {
            "ad_id": _ids(AD_PREFIX, np.arange(lo, hi)),
            "employer_id": _ids("E", a.employer[sl], 6),
            "posted_on": _dates(start, tl.ad_start[sl], np.ones(hi - lo, bool)),
            "closed_on": _dates(start, ev.ad_last[sl], ev.ad_last[sl] < days),
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
            "description": text.ad_descriptions(
                rng,
                label,
                pa.array(vocab.domain[occ.domain[a.code[sl]]]),
                vocab.skill,
                a_skills[sl],
                a.hours[sl],
                a.wage[sl],
            ),
        }

    channels = np.array(["organic", "recommendation"])
    send_order = np.argsort(ev.send_time, kind="stable")

    def apps_chunk(lo, hi):  # already in time order
        return {
            "jobseeker_id": _ids(SEEKER_PREFIX, ev.app_seeker[lo:hi]),
            "ad_id": _ids(AD_PREFIX, ev.app_ad[lo:hi]),
            "applied_at": _timestamps(start, ev.app_time[lo:hi]),
            "channel": pa.array(channels[ev.app_channel[lo:hi]]),
        }

    def hires_chunk(lo, hi):  # already in time order
        return {
            "jobseeker_id": _ids(SEEKER_PREFIX, ev.hire_seeker[lo:hi]),
            "ad_id": _ids(AD_PREFIX, ev.hire_ad[lo:hi]),
            "hired_at": _timestamps(start, ev.hire_time[lo:hi]),
        }

    def sends_chunk(lo, hi):
        o = send_order[lo:hi]
        cols = {
            "jobseeker_id": _ids(SEEKER_PREFIX, ev.send_seeker[o]),
            "ad_id": _ids(AD_PREFIX, ev.send_ad[o]),
            "sent_at": _timestamps(start, ev.send_time[o]),
        }
        cols.update({k: pa.array(v[o]) for k, v in ev.outcomes.items()})
        return cols

    _write(out, "jobseekers", s.n, seekers_chunk)
    _write(out, "job_ads", a.n, ads_chunk)
    _write(out, "applications", len(ev.app_time), apps_chunk)
    _write(out, "hires", len(ev.hire_time), hires_chunk)
    _write(out, "recommendation_feedback", len(ev.send_time), sends_chunk)


def _fe_gap(y: np.ndarray, female: np.ndarray, groups, controls=()) -> float:
    """OLS coefficient of `female` with linear controls and the fixed effects of each factor in
    `groups`, absorbed by alternating projections (no dummy matrix)."""
    factors = []
    for g in groups:
        inverse = np.unique(g, return_inverse=True)[1]
        factors.append((inverse, np.bincount(inverse).astype(float)))

    def within(x):
        x = x.astype(float)
        for _ in range(50 if len(factors) > 1 else 1):
            before = x
            for inverse, count in factors:
                x = x - (np.bincount(inverse, x) / count)[inverse]
            if np.abs(x - before).max() < 1e-9:
                break
        return x

    x = np.column_stack([within(c) for c in (female, *controls)])
    coef, *_ = np.linalg.lstsq(x, within(y), rcond=None)
    return float(coef[0])


def summarise(s, a, occ, tl, ev, scale, seed, start, end_date, gender_effect) -> dict:
    u, j = ev.app_seeker, ev.app_ad
    d = behaviour.distance_km(s.lat[u], s.lon[u], a.lat[j], a.lon[j])
    level = np.where(
        s.code[u] == a.code[j],
        "code",
        np.where(
            occ.domain[s.code[u]] == occ.domain[a.code[j]],
            "domain",
            np.where(s.family[u] == a.family[j], "family", "other"),
        ),
    )
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
        }
    fm = (s.gender[u] == "F") | (s.gender[u] == "M")
    uf, jf = u[fm], j[fm]
    female = s.gender[uf] == "F"
    log_wage, hours = np.log(a.wage[jf]), a.hours[jf]
    # conditional on the search parameters (desired code x part-time x contract, department,
    # desired wage, experience): the gap the planted term creates
    cells = (s.code[uf] * 2 + s.wants_part_time[uf]) * 4 + s.desired_contract[uf]
    controls = (np.log(s.desired_wage[uf]), s.experience[uf])

    def conditional(y):
        return _fe_gap(y, female, (cells, s.dep[uf]), controls)

    n_seekers_days = np.minimum(ev.seeker_last + 1, tl.days) - np.maximum(tl.seeker_start, 0)
    return {
        "scale": scale,
        "seed": seed,
        "start_date": start.isoformat(),
        "end_date": end_date.isoformat(),
        "gender_effect": gender_effect,
        "seekers": int(s.n),
        "ads": int(a.n),
        "applications": int(len(u)),
        "applications_organic": int((ev.app_channel == 0).sum()),
        "applications_recommendation": int((ev.app_channel == 1).sum()),
        "hires": int(len(ev.hire_time)),
        "sends": int(len(ev.send_time)),
        "organic_draws": int(ev.drawn),
        "applications_per_seeker": round(len(u) / s.n, 3),
        "applications_per_10_active_days": round(10 * len(u) / n_seekers_days.clip(0).sum(), 3),
        "hires_per_seeker": round(len(ev.hire_time) / s.n, 4),
        "applications_per_ad_gini": round(gini(np.bincount(j, minlength=a.n)), 4),
        "share_within_mobility": round(float((d <= s.mobility_km[u]).mean()), 4),
        "occupation_match_share": {
            k: round(float((level == k).mean()), 4) for k in ("code", "domain", "family", "other")
        },
        "hires_per_application": round(len(ev.hire_time) / max(len(u), 1), 4),
        "unsubscribe_rate": round(float(o["unsubscribed"].mean()), 6) if len(fam) else 0.0,
        "negative_ratio": round(
            float(o["negative_feedback"].sum() / max(o["responded"].sum(), 1)), 4
        ),
        "funnel_by_family": funnel,
        "gender_gap_raw": {
            "log_wage": round(float(log_wage[female].mean() - log_wage[~female].mean()), 4),
            "hours": round(float(hours[female].mean() - hours[~female].mean()), 3),
        },
        "gender_gap_within_family": {
            "log_wage": round(_fe_gap(log_wage, female, (a.family[jf],)), 4),
            "hours": round(_fe_gap(hours, female, (a.family[jf],)), 3),
        },
        "gender_gap_conditional": {
            "log_wage": round(conditional(log_wage), 4),
            "hours": round(conditional(hours), 3),
        },
        "hire_threshold": round(ev.hire_threshold, 4),
    }
