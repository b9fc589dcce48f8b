"""The analysts' copy: at the end of every successful run the warehouse's complete nights are
copied and swapped in atomically at JOBREC_PUBLISHED. Analysts never open the working file, so
their reads never block a run and never see a half-written partition; a night that failed or is
being re-run is left out until it completes (metrics.nights says which and why)."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from assets.common import Step, Verdict, Written, daily_asset
from jobrec.data import warehouse


def published_copy_matches(step: Step, written: Written) -> Verdict:
    """The published copy opens read-only, holds every table with the row counts of the
    warehouse's complete nights, and no row of an unfinished night outside the run log."""
    expected = written.metadata["table_rows"]
    hidden = warehouse.unfinished_nights(step.con)
    with duckdb.connect(step.settings.published, read_only=True) as pub:
        found = {
            f"{s}.{t}": pub.execute(f'SELECT count(*) FROM "{s}"."{t}"').fetchone()[0]
            for s, t in pub.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_type = 'BASE TABLE'"
            ).fetchall()
        }
        leaked = warehouse.nights_rows(pub, hidden)
    wrong = {t: (n, found.get(t)) for t, n in expected.items() if found.get(t) != n}
    problems = []
    if wrong:
        problems.append(f"published copy differs (expected, found): {wrong}")
    if leaked:
        problems.append(f"rows of unfinished nights {[str(d) for d in hidden]}: {leaked}")
    return Verdict(
        not problems,
        "; ".join(problems) or f"{len(found)} tables published, {len(hidden)} night(s) held back",
        {"tables": len(found), "unfinished_nights": len(hidden)},
    )


def build_publish_asset(upstream: Sequence):
    """The publishing asset, downstream of every other asset so it runs last."""

    @daily_asset(
        key=["publish", "warehouse"],
        group="publish",
        deps=list(upstream),
        checks={"published_copy_matches": published_copy_matches},
        transactional=False,  # the copy is swapped in atomically by a rename
        completes_night=True,
    )
    def publish_warehouse(step: Step) -> Written:
        """Read-only copy of the warehouse's complete nights for analysts, replaced atomically
        after each run."""
        # every asset upstream succeeded for this partition, with its blocking checks: whole
        warehouse.mark_night(
            step.con, step.run_date, "complete", step.context.run.run_id, "published"
        )
        counts = warehouse.publish(step.con, step.settings.published)
        return Written(
            sum(counts.values()), {"table_rows": counts, "path": step.settings.published}
        )

    return publish_warehouse
