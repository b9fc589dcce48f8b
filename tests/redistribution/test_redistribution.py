"""The redistribution stage's pure parts (jobrec.redistribution): the nightly rule on a
hand-made trade-off curve, and redistributed lists on a hand-made market (capacities move the
contested ad; α = 1 keeps Muse.2's order; the columns written beside each recommendation)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jobrec.evaluation.offline import positions
from jobrec.redistribution import stage


def curve(rows):
    return pd.DataFrame(rows, columns=["model", "recall_at_100", "congestion_at_100", "converged"])


def test_rule_picks_the_least_congested_point_that_keeps_95_percent_recall():
    c = curve(
        [
            ("muse2", 0.80, -0.90, None),
            ("ot", 0.77, -0.95, True),  # qualifies (floor 0.76)
            ("ot", 0.75, -0.99, True),  # most spread, but below the floor
            ("ot", 0.79, -0.96, True),  # qualifies, least congested: chosen
            ("ot", 0.78, -0.97, False),  # would win, but its solve did not converge
            ("ot", 0.79, -0.93, True),
        ]
    )
    assert stage.pick_point(c) == 3
    assert c["qualifies"].tolist() == [False, True, False, True, False, True]
    assert c["chosen"].tolist() == [False, False, False, True, False, False]


def test_rule_ties_go_to_the_higher_recall_and_none_qualifying_is_said():
    c = curve([("muse2", 0.8, -0.9, None), ("ot", 0.77, -0.95, True), ("ot", 0.79, -0.95, True)])
    assert stage.pick_point(c) == 2
    c = curve([("muse2", 0.8, -0.9, None), ("ot", 0.5, -0.99, True)])
    assert stage.pick_point(c) is None and not c["chosen"].any()


def hand_instance():
    # three seekers all rank ad 0 first; three ads of one position each
    ads = np.array([[0, 1, 2], [0, 2, 1], [0, 1, 2]])
    scores = np.array([[3.0, 2.0, 1.0], [3.0, 2.5, 0.0], [3.0, 1.0, 0.5]])
    return stage.Instance(np.arange(3), ads, scores, np.ones(3))


def test_alpha_one_keeps_muse2_order():
    inst = hand_instance()
    out = stage.redistribute(inst, stage.Policy(0.5, 1.0, 30.0, "neglogp", 1.0, True), k=2)
    assert out.lists.tolist() == [[0, 1], [0, 2], [0, 1]]
    assert out.rerank_rank.tolist() == [[1, 2], [1, 2], [1, 2]]
    np.testing.assert_allclose(out.muse2_score, inst.scores[:, :2])


def test_capacities_send_the_contested_ad_to_who_loses_most_without_it():
    inst = hand_instance()
    out = stage.redistribute(inst, stage.Policy(0.25, 0.0, 10.0, "neglogp", 1.0, True), k=3)
    assert out.solution.converged
    np.testing.assert_allclose(out.solution.plan.sum(1), 1.0, rtol=1e-6)
    # the best assignment under one position per ad: seeker 2 (whose alternatives are worst)
    # keeps ad 0, seeker 0 moves to ad 1 and seeker 1 to ad 2 (total score 7.5 against 6.5, 5.5)
    assert out.lists[:, 0].tolist() == [1, 2, 0]
    assert out.rerank_rank[:, 0].tolist() == [2, 2, 1]
    assert (np.diff(out.key, axis=1) <= 0).all()


def test_unqualified_policy_falls_back_to_muse2_order():
    inst = hand_instance()
    out = stage.redistribute(inst, stage.Policy(0.1, 0.0, 1000.0, "neglogp", 1.0, False), k=3)
    assert out.lists.tolist() == inst.ads.tolist()


def crowding_instance():
    # Muse.2's top-1 already spreads (ads 0, 1, 2), and every seeker's second choice scores
    # nearly as high on ad 0, which holds almost all the positions: the plan pours everyone
    # onto ad 0, and ranking by plan mass would crowd it
    ads = np.array([[0, 1, 2], [1, 0, 2], [2, 0, 1]])
    scores = np.array([[3.0, 2.9, 0.0], [3.0, 2.9, 0.0], [3.0, 2.9, 0.0]])
    return stage.Instance(np.arange(3), ads, scores, np.array([100.0, 1.0, 1.0]))


def test_spread_against_muse2_by_hand():
    active = np.arange(3)
    muse2 = np.array([[0], [1], [2]])
    crowded = np.array([[0], [0], [0]])
    worse = stage.spread_against_muse2(crowded, muse2, active)
    assert not worse.helps
    assert "coverage 1.0000 → 0.3333" in worse.text
    assert stage.spread_against_muse2(muse2, crowded, active).helps
    assert stage.spread_against_muse2(muse2, muse2, active).helps  # a tie keeps OT


def test_a_redistribution_that_crowds_falls_back_to_muse2_lists():
    inst = crowding_instance()
    policy = stage.Policy(0.25, 0.0, 30.0, "neglogp", 1.0, True)
    plain = stage.redistribute(inst, policy, k=1)
    assert plain.lists[:, 0].tolist() == [0, 0, 0]  # what the plan alone would send
    out, spread = stage.lists_for_tonight(inst, policy, np.arange(3), k=1)
    assert not spread.helps
    assert out.lists[:, 0].tolist() == [0, 1, 2]  # Muse.2's own top-1
    assert out.rerank_rank[:, 0].tolist() == [1, 1, 1]
    # on a market where it spreads, the redistributed lists stay
    inst = hand_instance()
    helped = stage.Policy(0.25, 0.0, 10.0, "neglogp", 1.0, True)
    out, spread = stage.lists_for_tonight(inst, helped, np.arange(3), k=1)
    assert spread.helps and out.lists[:, 0].tolist() == [1, 2, 0]


def test_an_older_tradeoff_table_gets_its_method_column():
    """A warehouse from before issue 19: its rows were all plain Muse.2 (muse2, muse2+ot)."""
    import datetime as dt

    import duckdb

    from jobrec.data import warehouse

    con = duckdb.connect()
    con.execute(warehouse.sql("create_metrics_ot_tradeoff"))
    con.execute("ALTER TABLE metrics.ot_tradeoff DROP COLUMN method")
    con.execute("ALTER TABLE metrics.ot_tradeoff DROP COLUMN recon_weight")
    day = dt.date(2026, 11, 2)
    for model in ("muse2", "ot"):
        con.execute(
            "INSERT INTO metrics.ot_tradeoff (run_date, model, alpha, cost, temperature, "
            "qualifies, chosen) VALUES (?, ?, 1.0, 'neglogp', 1.0, false, false)",
            [day, model],
        )
    con.execute(warehouse.sql("create_metrics_ot_tradeoff"))  # what the next night runs
    rows = con.execute(
        "SELECT model, method, recon_weight FROM metrics.ot_tradeoff ORDER BY model"
    ).fetchall()
    assert rows == [("muse2", "muse2", 0.0), ("ot", "muse2+ot", 0.0)]


def test_the_plot_draws_one_reference_point_per_method(tmp_path):
    from jobrec.redistribution import tradeoff_plot

    rows = []
    for method, weight, shift in (("muse2", 0.0, 0.0), ("recon", 0.5, -0.02)):
        rows.append((method, "muse2", weight, None, 1.0, None, 0.8 + shift, -0.9, False))
        for eps in (0.5, 1.0):
            rows.append(
                (f"{method}+ot", "ot", weight, eps, 0.0, 1.0, 0.78 + shift, -0.95 - eps / 50, False)
            )
    columns = ["method", "model", "recon_weight", "epsilon", "alpha", "tau"]
    columns += ["recall_at_100", "congestion_at_100", "chosen"]
    path = tradeoff_plot(pd.DataFrame(rows, columns=columns), tmp_path / "curve.png")
    assert path.exists() and path.stat().st_size > 10_000
    from jobrec.redistribution.plots import _method_label

    assert [_method_label(m, w) for m, w in (("muse2", 0), ("recon+ot", 0.5))] == [
        "Muse.2",
        "Muse.2 ReCon λ=0.5 + OT",
    ]


def test_universe_lists_are_the_positions_in_the_universe():
    universe = np.array([2, 3, 7, 11, 40])
    lists = np.array([[7, 2, -1], [40, 5, 11], [-1, -1, -1], [60, 3, 2]])
    expected = np.where(lists >= 0, positions(universe, lists.reshape(-1)).reshape(lists.shape), -1)
    assert stage._universe_lists(lists, universe).tolist() == expected.tolist()
    assert expected.tolist() == [[2, 0, -1], [4, -1, 3], [-1, -1, -1], [-1, 1, 0]]
