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
    """CPU use of a process (in % of one core) and of the machine (% of all cores) over an interval."""

    def __init__(self, pid):
        self.pid = pid
        self.reset()

    def reset(self):
        self.t0 = time.monotonic()
        self.c0 = cpu_seconds(self.pid) or 0.0
        self.m0 = machine_ticks()

    def read(self):
        elapsed = max(1e-6, time.monotonic() - self.t0)
        c1 = cpu_seconds(self.pid) or self.c0
        m1 = machine_ticks()
        machine = 100.0 * (m1[0] - self.m0[0]) / max(1, m1[1] - self.m0[1])
        return {"cpu_pct": round(100.0 * (c1 - self.c0) / elapsed, 1), "machine_cpu_pct": round(machine, 1)}
