"""Browser end-to-end fixtures: the web server, both emulators, workers, Chromium pages.

The stack is the one production runs, on free ports: the Django app served as in production
(gunicorn with a uvicorn worker, mvcontrol.asgi, on this test's database: the page follows
GET /api/events, which pytest-django's WSGI live_server cannot stream), the Quartz and NEXX
emulators (tests/state/conftest make_devices), and, for the tests that need them, the django-q2
cluster and the quartz_listen process as child processes on the same database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.browser.harness import ARTIFACTS, chromium_path, missing_browser
from tests.fixtures.control import rig  # noqa: F401 - the fixture, shared
from tests.fixtures.live import stop, wait_ready
from tests.state.conftest import make_devices  # noqa: F401 - the fixture, shared
from tests.support import BASE_DIR, free_port, subprocess_env

WAIT_MS = 15_000  # how long a page condition may take before a test gives up (not a target)
DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 768, "height": 1024}


@pytest.fixture(scope="module")
def browser(request):
    """Chromium, for one test module. Module scope, not session: while Playwright's sync API
    runs, its asyncio loop counts as running in this thread, and the tests that follow must not
    inherit that. A module's CHROMIUM_ARGS (a list) are added to the command line."""
    reason = missing_browser()
    if reason:
        pytest.skip(f"browser tests skipped: {reason}")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    args += getattr(request.module, "CHROMIUM_ARGS", [])
    # With that loop "running", Django would refuse the tests' own (synchronous) database calls;
    # allowed for these tests only, and never in a deployment (check async.E001).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=chromium_path(), args=args)
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class WebServer:
    """The production web server (gunicorn, one uvicorn worker, mvcontrol.asgi) on a free port
    of `host` (a loopback address) and this test's database. start() and stop() may be called
    again: it comes back on the same port, as a restarted service does."""

    def __init__(self, *, host: str = "127.0.0.1", **env: str) -> None:
        self.host = host
        self.port = free_port()
        self.env = env
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> WebServer:
        if not self.running:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "mvcontrol.asgi:application",
                 "--worker-class", "uvicorn_worker.UvicornWorker", "--workers", "1",
                 "--bind", f"{self.host}:{self.port}", "--log-level", "warning",
                 "--graceful-timeout", "2"],
                cwd=BASE_DIR, env=subprocess_env(**{"DEBUG": "true", "RATELIMIT_ENABLE": "false",
                                                    **self.env}))
            wait_ready(self.url, self.process)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


@pytest.fixture
def web_server(transactional_db) -> Iterator[WebServer]:
    """The web server the pages open, started by the first open_page() (after the test's other
    fixtures wrote their data) or by web_server.start(); stopped after the test."""
    server = WebServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def open_page(browser, web_server, request):
    """open_page(viewport=DESKTOP) → a new page at the web server. A screenshot of every page
    is saved to tests/artifacts/<test>[-n].png when the test ends (failed or not)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    contexts = []

    def open_(viewport: dict | None = None):
        web_server.start()
        context = browser.new_context(viewport=viewport or DESKTOP, base_url=web_server.url,
                                      accept_downloads=True, locale="en-GB",
                                      timezone_id="UTC")
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        page = context.new_page()
        page.console_errors = []
        page.on("pageerror", lambda error: page.console_errors.append(str(error)))
        return page

    yield open_
    for index, context in enumerate(contexts):
        suffix = f"-{index + 1}" if len(contexts) > 1 else ""
        for page in context.pages:
            try:
                page.screenshot(path=str(ARTIFACTS / f"{request.node.name}{suffix}-end.png"),
                                full_page=True)
            except Exception as error:  # a crashed page must not hide the test's own failure
                print(f"screenshot failed: {error}", file=sys.stderr)
        context.close()


def ready(page) -> None:
    """Wait until the control page has wired every control and shown its first data."""
    page.locator("body.app[data-ready=true]").wait_for(state="attached")


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@dataclass
class Worker:
    name: str
    process: subprocess.Popen


@pytest.fixture
def start_workers(transactional_db) -> Iterator[Callable[..., list[Worker]]]:
    """start_workers("qcluster", "quartz_listen"): the background processes `make run` starts,
    on this test's database; stopped (SIGINT, like Ctrl-C) after the test."""
    workers: list[Worker] = []

    def start(*names: str) -> list[Worker]:
        env = subprocess_env(Q_WORKERS="1")
        for name in names:
            process = subprocess.Popen([sys.executable, str(BASE_DIR / "manage.py"), name],
                                       cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True,
                                       start_new_session=True)
            workers.append(Worker(name, process))
        return workers

    try:
        yield start
    finally:
        for worker in workers:
            if worker.process.poll() is None:
                os.killpg(worker.process.pid, signal.SIGINT)
        deadline = time.monotonic() + 10
        for worker in workers:
            try:
                worker.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(worker.process.pid, signal.SIGKILL)
                worker.process.wait()
            if worker.process.stderr:
                worker.process.stderr.close()
