"""Per-step run accounting: wall time and the step's own peak resident memory."""

from __future__ import annotations

import collections
import functools
import os
import threading
import time

_PAGE = os.sysconf("SC_PAGE_SIZE")


def current_rss_bytes() -> int:
    """Resident set size of this process, from /proc (cheap enough to sample at 50 Hz)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:  # not Linux: fall back to the lifetime peak
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class StepTracker:
    """Context manager sampling RSS in a background thread.

    The process-wide ru_maxrss only grows, so with the in-process executor it would charge every
    step with the largest earlier step; sampling gives the peak reached during this step alone.
    """

    def __init__(self, interval_s: float = 0.02):
        self.interval_s = interval_s
        self.seconds = 0.0
        self.peak_rss_mb = 0.0
        self.start_rss_mb = 0.0
        self._stop = threading.Event()
        self._peak = 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, current_rss_bytes())
            self._stop.wait(self.interval_s)

    def __enter__(self) -> StepTracker:
        self._peak = current_rss_bytes()
        self.start_rss_mb = self._peak / 2**20
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, current_rss_bytes())
        self.seconds = time.perf_counter() - self._t0
        self.peak_rss_mb = self._peak / 2**20


# How many times each shared input of the night was built in this process: the chain builds each
# once per partition (a tiny-chain test asserts it); a second build means a stage rebuilt what it
# should have loaded.
build_counts: collections.Counter[str] = collections.Counter()


def counted_build(name: str):
    """Decorate a builder of a shared input so that each call counts in `build_counts`."""

    def decorate(build):
        @functools.wraps(build)
        def counted(*args, **kwargs):
            build_counts[name] += 1
            return build(*args, **kwargs)

        return counted

    return decorate
