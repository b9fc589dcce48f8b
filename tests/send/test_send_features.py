"""The funnel's pair features of a past send are computed once, by the first night that needs
them, and read back by later nights; a re-run of a night recomputes only its own."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from jobrec.data import warehouse
from jobrec.send import funnel
from jobrec.send import stage as send_stage

D = dt.date(2026, 3, 10)
SEEKERS, ADS = ["S0", "S1", "S2"], ["A0", "A1"]


class FakeMarket:
    def seeker_index(self, ids):
        return pd.Index(SEEKERS).get_indexer(ids)

    def ad_index(self, ids):
        return pd.Index(ADS).get_indexer(ids)


@pytest.fixture
def computed(monkeypatch):
    """funnel.pair_features replaced by a hand-checkable one that records each call's pairs."""
    calls = []

    def fake(sc, seekers, ads, days):
        calls.append(list(zip(seekers.tolist(), ads.tolist(), strict=True)))
        value = (10 * seekers + ads + sc).astype(np.float32)
        return np.repeat(value[:, None], len(funnel.FEATURES), axis=1)

    monkeypatch.setattr(funnel, "pair_features", fake)
    return calls


def _feedback(con, sends):
    con.execute("CREATE SCHEMA IF NOT EXISTS clean")
    con.execute(
        "CREATE OR REPLACE TABLE clean.recommendation_feedback (run_date DATE, jobseeker_id "
        "VARCHAR, ad_id VARCHAR, sent_at TIMESTAMPTZ, responded BOOLEAN, applied BOOLEAN, "
        "positive_outcome BOOLEAN, unsubscribed BOOLEAN, negative_feedback BOOLEAN)"
    )
    for run_date, seeker, ad, day in sends:
        con.execute(
            "INSERT INTO clean.recommendation_feedback VALUES "
            "(?, ?, ?, CAST(? AS TIMESTAMPTZ), true, false, false, false, false)",
            [run_date, seeker, ad, f"{day} 06:00:00+00"],
        )


def _night(con, day, model_value):
    sends = send_stage.load_sends(con, day, FakeMarket(), D - dt.timedelta(days=30), day)
    return send_stage.send_features(con, day, model_value, sends)[:, 0]


def test_features_are_computed_once_and_rerun_nights_recompute_their_own(computed):
    con = duckdb.connect()
    old = [(D, "S0", "A0", "2026-03-01"), (D, "S1", "A1", "2026-03-02")]
    new_day = D + dt.timedelta(days=1)
    _feedback(con, old + [(new_day, *s[1:]) for s in old] + [(new_day, "S2", "A0", D)])
    # night D computes its two sends with its model (value 0)
    assert _night(con, D, 0).tolist() == [0.0, 11.0]
    # night D + 1 reads them back and computes only its new send, with its model (value 100)
    assert _night(con, new_day, 100).tolist() == [0.0, 11.0, 120.0]
    assert computed == [[(0, 0), (1, 1)], [(2, 0)]]
    # a re-run of D + 1's funnel recomputes its own send only
    assert send_stage.forget_send_features(con, new_day) == 1
    assert _night(con, new_day, 200).tolist() == [0.0, 11.0, 220.0]
    assert computed[-1] == [(2, 0)]
    # and a re-run of D reads only what nights up to D computed
    assert _night(con, D, 0).tolist() == [0.0, 11.0] and len(computed) == 3
    (rows,) = con.execute("SELECT count(*) FROM store.send_features").fetchone()
    assert rows == 3


def test_features_of_another_feature_set_are_computed_again(computed):
    """A warehouse from before a pair feature was added holds shorter rows: they are computed
    again by the next night (and stored beside the old ones, which are not read again)."""
    con = duckdb.connect()
    _feedback(con, [(D, "S0", "A0", "2026-03-01"), (D, "S1", "A1", "2026-03-02")])
    con.execute(warehouse.sql("create_send_features"))
    short = [7.0] * (len(funnel.FEATURES) - 1)
    con.execute(
        "INSERT INTO store.send_features VALUES "
        "('S0', 'A0', CAST('2026-03-01 06:00:00+00' AS TIMESTAMPTZ), ?, ?)",
        [short, D - dt.timedelta(days=1)],
    )
    assert _night(con, D, 0).tolist() == [0.0, 11.0]
    assert computed == [[(0, 0), (1, 1)]]
    assert _night(con, D, 5).tolist() == [0.0, 11.0]  # read back, the short row ignored
    assert len(computed) == 1
