"""The double-ML gap estimator (jobrec.fairness) against DoubleML's DoubleMLPLR on the same
folds and learners, and its coverage of a planted gap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from jobrec import audit


def planted(n=4000, gap=-0.3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    p_female = 1 / (1 + np.exp(-(0.8 * x[:, 0] - 0.5 * x[:, 1])))
    female = (rng.random(n) < p_female).astype(float)
    y = gap * female + np.sin(x[:, 0]) + 0.5 * x[:, 1] ** 2 + x[:, 2] + rng.normal(0, 1, n)
    return y, female, x


def test_equals_doubleml_plr_on_the_same_folds_and_learners():
    doubleml = pytest.importorskip("doubleml")
    y, female, x = planted()
    splits = audit.fold_splits(len(y), 5, seed=3)
    mine = audit.plr_gap(y, female, x, learner=lambda s: LinearRegression(), splits=splits)
    data = doubleml.DoubleMLData.from_arrays(x, y, female)
    ref = doubleml.DoubleMLPLR(
        data, LinearRegression(), LinearRegression(), n_folds=5, score="partialling out"
    )
    ref.set_sample_splitting([splits])
    ref.fit()
    assert mine.gap == pytest.approx(float(ref.coef[0]), rel=1e-9)
    assert mine.std_error == pytest.approx(float(ref.se[0]), rel=1e-6)


def test_covers_the_planted_gap_and_zero_when_there_is_none():
    y, female, x = planted(gap=-0.3, seed=1)
    g = audit.plr_gap(y, female, x)
    assert g.ci_low < -0.3 < g.ci_high and g.ci_high < 0 and g.n == len(y)
    y0, female0, x0 = planted(gap=0.0, seed=1)
    g0 = audit.plr_gap(y0, female0, x0)
    assert g0.ci_low < 0 < g0.ci_high


def test_refuses_a_sample_without_both_genders():
    y, female, x = planted(200)
    with pytest.raises(ValueError, match="too few"):
        audit.plr_gap(y, np.zeros_like(female), x)


@pytest.mark.slow
def test_planted_gender_gap_on_small(tmp_path):
    """On `small` (seed 0), the headline ATTE: its 95% interval covers the realised gap of log
    wage, is at most ±25% of the gap and excludes 0 for log wage and hours; without the planted
    term both gaps are within 3 standard errors of 0. Hours carry a confounder the controls miss
    (the profile text says the part-time wish for 9 in 10 of those who have it, and women have
    it 3x as often): with the true wish as a control, the interval covers the realised hours
    gap too (BENCHMARKS.md: over 10 seeds, coverage 0.70 without it, 0.90 with it)."""
    import datetime as dt

    from jobrec.synth import generate
    from jobrec.synth.oracle import reveal_part_time

    dirs = {e: tmp_path / f"effect_{e}" for e in (1.0, 0.0)}
    for effect, folder in dirs.items():
        generate(
            "small",
            folder,
            seed=0,
            end_date=dt.date(2026, 11, 27),
            gender_effect=effect,
            progress=False,
            market="standard",  # the market the thresholds below were validated on
        )
    truth = audit.realised_gap(dirs[1.0], dirs[0.0])

    def atte(folder, true_part_time=False):
        seekers, outcomes = audit.raw_application_outcomes(folder)
        if true_part_time:
            seekers = reveal_part_time(seekers, folder)
        return audit.estimate(seekers, outcomes, estimands=("atte",))

    on, off = atte(dirs[1.0]), atte(dirs[0.0])
    for outcome in ("log_wage", "hours"):
        r, z = on.gaps["atte"][outcome], off.gaps["atte"][outcome]
        assert (r.ci_high - r.ci_low) / 2 <= 0.25 * abs(truth[outcome])
        assert r.ci_high < 0  # women's applications: lower wages, fewer hours
        # without the term: within noise of 0 (3 SE; two 95% intervals under no effect both
        # cover 0 on only ~90% of seeds)
        assert abs(z.gap) <= 3 * z.std_error, (outcome, z)
    wage = on.gaps["atte"]["log_wage"]
    assert wage.ci_low <= truth["log_wage"] <= wage.ci_high, (truth, wage)
    hours = atte(dirs[1.0], true_part_time=True).gaps["atte"]["hours"]
    assert hours.ci_low <= truth["hours"] <= hours.ci_high, (truth, hours)
    assert on.left_out > 0  # non-binary and unknown genders are counted out


def test_atte_equals_doubleml_irm_on_the_same_folds_and_learners():
    doubleml = pytest.importorskip("doubleml")
    from sklearn.linear_model import LogisticRegression

    y, female, x = planted()
    y = y - 0.2 * female * x[:, 0]  # an effect that differs with X
    splits = audit.fold_splits(len(y), 5, seed=3)
    mine = audit.atte_gaps(
        {"y": y},
        female,
        x,
        learner=lambda s: LinearRegression(),
        classifier=lambda s: LogisticRegression(),
        splits=splits,
    )["y"]
    data = doubleml.DoubleMLData.from_arrays(x, y, female)
    ref = doubleml.DoubleMLIRM(
        data, LinearRegression(), LogisticRegression(), n_folds=5, score="ATTE"
    )
    ref.set_sample_splitting([splits])
    ref.fit()
    assert mine.gap == pytest.approx(float(ref.coef[0]), rel=1e-9)
    assert mine.std_error == pytest.approx(float(ref.se[0]), rel=1e-6)


def strata_market(n=20000, seed=0):
    """Two strata of seekers: in stratum 1 nine in ten are women and the gap is -1; in stratum 0
    one in ten is a woman and there is no gap. The mean gap women face is -0.9; the PLR weights
    both strata alike (equal variance of gender) and lands near -0.5."""
    rng = np.random.default_rng(seed)
    stratum = rng.random(n) < 0.5
    female = (rng.random(n) < np.where(stratum, 0.9, 0.1)).astype(float)
    effect = np.where(stratum, -1.0, 0.0)
    y = 2.0 * stratum + effect * female + rng.normal(0, 1, n)
    x = np.column_stack([stratum.astype(float)])
    return y, female, x, float(effect[female == 1].mean())


def test_atte_recovers_the_mean_effect_on_women_where_the_plr_does_not():
    from sklearn.linear_model import LogisticRegression

    y, female, x, truth = strata_market()
    linear = dict(learner=lambda s: LinearRegression())
    atte = audit.atte_gaps(
        {"y": y}, female, x, classifier=lambda s: LogisticRegression(), **linear
    )["y"]
    plr = audit.plr_gaps({"y": y}, female, x, **linear)["y"]
    assert atte.ci_low <= truth <= atte.ci_high, (atte, truth)
    assert not plr.ci_low <= truth <= plr.ci_high, (plr, truth)
    assert plr.gap == pytest.approx(-0.5, abs=0.05)
    assert atte.trimmed == 0 and atte.influence.shape == (len(y),)


def test_joint_difference_matches_a_bootstrap_over_seekers():
    """Two sources on overlapping seekers (all of them, and 70% of them) with correlated
    outcomes: the standard error of θ_a - θ_b from the influence values matches the spread of
    the difference over 300 bootstrap resamples of seekers (both estimates refitted), and is
    well below the one that treats the two as independent."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(5)
    n = 1200
    x = rng.normal(size=(n, 2))
    female = (rng.random(n) < 1 / (1 + np.exp(-x[:, 0]))).astype(float)
    base = x[:, 0] + rng.normal(0, 1, n)
    y_a = base - 0.3 * female
    y_b = base - 0.4 * female + rng.normal(0, 0.3, n)
    in_b = rng.random(n) < 0.7
    ids = np.array([f"s{i}" for i in range(n)])
    kw = dict(learner=lambda s: LinearRegression(), classifier=lambda s: LogisticRegression())

    def both(rows):
        b_rows = rows[in_b[rows]]
        a = audit.atte_gaps({"y": y_a[rows]}, female[rows], x[rows], **kw)["y"]
        b = audit.atte_gaps({"y": y_b[b_rows]}, female[b_rows], x[b_rows], **kw)["y"]
        return a, b, b_rows

    a, b, b_rows = both(np.arange(n))
    diff, se = audit.joint_difference(a, ids, b, ids[b_rows])
    assert diff == pytest.approx(a.gap - b.gap)
    draws = []
    for _ in range(300):
        rows = rng.integers(0, n, n)
        ra, rb, _ = both(rows)
        draws.append(ra.gap - rb.gap)
    assert 0.8 < se / np.std(draws) < 1.25, (se, np.std(draws))
    assert se < 0.6 * np.hypot(a.std_error, b.std_error)


def test_estimands_estimated_apart_equal_both_at_once():
    """The nightly audit runs a task per source and estimand: the same numbers as one
    `estimate` of both (the same folds and seeded learners)."""
    rng = np.random.default_rng(5)
    n = 400
    seekers = pd.DataFrame(
        {
            "jobseeker_id": [f"S{i:04d}" for i in range(n)],
            "gender": rng.choice(["F", "M", "X"], n, p=[0.49, 0.49, 0.02]),
            "desired_occupation": rng.choice(["K2204", "K2111", "M1234", "A1101"], n),
            "desired_contract": rng.choice(["permanent", "fixed_term"], n),
            "department": rng.choice(["75", "69", "13"], n),
            "desired_wage": rng.uniform(1500, 3000, n),
            "profile_text": rng.choice(["Part-time wish", "full time"], n),
            "mobility_km": rng.uniform(0, 50, n),
            "latitude": rng.uniform(43, 49, n),
            "longitude": rng.uniform(-1, 6, n),
            "experience_years": rng.uniform(0, 20, n),
            "education_level": rng.integers(1, 6, n).astype(float),
        }
    )
    female = (seekers["gender"] == "F").to_numpy()
    outcomes = pd.DataFrame(
        {o: rng.normal(size=n) - 0.2 * female for o in audit.OUTCOMES},
        index=pd.Index(seekers["jobseeker_id"], name="jobseeker_id"),
    )
    both = audit.estimate(seekers, outcomes)
    apart = audit._merged([audit._estimate_task(outcomes, e, seekers) for e in audit.ESTIMANDS])
    assert apart.left_out == both.left_out > 0
    np.testing.assert_array_equal(apart.ids, both.ids)
    for estimand in audit.ESTIMANDS:
        for outcome in audit.OUTCOMES:
            a, b = apart.gaps[estimand][outcome], both.gaps[estimand][outcome]
            assert (a.gap, a.std_error, a.n) == (b.gap, b.std_error, b.n)
            np.testing.assert_array_equal(a.influence, b.influence)
    too_few = outcomes.iloc[:3]
    assert isinstance(audit._merged([audit._estimate_task(too_few, "atte", seekers)]), str)
