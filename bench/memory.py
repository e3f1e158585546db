"""Peak memory of the server processes working for a benchmark database (sampled from /proc
while a step runs; the embedded cluster runs on this machine). RssAnon is a process's own
memory (numpy arrays of a kernel, sort and hash memory); shared buffers, which every backend
maps, are left out of it."""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager


def _anon_mb(pid: str) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _backends(dbname: str) -> list[str]:
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith("postgres: ") and f" {dbname} " in cmd:
            pids.append(pid)
    return pids


@contextmanager
def server_peak(dbname: str, every: float = 0.25):
    """Yields a dict whose "peak_mb" is the largest RssAnon of one server process serving
    ``dbname`` seen while the block ran (0 when /proc shows none: a remote server)."""
    result = {"peak_mb": 0.0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(every):
            for pid in _backends(dbname):
                result["peak_mb"] = max(result["peak_mb"], _anon_mb(pid))

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        yield result
    finally:
        stop.set()
        t.join()


def _stat(pid: int | str) -> list[str]:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()


def backend_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by one server process (a local server's)."""
    f = _stat(pid)
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(backend_pid: int) -> float | None:
    """CPU seconds used so far by the cluster a backend belongs to: the postmaster with every
    child it has reaped (backends and parallel workers that have exited) plus the children
    running now. Comparing two readings gives a step's server CPU whatever the machine's load
    (None for a remote server)."""
    try:
        postmaster = int(_stat(backend_pid)[1])
        tick = os.sysconf("SC_CLK_TCK")
        f = _stat(postmaster)
        total = sum(int(x) for x in f[11:15])      # utime, stime, cutime, cstime
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    c = _stat(pid)
                except OSError:
                    continue
                if int(c[1]) == postmaster:
                    total += int(c[11]) + int(c[12])
        return total / tick
    except (OSError, ValueError, IndexError):
        return None
