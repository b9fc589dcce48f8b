"""The synthetic market: deterministic, contract-conformant, and carrying the planted structure."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from jobrec.contract import RAW_FILES, RAW_SCHEMAS, RawInputs
from jobrec.synth import generate, load_oracle
from tests.conftest import TINY_END


@pytest.fixture(scope="module")
def con(tiny_market):
    c = duckdb.connect()
    for name in RAW_FILES:
        c.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{tiny_market}/{name}.parquet')"
        )
    return c


@pytest.fixture(scope="module")
def summary(tiny_market):
    return json.loads((tiny_market / "summary.json").read_text())


def _bytes(folder):
    return {n: (folder / f"{n}.parquet").read_bytes() for n in RAW_FILES}


def test_same_seed_same_bytes_other_seed_other_market(tmp_path, tiny_market):
    generate("tiny", tmp_path / "again", seed=0, end_date=TINY_END, progress=False)
    assert _bytes(tmp_path / "again") == _bytes(tiny_market)
    generate("tiny", tmp_path / "other", seed=1, end_date=TINY_END, progress=False)
    other = _bytes(tmp_path / "other")
    assert all(other[n] != v for n, v in _bytes(tiny_market).items())


def test_files_follow_the_contract(tiny_market):
    for name in RAW_FILES:
        assert pq.read_schema(tiny_market / f"{name}.parquet").equals(RAW_SCHEMAS[name]), name
    day_after = TINY_END + dt.timedelta(days=1)
    report = RawInputs(duckdb.connect(), tiny_market, day_after).validate()
    assert {n: [v.message() for v in vs] for n, vs in report.items() if vs} == {}


def test_events_happen_while_seekers_are_registered_and_ads_open(con):
    (bad,) = con.execute("""
        SELECT count(*) FROM applications a
        JOIN jobseekers s USING (jobseeker_id) JOIN job_ads j USING (ad_id)
        WHERE CAST(a.applied_at AS DATE) < j.posted_on
           OR CAST(a.applied_at AS DATE) > coalesce(j.closed_on, DATE '9999-01-01')
           OR CAST(a.applied_at AS DATE) < s.registered_on
           OR CAST(a.applied_at AS DATE) > coalesce(s.exited_on, DATE '9999-01-01')
    """).fetchall()[0]  # fmt: skip
    assert bad == 0


def test_volumes_match_the_targets(summary):
    assert 3 <= summary["applications"] / summary["seekers"] <= 8
    assert 1 / 45 <= summary["hires_per_application"] <= 1 / 15
    assert 0.55 <= summary["applications_per_ad_gini"] <= 0.9  # congestion
    assert 0 < summary["unsubscribe_rate"] < 0.002
    assert summary["occupation_match_share"]["code"] > 0.3


def test_applications_follow_the_hidden_utility(con, tiny_market):
    oracle = load_oracle(tiny_market / "oracle")
    apps = con.execute("""
        SELECT jobseeker_id, ad_id, CAST(applied_at AS DATE) AS day FROM applications
        WHERE channel = 'organic' ORDER BY applied_at LIMIT 3000
    """).fetchall()  # fmt: skip
    rng = np.random.default_rng(0)
    ads = np.array(con.execute("SELECT ad_id FROM job_ads").fetchall())[:, 0]
    applied, random = [], []
    for day in sorted({d for _, _, d in apps})[:20]:  # 20 days, vectorised within each
        pairs = np.array([(s, a) for s, a, d in apps if d == day])
        applied.append(oracle.application_probability(pairs[:, 0], pairs[:, 1], day))
        others = rng.choice(ads, len(pairs))
        p = oracle.application_probability(pairs[:, 0], others, day)
        random.append(p)
    applied, random = np.concatenate(applied), np.concatenate(random)
    assert applied.mean() > 5 * random.mean()
    assert (applied > 0).all()  # every applied pair had a positive true probability


def test_oracle_is_zero_for_inactive_ads(con, tiny_market):
    oracle = load_oracle(tiny_market / "oracle")
    sid, aid, posted = con.execute("""
        SELECT a.jobseeker_id, a.ad_id, j.posted_on FROM applications a JOIN job_ads j USING (ad_id)
        WHERE j.posted_on > DATE '2026-01-10' LIMIT 1
    """).fetchall()[0]  # fmt: skip
    assert oracle.application_probability([sid], [aid], posted - dt.timedelta(days=2))[0] == 0
    matrix = oracle.score_matrix([sid, sid], [aid, aid], posted)
    assert matrix.shape == (2, 2) and (matrix > 0).all()


def test_hires_respect_positions_and_end_the_search(con):
    assert con.execute("""
        SELECT count(*) FROM (SELECT ad_id, count(*) n FROM hires GROUP BY 1) h
        JOIN job_ads j USING (ad_id) WHERE h.n > j.positions
    """).fetchall()[0][0] == 0  # fmt: skip
    assert (
        con.execute("SELECT count(*) - count(DISTINCT jobseeker_id) FROM hires").fetchall()[0][0]
        == 0
    )
    assert con.execute("""
        SELECT count(*) FROM applications a JOIN hires h USING (jobseeker_id)
        WHERE a.applied_at > h.hired_at
    """).fetchall()[0][0] == 0  # fmt: skip
    # every hire rests on an application made before it
    assert con.execute("""
        SELECT count(*) FROM hires h ANTI JOIN applications a
        ON a.jobseeker_id = h.jobseeker_id AND a.ad_id = h.ad_id AND a.applied_at < h.hired_at
    """).fetchall()[0][0] == 0  # fmt: skip


def _within_family_gap(con) -> float:
    rows = con.execute("""
        SELECT s.gender = 'F' AS female, ln(j.wage) AS y, substr(j.occupation, 1, 1) AS family
        FROM applications a JOIN jobseekers s USING (jobseeker_id) JOIN job_ads j USING (ad_id)
        WHERE s.gender IN ('F', 'M')
    """).fetchall()  # fmt: skip
    female = np.array([r[0] for r in rows], float)
    y = np.array([r[1] for r in rows])
    fam = np.unique([r[2] for r in rows], return_inverse=True)[1]
    x = np.column_stack([female, np.eye(fam.max() + 1)[fam]])
    return float(np.linalg.lstsq(x, y, rcond=None)[0][0])


def test_planted_gender_gap_is_visible_and_removable(con, tmp_path):
    gap = _within_family_gap(con)
    assert gap < -0.02  # women apply to lower-wage ads within the same occupation family
    generate("tiny", tmp_path / "nogap", seed=0, end_date=TINY_END, gender_effect=0.0,
             progress=False)  # fmt: skip
    c0 = duckdb.connect()
    for name in RAW_FILES:
        c0.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{tmp_path}/nogap/{name}.parquet')"
        )
    assert abs(_within_family_gap(c0)) < abs(gap) / 2
    # the same random draws elsewhere: the same seekers and ads (exits depend on hires)
    for name, cols in (("jobseekers", "exited_on"), ("job_ads", "closed_on")):
        query = f"SELECT * EXCLUDE ({cols}) FROM {name} ORDER BY 1"
        assert c0.execute(query).fetchall() == con.execute(query).fetchall()


def test_funnel_differs_by_occupation_family(summary):
    fams = [f for f in summary["funnel_by_family"].values() if f["sends"] >= 500]
    apply_rates = [f["apply_per_response"] for f in fams]
    positives = [f["positive_per_apply"] for f in fams]
    assert len(fams) >= 4
    assert max(apply_rates) > 1.8 * min(apply_rates)
    assert max(positives) > 1.8 * min(positives)
