"""Where a partition's models live: <models_dir>/<D>/<name>/, replaced atomically.

A model is written into a fresh folder next to its final place and swapped in by renames, so a
re-run never leaves a half-written model and a reader sees the old or the new one.
"""

from __future__ import annotations

import datetime as dt
import pickle
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def model_dir(models_dir: str | Path, run_date: dt.date, name: str) -> Path:
    return Path(models_dir) / run_date.isoformat() / name


@contextmanager
def writing(models_dir: str | Path, run_date: dt.date, name: str) -> Iterator[Path]:
    """Yield a temporary folder to write the model into; on success it becomes the model."""
    final = model_dir(models_dir, run_date, name)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{name}.{uuid.uuid4().hex}.tmp")
    tmp.mkdir()
    try:
        yield tmp
        old = final.with_name(f".{name}.{uuid.uuid4().hex}.old")
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


_ALIGN = 64  # bytes: every out-of-band buffer starts on a cache line


def buffers_path(path: str | Path) -> Path:
    return Path(f"{path}.buffers")


def save_mapped(obj, path: str | Path) -> None:
    """Pickle `obj` (protocol 5) to `path` with its large buffers (contiguous numpy arrays,
    pandas and Arrow columns) out of band, one after the other in `path`.buffers, so that
    `load_mapped` maps them instead of copying them (the night's shared inputs are loaded by a
    dozen steps)."""
    buffers: list[pickle.PickleBuffer] = []
    stream = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    spans = []
    with open(buffers_path(path), "wb") as f:
        for buffer in buffers:
            raw = buffer.raw()  # a byte view; numpy and Arrow hand out contiguous buffers only
            f.write(bytes(-f.tell() % _ALIGN))
            spans.append((f.tell(), raw.nbytes))
            f.write(raw)
    with open(path, "wb") as f:
        pickle.dump((spans, stream), f, protocol=5)


def load_mapped(path: str | Path):
    """The object `save_mapped` wrote to `path`: its buffers mapped copy-on-write from
    `path`.buffers (pages are read when touched, and writes stay private as with a copy). A
    file without buffers is a plain pickle (the store's files before they were mapped)."""
    with open(path, "rb") as f:
        if not buffers_path(path).exists():
            return pickle.load(f)  # our own file, written by an earlier save
        spans, stream = pickle.load(f)  # our own file, written by save_mapped
    if sum(n for _, n in spans) == 0:  # nothing to map (an empty file cannot be mapped)
        return pickle.loads(stream, buffers=[b""] * len(spans))
    data = np.memmap(buffers_path(path), mode="c")
    return pickle.loads(stream, buffers=[data[start : start + n] for start, n in spans])


def prune(models_dir: str | Path, run_date: dt.date, keep_days: int) -> list[str]:
    """Delete model folders of days more than `keep_days` before `run_date` (0 keeps all)."""
    root = Path(models_dir)
    if keep_days <= 0 or not root.exists():
        return []
    cutoff = run_date - dt.timedelta(days=keep_days)
    removed = []
    for day_dir in sorted(root.iterdir()):
        try:
            day = dt.date.fromisoformat(day_dir.name)
        except ValueError:
            continue
        if day < cutoff:
            shutil.rmtree(day_dir, ignore_errors=True)
            removed.append(day_dir.name)
    return removed


def latest_before(
    models_dir: str | Path, run_date: dt.date, name: str, within_days: int
) -> dt.date | None:
    """The latest night before `run_date`, at most `within_days` before it, that holds model
    `name`; None when there is none."""
    root = Path(models_dir)
    if not root.exists():
        return None
    nights = []
    for day_dir in root.iterdir():
        try:
            day = dt.date.fromisoformat(day_dir.name)
        except ValueError:
            continue
        if 0 < (run_date - day).days <= within_days and (day_dir / name).is_dir():
            nights.append(day)
    return max(nights, default=None)


# The night's bulky caches (the market and tower inputs, the shared night inputs): rebuilt by
# every night that needs them, so only the latest nights' are kept (the models themselves are
# small and kept `retention_days`).
CACHES = ("features", "night_inputs")


def prune_caches(
    models_dir: str | Path, run_date: dt.date, keep_nights: int, names=CACHES
) -> list[str]:
    """Delete the cache folders (`names`) of nights before the last `keep_nights` up to
    `run_date` (tonight included; 0 keeps all). Relative to `run_date`, so a backfill never
    deletes a later night's."""
    root = Path(models_dir)
    if keep_nights <= 0 or not root.exists():
        return []
    cutoff = run_date - dt.timedelta(days=keep_nights - 1)
    removed = []
    for day_dir in sorted(root.iterdir()):
        try:
            day = dt.date.fromisoformat(day_dir.name)
        except ValueError:
            continue
        for name in names:
            if day < cutoff and (day_dir / name).exists():
                shutil.rmtree(day_dir / name, ignore_errors=True)
                removed.append(f"{day_dir.name}/{name}")
    return removed
