"""Live updates on the control page, in Chromium against the production web server (gunicorn with
a uvicorn worker): a colleague's change appears without a reload, the window flashing, and
the top bar's indicator follows the connection (connected, reconnecting, offline, connected).

Skipped (one line) where no browser is installed; under CI (CI=true) a missing browser fails.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.harness import require_browser

require_browser()

from playwright.sync_api import expect  # noqa: E402 - only once the skip above is decided

from tests.browser.conftest import ready, shot  # noqa: E402
from tests.fixtures.live import EventStream, session_for  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)

FLASHING = re.compile(r"(^|\s)flash(\s|$)")


def open_as(open_page, web_server, user):
    """The control page of `user` (signed in: their session's cookie), ready. `page.reads`
    lists the paths of the API reads (GET) the page makes."""
    page = open_page()
    page.reads = []
    page.on("request", lambda request: page.reads.append(request.url.split("?")[0].split(
        web_server.url, 1)[-1]) if request.method == "GET" and "/api/" in request.url else None)
    page.context.add_cookies([{"name": "sessionid", "value": session_for(user),
                               "url": web_server.url}])
    page.goto("/")
    ready(page)
    return page


def listening(web_server, user) -> None:
    """Once a stream got its first line, the server's worker listens for changes: a commit from
    then on reaches every stream (the page's may have opened a moment before that)."""
    EventStream(web_server.url, session_for(user)).close()


def window(page, number: int):
    return page.locator(f'#drawing g.win[data-window="{number}"]')


def write(rig, user, mv, number: int, body: dict) -> None:
    """A write through the API by `user`, as their own page or script would make it."""
    response = rig.client(user).post(f"/api/multiviewers/{mv.pk}/windows/{number}", body,
                                     format="json")
    assert response.status_code == 200, response.content


def test_a_colleagues_changes_appear_at_once_and_edits_in_progress_stay(rig, open_page,
                                                                       web_server):
    mv = rig.mv(0)  # layout 1: 4 windows; granted to the operator and to "other"
    page = open_as(open_page, web_server, rig.operator)
    live = page.locator("#live")
    expect(live).to_have_attribute("data-state", "connected")
    expect(live.locator("#live-state")).to_have_text("Connected")
    expect(page.locator("#drawing g.win")).to_have_count(4)
    listening(web_server, rig.admin)
    page.evaluate("window.sameDocument = true")

    # The operator is changing window 1's PCM bars when a colleague changes its source and a
    # UMD text: the window flashes with the new source, the inspector shows it and the new text,
    # and the operator's unapplied choice stays (their controls locked by the colleague's lease).
    window(page, 1).click()
    expect(page.locator("#inspector-title")).to_have_text("Window 1")
    bars = page.locator("#pcm-bars")
    current = bars.input_value()
    choice = next(value for value in page.eval_on_selector_all(
        "#pcm-bars option", "options => options.map(o => o.value)") if value not in ("", current))
    bars.select_option(choice)
    source = rig.source(6)
    assert source.label not in window(page, 1).text_content()
    write(rig, rig.other, mv, 1, {"source": source.pk,
                                  "umd": [{"layer": 1, "text": "FROM A COLLEAGUE"}]})
    expect(window(page, 1)).to_contain_text(source.label)
    expect(window(page, 1)).to_have_class(FLASHING)
    expect(page.locator("#insp-current")).to_contain_text(source.label)
    expect(page.locator("#umd-1-text")).to_have_value("FROM A COLLEAGUE")
    expect(bars).to_have_value(choice)
    expect(bars).to_have_class(re.compile(r"\bchanged\b"))
    expect(page.locator("#lease-banner")).to_contain_text("other is editing this multiviewer")
    expect(bars).to_be_disabled()
    expect(page.locator("#live-time")).to_contain_text("last event")

    # A take on window 2: only that window flashes.
    source = rig.source(5)
    write(rig, rig.other, mv, 2, {"source": source.pk})
    expect(window(page, 2)).to_contain_text(source.label)
    expect(window(page, 2)).to_have_class(FLASHING)
    expect(window(page, 4)).not_to_have_class(FLASHING)
    shot(page, "live-colleague-take")
    assert page.evaluate("window.sameDocument") is True  # never reloaded
    # Nothing is polled: the multiviewer and the refresh status were read once, at the start.
    page.wait_for_timeout(4000)  # longer than the 3 s the page used to poll at
    assert page.reads.count(f"/api/multiviewers/{mv.pk}") == 1, page.reads
    assert page.reads.count("/api/refresh/status") == 1, page.reads
    assert page.console_errors == []


def test_the_indicator_follows_the_connection_and_the_page_catches_up(rig, open_page,
                                                                     web_server):
    mv = rig.mv(0)
    page = open_as(open_page, web_server, rig.operator)
    live = page.locator("#live")
    state = live.locator("#live-state")
    expect(live).to_have_attribute("data-state", "connected")
    expect(live.locator("[role=status]")).to_have_attribute("aria-live", "polite")
    page.evaluate("window.sameDocument = true")

    # The server goes away: reconnecting at once, offline after about 10 s; said in words.
    web_server.stop()
    expect(live).to_have_attribute("data-state", "reconnecting")
    expect(state).to_have_text("Reconnecting…")
    expect(page.locator("#live-time")).to_contain_text("last heard")
    expect(live).to_have_attribute("data-state", "offline", timeout=20_000)
    expect(state).to_have_text("Offline")
    expect(page.locator("#live-time")).to_contain_text("not updated since")
    shot(page, "live-offline")

    # Meanwhile a colleague switches window 3 (their write does not need this server).
    source = rig.source(7)
    write(rig, rig.other, mv, 3, {"source": source.pk})

    # The server comes back on the same port: connected again, and the page read what it
    # missed.
    web_server.start()
    expect(live).to_have_attribute("data-state", "connected", timeout=30_000)
    expect(state).to_have_text("Connected")
    expect(window(page, 3)).to_contain_text(source.label)
    expect(page.locator("#lease-banner")).to_contain_text("other is editing this multiviewer")
    assert page.evaluate("window.sameDocument") is True
    shot(page, "live-back")
    assert page.console_errors == []


def test_a_background_preset_apply_is_followed_through_its_events(rig, open_page, web_server,
                                                                   start_workers):
    mv = rig.mv(0)
    # More values to send than one request may carry: the apply becomes a background job.
    web_server.env["MAX_PARAMS_PER_REQUEST"] = "2"
    start_workers("qcluster")
    operator = rig.client(rig.operator)
    saved = operator.post("/api/presets", {"name": "Late news", "multiviewers": [mv.pk],
                                           "groups": ["pcm"]}, format="json")
    assert saved.status_code == 201, saved.content
    before = {w["window"]: w["pcm_bars"] for w in operator.get(
        f"/api/multiviewers/{mv.pk}").json()["windows"]}
    for number in (1, 2, 3):
        write(rig, rig.operator, mv, number, {"pcm_bars": 16 if before[number] != 16 else 2})
    page = open_as(open_page, web_server, rig.operator)
    expect(page.locator("#live")).to_have_attribute("data-state", "connected")
    listening(web_server, rig.admin)

    page.get_by_role("button", name="Presets").click()
    presets = page.locator("#presets-dialog")
    row = presets.locator("#preset-rows tr", has_text="Late news")
    row.get_by_role("button", name="Apply preset Late news").click()
    # The preview comes first: nothing is written until its Apply.
    presets.locator("#preset-preview-apply").click()
    status = presets.locator("#preset-status")
    expect(status).to_have_text(re.compile("^Preset “Late news” applied"), timeout=30_000)
    expect(presets.locator("#preset-result")).to_contain_text("MV 1: done")
    jobs = [path for path in page.reads if path.startswith("/api/presets/jobs/")]
    assert len(jobs) == 1, page.reads  # one read when following starts; events did the rest
    # The page shows the windows as the preset had them (events, no reload).
    page.keyboard.press("Escape")
    window(page, 1).click()
    expect(page.locator("#pcm-bars")).to_have_value(str(before[1]))
    assert page.console_errors == []
