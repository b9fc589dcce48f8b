"""Model folders: written atomically (old or new, never half, no leftovers), pruned by day."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from jobrec.data import model_store

D = dt.date(2026, 3, 10)


def write_model(root, text: str, name: str = "muse0", day: dt.date = D):
    with model_store.writing(root, day, name) as folder:
        (folder / "model.txt").write_text(text)
        (folder / "sub").mkdir()
        (folder / "sub" / "part.bin").write_bytes(text.encode())
    return model_store.model_dir(root, day, name)


def test_model_dir_layout(tmp_path):
    assert model_store.model_dir(tmp_path, D, "muse0") == tmp_path / "2026-03-10" / "muse0"


def test_writing_creates_then_replaces_a_model(tmp_path):
    final = write_model(tmp_path, "v1")
    assert (final / "model.txt").read_text() == "v1"
    (final / "stale.txt").write_text("from v1 only")
    final = write_model(tmp_path, "v2")
    assert (final / "model.txt").read_text() == "v2"
    assert (final / "sub" / "part.bin").read_bytes() == b"v2"
    assert not (final / "stale.txt").exists()  # replaced as a whole, not merged
    assert sorted(p.name for p in final.parent.iterdir()) == ["muse0"]  # no temp/old folders


def test_the_temporary_folder_is_not_the_model_while_writing(tmp_path):
    write_model(tmp_path, "v1")
    with model_store.writing(tmp_path, D, "muse0") as folder:
        assert folder != model_store.model_dir(tmp_path, D, "muse0")
        assert folder.parent == model_store.model_dir(tmp_path, D, "muse0").parent
        (folder / "model.txt").write_text("v2")
        # a reader meanwhile still sees the old model
        assert (model_store.model_dir(tmp_path, D, "muse0") / "model.txt").read_text() == "v1"


def test_a_failed_write_leaves_the_old_model_and_no_temporary_folder(tmp_path):
    final = write_model(tmp_path, "v1")
    with pytest.raises(RuntimeError, match="boom"), model_store.writing(tmp_path, D, "muse0") as f:
        (f / "model.txt").write_text("half")
        raise RuntimeError("boom")
    assert (final / "model.txt").read_text() == "v1"
    assert (final / "sub" / "part.bin").read_bytes() == b"v1"
    assert sorted(p.name for p in final.parent.iterdir()) == ["muse0"]


def test_a_failed_first_write_leaves_nothing(tmp_path):
    with pytest.raises(ValueError), model_store.writing(tmp_path, D, "features") as folder:
        (folder / "x").write_text("half")
        raise ValueError
    day = tmp_path / D.isoformat()
    assert not model_store.model_dir(tmp_path, D, "features").exists()
    assert list(day.iterdir()) == []


def test_models_of_one_day_do_not_touch_each_other(tmp_path):
    write_model(tmp_path, "features v1", name="features")
    write_model(tmp_path, "muse0 v1", name="muse0")
    write_model(tmp_path, "muse0 v2", name="muse0")
    write_model(tmp_path, "other day", name="muse0", day=D - dt.timedelta(days=1))
    assert (model_store.model_dir(tmp_path, D, "features") / "model.txt").read_text() == (
        "features v1"
    )
    assert (model_store.model_dir(tmp_path, D, "muse0") / "model.txt").read_text() == "muse0 v2"
    before = model_store.model_dir(tmp_path, D - dt.timedelta(days=1), "muse0")
    assert (before / "model.txt").read_text() == "other day"


def test_prune_removes_only_days_older_than_keep_days(tmp_path):
    for day in ("2026-02-28", "2026-03-04", "2026-03-05", "2026-03-09", "2026-03-10", "2026-03-12"):
        write_model(tmp_path, day, day=dt.date.fromisoformat(day))
    (tmp_path / "notes").mkdir()  # not a day: left alone
    (tmp_path / "notes" / "keep.txt").write_text("x")
    removed = model_store.prune(tmp_path, D, keep_days=5)  # cutoff 2026-03-05, kept
    assert removed == ["2026-02-28", "2026-03-04"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "2026-03-05",
        "2026-03-09",
        "2026-03-10",
        "2026-03-12",
        "notes",
    ]
    assert (tmp_path / "notes" / "keep.txt").exists()
    assert model_store.prune(tmp_path, D, keep_days=5) == []  # idempotent


def test_prune_relative_to_the_day_written_and_zero_keeps_all(tmp_path):
    for day in ("2026-01-01", "2026-03-01", "2026-03-10"):
        write_model(tmp_path, day, day=dt.date.fromisoformat(day))
    assert model_store.prune(tmp_path, D, keep_days=0) == []
    # back-filling an old day never deletes newer days
    assert model_store.prune(tmp_path, dt.date(2026, 1, 2), keep_days=1) == []
    assert len(list(tmp_path.iterdir())) == 3
    assert model_store.prune(tmp_path / "missing", D, keep_days=1) == []


def test_prune_caches_keeps_the_last_nights_caches_and_every_model(tmp_path):
    days = [D - dt.timedelta(days=n) for n in (2, 1, 0)]
    for day in days:
        for name in ("muse0", "features", "night_inputs"):
            write_model(tmp_path, name, name, day)
    removed = model_store.prune_caches(tmp_path, D, keep_nights=2)
    assert removed == [f"{days[0]}/features", f"{days[0]}/night_inputs"]
    assert model_store.prune_caches(tmp_path, D, keep_nights=0) == []  # 0 keeps all
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.glob("*/*"))
    assert left == [
        f"{days[0]}/muse0",
        *[f"{day}/{name}" for day in days[1:] for name in ("features", "muse0", "night_inputs")],
    ]
    # a backfill of an earlier night leaves the later nights' caches
    assert model_store.prune_caches(tmp_path, days[0], keep_nights=1) == []


# --- mapped pickles: the night's shared inputs, loaded by a dozen steps -----------------------


def mapped(array: np.ndarray) -> bool:
    base = array.base
    while base is not None and not isinstance(base, np.memmap):
        base = getattr(base, "base", None)
    return base is not None


def test_mapped_pickle_round_trip_maps_the_arrays(tmp_path):
    grid = np.arange(12, dtype=np.float32).reshape(3, 4)
    obj = {
        "c": grid,
        "f": np.asfortranarray(grid),
        "strided": grid[:, ::2],  # not contiguous: pickled in band
        "frame": pd.DataFrame({"id": ["a", "b", "c"], "x": [1.5, 2.5, 3.5]}),
        "text": "no buffer",
    }
    path = tmp_path / "obj.pkl"
    model_store.save_mapped(obj, path)
    got = model_store.load_mapped(path)
    for key in ("c", "f", "strided"):
        np.testing.assert_array_equal(got[key], obj[key])
    assert got["f"].flags.f_contiguous
    pd.testing.assert_frame_equal(got["frame"], obj["frame"])
    assert got["text"] == "no buffer"
    # the contiguous arrays come from the buffers file, each on a 64-byte boundary
    assert mapped(got["c"]) and mapped(got["f"]) and not mapped(got["strided"])
    assert model_store.buffers_path(path).stat().st_size >= 2 * grid.nbytes
    assert got["c"].ctypes.data % 64 == 0


def test_mapped_pickle_writes_stay_private(tmp_path):
    path = tmp_path / "obj.pkl"
    model_store.save_mapped(np.zeros(1000), path)
    first = model_store.load_mapped(path)
    first[:] = 7.0  # copy-on-write: as with a copy, the file keeps what was saved
    np.testing.assert_array_equal(model_store.load_mapped(path), np.zeros(1000))


def test_mapped_pickle_without_buffers(tmp_path):
    path = tmp_path / "obj.pkl"
    model_store.save_mapped({"empty": np.zeros(0), "n": 3}, path)
    got = model_store.load_mapped(path)
    assert got["n"] == 3 and got["empty"].shape == (0,)


def test_a_plain_pickle_from_before_still_loads(tmp_path):
    import pickle

    path = tmp_path / "old.pkl"
    path.write_bytes(pickle.dumps({"x": np.arange(3)}))
    np.testing.assert_array_equal(model_store.load_mapped(path)["x"], np.arange(3))
