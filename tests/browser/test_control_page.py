"""The operator control page and login, end to end in Chromium against the live stack.

Skipped (one line) where no browser is installed; under CI (CI=true) a missing browser fails.
Screenshots land in tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import re

import pytest

from tests.browser.harness import require_browser

require_browser()

from playwright.sync_api import expect  # noqa: E402 - only once the skip above is decided

from accounts.models import User  # noqa: E402
from tests.browser.conftest import TABLET, ready, shot  # noqa: E402
from tests.fixtures.accounts import DEFAULT_PASSWORD, UserFactory  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "a-much-better-passphrase"


def sign_in(page, login: str, password: str = DEFAULT_PASSWORD) -> None:
    page.goto("/")
    form = page.locator("#login-form")
    expect(form).to_be_visible()
    form.get_by_label("Login").fill(login)
    form.get_by_label("Password", exact=True).fill(password)
    form.get_by_role("button", name="Sign in").click()


def test_first_admin_setup_then_forced_password_change(open_page):
    page = open_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
    setup = page.locator("#setup-form")
    expect(setup).to_be_visible()
    shot(page, "login-first-admin")

    setup.get_by_label("Login").fill("chief")
    setup.get_by_label("Password", exact=True).fill("short")
    setup.get_by_label("Repeat password").fill("short")
    setup.get_by_role("button", name="Create admin and sign in").click()
    # The API's reasons appear next to the form, and nothing was created.
    expect(setup.locator("[data-error]")).to_contain_text("password")
    assert not User.objects.exists()

    setup.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    setup.get_by_label("Repeat password").fill(NEW_PASSWORD)
    setup.get_by_role("button", name="Create admin and sign in").click()
    expect(page).to_have_url(re.compile(r"/#?"))
    expect(page.locator("#user-btn")).to_contain_text("chief")
    ready(page)
    assert User.objects.get().role == "admin"

    # An operator whose password an admin set must choose a new one before anything else.
    UserFactory(login="nightshift", must_change_password=True)
    page.locator("#user-btn").click()
    expect(page.get_by_role("menuitem", name="Admin")).to_be_visible()
    page.get_by_role("menuitem", name="Log out").click()
    expect(page.locator("#login-form")).to_be_visible()
    sign_in(page, "nightshift")
    form = page.locator("#password-form")
    expect(form).to_be_visible()
    shot(page, "login-forced-password-change")
    form.get_by_label("Current password").fill(DEFAULT_PASSWORD)
    form.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    form.get_by_label("Repeat new password").fill(NEW_PASSWORD)
    form.get_by_role("button", name="Change password").click()
    expect(page.locator("#user-btn")).to_contain_text("nightshift")
    ready(page)
    user = User.objects.get(login="nightshift")
    assert not user.must_change_password and user.check_password(NEW_PASSWORD)
    # Operators get no Admin link.
    page.locator("#user-btn").click()
    expect(page.get_by_role("menuitem", name="Log out")).to_be_visible()
    expect(page.get_by_role("menuitem", name="Admin")).to_have_count(0)
    assert page.console_errors == []


# --- the operator's control flow -------------------------------------------------------------

@pytest.fixture
def stack(make_devices):
    """Both emulators with some named sources, their state read once (as `make run` does), and
    an operator granted MV 1 and MV 2 and the first 12 sources."""
    from devices.models import Multiviewer, Source
    from state.models import RefreshRun
    from state.refresh import execute_run
    from state.services import StateService

    devices = make_devices()
    for number, name in NAMED_SOURCES.items():
        devices.quartz.set_name("source", number, name)
    ticket = StateService.start_refresh(trigger=RefreshRun.Trigger.COMMAND)
    execute_run(ticket.run.pk)
    operator = UserFactory(login="operator")
    operator.multiviewers.set(Multiviewer.objects.filter(nexx_index__in=[0, 1]))
    operator.sources.set(Source.objects.filter(quartz_input__lte=12))
    return devices


NAMED_SOURCES = {1: "CAM 1 Studio A", 2: "CAM 2 Studio A", 7: "Graphics 1", 9: "Playout A",
                 20: "Remote Feed"}


def nexx_value(devices, key: str, mv: int, window: int | None = None,
               layer: int | None = None) -> str:
    """What the NEXX emulator holds (indexes 0-based, as the device counts)."""
    from devices.nexx.catalog import param_id

    return devices.nexx.get(param_id(key, mv, window, layer))


def window(page, number: int):
    return page.locator(f'#drawing g.win[data-window="{number}"]')


def test_operator_controls_a_multiviewer_end_to_end(stack, open_page, start_workers, tmp_path):
    from devices.models import Multiviewer
    from state.models import RefreshRun

    devices = stack
    start_workers("qcluster")  # refresh runs need the background worker, as in `make run`
    page = open_page()
    sign_in(page, "operator")
    ready(page)

    # Only the granted multiviewers are offered; the first one is shown.
    selector = page.locator("#mv-select")
    expect(selector.locator("option")).to_have_text(["MV 1", "MV 2"])
    expect(page.locator("#drawing g.win")).to_have_count(4)  # MV 1: layout 1, 2×2
    expect(page.locator("#refresh-last")).to_contain_text("Last refresh: ok")

    # Pick MV 2: layout 2, 16 windows, each with its router output.
    selector.select_option(label="MV 2")
    expect(page.locator("#drawing g.win")).to_have_count(16)
    mv2 = Multiviewer.objects.get(nexx_index=1)
    expect(window(page, 3)).to_contain_text(f"OUT {mv2.output_for_window(3)}")
    shot(page, "control-mv2")

    # Change the layout in the picker: all 43 drawn, a click applies it to the frame.
    page.get_by_role("button", name=re.compile("^Layout")).click()
    dialog = page.locator("#layout-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".layout-option")).to_have_count(43)
    expect(dialog.locator('.layout-option[aria-current="true"]')).to_have_attribute(
        "data-layout", "2")
    shot(page, "layout-picker")
    dialog.locator('.layout-option[data-layout="36"]').click()
    # 16 windows to 9: asked first (tests/browser/test_drawing_layout_presets.py).
    page.locator("#confirm-dialog").get_by_role("button", name="Apply layout 36").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#layout-name")).to_contain_text("36 ·")
    expect(page.locator("#drawing g.win")).to_have_count(9)
    assert nexx_value(devices, "layout", 1) == "35"  # device counts layouts from 0

    # Take a source into window 3: the source panel holds only granted sources; a press takes
    # at once (tests/browser/test_takes.py: by drag and by keyboard too).
    window(page, 3).click()
    inspector = page.locator("#inspector-form")
    expect(inspector).to_be_visible()
    expect(page.locator("#inspector-title")).to_have_text("Window 3")
    buttons = page.locator("#source-grid button.src-btn")
    expect(buttons).to_have_count(12)
    page.locator("#source-filter").fill("graph")
    expect(buttons).to_have_count(1)
    page.locator("#source-filter").fill("remote")  # source 20 is not granted
    expect(buttons).to_have_count(0)
    page.locator("#source-filter").fill("graph")
    buttons.first.click()
    expect(window(page, 3)).to_contain_text("Graphics 1")
    expect(page.locator("#take-status")).to_contain_text("Window 3 shows Graphics 1 (IN 7)")
    assert devices.quartz.route(mv2.output_for_window(3)) == 7

    # Edit UMD layer 2: the text can be typed only while the type is Static.
    page.get_by_role("tab", name="Layer 2").click()
    layer_type = page.locator("#umd-2-type")
    text = page.locator("#umd-2-text")
    layer_type.select_option(label="Off")
    expect(text).to_be_disabled()
    layer_type.select_option(label="Static")
    expect(text).to_be_enabled()
    text.fill("STUDIO B")
    page.locator("#umd-2-text_colour").select_option(label="Yellow")
    page.locator("#umd-2-x").fill("120")
    expect(page.locator("#inspector-pending")).to_have_text("4 changes pending")
    shot(page, "inspector-umd")
    page.get_by_role("button", name="Apply", exact=True).click()
    expect(page.locator("#inspector-status")).to_have_text(
        "Applied to window 3 on the NEXX frame: UMD layer 2.")
    assert nexx_value(devices, "text", 1, 2, 1) == "STUDIO B"
    assert nexx_value(devices, "type", 1, 2, 1) == "1"
    assert nexx_value(devices, "x", 1, 2, 1) == "120"
    yellow = next(c["device_value"] for c in _choices("text_colour") if c["label"] == "Yellow")
    assert nexx_value(devices, "text_colour", 1, 2, 1) == str(yellow)

    # Save a preset of MV 1 and MV 2, change the font, apply the preset: the font comes back.
    font_before = nexx_value(devices, "font", 1)
    page.get_by_role("button", name="Presets").click()
    presets = page.locator("#presets-dialog")
    expect(presets).to_be_visible()
    presets.get_by_role("button", name="All", exact=True).click()
    presets.get_by_label("Preset name").fill("Evening news")
    presets.get_by_role("button", name="Save preset").click()
    row = presets.locator("#preset-rows tr", has_text="Evening news")
    expect(row).to_contain_text("MV 1, MV 2")
    shot(page, "presets-saved")
    presets.get_by_role("button", name="Close").click()
    expect(presets).to_be_hidden()

    font = page.locator('[data-param="font"]')
    other_font = next(c for c in _choices("font") if str(c["device_value"]) != font_before)
    # The multiviewer's settings are edited, then applied.
    font.select_option(label=other_font["label"])
    expect(page.locator("#params-pending")).to_have_text("1 change pending")
    assert nexx_value(devices, "font", 1) == font_before
    shot(page, "params-pending")
    page.get_by_role("button", name="Apply settings").click()
    expect(page.locator("#params-toasts")).to_have_text("Font applied on the NEXX frame.")
    expect(page.locator("#params-pending")).to_have_text("")
    assert nexx_value(devices, "font", 1) == str(other_font["device_value"])

    # Apply shows what would change first (tests/browser/test_drawing_layout_presets.py), then
    # writes it.
    page.get_by_role("button", name="Presets").click()
    presets.get_by_role("button", name="All", exact=True).click()
    row.get_by_role("button", name="Apply preset Evening news").click()
    expect(presets.locator("#preset-preview")).to_be_visible()
    assert nexx_value(devices, "font", 1) == str(other_font["device_value"])
    apply = presets.locator("#preset-preview-apply")
    expect(apply).to_have_text("Apply to 2 multiviewers")
    shot(page, "presets-confirm")
    apply.click()
    expect(presets.locator("#preset-status")).to_contain_text("applied")
    error = presets.locator("#preset-list-error")
    expect(error).to_be_hidden()
    assert nexx_value(devices, "font", 1) == font_before
    assert devices.quartz.route(mv2.output_for_window(3)) == 7
    shot(page, "presets-applied")
    confirm = page.locator("#confirm-dialog")

    # Export downloads the preset document; after a delete, importing the file brings it back.
    with page.expect_download() as download_info:
        row.get_by_role("button", name="Export preset Evening news").click()
    download = download_info.value
    exported = tmp_path / download.suggested_filename
    download.save_as(exported)
    document = json.loads(exported.read_text())
    assert document["format"] == "mvcontrol.preset" and document["name"] == "Evening news"
    assert [mv["nexx_index"] for mv in document["multiviewers"]] == [0, 1]
    row.get_by_role("button", name="Delete preset Evening news").click()
    confirm.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(0)
    presets.locator("#preset-file").set_input_files(str(exported))
    expect(presets.locator("#preset-file-name")).to_have_text(download.suggested_filename)
    presets.get_by_role("button", name="Import").click()
    expect(presets.locator("#preset-status")).to_have_text("Imported preset “Evening news”.")
    expect(row).to_contain_text("MV 1, MV 2")
    # The same file again: the name is taken, and the page says so next to the list.
    presets.locator("#preset-file").set_input_files(str(exported))
    presets.get_by_role("button", name="Import").click()
    expect(error).to_be_visible()
    expect(error).to_contain_text("Evening news")
    page.keyboard.press("Escape")
    expect(presets).to_be_hidden()
    expect(font).to_have_value(str(_operator_value("font", font_before)))

    # Refresh: live progress while it reads, then the new "last refresh" line. The page does
    # not move when the progress bar and its line appear (their place is kept).
    page.evaluate("""() => {
        window.progressSeen = [];
        window.workspaceTops = [];
        const workspace = document.getElementById('workspace');
        const top = () => window.workspaceTops.push(workspace.getBoundingClientRect().top);
        top();
        const node = document.getElementById('refresh-detail');
        new MutationObserver(() => { window.progressSeen.push(node.textContent); top(); })
            .observe(node, {childList: true, characterData: true, subtree: true});
        new MutationObserver(top).observe(document.getElementById('refresh-progress'),
            {attributes: true, attributeFilter: ['hidden']});
    }""")
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator("#refresh-detail")).to_have_text("Refresh done.", timeout=60_000)
    seen = page.evaluate("window.progressSeen")
    assert any(text.startswith(("Refresh queued", "Waiting", "Reading", "Starting"))
               for text in seen), seen
    tops = page.evaluate("window.workspaceTops")
    assert len(tops) > 2 and len(set(tops)) == 1, tops
    latest = RefreshRun.objects.order_by("-started_at").first()
    assert latest.trigger == "manual" and latest.status == "success"
    expect(page.locator("#refresh-last")).to_contain_text("Last refresh: ok")
    assert page.console_errors == []


def _choices(key: str) -> list[dict]:
    from devices.catalog import catalog_document

    scope = {"font": "multiviewer"}.get(key, "layer")
    return next(p for p in catalog_document()["parameters"]
                if p["key"] == key and p["scope"] == scope)["choices"]


def _operator_value(key: str, device_value: str) -> int:
    return next(c["value"] for c in _choices(key) if str(c["device_value"]) == device_value)


def test_live_routing_and_the_edit_lease_of_another_user(stack, open_page, start_workers):
    from control import leases
    from devices.models import Multiviewer
    from tests.fixtures.accounts import AdminFactory

    devices = stack
    start_workers("quartz_listen")  # takes on other panels reach the state, as in `make run`
    mv1 = Multiviewer.objects.get(nexx_index=0)
    page = open_page()
    sign_in(page, "operator")
    ready(page)
    expect(page.locator("#drawing g.win")).to_have_count(4)

    # A take on another router panel shows up without a reload.
    output = mv1.output_for_window(2)
    devices.quartz.set_route(output, 9)
    expect(window(page, 2)).to_contain_text("Playout A")
    expect(window(page, 2)).to_contain_text(f"OUT {output}")

    # Someone else is editing MV 1: the operator sees who and until when; controls are off.
    editor = UserFactory(login="editor")
    until = leases.acquire(multiviewer=mv1, user=editor)
    banner = page.locator("#lease-banner")
    expect(banner).to_contain_text("editor is editing this multiviewer until")
    expect(banner).to_contain_text(until.strftime("%H:%M"))
    expect(page.locator("#layout-btn")).to_be_disabled()
    expect(page.locator('[data-param="font"]')).to_be_disabled()
    window(page, 1).click()
    expect(page.get_by_role("button", name="Apply", exact=True)).to_be_disabled()
    expect(page.locator("#source-grid button.src-btn").first).to_be_disabled()
    expect(page.locator("#lease-break")).to_have_count(0)  # breaking a lease is for admins
    shot(page, "lease-held")

    # An admin breaks the lease from their own page; the operator's controls come back.
    AdminFactory(login="chief")
    admin_page = open_page()
    sign_in(admin_page, "chief")
    ready(admin_page)
    admin_page.get_by_role("button", name="Break the lease").click()
    expect(admin_page.locator("#lease-banner")).to_be_hidden()
    assert leases.current(multiviewer=mv1) is None
    expect(banner).to_be_hidden()
    expect(page.get_by_role("button", name="Apply", exact=True)).to_be_enabled()
    expect(page.locator("#source-grid button.src-btn").first).to_be_enabled()
    expect(page.locator("#layout-btn")).to_be_enabled()
    assert page.console_errors == [] and admin_page.console_errors == []


def test_tablet_width_keyboard_only_and_device_errors(stack, open_page):
    devices = stack
    page = open_page(TABLET)
    sign_in(page, "operator")
    ready(page)

    # Every control is reachable with Tab; the windows too.
    focused = []
    for _ in range(30):
        page.keyboard.press("Tab")
        focused.append(page.evaluate(
            "() => { const e = document.activeElement; return e.id || e.dataset.window"
            " && 'window ' + e.dataset.window || e.tagName; }"))
        if focused[-1] == "window 1":
            break
    for wanted in ("mv-select", "refresh-btn", "presets-btn", "user-btn", "layout-btn",
                   "window 1"):
        assert wanted in focused, focused

    # Arrow keys move between windows; Enter opens the inspector.
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    expect(page.locator("#inspector-title")).to_have_text("Window 2")
    expect(window(page, 2)).to_have_attribute("aria-pressed", "true")

    # The layout dialog: Enter opens it, Tab stays inside, Escape closes it and focus returns.
    page.locator("#layout-btn").focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#layout-dialog")
    expect(dialog).to_be_visible()
    for _ in range(50):
        page.keyboard.press("Tab")
        assert page.evaluate("document.getElementById('layout-dialog')"
                             ".contains(document.activeElement)")
    shot(page, "tablet-layout-dialog")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator("#layout-btn")).to_be_focused()

    # The NEXX frame fails: a note next to the Apply button says so; nothing changed, the edit
    # stays pending.
    bars_before = nexx_value(devices, "pcm_bars", 0, 1)
    devices.nexx.set_fault("http_500")
    page.locator("#pcm-bars").focus()
    page.keyboard.press("End")  # the last choice: 16 bars
    expect(page.locator("#inspector-pending")).to_have_text("1 change pending")
    page.locator("#inspector-apply").focus()
    page.keyboard.press("Enter")
    error = page.locator("#inspector-status .toast.error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Window 2: not applied.")
    expect(error).to_contain_text("NEXX")
    devices.nexx.clear_faults()
    assert nexx_value(devices, "pcm_bars", 0, 1) == bars_before
    expect(page.locator("#inspector-pending")).to_have_text("1 change pending")
    page.locator("#inspector").scroll_into_view_if_needed()
    shot(page, "tablet-device-error")
    assert page.console_errors == []


def test_a_window_whose_route_is_unknown_says_so(make_devices, open_page):
    """Issue 20: a router that answers neither `.L` nor `.I`: the refresh is partial and the
    windows it could not read say "Route unknown" (not "No source", not blank); one whose
    route is known (quartz_listen stored a `.U`) shows its source."""
    from devices.models import Multiviewer, Source
    from state.models import RefreshRun, RoutingState
    from state.refresh import execute_run
    from state.services import StateService

    devices = make_devices()
    devices.quartz.set_name("source", 9, "Playout A")
    devices.quartz.unreadable_routes = True
    ticket = StateService.start_refresh(trigger=RefreshRun.Trigger.COMMAND)
    outcome = execute_run(ticket.run.pk)
    assert outcome.status == "partial" and outcome.counts["routes"] == 0
    mv1 = Multiviewer.objects.get(nexx_index=0)
    assert RoutingState.objects.get(output=mv1.output_for_window(1)).input is None
    RoutingState.objects.filter(output=mv1.output_for_window(3)).update(input=9)
    operator = UserFactory(login="operator")
    operator.multiviewers.set([mv1])
    operator.sources.set(Source.objects.filter(quartz_input__lte=12))

    page = open_page()
    sign_in(page, "operator")
    ready(page)
    expect(page.locator("#drawing g.win")).to_have_count(4)
    for number in (1, 2, 4):
        expect(window(page, number)).to_contain_text("Route unknown")
        expect(window(page, number)).to_have_attribute(
            "aria-label", re.compile(r"source route unknown$"))
    expect(window(page, 3)).to_contain_text("Playout A")
    expect(page.locator("#drawing")).not_to_contain_text("No source")
    expect(page.locator("#refresh-last")).to_contain_text("Last refresh: partial")

    window(page, 1).click()
    expect(page.locator("#insp-current")).to_have_text(
        "route unknown (the router has not said what feeds this output)")
    window(page, 3).click()
    expect(page.locator("#insp-current")).to_have_text("Playout A (IN 9)")
    shot(page, "control-route-unknown")
    assert page.console_errors == []
