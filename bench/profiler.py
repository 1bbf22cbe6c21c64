"""py-spy on the server process: collapsed stacks for the whole of a load run, summarised as the
functions with the most samples (own time, and inclusive)."""

import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
WAITING = ("select (", "poll (", "_worker (", "wait (", "epoll")  # idle waits, not work
# Frames every stack passes through (threads, the event loop, the reactor): 100 % inclusive, no news.
PLUMBING = ("(threading.py)", "(concurrent/futures/thread.py)", "(asyncio/events.py)", "(asyncio/base_events.py)",
            "(twisted/internet/asyncioreactor.py)", "(twisted/internet/base.py)", "(daphne/server.py)",
            "(daphne/cli.py)", "(runpy.py)", "(<frozen runpy>)", "<module> (")


def py_spy():
    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


class Recording:
    def __init__(self, pid, out_path, rate=100):
        self.out_path = Path(out_path)
        self.process = None
        exe = py_spy()
        if exe:
            self.process = subprocess.Popen(
                [exe, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw", "--nonblocking",
                 "--threads", "-o", str(self.out_path)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)

    def stop(self):
        if self.process is None:
            return {"error": "py-spy not installed"}
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGINT)
        try:
            _, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        if not self.out_path.exists():
            return {"error": (err or b"").decode(errors="replace")[-500:]}
        return summarise(self.out_path)


def _frame_name(frame):
    # py-spy raw frames look like "function (module/path.py:123)"; keep function + file, drop the line.
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3.11/", f"{REPO_ROOT}/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})" if where else name


def summarise(path, top=15):
    own, inclusive, total = Counter(), Counter(), 0
    for line in Path(path).read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame_name(f) for f in stack.split(";")]
        frames = [f for f in frames if not f.startswith("thread (") and not f.startswith("process ")]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
    if not total:
        return {"samples": 0}

    def pct(counter):
        return [{"function": f, "pct": round(100 * n / total, 1)} for f, n in counter.most_common(top)]

    # Idle waiting (epoll, thread pool queues) is not work: its share is shown, and the busy list
    # leaves it out.
    waiting = {f for f in own if any(w in f for w in WAITING)}
    idle = sum(own[f] for f in waiting)
    busy = Counter({f: n for f, n in own.items() if f not in waiting})
    work = Counter({f: n for f, n in inclusive.items() if not any(p in f for p in PLUMBING) and f not in waiting})
    return {"samples": total, "idle_pct": round(100 * idle / total, 1), "top_own": pct(own),
            "top_own_busy": pct(busy), "top_inclusive": pct(work), "raw": str(path)}
