"""`python -m realtime.server --workers N ...`: N server processes on one port.

The parent binds the listening socket once and starts N children, each `python -m realtime.server`
with the same arguments, which adopt the inherited socket (daphne's `--fd`) instead of binding:
the kernel hands each new connection to whichever child accepts it first. Chosen over one
SO_REUSEPORT socket per child for robustness: connections waiting in the queue when a child dies
are taken by the others instead of being reset with the dead child's socket, and the port stays
bound while a child restarts.

The parent only supervises: it forwards SIGTERM/SIGINT to the children (each closes its sockets
with 1001 and exits), waits for them, restarts a child that dies unexpectedly (after a backoff,
logged), and exits non-zero if a child cannot start. Each child is a whole server process: its
own background work (realtime.serving.lifecycle), its own presence, its own /metrics.
"""

import ctypes
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import time

logger = logging.getLogger("realtime.serving.workers")

# Set by the parent in each child's environment: the inherited listening socket, and a pipe the
# child writes one byte to once it listens (`ready`), so a child that cannot start is told apart
# from one that died later.
LISTEN_FD_ENV = "REALTIME_SERVER_LISTEN_FD"
READY_FD_ENV = "REALTIME_SERVER_READY_FD"

BACKLOG = 2048  # a reconnect storm queues thousands of handshakes; the kernel caps it at somaxconn
RESTART_BACKOFF_FIRST = 1.0
RESTART_BACKOFF_MAX = 30.0
STABLE_SECONDS = 30.0  # a child that ran this long before dying restarts after the first backoff again
SHUTDOWN_TIMEOUT = 30.0  # after SIGTERM: children still running then are SIGKILLed
POLL_SECONDS = 0.2
PR_SET_PDEATHSIG = 1
IN_PROCESS_LAYERS = ("realtime.delivery.layers.InProcessChannelLayer", "channels.layers.InMemoryChannelLayer")


class WorkersError(Exception):
    """A reason the workers cannot run, said in one line."""


def shared_state_problem(settings):
    """Why N processes cannot share this configuration's state, or None."""
    layer = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
    engine = settings.DATABASES["default"]["ENGINE"]
    if layer in IN_PROCESS_LAYERS or "sqlite" in engine:
        return ("several workers need REDIS_URL and a PostgreSQL DATABASE_URL: the in-process channel layer and "
                "SQLite cannot span processes")
    return None


def bind_listener(options):
    """The listening socket for the children, from daphne's binding options (-b/-p or --fd)."""
    if options.unix_socket or options.socket_strings:
        raise WorkersError("several workers listen on -b HOST -p PORT or --fd; -u/--unix-socket and -e/--endpoint "
                           "are for one process")
    if options.file_descriptor is not None:
        try:
            return socket.socket(fileno=options.file_descriptor)
        except OSError as exc:
            raise WorkersError(f"--fd {options.file_descriptor}: {exc.strerror}") from None
    host = options.host or "127.0.0.1"
    port = 8000 if options.port is None else options.port
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(BACKLOG)
    except (OSError, OverflowError) as exc:
        listener.close()
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise WorkersError(f"cannot listen on {host}:{port} (IPv4): {reason}") from None
    return listener


def _die_with_parent():
    """In the child, before exec: SIGTERM when the parent dies, so a SIGKILLed parent leaves no orphans."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Worker:
    def __init__(self, number):
        self.number = number
        self.process = None
        self.ready_pipe = None
        self.ready = False
        self.ever_ready = False
        self.started_at = 0.0
        self.restart_at = None
        self.backoff = RESTART_BACKOFF_FIRST

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None


class Supervisor:
    def __init__(self, argv, listener, count):
        self.argv = list(argv)
        self.listener = listener
        self.workers = [Worker(number) for number in range(1, count + 1)]
        self.selector = selectors.DefaultSelector()
        self.stop_signal = None

    def run(self):
        """Serve until SIGTERM/SIGINT; the exit status for the parent process."""
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        signal.set_wakeup_fd(wake_write)
        self.selector.register(wake_read, selectors.EVENT_READ, None)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_stop_signal)
        try:
            for worker in self.workers:
                self._start(worker)
            status = self._supervise()
        finally:
            self._stop_all()
        return status

    def _on_stop_signal(self, signum, frame):
        if self.stop_signal is None:
            self.stop_signal = signum

    def _start(self, worker):
        ready_read, ready_write = os.pipe()
        env = dict(os.environ, **{LISTEN_FD_ENV: str(self.listener.fileno()), READY_FD_ENV: str(ready_write)})
        worker.process = subprocess.Popen(
            [sys.executable, "-m", "realtime.server", *self.argv],
            env=env,
            pass_fds=(self.listener.fileno(), ready_write),
            # Its own process group: a terminal's Ctrl-C reaches the parent only, which forwards it once.
            process_group=0,
            preexec_fn=_die_with_parent,
        )
        os.close(ready_write)
        worker.ready_pipe = ready_read
        worker.ready = False
        worker.started_at = time.monotonic()
        worker.restart_at = None
        self.selector.register(ready_read, selectors.EVENT_READ, worker)
        logger.info("worker %d started (pid %d)", worker.number, worker.process.pid)

    def _close_ready_pipe(self, worker):
        if worker.ready_pipe is not None:
            self.selector.unregister(worker.ready_pipe)
            os.close(worker.ready_pipe)
            worker.ready_pipe = None

    def _supervise(self):
        while self.stop_signal is None:
            for key, _ in self.selector.select(POLL_SECONDS):
                if key.data is None:  # the signal wake-up pipe
                    os.read(key.fd, 512)
                    continue
                worker = key.data
                if os.read(key.fd, 1):
                    worker.ready = worker.ever_ready = True
                self._close_ready_pipe(worker)
            now = time.monotonic()
            for worker in self.workers:
                if worker.restart_at is not None:
                    if now >= worker.restart_at:
                        self._start(worker)
                    continue
                if worker.running:
                    continue
                if self.stop_signal is not None:
                    break  # it got the terminal's signal itself: not a crash
                returncode = worker.process.returncode
                self._close_ready_pipe(worker)
                if not worker.ever_ready:
                    logger.error("worker %d (pid %d) exited with %s before it listened: stopping", worker.number,
                                 worker.process.pid, returncode)
                    return 1
                if now - worker.started_at >= STABLE_SECONDS:
                    worker.backoff = RESTART_BACKOFF_FIRST
                logger.warning("worker %d (pid %d) exited unexpectedly with %s; restarting in %.0f s",
                               worker.number, worker.process.pid, returncode, worker.backoff)
                worker.restart_at = now + worker.backoff
                worker.backoff = min(worker.backoff * 2, RESTART_BACKOFF_MAX)
        logger.info("%s: stopping %d workers", signal.Signals(self.stop_signal).name, len(self.workers))
        return 0

    def _stop_all(self):
        signum = self.stop_signal or signal.SIGTERM
        running = [worker for worker in self.workers if worker.running]
        for worker in running:
            worker.process.send_signal(signum)
        deadline = time.monotonic() + SHUTDOWN_TIMEOUT
        for worker in running:
            try:
                worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.error("worker %d (pid %d) still running %.0f s after %s: killing it", worker.number,
                             worker.process.pid, SHUTDOWN_TIMEOUT, signal.Signals(signum).name)
                worker.process.kill()
                worker.process.wait()
        for worker in self.workers:
            self._close_ready_pipe(worker)


def supervise(options, argv):
    """The parent of `--workers N`: returns the process's exit status."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rideshare.settings")  # as rideshare/asgi.py does
    from django.conf import settings
    from django.utils.log import configure_logging

    try:
        configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)
        problem = shared_state_problem(settings)
        if problem:
            raise WorkersError(problem)
        listener = bind_listener(options)
    except Exception as exc:  # one line, whatever it is (ImproperlyConfigured from the settings too)
        print(f"realtime.server: error: --workers {options.workers}: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, WorkersError) else 1
    address = listener.getsockname()
    logger.info("listening on %s:%d, %d workers", address[0], address[1], options.workers)
    return Supervisor(argv, listener, options.workers).run()


def is_child():
    return LISTEN_FD_ENV in os.environ


_ready_fd = None


def adopt_inherited_listener(options):
    """In a child: listen on the parent's socket instead of binding (daphne's --fd)."""
    global _ready_fd
    listen_fd = os.environ.pop(LISTEN_FD_ENV, None)
    ready_fd = os.environ.pop(READY_FD_ENV, None)
    if listen_fd is not None:
        options.host = options.port = options.unix_socket = None
        options.socket_strings = []
        options.file_descriptor = int(listen_fd)
        _ready_fd = int(ready_fd) if ready_fd else None
    return options


def share_accepts(port):
    """In a child: accept one connection per wake-up of the shared socket, so that the workers
    share a burst of connections. Twisted accepts up to 100 at a time (more while they come):
    measured with `--workers 2`, one worker often took all 32 keep-alive connections a load opened
    at once and served them alone while the other idled (GET rides/{id}/ 1.0x one process, instead
    of 1.6x). A worker busy serving comes to the socket later and so takes fewer."""
    if _ready_fd is None or not hasattr(port, "numberAccepts"):
        return  # one process on its own socket: nobody to share with
    read = port.doRead

    def accept_one():
        port.numberAccepts = 1
        return read()

    port.doRead = accept_one


def report_listening():
    """In a child, once the adopted socket listens: tells the parent it started."""
    global _ready_fd
    if _ready_fd is not None:
        fd, _ready_fd = _ready_fd, None
        try:
            os.write(fd, b"1")
            os.close(fd)
        except OSError:
            # The parent is gone. Its death signal (PR_SET_PDEATHSIG) came while this process was
            # still starting, before the server could act on it: stop now, as it would have.
            logger.warning("the supervising process is gone; stopping")
            os.kill(os.getpid(), signal.SIGTERM)
