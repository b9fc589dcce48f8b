"""The send list handed to the mailing system: files it can pick up, complete or absent.

Layout, for partition D under the outbox folder:

    D/v1/to_send.parquet, D/v1/to_send.csv, D/v1/_READY    the first list of night D
    D/v2/...                                                a re-run whose list differs

The mailer's contract: take the newest version of D that holds `_READY` (JSON: rows, the files'
SHA-256, when it was written); a version without `_READY` is being written or was cut off and
must be ignored. The mailer may write `_TAKEN` into a version it took. A version with `_READY` is
never changed or removed: a re-run of D whose list is the same writes nothing, one whose list
differs writes the next version beside it, so a list the mailer may have taken is never replaced
silently. Files are written in a temporary folder, flushed to disk, renamed into place, and the
marker comes last (written, flushed, renamed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

READY = "_READY"
TAKEN = "_TAKEN"
FILES = ("to_send.parquet", "to_send.csv")


@dataclasses.dataclass(frozen=True)
class OutboxVersion:
    folder: Path
    version: int
    rows: int
    sha256: dict[str, str]  # file name -> digest
    written: bool  # False: the newest complete version already held this very list


def newest_complete(outbox: Path, run_date: dt.date) -> Path | None:
    """The folder the mailer takes: the newest version of the day with its `_READY` marker."""
    versions = sorted(_versions(Path(outbox) / run_date.isoformat()), reverse=True)
    return next((folder for _, folder in versions if (folder / READY).exists()), None)


def write_outbox(table: pa.Table, outbox: Path, run_date: dt.date) -> OutboxVersion:
    """Hand night `run_date`'s send list over (see the module's contract). Returns the version
    the mailer will take; `written` says whether this call wrote it."""
    day = Path(outbox) / run_date.isoformat()
    day.mkdir(parents=True, exist_ok=True)
    for leftover in day.glob(".v*.tmp-*"):  # a write killed before its rename
        shutil.rmtree(leftover, ignore_errors=True)
    versions = sorted(_versions(day))
    for _, folder in versions:  # a write killed between its rename and its marker
        if not (folder / READY).exists():
            shutil.rmtree(folder)
    versions = [(n, f) for n, f in versions if f.exists()]
    staging = day / f".v.tmp-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        pq.write_table(table, staging / FILES[0])
        pacsv.write_csv(table, staging / FILES[1])
        digests = {name: _sha256(staging / name) for name in FILES}
        if versions:
            newest_number, newest = versions[-1]
            marker = json.loads((newest / READY).read_text())
            if marker["sha256"] == digests and marker["rows"] == table.num_rows:
                return OutboxVersion(newest, newest_number, table.num_rows, digests, False)
        number = versions[-1][0] + 1 if versions else 1
        folder = day / f"v{number}"
        for name in FILES:
            _fsync(staging / name)
        staging.rename(folder)
        _fsync_dir(day)
        marker = {
            "run_date": run_date.isoformat(),
            "version": number,
            "rows": table.num_rows,
            "sha256": digests,
            "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        tmp = folder / f".{READY}.tmp"
        tmp.write_text(json.dumps(marker, indent=1))
        _fsync(tmp)
        tmp.rename(folder / READY)
        _fsync_dir(folder)
        return OutboxVersion(folder, number, table.num_rows, digests, True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _versions(day: Path) -> list[tuple[int, Path]]:
    if not day.exists():
        return []
    return [
        (int(p.name[1:]), p)
        for p in day.iterdir()
        if p.is_dir() and p.name.startswith("v") and p.name[1:].isdigit()
    ]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
