"""CPU and memory of a process (and of the whole machine) from /proc."""

import os
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU seconds of `pid` (all its threads); None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def group_members(pgid):
    """The pids of process group `pgid` (a server started in its own session, workers included)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # pgrp (field 5)
            members.append(int(entry))
    return members or [pgid]


def group_cpu_seconds(pgid):
    """CPU seconds of every live process in the group; None if none is left."""
    values = [v for v in (cpu_seconds(p) for p in group_members(pgid)) if v is not None]
    return sum(values) if values else None


def group_rss_bytes(pgid):
    values = [v for v in (rss_bytes(p) for p in group_members(pgid)) if v is not None]
    return sum(values) if values else None


def rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def machine_ticks():
    """(busy, total) jiffies over all cores."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU use of a process, or of a process group (in % of one core), and of the machine (% of all
    cores) over an interval."""

    def __init__(self, pid, group=False):
        self.pid = pid
        self.seconds = (lambda: group_cpu_seconds(pid)) if group else (lambda: cpu_seconds(pid))
        self.reset()

    def reset(self):
        self.t0 = time.monotonic()
        self.c0 = self.seconds() or 0.0
        self.m0 = machine_ticks()

    def read(self):
        elapsed = max(1e-6, time.monotonic() - self.t0)
        c1 = self.seconds() or self.c0
        m1 = machine_ticks()
        machine = 100.0 * (m1[0] - self.m0[0]) / max(1, m1[1] - self.m0[1])
        return {"cpu_pct": round(100.0 * (c1 - self.c0) / elapsed, 1), "machine_cpu_pct": round(machine, 1)}
