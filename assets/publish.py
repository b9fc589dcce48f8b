"""The analysts' copy: at the end of every successful run the whole warehouse is copied and
swapped in atomically at JOBREC_PUBLISHED (analysts never open the working file, so their reads
never block a run and never see a half-written partition)."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from assets.common import Step, Verdict, Written, daily_asset
from jobrec.data import warehouse


def published_copy_matches(step: Step, written: Written) -> Verdict:
    """The published copy opens read-only and holds every table with the working row counts."""
    expected = written.metadata["table_rows"]
    with duckdb.connect(step.settings.published, read_only=True) as pub:
        found = {
            f"{s}.{t}": pub.execute(f'SELECT count(*) FROM "{s}"."{t}"').fetchone()[0]
            for s, t in pub.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_type = 'BASE TABLE'"
            ).fetchall()
        }
    wrong = {t: (n, found.get(t)) for t, n in expected.items() if found.get(t) != n}
    return Verdict(
        not wrong,
        f"published copy differs: {wrong}" if wrong else f"{len(found)} tables published",
        {"tables": len(found)},
    )


def build_publish_asset(upstream: Sequence):
    """The publishing asset, downstream of every other asset so it runs last."""

    @daily_asset(
        key=["publish", "warehouse"],
        group="publish",
        deps=list(upstream),
        checks={"published_copy_matches": published_copy_matches},
        transactional=False,  # the copy is swapped in atomically by a rename
    )
    def publish_warehouse(step: Step) -> Written:
        """Read-only copy of the warehouse for analysts, replaced atomically after each run."""
        counts = warehouse.publish(step.con, step.settings.published)
        return Written(
            sum(counts.values()), {"table_rows": counts, "path": step.settings.published}
        )

    return publish_warehouse
