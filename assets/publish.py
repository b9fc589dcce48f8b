"""The analysts' copy: at the end of every successful run the warehouse's complete nights are
copied and swapped in atomically at JOBREC_PUBLISHED. Analysts never open the working file, so
their reads never block a run and never see a half-written partition; a night that failed or is
being re-run is left out until it completes (metrics.nights says which and why)."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
from dagster import DagsterEventType, Failure

from assets.common import GROUPS, Step, Verdict, Written, daily_asset
from jobrec.data import lists, table_docs, warehouse


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


def columns_described(step: Step, written: Written) -> Verdict:
    """Every column of the published copy carries its description for analysts
    (jobrec.data.table_docs): a new column without one is reported, not refused."""
    with duckdb.connect(step.settings.published, read_only=True) as pub:
        bare = table_docs.undescribed_columns(pub)
    return Verdict(
        not bare,
        f"{len(bare)} column(s) without a description: {', '.join(bare[:20])}"
        if bare
        else "every published column is described",
        {"undescribed_columns": len(bare)},
    )


def not_yet_written(step: Step) -> list[str]:
    """The other assets this run selected that have not been materialised in it yet. Publishing
    depends on the chain's last assets only (a readable graph), so in a selection that leaves
    them out nothing orders it after the rest: it must not publish a night half-written."""
    run = step.context.run
    selected = {k for k in (run.asset_selection or ()) if k != step.context.asset_key}
    records = step.context.instance.get_records_for_run(
        run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
    ).records
    written = {r.event_log_entry.dagster_event.asset_key for r in records}
    return sorted(k.to_user_string() for k in selected - written)


def build_publish_asset(upstream: Sequence):
    """The publishing asset, downstream of the chain's last assets so it runs last."""

    @daily_asset(
        key=["publish", "warehouse"],
        group=GROUPS["publish"],
        kinds={"duckdb"},
        deps=list(upstream),
        checks={"published_copy_matches": published_copy_matches},
        warnings={"columns_described": columns_described},
        transactional=False,  # the copy is swapped in atomically by a rename
        completes_night=True,
    )
    def publish_warehouse(step: Step) -> Written:
        """Read-only copy of the warehouse's complete nights for analysts, replaced atomically
        after each run."""
        pending = not_yet_written(step)
        if pending:
            raise Failure(
                f"not publishing {step.run_date}: this run has not written {', '.join(pending)} "
                "(or failed on it); publish after them, e.g. in a run of its own"
            )
        # every asset upstream succeeded for this partition, with its blocking checks: whole
        warehouse.mark_night(
            step.con, step.run_date, "complete", step.context.run.run_id, "published"
        )
        counts = warehouse.publish(step.con, step.settings.published)
        # list files neither the warehouse nor the new copy registers (replaced, pruned) go
        removed = lists.remove_orphans(lists.lists_dir(step.con), lists.registered_files(step.con))
        return Written(
            sum(counts.values()),
            {
                "table_rows": counts,
                "path": step.settings.published,
                "list_files_removed": len(removed),
            },
        )

    return publish_warehouse
