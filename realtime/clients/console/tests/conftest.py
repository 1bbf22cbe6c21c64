"""Browser tests: a real server (`python -m realtime.server`) on a free port with its own database
and the demo accounts, and the system's headless Chromium driven by Playwright.

Chromium missing (a fresh developer machine): the browser tests skip, saying how to install it,
unless REQUIRE_BROWSER=1 (CI sets it), where they fail instead.
"""

import ipaddress
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from realtime.tests.servers import REPO_ROOT, LiveDatabase, ServerProcess, free_port

SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
INSTALL_HINT = (
    "the browser tests need Chromium and Playwright: `apt-get install chromium` (Debian's package; "
    "Playwright's own browser download is not used) and `make install` (playwright is in requirements-dev.txt)"
)
# As the machine notes advise: no background traffic of Chromium's own (updates, sync, QUIC probes).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path():
    """CHROMIUM_PATH if set (a browser elsewhere), else Debian's chromium."""
    if os.environ.get("CHROMIUM_PATH"):
        return os.environ["CHROMIUM_PATH"] if Path(os.environ["CHROMIUM_PATH"]).exists() else None
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _unavailable(reason):
    message = f"{reason}: {INSTALL_HINT}"
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 and {message}", pytrace=False)
    pytest.skip(message)


def seed_demo(env):
    result = subprocess.run(
        [sys.executable, "manage.py", "seed_demo"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise RuntimeError(f"seed_demo failed:\n{result.stdout}\n{result.stderr}")


@pytest.fixture(scope="session")
def console_server(tmp_path_factory):
    """The server the console is used against, with tiles pointed at a loopback port where
    nothing listens: the map's tiles fail to load, as offline, and nothing leaves the machine."""
    workdir = tmp_path_factory.mktemp("console")
    database = LiveDatabase(workdir)
    env = dict(
        os.environ,
        **database.env,
        CHANNEL_LAYER_PREFIX=f"rideshare-console-{secrets.token_hex(6)}",
        CONSOLE_TILE_URL=f"http://127.0.0.1:{free_port()}/tiles/{{z}}/{{x}}/{{y}}.png",
        # Offer waves from the server itself in the Redis pass too (no `manage.py dispatch` here),
        # and offers that outlast a slow CI machine's clicks.
        RIDE_DISPATCH_IN_SERVER="1",
        RIDE_OFFER_TIMEOUT_SECONDS="60",
    )
    server = None
    try:
        database.migrate(env)
        seed_demo(env)
        server = ServerProcess(env, workdir).start()
        yield server
    finally:
        if server is not None:
            server.stop()
        database.drop()


@pytest.fixture(scope="module")
def browser():
    """Module-scoped: Playwright's sync API keeps an event loop of its own, and the suite's async
    tests (other modules) must not meet it."""
    path = chromium_path()
    if path is None:
        _unavailable("chromium is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def is_loopback(url):
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OffMachine:
    """Routes every request of a browser context: loopback goes through, anything else is
    aborted and recorded (so a test can fail on it, and nothing ever leaves the machine)."""

    def __init__(self):
        self.blocked = []
        self.seen = []

    def __call__(self, route):
        url = route.request.url
        self.seen.append(url)
        if is_loopback(url):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")


@pytest.fixture
def new_page(browser):
    """new_page() → (page, off_machine): a fresh context (its own sessionStorage: one user each)."""
    contexts = []

    def make(viewport=(1280, 800)):
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        context.set_default_timeout(20_000)
        off_machine = OffMachine()
        context.route("**/*", off_machine)
        contexts.append(context)
        return context.new_page(), off_machine

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name):
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path))
        return path

    return take
