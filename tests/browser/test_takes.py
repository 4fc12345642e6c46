"""Takes like a router panel, and errors where the eye is (issue 23), in Chromium against the
live stack: a take by click, by drag and by keyboard, each switching the router emulator and
shown in the drawing; the shortcuts overlay; favourites kept on the server; a refused UMD text
with its sentence in view and a toast; `#mv=` by the multiviewer's number.

Skipped (one line) where no browser is installed; under CI (CI=true) a missing browser fails.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.harness import require_browser

require_browser()

from playwright.sync_api import expect  # noqa: E402 - only once the skip above is decided

from tests.browser.conftest import ready, shot  # noqa: E402
from tests.fixtures.accounts import AdminFactory, UserFactory  # noqa: E402
from tests.fixtures.live import session_for  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)

NAMES = {1: "CAM 1", 2: "CAM 2", 3: "CAM 3", 4: "CAM 4", 7: "Graphics 1", 9: "Playout A",
         12: "CAM 12", 20: "Remote Feed"}
CATEGORIES = {1: "Cameras", 2: "Cameras", 3: "Cameras", 4: "Cameras", 12: "Cameras",
              7: "Graphics"}
GRANTED = range(1, 13)  # the operator's sources: inputs 1..12 (20 is not theirs)


@pytest.fixture
def panel(make_devices):
    """Both emulators, named sources with categories, the state read once; MV 3 (index 2) is
    off on the frame. An operator granted MV 1, 2 and 3 and sources 1..12. Multiviewer ids are
    kept apart from their numbers, so that an address using the id would show."""
    from devices.models import Multiviewer, Source
    from devices.nexx.catalog import param_id
    from state.models import RefreshRun
    from state.refresh import execute_run
    from state.services import StateService

    devices = make_devices()
    for number, name in NAMES.items():
        devices.quartz.set_name("source", number, name)
    for index in range(100, 110):  # the ids of the multiviewers read next start above 10
        Multiviewer.objects.create(nexx_index=index).delete()
    ticket = StateService.start_refresh(trigger=RefreshRun.Trigger.COMMAND)
    execute_run(ticket.run.pk)
    # MV 3 is switched off on the frame, and the state read again.
    devices.nexx.set(param_id("enable", 2), 0)
    ticket = StateService.start_refresh(trigger=RefreshRun.Trigger.COMMAND)
    execute_run(ticket.run.pk)
    for number, category in CATEGORIES.items():
        Source.objects.filter(quartz_input=number).update(category=category)
    operator = UserFactory(login="operator")
    operator.multiviewers.set(Multiviewer.objects.filter(nexx_index__in=[0, 1, 2]))
    operator.sources.set(Source.objects.filter(quartz_input__in=GRANTED))
    devices.operator = operator
    return devices


def open_as(open_page, web_server, user, path: str = "/", viewport: dict | None = None):
    """The control page of `user` (signed in by their session's cookie), ready."""
    page = open_page(viewport)
    page.context.add_cookies([{"name": "sessionid", "value": session_for(user),
                               "url": web_server.url}])
    page.goto(path)
    ready(page)
    return page


def window(page, number: int):
    return page.locator(f'#drawing g.win[data-window="{number}"]')


def source_button(page, quartz_input: int):
    return page.locator(f'#source-grid button.src-btn[data-input="{quartz_input}"]')


def route_of(devices, mv, number: int) -> int:
    """The router emulator's input on the output window `number` of `mv` shows."""
    return devices.quartz.route(mv.output_for_window(number))


def nexx_value(devices, key: str, mv: int, window: int | None = None,
               layer: int | None = None) -> str:
    from devices.nexx.catalog import param_id

    return devices.nexx.get(param_id(key, mv, window, layer))


def nothing_focused(page) -> None:
    page.evaluate("() => document.activeElement && document.activeElement.blur()")


def test_a_keyboard_take_from_page_load_then_by_click_and_by_drag(panel, open_page, web_server):
    from devices.models import Multiviewer

    devices = panel
    mv1 = Multiviewer.objects.get(nexx_index=0)
    page = open_as(open_page, web_server, devices.operator)
    expect(page.locator("#drawing g.win")).to_have_count(4)
    assert route_of(devices, mv1, 3) != 12

    # From page load, five keys: the window number, Enter, the source number, Enter.
    keys = ["3", "Enter", "1", "2", "Enter"]
    for key in keys:
        page.keyboard.press(key)
    expect(window(page, 3)).to_contain_text("CAM 12")
    assert route_of(devices, mv1, 3) == 12
    assert len(keys) == 5  # the count docs/control-page.md gives
    expect(window(page, 3)).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#inspector-title")).to_have_text("Window 3")
    expect(page.locator("#insp-current")).to_have_text("CAM 12 (IN 12)")
    expect(page.locator("#take-status .toast.ok")).to_contain_text(
        f"Window 3 shows CAM 12 (IN 12): the router switched output "
        f"{mv1.output_for_window(3)} to input 12.")
    expect(source_button(page, 12)).to_have_class(re.compile(r"\bon-air\b"))
    # The line starts over at the window; Enter alone keeps window 3.
    expect(page.locator("#take-window-field")).to_have_class(re.compile(r"\bactive\b"))
    expect(page.locator("#take-window")).to_have_text("3")
    for key in ["Enter", "4", "Enter"]:
        page.keyboard.press(key)
    expect(window(page, 3)).to_contain_text("CAM 4")
    assert route_of(devices, mv1, 3) == 4
    shot(page, "takes-keyboard")

    # Only the operator's sources are buttons; the filter narrows them; categories are tabs.
    expect(page.locator("#source-grid button.src-btn")).to_have_count(len(GRANTED))
    expect(source_button(page, 20)).to_have_count(0)
    expect(page.locator("#source-tabs [role=tab]")).to_have_text(
        ["All", "Cameras", "Graphics", "★ Favourites"])
    page.get_by_role("tab", name="Cameras").click()
    expect(page.locator("#source-grid button.src-btn")).to_have_count(5)
    page.get_by_role("tab", name="All").click()
    page.locator("#source-filter").fill("graph")
    expect(page.locator("#source-grid button.src-btn")).to_have_count(1)
    page.locator("#source-filter").fill("remote")  # source 20 is not granted
    expect(page.locator("#source-grid button.src-btn")).to_have_count(0)
    expect(page.locator("#source-empty")).to_have_text("No source matches “remote”.")
    page.locator("#source-filter").fill("")

    # By click: select window 2, press a source: taken at once, nothing else is sent — a UMD
    # edit pending in the inspector stays pending.
    window(page, 2).click()
    text_before = nexx_value(devices, "text", 0, 1, 0)
    page.locator("#umd-1-text").fill("NOT YET")
    expect(page.locator("#inspector-pending")).to_have_text("1 change pending")
    page.evaluate("document.querySelectorAll('#take-status .toast').forEach((n) => n.remove())")
    where = source_button(page, 7).bounding_box()
    source_button(page, 7).click()
    expect(window(page, 2)).to_contain_text("Graphics 1")
    assert route_of(devices, mv1, 2) == 7
    expect(page.locator("#take-status .toast.ok")).to_contain_text("Window 2 shows Graphics 1")
    # The note does not move the buttons: the next press lands where the operator aims.
    assert source_button(page, 7).bounding_box() == where
    expect(page.locator("#umd-1-text")).to_have_value("NOT YET")
    expect(page.locator("#inspector-pending")).to_have_text("1 change pending")
    assert nexx_value(devices, "text", 0, 1, 0) == text_before

    # By drag: a source dropped on window 4 (HTML5 drag and drop) is taken there; the
    # selection stays on window 2.
    assert route_of(devices, mv1, 4) != 9
    page.evaluate("""() => {
        window.dragEvents = [];
        for (const kind of ['dragstart', 'dragover', 'drop']) {
            document.addEventListener(kind, () => window.dragEvents.push(kind), true);
        }
    }""")
    source_button(page, 9).drag_to(window(page, 4))
    expect(window(page, 4)).to_contain_text("Playout A")
    assert route_of(devices, mv1, 4) == 9
    events = page.evaluate("window.dragEvents")
    assert "dragstart" in events and "drop" in events, events
    expect(window(page, 2)).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#take-status .toast.ok")).to_contain_text("Window 4 shows Playout A")
    shot(page, "takes-drag")

    # Selecting another window does not drop window 2's pending edit silently: asked first.
    window(page, 1).click()
    confirm = page.locator("#confirm-dialog")
    expect(confirm).to_contain_text("Window 2 has 1 change not applied")
    confirm.get_by_role("button", name="Cancel").click()
    expect(page.locator("#inspector-title")).to_have_text("Window 2")
    expect(page.locator("#umd-1-text")).to_have_value("NOT YET")
    window(page, 1).click()
    confirm.get_by_role("button", name="Discard and select window 1").click()
    expect(page.locator("#inspector-title")).to_have_text("Window 1")
    expect(page.locator("#inspector-pending")).to_have_text("No changes pending")
    assert nexx_value(devices, "text", 0, 1, 0) == text_before
    assert page.console_errors == []


def test_keyboard_mistakes_send_nothing_and_the_shortcuts_overlay(panel, open_page, web_server):
    from devices.models import Multiviewer

    devices = panel
    mv1 = Multiviewer.objects.get(nexx_index=0)
    page = open_as(open_page, web_server, devices.operator)
    expect(page.locator("#drawing g.win")).to_have_count(4)
    hint = page.locator("#take-hint")
    routes = {n: route_of(devices, mv1, n) for n in range(1, 5)}

    # A window the layout does not have, a source that is not the operator's: said, not sent.
    for key in ["9", "Enter"]:
        page.keyboard.press(key)
    expect(hint).to_have_text("MV 1 has no window 9: layout 1 has windows 1 to 4.")
    for key in ["2", "Enter", "2", "0"]:
        page.keyboard.press(key)
    expect(page.locator("#take-source")).to_have_text("20")
    expect(page.locator("#take-source-name")).to_have_text("not one of yours")
    page.keyboard.press("Enter")
    expect(hint).to_have_text("Source 20 is not one of your sources.")
    # Backspace and Escape correct the line.
    for key in ["5", "Backspace", "Escape"]:
        page.keyboard.press(key)
    expect(page.locator("#take-source")).to_have_text("")
    assert {n: route_of(devices, mv1, n) for n in range(1, 5)} == routes

    # Digits typed into a text field are that field's, not the take line's.
    page.keyboard.press("/")
    expect(page.locator("#source-filter")).to_be_focused()
    page.keyboard.type("12")
    expect(page.locator("#source-filter")).to_have_value("12")
    expect(page.locator("#take-source")).to_have_text("")
    expect(page.locator("#source-grid button.src-btn")).to_have_count(1)
    page.keyboard.press("Enter")  # the only match, into the selected window 2
    expect(window(page, 2)).to_contain_text("CAM 12")
    assert route_of(devices, mv1, 2) == 12
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    expect(page.locator("#source-filter")).not_to_be_focused()

    # ? lists every shortcut; Escape closes the list.
    nothing_focused(page)
    page.keyboard.press("?")
    dialog = page.locator("#shortcuts-dialog")
    expect(dialog).to_be_visible()
    rows = dialog.locator("tbody tr")
    expect(rows.first).to_contain_text("Type the window number, then the source number")
    for words in ("select that window", "Delete the last digit", "Clear the take line",
                  "Filter the sources", "favourites", "Apply the pending changes",
                  "Show this list"):
        expect(dialog).to_contain_text(words)
    shot(page, "takes-shortcuts")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")

    # Another user's lease: takes are refused on the page, said once (the banner says who and
    # until when, the toast only that nothing was sent).
    from control import leases

    editor = UserFactory(login="editor")
    leases.break_lease(multiviewer=mv1)  # the operator's own, from the take above
    leases.acquire(multiviewer=mv1, user=editor)
    expect(page.locator("#lease-banner")).to_be_visible()
    expect(source_button(page, 7)).to_be_disabled()
    nothing_focused(page)
    for key in ["Enter", "7", "Enter"]:
        page.keyboard.press(key)
    note = page.locator("#take-status .toast.error")
    expect(note).to_have_text("Take into window 2: not sent: editor is editing this multiviewer.")
    assert route_of(devices, mv1, 2) == 12
    assert page.locator("body").inner_text().count("is editing this multiviewer until") == 1
    assert page.console_errors == []


def test_favourites_are_kept_on_the_server(panel, open_page, web_server):
    from accounts.models import User

    devices = panel
    page = open_as(open_page, web_server, devices.operator)
    # A source pressed with no window selected: said where the take would be, nothing sent.
    source_button(page, 9).click()
    expect(page.locator("#take-status .toast.info")).to_contain_text("Select a window first")
    page.get_by_role("tab", name="★ Favourites").click()
    expect(page.locator("#source-empty")).to_contain_text("No favourites yet")
    page.get_by_role("tab", name="All").click()
    for number in (9, 3):
        page.get_by_role("button", name=f"Favourite: {NAMES[number]}").click()
    expect(page.get_by_role("button", name="Favourite: Playout A")).to_have_attribute(
        "aria-pressed", "true")
    operator = User.objects.get(login="operator")
    expect(page.locator("#source-grid .src-cell.favourite")).to_have_count(2)
    # The server has them (the PUTs answered before the next read below).
    page.reload()
    ready(page)
    expect(page.get_by_role("tab", name="★ Favourites")).to_have_attribute(
        "aria-selected", "false")
    page.get_by_role("tab", name="★ Favourites").click()
    expect(page.locator("#source-grid button.src-btn")).to_have_text(["3 CAM 3", "9 Playout A"])
    assert sorted(operator.favourite_sources.values_list("quartz_input", flat=True)) == [3, 9]

    # Unstarred: gone from the favourites, on the server too; the tab is remembered.
    page.get_by_role("button", name="Favourite: CAM 3").click()
    expect(page.locator("#source-grid button.src-btn")).to_have_text(["9 Playout A"])
    page.reload()
    ready(page)
    expect(page.get_by_role("tab", name="★ Favourites")).to_have_attribute(
        "aria-selected", "true")
    expect(page.locator("#source-grid button.src-btn")).to_have_text(["9 Playout A"])
    assert list(operator.favourite_sources.values_list("quartz_input", flat=True)) == [9]
    shot(page, "takes-favourites")
    assert page.console_errors == []


# Where the eye is: inside the viewport, and the topmost element at its centre is itself or one
# of its children (not the sticky Apply bar, not a toast).
IN_VIEW = """(element) => {
    const box = element.getBoundingClientRect();
    const x = box.left + box.width / 2;
    const y = box.top + box.height / 2;
    const inside = box.width > 0 && box.height > 0 && box.top >= 0 && box.left >= 0
        && box.bottom <= window.innerHeight && box.right <= window.innerWidth;
    const top = document.elementFromPoint(x, y);
    return inside && top !== null && element.contains(top);
}"""


def test_a_refused_umd_text_shows_its_sentence_in_view_and_a_toast(panel, open_page,
                                                                  web_server):
    devices = panel
    page = open_as(open_page, web_server, devices.operator,
                   viewport={"width": 1280, "height": 640})
    window(page, 1).click()
    text = page.locator("#umd-1-text")
    before = nexx_value(devices, "text", 0, 0, 0)
    expect(text).to_be_enabled()  # layer 1 is a Static text in the emulator
    long_text = "A" * 70

    # Not cut: the counter says how long, red past the limit; the field looks invalid (red wins
    # over the amber "changed").
    text.fill(long_text)
    expect(text).to_have_value(long_text)
    counter = page.locator("#umd-1-text-counter")
    expect(counter).to_have_text("70/64")
    expect(counter).to_have_class(re.compile(r"\bover\b"))
    expect(text).to_have_attribute("aria-invalid", "true")
    expect(text).to_have_class(re.compile(r"\bchanged\b"))
    colour = text.evaluate("(node) => getComputedStyle(node).borderTopColor")
    assert colour == "rgb(255, 107, 94)", colour  # --danger, not the amber of "changed"

    # Scrolled away from the field, Apply: the server refuses; its sentence appears under the
    # field, scrolled into view above the sticky Apply bar, and a toast says nothing was sent.
    page.locator("#inspector").evaluate("(node) => { node.scrollTop = node.scrollHeight; }")
    page.locator("#inspector-apply").click()
    sentence = "Text is 70 characters long; at most 64 characters, without control characters."
    error = page.locator("#umd-1-text-error")
    expect(error).to_have_text(sentence)
    expect(page.locator("#inspector-status .toast.error")).to_have_text(
        "Window 1: refused, nothing was sent: correct the field marked in red.")
    page.wait_for_function(f"() => ({IN_VIEW})(document.getElementById('umd-1-text-error'))")
    assert error.evaluate(IN_VIEW)
    assert text.evaluate(IN_VIEW)
    expect(text).to_be_focused()
    # Said once: not again in a list, a banner or the toast.
    assert page.locator("body").inner_text().count("70 characters long") == 1
    assert nexx_value(devices, "text", 0, 0, 0) == before
    shot(page, "takes-refused-umd-text")

    # The pending marker and the per-field revert: back to the device's value, nothing pending.
    expect(page.locator("#inspector-pending")).to_have_text("1 change pending")
    expect(page.locator("#umd-tab-1")).to_have_class(re.compile(r"\binvalid\b"))
    page.get_by_role("button", name=re.compile("^Revert Text to")).click()
    expect(text).to_have_value(before)
    expect(error).to_be_hidden()
    expect(text).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#inspector-pending")).to_have_text("No changes pending")

    # A change that goes through: applied, said near Apply; the note goes as soon as a new
    # edit is pending.
    text.fill("STUDIO")
    expect(page.locator("#inspector-pending")).to_have_text("1 change pending")
    page.locator("#inspector-apply").click()
    applied = page.locator("#inspector-status .toast.ok")
    expect(applied).to_have_text("Applied to window 1 on the NEXX frame: UMD layer 1.")
    assert nexx_value(devices, "text", 0, 0, 0) == "STUDIO"
    expect(page.locator("#inspector-pending")).to_have_text("No changes pending")
    # (Counted at once, not waited for: a success note also leaves by itself after a while.)
    assert applied.count() == 1
    text.fill("STUDIO B")
    assert applied.count() == 0
    expect(page.locator("#inspector-pending")).to_have_text("1 change pending")
    assert page.console_errors == []


def test_a_rate_limited_take_says_when_to_try_again_once(panel, open_page, web_server):
    """The browser tests' web server runs without rate limits; this one runs with them on and
    a write rate of one take a minute, so the second take meets the API's real 429."""
    from devices.models import Multiviewer

    devices = panel
    mv1 = Multiviewer.objects.get(nexx_index=0)
    web_server.env.update(RATELIMIT_ENABLE="true", WRITE_RATE="1/m")
    assert route_of(devices, mv1, 1) not in (7, 8)
    page = open_as(open_page, web_server, devices.operator)
    window(page, 1).click()
    source_button(page, 7).click()
    expect(page.locator("#take-status .toast.ok")).to_be_visible()
    assert route_of(devices, mv1, 1) == 7
    source_button(page, 8).click()
    note = page.locator("#take-status .toast.error")
    expect(note).to_contain_text("Take into window 1: refused, nothing was sent.")
    expect(note).to_contain_text(re.compile(r"try again in \d+ s\.", re.IGNORECASE))
    assert len(re.findall(r"try again in \d+ s", page.locator("body").inner_text(),
                          re.IGNORECASE)) == 1
    assert route_of(devices, mv1, 1) == 7  # the refused take reached no device
    assert page.console_errors == []


def test_the_address_uses_the_multiviewer_number(panel, open_page, web_server):
    from devices.models import Multiviewer

    devices = panel
    mv2 = Multiviewer.objects.get(nexx_index=1)
    mv3 = Multiviewer.objects.get(nexx_index=2)
    assert mv2.pk != mv2.number and not mv3.enabled  # as the fixture made them
    page = open_page()
    page.context.add_cookies([{"name": "sessionid", "value": session_for(devices.operator),
                               "url": web_server.url}])
    reads = []
    page.on("request", lambda request: reads.append(request.url.split(web_server.url, 1)[-1])
            if request.method == "GET" and "/api/multiviewers/" in request.url else None)
    page.goto("/#mv=2")
    ready(page)
    expect(page.locator("#stage-title")).to_have_text("MV 2")
    expect(page.locator("#drawing g.win")).to_have_count(16)
    assert reads == [f"/api/multiviewers/{mv2.pk}"], reads
    selector = page.locator("#mv-select")
    expect(selector).to_have_value("2")

    # Chosen in the selector: the address follows, with the number.
    selector.select_option(label="MV 1")
    expect(page.locator("#drawing g.win")).to_have_count(4)
    expect(page).to_have_url(re.compile(r"#mv=1$"))
    # An address typed by hand opens that number.
    page.evaluate("location.hash = '#mv=2'")
    expect(page.locator("#stage-title")).to_have_text("MV 2")

    # MV 3 is off on the frame: listed greyed and marked, and an operator cannot open it.
    off = selector.locator("option", has_text="MV 3")
    expect(off).to_have_text("MV 3 · off on the frame")
    expect(off).to_be_disabled()
    page.goto("/#mv=3")
    page.reload()
    ready(page)
    expect(page.locator("#page-error")).to_contain_text("MV 3 is off on the frame")
    expect(page.locator("#stage-title")).not_to_have_text(re.compile("MV 3"))
    shot(page, "takes-mv-off")

    # An admin can open it; it stays marked.
    admin = AdminFactory(login="chief")
    admin_page = open_as(open_page, web_server, admin, path="/#mv=3")
    expect(admin_page.locator("#stage-title")).to_have_text("MV 3 · off on the frame")
    admin_option = admin_page.locator("#mv-select option", has_text="MV 3")
    expect(admin_option).to_have_text("MV 3 · off on the frame")
    expect(admin_option).to_be_enabled()
    assert page.console_errors == [] and admin_page.console_errors == []


def test_outcome_notes_say_what_happened_to_the_devices_once(panel, open_page, web_server):
    """The notes for outcomes the page cannot easily provoke on the emulators (a partial apply,
    a device that does not answer, a lost connection), from the page's own modules."""
    page = open_as(open_page, web_server, panel.operator)
    notes = page.evaluate("""async () => {
        const { ApiError, describeError, fieldName } = await import('/static/js/api.js');
        const { failureNote } = await import('/static/js/toast.js');
        const timeout = 'Quartz router 10.0.0.5:6543 did not answer .SV17,4 within 2 s';
        const partial = new ApiError(504, {error: 'device_timeout', device: 'quartz',
            detail: `${timeout}. The change was partly applied — applied: window 3 umd layer 1`
                + '; failed: window 3 source.', fields: {},
            result: {ok: false, partial: true, skipped: [], requests: 2,
                     applied: ['window 3 umd layer 1', 'window 3 pcm_bars'],
                     failed: [{item: 'window 3 source', error: 'device_timeout',
                               detail: timeout}]}});
        const device = new ApiError(504, {error: 'device_timeout', device: 'nexx',
            detail: 'NEXX frame 10.0.0.9:443 did not answer within 5 s', fields: {}});
        const network = new ApiError(0, {error: 'network', detail: 'No answer.'});
        const fields = new ApiError(400, {error: 'validation_error',
            detail: 'The change has invalid values: windows.3.source.',
            fields: {'windows.3.source': ['You have no access to source 20: Remote Feed.']}});
        const says = (error) => describeError(error).title;
        return {
            partial: failureNote(partial, {what: 'Window 3'}),
            device: failureNote(device, {what: 'Window 3'}),
            network: failureNote(network, {what: 'Take into window 3'}).title,
            fields: failureNote(fields, {what: 'Take into window 3'}),
            rateSaid: says(new ApiError(429, {detail: 'Too many writes; try again in 2 s.'}, 2)),
            rateAdded: says(new ApiError(429, {detail: 'Too many writes.'}, 2)),
            name: fieldName('windows.5.umd.1.text'),
        };
    }""")
    assert notes["partial"] == {
        "tone": "partial",
        "title": "Window 3: partly applied. Quartz router 10.0.0.5:6543 did not answer .SV17,4 "
                 "within 2 s.",
        "lines": ["Applied: window 3 UMD layer 1, window 3 PCM bars.",
                  "Failed: window 3 source."]}
    assert notes["device"] == {"tone": "error", "title": "Window 3: not applied. NEXX frame "
                               "10.0.0.9:443 did not answer within 5 s."}
    assert notes["network"].startswith("Take into window 3: no answer from the server; whether "
                                       "the change reached the devices is not known")
    assert notes["fields"] == {"tone": "error",
                               "title": "Take into window 3: refused, nothing was sent.",
                               "lines": ["You have no access to source 20: Remote Feed."]}
    assert notes["rateSaid"] == "Too many writes; try again in 2 s."
    assert notes["rateAdded"] == "Too many writes. Try again in 2 s."
    assert notes["name"] == "window 5, UMD layer 1 text"
    assert page.console_errors == []
