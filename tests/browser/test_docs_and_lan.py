"""The API documentation on an isolated network, and the demo opened from another PC (issue 23).

Every page here comes from a web server bound to 127.0.0.2, not 127.0.0.1: a loopback address
standing for the demo machine's LAN address. Chromium also knows it by a host name,
mvcontrol-demo.test (CHROMIUM_ARGS maps it): unlike an address in 127.0.0.0/8, a name is no
"potentially trustworthy" origin, so over plain HTTP the browser behaves as on another PC on the
LAN — it drops cookies marked Secure, and keeps the APIs of secure contexts from the page.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser.harness import require_browser

require_browser()

from playwright.sync_api import expect  # noqa: E402 - only once the skip above is decided

from tests.browser.conftest import WebServer, ready, shot  # noqa: E402
from tests.fixtures.accounts import DEFAULT_PASSWORD, UserFactory  # noqa: E402
from tests.support import BASE_DIR, subprocess_env  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)

LAN_ADDRESS = "127.0.0.2"
LAN_NAME = "mvcontrol-demo.test"
CHROMIUM_ARGS = [f"--host-resolver-rules=MAP {LAN_NAME} {LAN_ADDRESS}"]
PRODUCTION_SECRET_KEY = secrets.token_urlsafe(50)


@pytest.fixture(scope="module")
def static_root(tmp_path_factory, django_db_setup) -> Path:
    """`collectstatic` as a deployment runs it (DEBUG off: hashed names and a manifest)."""
    root = tmp_path_factory.mktemp("static")
    subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), "collectstatic", "--noinput",
                    "-v0"], cwd=BASE_DIR, check=True,
                   env=subprocess_env(DEBUG="false", SECRET_KEY=PRODUCTION_SECRET_KEY,
                                      ALLOWED_HOSTS=LAN_ADDRESS, STATIC_ROOT=str(root)))
    return root


@pytest.fixture(params=["demo", "production"])
def web_server(request, transactional_db) -> Iterator[WebServer]:
    """The web server on the LAN address: with the demo's defaults (DEBUG on, nothing else set:
    static files straight from the source tree), or with production settings (DEBUG off,
    collected static files served by whitenoise from its manifest)."""
    env = {}
    if request.param == "production":
        env = {"DEBUG": "false", "SECRET_KEY": PRODUCTION_SECRET_KEY,
               "ALLOWED_HOSTS": f"{LAN_ADDRESS},{LAN_NAME}", "SESSION_COOKIE_SECURE": "false",
               "STATIC_ROOT": str(request.getfixturevalue("static_root"))}
    server = WebServer(host=LAN_ADDRESS, **env)
    try:
        yield server
    finally:
        server.stop()


def lan_url(server: WebServer, path: str, host: str = LAN_NAME) -> str:
    return f"http://{host}:{server.port}{path}"


def offline(page, server: WebServer) -> list[str]:
    """Abort every request the page makes to anything but the web server, as an isolated
    network would; the list of what it tried fills as the page runs."""
    tried: list[str] = []
    here = {f"{LAN_ADDRESS}:{server.port}", f"{LAN_NAME}:{server.port}"}

    def route(route) -> None:
        if urlsplit(route.request.url).netloc in here:
            route.continue_()
        else:
            tried.append(route.request.url)
            route.abort("internetdisconnected")

    page.context.route("**/*", route)
    return tried


def operation_count(server: WebServer) -> int:
    schema = httpx.get(f"{server.url}/api/schema", params={"format": "json"}, timeout=30)
    assert schema.status_code == 200, schema.text[:300]
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return sum(1 for item in schema.json()["paths"].values() for method in item
               if method in methods)


def test_swagger_ui_draws_every_operation_offline(open_page, web_server, request):
    page = open_page()
    tried = offline(page, web_server)
    operations = operation_count(web_server)
    assert operations > 20

    page.goto(lan_url(web_server, "/api/docs"))
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("mvcontrol API")
    expect(page.locator(".swagger-ui .opblock")).to_have_count(operations)
    expect(page.locator(".opblock-summary-path", has_text="/api/multiviewers").first
           ).to_be_visible()
    # The script and stylesheet came from this server, the page is styled, and it asked the
    # network for nothing else (no CDN, no online validator badge).
    assert page.evaluate("getComputedStyle(document.querySelector('.swagger-ui .opblock'))"
                         ".borderStyle") == "solid"
    shot(page, f"api-docs-offline-{request.node.callspec.id}")
    assert tried == []
    assert page.console_errors == []


def test_redoc_draws_every_operation_offline(open_page, web_server, request):
    page = open_page()
    tried = offline(page, web_server)
    operations = operation_count(web_server)

    page.goto(lan_url(web_server, "/api/redoc"))
    expect(page.locator('[data-section-id^="operation/"]')).to_have_count(operations)
    expect(page.locator(".api-info h1")).to_contain_text("mvcontrol API")
    shot(page, f"api-redoc-offline-{request.node.callspec.id}")
    assert tried == []
    assert page.console_errors == []


# --- the demo from another PC ---------------------------------------------------------------------

@pytest.fixture
def demo_server(transactional_db) -> Iterator[WebServer]:
    """The demo's web server with the demo's defaults, on the LAN address."""
    server = WebServer(host=LAN_ADDRESS)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def stack(make_devices):
    """Both emulators, their state read once (as `make run` does), and an operator granted
    MV 1 and the first 8 sources."""
    from devices.models import Multiviewer, Source
    from state.models import RefreshRun
    from state.refresh import execute_run
    from state.services import StateService

    devices = make_devices()
    ticket = StateService.start_refresh(trigger=RefreshRun.Trigger.COMMAND)
    outcome = execute_run(ticket.run.pk)
    assert outcome is not None and outcome.status == "success", outcome
    operator = UserFactory(login="operator")
    operator.multiviewers.set(Multiviewer.objects.filter(nexx_index=0))
    operator.sources.set(Source.objects.filter(quartz_input__lte=8))
    return devices


@pytest.mark.parametrize("host", [LAN_NAME, LAN_ADDRESS])
def test_an_operator_on_another_pc_signs_in_over_plain_http(browser, stack, demo_server, host,
                                                            request):
    demo_server.start()
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))

        page.goto(lan_url(demo_server, "/login", host))
        form = page.locator("#login-form")
        expect(form).to_be_visible()
        form.get_by_label("Login").fill("operator")
        form.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
        form.get_by_role("button", name="Sign in").click()

        # The control page (it may add its own #fragment), still under the name typed.
        expect(page).to_have_url(re.compile(re.escape(lan_url(demo_server, "/", host))
                                            + r"(#.*)?$"))
        ready(page)
        expect(page.locator("#drawing g.win")).to_have_count(4)  # MV 1: layout 1, 2×2
        shot(page, f"lan-demo-{request.node.callspec.id}")
        cookies = {cookie["name"]: cookie for cookie in context.cookies()}
        assert {"sessionid", "csrftoken"} <= set(cookies)
        assert not cookies["sessionid"]["secure"] and not cookies["csrftoken"]["secure"]
        assert errors == []
    finally:
        context.close()
