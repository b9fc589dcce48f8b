"""Per-step run accounting: wall time and the step's own peak resident memory, its child
processes' included."""

from __future__ import annotations

import collections
import contextlib
import functools
import os
import threading
import time

_PAGE = os.sysconf("SC_PAGE_SIZE")


def current_rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process (this one by default), from /proc (cheap enough to
    sample at 50 Hz)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except FileNotFoundError:
        if pid != "self":
            raise  # the process has ended
        import resource  # not Linux: fall back to the lifetime peak

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def descendant_pids(root: int) -> list[int]:
    """The processes below `root` (its workers, and theirs), from the parent links in /proc;
    empty where there is no /proc."""
    children = collections.defaultdict(list)
    try:
        entries = [e.name for e in os.scandir("/proc") if e.name.isdigit()]
    except OSError:
        return []
    for name in entries:
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:  # ended meanwhile
            continue
        # "pid (command) state ppid ...": the command may hold spaces and parentheses
        children[int(stat[stat.rindex(")") + 2 :].split()[1])].append(int(name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.append(child)
            todo.append(child)
    return found


class StepTracker:
    """Context manager sampling RSS in a background thread: this process's and its child
    processes' (a step's worker pool holds memory of the step's too).

    The process-wide ru_maxrss only grows, so with the in-process executor it would charge every
    step with the largest earlier step; sampling gives the peak reached during this step alone.
    The child processes are looked up every `children_every_s` (a scan of /proc), their memory
    read at every sample.
    """

    def __init__(self, interval_s: float = 0.02, children_every_s: float = 0.5):
        self.interval_s = interval_s
        self.children_every = max(1, round(children_every_s / interval_s))
        self.seconds = 0.0
        self.peak_rss_mb = 0.0
        self.start_rss_mb = 0.0
        self._stop = threading.Event()
        self._peak = 0
        self._children: list[int] = []

    def _tree_rss_bytes(self) -> int:
        total = current_rss_bytes()
        for pid in self._children:
            with contextlib.suppress(OSError):  # ended since the last look
                total += current_rss_bytes(pid)
        return total

    def _sample(self) -> None:
        samples = 0
        while not self._stop.is_set():
            if samples % self.children_every == 0:
                self._children = descendant_pids(os.getpid())
            self._peak = max(self._peak, self._tree_rss_bytes())
            samples += 1
            self._stop.wait(self.interval_s)

    def __enter__(self) -> StepTracker:
        self._children = descendant_pids(os.getpid())
        self._peak = self._tree_rss_bytes()
        self.start_rss_mb = self._peak / 2**20
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self._tree_rss_bytes())
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
