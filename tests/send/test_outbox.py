"""The send list's hand-over to the mailer: complete or absent, never replaced once complete."""

from __future__ import annotations

import datetime as dt
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobrec.send import outbox
from jobrec.send.outbox import newest_complete, write_outbox

DAY = dt.date(2026, 3, 10)


def send_list(ads=("A1", "A2")) -> pa.Table:
    return pa.table(
        {
            "run_date": pa.array([DAY] * len(ads), pa.date32()),
            "jobseeker_id": ["S1"] * len(ads),
            "ad_id": list(ads),
            "rank": pa.array(range(1, len(ads) + 1), pa.int32()),
        }
    )


def test_first_list_is_v1_with_its_marker(tmp_path):
    v = write_outbox(send_list(), tmp_path, DAY)
    assert v.written and v.version == 1 and v.rows == 2
    folder = tmp_path / "2026-03-10" / "v1"
    assert sorted(p.name for p in folder.iterdir()) == ["_READY", "to_send.csv", "to_send.parquet"]
    marker = json.loads((folder / "_READY").read_text())
    assert marker["rows"] == 2 and marker["version"] == 1
    assert marker["sha256"]["to_send.parquet"] == v.sha256["to_send.parquet"]
    assert pq.read_table(folder / "to_send.parquet").equals(send_list())
    assert (folder / "to_send.csv").read_text().splitlines()[1] == '2026-03-10,"S1","A1",1'
    assert newest_complete(tmp_path, DAY) == folder
    assert sorted(p.name for p in (tmp_path / "2026-03-10").iterdir()) == ["v1"]  # no temporary


def test_a_rerun_never_replaces_a_complete_version(tmp_path):
    first = write_outbox(send_list(), tmp_path, DAY)
    (first.folder / "_TAKEN").write_text("mailer 06:10")
    before = (first.folder / "to_send.parquet").read_bytes()
    same = write_outbox(send_list(), tmp_path, DAY)  # the same list: nothing new
    assert not same.written and same.folder == first.folder
    other = write_outbox(send_list(("A3",)), tmp_path, DAY)  # a different list: beside it
    assert other.written and other.version == 2 and other.rows == 1
    assert (first.folder / "to_send.parquet").read_bytes() == before
    assert (first.folder / "_TAKEN").exists()
    assert newest_complete(tmp_path, DAY) == tmp_path / "2026-03-10" / "v2"


@pytest.mark.parametrize("cut", ["before_rename", "before_marker"])
def test_a_write_killed_midway_leaves_nothing_the_mailer_takes(tmp_path, monkeypatch, cut):
    write_outbox(send_list(), tmp_path, DAY)
    real_rename = os.rename

    class Killed(BaseException):
        pass

    def dying_rename(src, dst):
        # Path.rename calls os.rename: the first rename moves the folder, the second the marker
        name = os.fspath(dst)
        if (cut == "before_rename" and name.endswith("v2")) or (
            cut == "before_marker" and name.endswith("_READY")
        ):
            raise Killed
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", dying_rename)
    monkeypatch.setattr(outbox.shutil, "rmtree", lambda *a, **k: None)  # a kill cleans nothing
    with pytest.raises(Killed):
        write_outbox(send_list(("A9",)), tmp_path, DAY)
    monkeypatch.undo()
    day = tmp_path / "2026-03-10"
    # the mailer still takes v1: the cut-off write is a temporary or a version without marker
    assert newest_complete(tmp_path, DAY) == day / "v1"
    left = sorted(p.name for p in day.iterdir())
    if cut == "before_marker":
        assert left == ["v1", "v2"] and not (day / "v2" / "_READY").exists()
    else:
        assert left[0].startswith(".v.tmp-") and left[1:] == ["v1"]
    # the next write clears what was cut off and completes its list as v2
    v = write_outbox(send_list(("A9",)), tmp_path, DAY)
    assert v.written and v.version == 2
    assert sorted(p.name for p in day.iterdir()) == ["v1", "v2"]
    assert newest_complete(tmp_path, DAY) == day / "v2"
