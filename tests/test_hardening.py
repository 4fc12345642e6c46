"""What a hostile client sends, answered through the real server stack (issue 20).

Every request goes over HTTP, with every middleware of settings.MIDDLEWARE and the test's
PostgreSQL database, to each of two servers (the `stack` fixture's parameter):

- "runserver": pytest-django's live server, Django's threaded WSGI server as `runserver` uses
  it, in this process, DEBUG off;
- "asgi": the production server, gunicorn with a uvicorn worker serving mvcontrol.asgi, as
  tests/fixtures/live.py starts it, but with production settings (DEBUG off, a SECRET_KEY,
  ALLOWED_HOSTS, collected static files).

Behind them run the NEXX and Quartz emulators with the cache filled by one refresh run
(tests/state/conftest.py): a valid write reaches them (test_a_valid_write_reaches_the_frame
shows the rig counts it), so "nothing reached a device" is measured, not assumed. The answers:

- a body nested too deeply: 400 malformed_request, on anonymous and logged-in endpoints;
- a body over DATA_UPLOAD_MAX_MEMORY_SIZE: 413 request_too_large; a preset file over 1 MiB,
  JSON or multipart: 413 preset_too_large;
- an id past what a bigint holds, in any URL: 404 not_found from the URL resolver, whatever
  session cookie comes with it;
- the database down, with any session cookie: /healthz 200, the API 503 database_unavailable,
  the pages a plain 503 page.
"""

from __future__ import annotations

import contextlib
import copy
import secrets
import string
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connections
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver

from mvcontrol.converters import BIGINT_MAX, IdConverter
from mvcontrol.parsers import MAX_DEPTH
from tests.fixtures.accounts import AdminFactory
from tests.fixtures.live import start_asgi_server, stop, wait_ready
from tests.state.conftest import Devices, make_devices  # noqa: F401 - the fixture
from tests.support import BASE_DIR, free_port, subprocess_env

WINDOW = 2  # a window of multiviewer 1 (nexx_index 0) in the emulator's layout
MIB = 1024 * 1024
PAST_BIGINT = [2**63, 2**64, 10**30]
MADE_UP_SESSION = "made-up-session-key-000000000000"


@dataclass
class Stack:
    server: str  # "runserver" or "asgi"
    url: str
    devices: Devices
    session: str  # a logged-in admin's session key
    csrf: str
    mv: int  # multiviewer 1's id

    def client(self, *, session: str | None = None, logged_in: bool = True,
               url: str | None = None) -> httpx.Client:
        """An HTTP client (of this stack's server, or the one at `url`) holding the csrftoken
        cookie, and the admin's session unless logged_in=False, or `session`, a cookie of any
        value."""
        cookies = {"csrftoken": self.csrf}
        if session is not None or logged_in:
            cookies["sessionid"] = session if session is not None else self.session
        return httpx.Client(base_url=url or self.url, cookies=cookies, timeout=30,
                            headers={"X-CSRFToken": self.csrf})

    def device_traffic(self) -> tuple[int, int]:
        """(requests the frame received, commands the router received)."""
        return self.devices.nexx.stats()["requests"], self.devices.quartz.stats()["commands"]


# --- the servers ---------------------------------------------------------------------------------

# The production servers' key: the sessions this test makes for them are signed with it.
PRODUCTION_SECRET_KEY = secrets.token_urlsafe(50)


def _production_env(static_root: Path, **extra: str) -> dict[str, str]:
    """What a deployment sets (README, Deployment in brief), for a server on this test's
    database; plain HTTP on the loopback."""
    # DB_POOL_SIZE=2: few connections kept open, on a PostgreSQL server that parallel test runs
    # share.
    return subprocess_env(DEBUG="false", SECRET_KEY=PRODUCTION_SECRET_KEY,
                          ALLOWED_HOSTS="127.0.0.1", SESSION_COOKIE_SECURE="false",
                          STATIC_ROOT=str(static_root), DB_POOL_SIZE="2", **extra)


@pytest.fixture(scope="module")
def static_root(tmp_path_factory, django_db_setup) -> Path:
    """`collectstatic` as a deployment runs it: with DEBUG off the pages read its manifest."""
    root = tmp_path_factory.mktemp("static")
    subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), "collectstatic", "--noinput",
                    "-v0"], cwd=BASE_DIR, env=_production_env(root), check=True)
    return root


@contextlib.contextmanager
def production_server(static_root: Path, **env: str) -> Iterator[str]:
    """The production web server (tests/fixtures/live.py) with production settings; its base
    URL."""
    port = free_port()
    process = start_asgi_server(port, env=_production_env(static_root, **env))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)  # /healthz: answers with the database down too
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="module")
def asgi_url(static_root) -> Iterator[str]:
    # One server for the module: each test's data is in the same test database, and the device
    # settings are read again by every request.
    with production_server(static_root) as url:
        yield url


@pytest.fixture(params=["runserver", "asgi"])
def server(request) -> tuple[str, str]:
    """(name, base URL) of the server under test."""
    if request.param == "runserver":
        return request.param, request.getfixturevalue("live_server").url
    return request.param, request.getfixturevalue("asgi_url")


@pytest.fixture
def stack(server, transactional_db, make_devices) -> Stack:  # noqa: F811 - the fixture
    from devices.models import Multiviewer
    from state.models import RefreshRun
    from state.refresh import execute_run
    from state.services import StateService

    devices = make_devices()
    ticket = StateService.start_refresh(trigger=RefreshRun.Trigger.COMMAND)
    outcome = execute_run(ticket.run.pk)
    assert outcome is not None and outcome.status == "success", outcome
    browser = Client()
    key = PRODUCTION_SECRET_KEY if server[0] == "asgi" else settings.SECRET_KEY
    with override_settings(SECRET_KEY=key):  # the session as the server under test signs it
        browser.force_login(AdminFactory(login="hardening-admin"))
    csrf = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    return Stack(server=server[0], url=server[1], devices=devices,
                 session=browser.cookies["sessionid"].value, csrf=csrf,
                 mv=Multiviewer.objects.get(nexx_index=0).pk)


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert {"error", "detail", "fields"} <= set(body), body
    assert body["error"] == code, body
    assert body["detail"] and isinstance(body["fields"], dict)
    return body


def test_a_valid_write_reaches_the_frame(stack):
    before = stack.device_traffic()
    with stack.client() as http:
        response = http.post(f"/api/multiviewers/{stack.mv}/windows/{WINDOW}",
                             json={"pcm_bars": 4})
    assert response.status_code == 200, response.text[:300]
    assert stack.device_traffic()[0] > before[0]


# --- 1. nesting --------------------------------------------------------------------------------

def _nested(depth: int, *, objects: bool = False) -> bytes:
    if objects:
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b"[" * depth + b"]" * depth


DEEP_BODIES = {
    "arrays 1000 deep": _nested(1000),
    "objects 1000 deep": _nested(1000, objects=True),
    "arrays 100000 deep": _nested(100_000),
    f"arrays {MAX_DEPTH + 1} deep": _nested(MAX_DEPTH + 1),
    "pcm_bars nested": b'{"pcm_bars": ' + _nested(200) + b"}",
}


@pytest.mark.parametrize("body", DEEP_BODIES.values(), ids=DEEP_BODIES.keys())
def test_a_deeply_nested_body_is_a_malformed_request(stack, body):
    before = stack.device_traffic()
    json = {"Content-Type": "application/json"}
    with stack.client(logged_in=False) as anonymous:
        assert_error(anonymous.post("/api/auth/login", content=body, headers=json),
                     400, "malformed_request")
        assert_error(anonymous.post("/api/auth/setup", content=body, headers=json),
                     400, "malformed_request")
    with stack.client() as http:
        for method, path in [("POST", f"/api/multiviewers/{stack.mv}/windows/{WINDOW}"),
                             ("PATCH", f"/api/multiviewers/{stack.mv}"),
                             ("POST", f"/api/multiviewers/{stack.mv}/layout"),
                             ("POST", "/api/routing/switch"),
                             ("POST", "/api/presets"),
                             ("POST", "/api/presets/import"),
                             ("POST", "/api/refresh")]:
            response = http.request(method, path, content=body, headers=json)
            assert_error(response, 400, "malformed_request")
    assert stack.device_traffic() == before


def test_nesting_up_to_the_limit_is_read(stack):
    """The bound refuses only what no request needs: at MAX_DEPTH the body is read, and
    answered for what it says."""
    body = b'{"pcm_bars": ' + _nested(MAX_DEPTH - 1) + b"}"
    with stack.client() as http:
        response = http.post(f"/api/multiviewers/{stack.mv}/windows/{WINDOW}", content=body,
                             headers={"Content-Type": "application/json"})
    body = assert_error(response, 400, "validation_error")
    assert "pcm_bars" in body["fields"]


# --- 2. size -----------------------------------------------------------------------------------

def _json_of_size(size: int) -> bytes:
    head, tail = b'{"pcm_bars": 4, "x": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def test_a_body_over_the_upload_limit_is_413(stack):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    big = _json_of_size(limit + 1)
    json = {"Content-Type": "application/json"}
    before = stack.device_traffic()
    with stack.client(logged_in=False) as anonymous:
        body = assert_error(anonymous.post("/api/auth/login", content=big, headers=json),
                            413, "request_too_large")
        assert body["limit"] == limit
    with stack.client() as http:
        for method, path in [("POST", f"/api/multiviewers/{stack.mv}/windows/{WINDOW}"),
                             ("PATCH", f"/api/multiviewers/{stack.mv}"),
                             ("POST", "/api/routing/switch"),
                             ("POST", "/api/refresh")]:
            assert_error(http.request(method, path, content=big, headers=json),
                         413, "request_too_large")
        # A multipart form is held to the same limit, files included.
        assert_error(http.post(f"/api/multiviewers/{stack.mv}/windows/{WINDOW}",
                               files={"file": ("big.bin", b"x" * (limit + 1))}),
                     413, "request_too_large")
    assert stack.device_traffic() == before


@pytest.mark.parametrize("size", [MIB + 1, 3 * MIB], ids=["just over 1 MiB", "3 MiB"])
def test_a_preset_file_over_1_mib_is_413_preset_too_large(stack, size):
    from presets.models import Preset

    document = _json_of_size(size)
    with stack.client() as http:
        as_json = assert_error(http.post("/api/presets/import", content=document,
                                         headers={"Content-Type": "application/json"}),
                               413, "preset_too_large")
        assert as_json["size"] == size and as_json["limit"] == MIB
        as_file = assert_error(http.post("/api/presets/import",
                                         files={"file": ("preset.json", document)}),
                               413, "preset_too_large")
        assert as_file["limit"] == MIB
    assert not Preset.objects.exists()


# --- 3. ids past a bigint ----------------------------------------------------------------------

def _routes_with_parameters() -> list[tuple[str, dict]]:
    """Every URL route with a path parameter: (route, {parameter: converter})."""
    found = []

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern) and getattr(entry.pattern, "converters", None):
                found.append((route, dict(entry.pattern.converters)))

    walk(get_resolver().url_patterns, "/")
    return found


def api_routes() -> list[tuple[str, dict]]:
    return [(route, converters) for route, converters in _routes_with_parameters()
            if route.startswith("/api/")]


def test_every_api_id_is_bounded_by_a_bigint():
    routes = api_routes()
    assert any("multiviewers/<id:pk>/windows/<id:window>" in route for route, _ in routes)
    for route, converters in routes:
        for name, converter in converters.items():
            assert isinstance(converter, IdConverter), f"{route}: <{name}> is not <id:…>"


def _fill(route: str, value: int) -> str:
    path = route
    while "<" in path:
        start = path.index("<")
        path = path[:start] + str(value) + path[path.index(">", start) + 1:]
    return path


@pytest.mark.parametrize("number", PAST_BIGINT, ids=["2^63", "2^64", "10^30"])
def test_an_id_past_a_bigint_is_404_in_every_url(stack, number):
    before = stack.device_traffic()
    for session in (stack.session, MADE_UP_SESSION, None):
        with stack.client(session=session, logged_in=session is not None) as http:
            for route, _ in api_routes():
                path = _fill(route, number)
                for method in ("GET", "POST", "PATCH", "DELETE"):
                    response = http.request(method, path, json={"pcm_bars": 4})
                    assert_error(response, 404, "not_found")
            # Only the one out-of-range parameter is enough.
            response = http.post(f"/api/multiviewers/{stack.mv}/windows/{number}",
                                 json={"pcm_bars": 4})
            assert_error(response, 404, "not_found")
    assert stack.device_traffic() == before


def test_the_largest_bigint_still_reaches_the_view(stack):
    """2^63 - 1 matches the URL: the view answers (no such multiviewer), or, with a made-up
    session, authentication does — so the 404 above is the resolver's, not a view's."""
    with stack.client() as http:
        assert_error(http.get(f"/api/multiviewers/{BIGINT_MAX}"), 404, "not_found")
    with stack.client(session=MADE_UP_SESSION) as stranger:
        assert_error(stranger.get(f"/api/multiviewers/{BIGINT_MAX}"), 401, "not_authenticated")
        assert_error(stranger.get(f"/api/multiviewers/{BIGINT_MAX + 1}"), 404, "not_found")


# --- 4. the database down -----------------------------------------------------------------------

@contextlib.contextmanager
def server_database_down() -> Iterator[None]:
    """The live server's requests find PostgreSQL gone: each runs in a thread of its own that
    opens a connection from connections.settings, here pointed at a port where nothing
    listens (as tests/faults/test_database_unavailable.py does for one connection). This
    thread's open connection, and the test database, are untouched."""
    real = connections.settings["default"]
    broken = copy.deepcopy(real)
    broken.update(HOST="127.0.0.1", PORT=str(free_port()))
    broken["OPTIONS"] = {**broken.get("OPTIONS", {}), "connect_timeout": 2}
    connections.settings["default"] = broken
    try:
        yield
    finally:
        connections.settings["default"] = real


def assert_unavailable_page(response: httpx.Response) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("text/html")
    assert int(response.headers["Retry-After"]) > 0
    assert "cannot reach its database" in response.text


def assert_database_down_answers(stack: Stack, url: str) -> None:
    """What the server at `url`, its database gone, answers to any session cookie."""
    for session in (stack.session, MADE_UP_SESSION):
        with stack.client(session=session, url=url) as http:
            health = http.get("/healthz")
            assert health.status_code == 200 and health.json() == {"status": "ok"}
            ready = http.get("/readyz")
            assert ready.status_code == 503 and ready.json()["database"] == "unreachable"

            for method, path in [("GET", "/api/auth/me"),
                                 ("GET", f"/api/multiviewers/{stack.mv}"),
                                 ("POST", f"/api/multiviewers/{stack.mv}/windows/{WINDOW}"),
                                 ("GET", "/api/layouts"),
                                 ("GET", "/api/no-such-endpoint")]:
                response = http.request(method, path, json={"pcm_bars": 4})
                assert_error(response, 503, "database_unavailable")
                assert int(response.headers["Retry-After"]) > 0

            for path in ("/", "/login", "/admin/"):
                assert_unavailable_page(http.get(path))
    with stack.client(logged_in=False, url=url) as anonymous:
        assert anonymous.get("/healthz").status_code == 200


def test_the_database_down_with_any_session_cookie(stack, request):
    before = stack.device_traffic()
    if stack.server == "runserver":
        with server_database_down():
            assert_database_down_answers(stack, stack.url)
        with stack.client() as http:  # the first request once the database is back succeeds
            me = http.get("/api/auth/me")
            assert me.status_code == 200 and me.json()["login"] == "hardening-admin"
            assert http.get("/").status_code == 200
    else:
        # Another process cannot have its connections swapped: a second production server,
        # whose DATABASE_URL names a port where nothing listens.
        # A short pool wait: each request waits that long for a connection before its 503.
        dead = f"postgres://postgres@127.0.0.1:{free_port()}/mvcontrol?connect_timeout=2"
        with production_server(request.getfixturevalue("static_root"),
                               DATABASE_URL=dead, DB_POOL_TIMEOUT="1") as url:
            assert_database_down_answers(stack, url)
    assert stack.device_traffic() == before
