"""Issue 23 on the control page, in Chromium against the live stack: the drawing shows every UMD
layer where and how the frame draws it; a layout change that drops windows asks first and the
last change can be undone; presets offer what the operator may apply and preview an apply.

Skipped (one line) where no browser is installed; under CI (CI=true) a missing browser fails.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.harness import require_browser

require_browser()

from playwright.sync_api import expect  # noqa: E402 - only once the skip above is decided

from tests.browser.conftest import ready, shot  # noqa: E402
from tests.fixtures.accounts import UserFactory  # noqa: E402
from tests.fixtures.live import EventStream, session_for  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)

NAMED_SOURCES = {1: "CAM 1 Studio A", 5: "CAM 5", 7: "Graphics 1", 9: "Playout A",
                 20: "Remote Feed"}
# The frame's eight UMD colours, by the catalog's label, as the drawing paints them.
PAINT = {"Black": "#000000", "Blue": "#0000ff", "Green": "#00ff00", "Cyan": "#00ffff",
         "Red": "#ff0000", "Magenta": "#ff00ff", "Yellow": "#ffff00", "White": "#ffffff"}
# The drawing's text heights and paddings (output pixels) by the catalog's label.
TEXT_PX = {"Small": 20, "Medium": 28, "Large": 36, "X-Large": 48}
PADDING_PX = {"None": 0, "Small": 4, "Medium": 8, "Large": 12}


# --- helpers ---------------------------------------------------------------------------------

def choices(key: str, scope: str = "layer") -> list[dict]:
    from devices.catalog import catalog_document

    return next(p for p in catalog_document()["parameters"]
                if p["key"] == key and p["scope"] == scope)["choices"]


def device_value(key: str, label: str, scope: str = "layer") -> int:
    return next(c["device_value"] for c in choices(key, scope) if c["label"] == label)


def label_of(key: str, device: str | int, scope: str = "layer") -> str:
    return next(c["label"] for c in choices(key, scope) if str(c["device_value"]) == str(device))


def nexx_value(devices, key: str, mv: int, window: int | None = None,
               layer: int | None = None) -> str:
    """What the NEXX emulator holds (indexes 0-based, as the device counts)."""
    from devices.nexx.catalog import param_id

    return devices.nexx.get(param_id(key, mv, window, layer))


def set_nexx(devices, mv: int, window: int, layer: int, **values) -> None:
    """UMD layer values on the frame itself (device values), before the state is read."""
    from devices.nexx.catalog import param_id

    for key, value in values.items():
        devices.nexx.set(param_id(key, mv, window, layer), value)


def refresh() -> None:
    from state.models import RefreshRun
    from state.refresh import execute_run
    from state.services import StateService

    ticket = StateService.start_refresh(trigger=RefreshRun.Trigger.COMMAND)
    outcome = execute_run(ticket.run.pk)
    assert outcome is not None and outcome.status == "success", outcome


def operator_of(*nexx_indexes: int, sources: int = 12):
    """An operator granted these multiviewers and router inputs 1..`sources`."""
    from devices.models import Multiviewer, Source

    operator = UserFactory(login="operator")
    operator.multiviewers.set(Multiviewer.objects.filter(nexx_index__in=nexx_indexes))
    operator.sources.set(Source.objects.filter(quartz_input__lte=sources))
    return operator


def open_as(open_page, web_server, user):
    """The control page of `user` (signed in by their session's cookie), ready. `page.writes`
    lists the API writes it sends ("POST /api/…")."""
    page = open_page()
    page.writes = []
    page.on("request", lambda request: page.writes.append(
        f"{request.method} {request.url.split(web_server.url, 1)[-1]}")
        if request.method != "GET" and "/api/" in request.url else None)
    page.context.add_cookies([{"name": "sessionid", "value": session_for(user),
                               "url": web_server.url}])
    page.goto("/")
    ready(page)
    return page


def listening(web_server, user) -> None:
    """Once a stream got its first line, the server's worker listens for changes."""
    EventStream(web_server.url, session_for(user)).close()


def client_of(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(user)
    return client


def window(page, number: int):
    return page.locator(f'#drawing g.win[data-window="{number}"]')


def umd(page, number: int, layer: int):
    return window(page, number).locator(f'g.umd[data-layer="{layer}"]')


def shows(mv, number: int) -> str:
    """What window `number` of `mv` shows, in the page's words (its source, or the input)."""
    from devices.models import Source
    from state.models import RoutingState

    route = RoutingState.objects.filter(output=mv.output_for_window(number)).first()
    if route is None or route.input is None:
        return "route unknown"
    source = Source.objects.filter(quartz_input=route.input).first()
    return source.label if source and source.label else f"Input {route.input}"


@pytest.fixture
def devices(make_devices):
    devices = make_devices()
    for number, name in NAMED_SOURCES.items():
        devices.quartz.set_name("source", number, name)
    return devices


# --- a truer drawing -------------------------------------------------------------------------

def test_the_drawing_shows_each_umd_layer_where_and_how_the_frame_draws_it(
        devices, open_page, web_server):
    from devices.models import Multiviewer

    # MV 1 (layout 1, 2×2): window 1 gets a Static layer 2 in yellow on a blue box, large,
    # and a time (layer 3) in red; window 2's layer 1 is switched off.
    set_nexx(devices, 0, 0, 1, type=device_value("type", "Static"), text="STUDIO B",
             text_colour=device_value("text_colour", "Yellow"),
             text_alpha=device_value("text_alpha", "100%"),
             box_colour=device_value("box_colour", "Blue"),
             box_alpha=device_value("box_alpha", "75%"),
             text_size=device_value("text_size", "Large"),
             padding=device_value("padding", "Medium"), x=40, y=300)
    set_nexx(devices, 0, 0, 2, type=device_value("type", "NTP Time"),
             text_colour=device_value("text_colour", "Red"),
             text_size=device_value("text_size", "Small"), x=500, y=120)
    set_nexx(devices, 0, 1, 0, type=device_value("type", "Off"))
    refresh()
    operator = operator_of(0)
    mv = Multiviewer.objects.get(nexx_index=0)
    page = open_as(open_page, web_server, operator)
    expect(page.locator("#drawing g.win")).to_have_count(4)

    # Layer 2: at x/y of the output's pixels, its box sized by text size and padding.
    layer2 = umd(page, 1, 2)
    expect(layer2).to_have_count(1)
    size, padding = TEXT_PX["Large"], PADDING_PX["Medium"]
    box, text = layer2.locator("rect.umd-box"), layer2.locator("text")
    expect(text).to_have_text("STUDIO B")
    expect(text).to_have_attribute("fill", PAINT["Yellow"])
    expect(text).to_have_attribute("fill-opacity", "1")
    expect(text).to_have_attribute("font-size", str(size))
    expect(text).to_have_attribute("x", str(40 + padding))
    expect(text).to_have_attribute("y", str(300 + padding + round(size * 0.8)))
    expect(box).to_have_attribute("x", "40")
    expect(box).to_have_attribute("y", "300")
    expect(box).to_have_attribute("height", str(size + 2 * padding))
    expect(box).to_have_attribute("fill", PAINT["Blue"])
    expect(box).to_have_attribute("fill-opacity", "0.75")

    # Layer 3 is a time: the frame fills it in, the drawing shows its type's name.
    layer3 = umd(page, 1, 3)
    expect(layer3).to_have_class(re.compile(r"\bdynamic\b"))
    expect(layer3.locator("text")).to_have_text("NTP Time")
    expect(layer3.locator("text")).to_have_attribute("fill", PAINT["Red"])
    expect(layer3.locator("text")).to_have_attribute("font-size", str(TEXT_PX["Small"]))
    expect(layer3.locator("rect")).to_have_attribute("x", "500")
    expect(layer3.locator("rect")).to_have_attribute("y", "120")
    # Layer 1 as the frame had it (the emulator's defaults), in its colours.
    layer1_colour = label_of("text_colour", nexx_value(devices, "text_colour", 0, 0, 0))
    expect(umd(page, 1, 1).locator("text")).to_have_attribute("fill", PAINT[layer1_colour])
    # Off draws nothing; each window's layers are clipped to the window.
    expect(umd(page, 2, 1)).to_have_count(0)
    clip = window(page, 1).locator("g.umds")
    clip_id = re.fullmatch(r"url\(#(.+)\)", clip.get_attribute("clip-path")).group(1)
    clip_rect = window(page, 1).locator(f'clipPath[id="{clip_id}"] rect')
    frame = window(page, 1).locator("rect.frame")
    for attribute in ("x", "y", "width", "height"):
        assert clip_rect.get_attribute(attribute) == frame.get_attribute(attribute)
    shot(page, "drawing-umd-layers")

    # A colleague recolours layer 3: the drawing follows, without a reload.
    listening(web_server, operator)
    response = client_of(operator).post(
        f"/api/multiviewers/{mv.pk}/windows/1",
        {"umd": [{"layer": 3, "text_colour": device_value("text_colour", "Green")}]},
        format="json")
    assert response.status_code == 200, response.content
    expect(umd(page, 1, 3).locator("text")).to_have_attribute("fill", PAINT["Green"])
    assert page.console_errors == []


def test_the_umd_drawing_reads_the_catalogs_labels(devices, open_page, web_server):
    """The pure part, in the page's own modules: labels decide (box and text colours list the
    same names in other orders), an admin's renamed label falls back sensibly, unknown
    positions are stacked and marked."""
    refresh()
    page = open_as(open_page, web_server, operator_of(0))
    result = page.evaluate("""async () => {
        const { umdLayers } = await import('/static/js/layout-svg.js');
        const { Catalog } = await import('/static/js/catalog.js');
        const doc = await (await fetch('/api/catalog')).json();
        const catalog = new Catalog(doc);
        const value = (key, label) => catalog.choices('layer', key)
            .find((c) => c.label === label).value;
        const rect = { x: 960, y: 540, w: 960, h: 540 };
        const win = { umd: [
            { layer: 1, type: value('type', 'Static'), text: 'ONE',
              text_colour: value('text_colour', 'Black'), box_colour: value('box_colour', 'Black'),
              box_alpha: value('box_alpha', '0%'), text_alpha: value('text_alpha', '50%'),
              text_size: value('text_size', 'X-Large'), padding: value('padding', 'None'),
              x: 1000, y: 600 },
            { layer: 2, type: value('type', 'Static'), text: '', x: 0, y: 0 },
            { layer: 3, type: value('type', 'Dynamic Line 1'), x: null, y: null },
        ] };
        const renamed = new Catalog({ ...doc, parameters: doc.parameters.map((p) =>
            p.key === 'text_size' ? { ...p, choices: p.choices.map((c, i) =>
                ({ ...c, label: ['Tiny', 'Normal', 'Big', 'Huge'][i] })) } : p) });
        const huge = umdLayers({ umd: [win.umd[0]] }, rect, { catalog: renamed });
        return { layers: umdLayers(win, rect, { catalog }), huge: huge[0].size };
    }""")
    layers = result["layers"]
    assert [layer["layer"] for layer in layers] == [1, 3]  # a Static layer without text: none
    one, three = layers
    assert (one["textColour"], one["boxColour"]) == (PAINT["Black"], PAINT["Black"])
    assert (one["boxAlpha"], one["textAlpha"]) == (0, 0.5)
    assert (one["size"], one["padding"], one["height"]) == (48, 0, 48)
    assert (one["x"], one["y"], one["placed"]) == (1000, 600, True)
    assert three["text"] == "Dynamic Line 1" and three["dynamic"] is True
    assert three["placed"] is False and three["x"] == 968  # stacked from the bottom left
    assert three["y"] == 540 + 540 - three["height"] * 3
    assert result["huge"] == 48  # a renamed size is read by its place in the list
    assert page.console_errors == []


# --- layout change: asked first, and undone ---------------------------------------------------

def test_a_layout_change_that_drops_windows_asks_first_and_undo_restores_it(
        devices, open_page, web_server):
    from devices.models import Multiviewer

    refresh()
    operator = operator_of(0, 1)
    mv = Multiviewer.objects.get(nexx_index=0)  # layout 1: 4 windows
    page = open_as(open_page, web_server, operator)
    expect(page.locator("#drawing g.win")).to_have_count(4)
    expect(page.locator("#undo-btn")).to_be_hidden()
    dialog = page.locator("#layout-dialog")
    confirm = page.locator("#confirm-dialog")

    # More windows (layout 36, 3×3): nothing leaves the output, so it applies at once.
    page.locator("#layout-btn").click()
    dialog.locator('.layout-option[data-layout="36"]').click()
    expect(dialog).to_be_hidden()
    expect(confirm).to_be_hidden()
    expect(page.locator("#drawing g.win")).to_have_count(9)
    assert nexx_value(devices, "layout", 0) == "35"  # the device counts layouts from 0

    # Back to layout 1 drops windows 5..9: asked first, each named with what it shows.
    page.locator("#layout-btn").click()
    writes = len(page.writes)
    dialog.locator('.layout-option[data-layout="1"]').click()
    expect(confirm).to_be_visible()
    named = ", ".join(f"{n} ({shows(mv, n)})" for n in (5, 6, 7, 8))
    expect(confirm).to_contain_text(f"Windows {named} and 9 ({shows(mv, 9)}) will leave")
    expect(confirm.locator("#confirm-ok")).to_have_text("Apply layout 1")
    shot(page, "layout-drop-confirm")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    expect(dialog).to_be_visible()  # still choosing
    assert page.writes[writes:] == []  # nothing was sent
    assert nexx_value(devices, "layout", 0) == "35"
    expect(page.locator("#drawing g.win")).to_have_count(9)

    dialog.locator('.layout-option[data-layout="1"]').click()
    confirm.get_by_role("button", name="Apply layout 1").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#drawing g.win")).to_have_count(4)
    assert nexx_value(devices, "layout", 0) == "0"

    # Undo, reachable by Tab from the layout button, brings layout 36 back on the frame.
    undo = page.locator("#undo-btn")
    expect(undo).to_be_visible()
    expect(undo).to_contain_text(re.compile(r"^\s*Undo: .*\b36\b"))
    page.locator("#layout-btn").focus()
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "undo-btn":
            break
    expect(undo).to_be_focused()
    shot(page, "undo-layout")
    page.keyboard.press("Enter")
    expect(page.locator("#drawing g.win")).to_have_count(9)
    expect(page.locator("#layout-name")).to_contain_text("36 ·")
    expect(page.locator("#undo-status")).to_contain_text("Undone")
    assert nexx_value(devices, "layout", 0) == "35"
    assert page.console_errors == []


def test_undo_takes_back_a_umd_change(devices, open_page, web_server):
    from devices.models import Multiviewer

    refresh()
    operator = operator_of(0)
    mv = Multiviewer.objects.get(nexx_index=0)
    before = nexx_value(devices, "text", 0, 1, 0)
    page = open_as(open_page, web_server, operator)
    listening(web_server, operator)
    response = client_of(operator).post(f"/api/multiviewers/{mv.pk}/windows/2",
                                        {"umd": [{"layer": 1, "text": "LATE CHANGE"}]},
                                        format="json")
    assert response.status_code == 200, response.content
    expect(umd(page, 2, 1).locator("text")).to_have_text("LATE CHANGE")
    undo = page.locator("#undo-btn")
    expect(undo).to_be_visible()
    expect(undo).to_contain_text(re.compile(r"^\s*Undo: .*Window 2"))
    undo.click()
    expect(umd(page, 2, 1).locator("text")).to_have_text(before)
    assert nexx_value(devices, "text", 0, 1, 0) == before
    assert page.console_errors == []


# --- presets that fit the operator -----------------------------------------------------------

def open_presets(page):
    page.get_by_role("button", name="Presets").click()
    presets = page.locator("#presets-dialog")
    expect(presets).to_be_visible()
    return presets


def groups_of(name: str) -> list[str]:
    from presets.models import Preset
    from presets.services import PresetService

    return PresetService.describe(Preset.objects.get(name=name))["groups"]


def choose_only(presets, number: int) -> None:
    """Tick only MV `number` among the multiviewers, and wait for the page to have checked
    what the operator may apply of them (the default ticks follow)."""
    presets.get_by_role("button", name="None", exact=True).click()
    presets.locator("#presets-mvs").get_by_label(f"MV {number}", exact=True).check()
    expect(presets.locator("#presets-groups")).to_have_attribute("aria-busy", "false")


def test_saving_a_preset_offers_only_what_the_operator_may_apply_and_warns(
        devices, open_page, web_server):
    from devices.models import Source
    from presets.models import Preset

    refresh()
    remote = Source.objects.get(quartz_input=20).label  # as the router names it
    # MV 2's windows show router inputs 17..32 (the router's default routes); the operator may
    # route inputs 1..12 only.
    operator = operator_of(0, 1)
    page = open_as(open_page, web_server, operator)
    presets = open_presets(page)
    routing = presets.get_by_label("Sources (routing)")
    choose_only(presets, 2)
    # Not ticked by default, and said why; every other group is.
    expect(routing).not_to_be_checked()
    note = presets.locator("#presets-check-note")
    expect(note).to_contain_text("Sources (routing) is not ticked")
    expect(note).to_contain_text("16 items you may not apply")  # inputs 17..32
    for group in ("Layout", "Font", "Borders", "Output format", "PCM bars", "UMD layers"):
        expect(presets.get_by_label(group, exact=True)).to_be_checked()
    shot(page, "presets-not-applicable")

    # Saved as offered: no question.
    presets.get_by_label("Preset name").fill("Without routing")
    presets.get_by_role("button", name="Save preset").click()
    expect(presets.locator("#preset-status")).to_contain_text("Saved preset “Without routing”")
    assert "sources" not in groups_of("Without routing")

    # Ticked by hand: saving warns, naming what the operator could not route; Cancel saves
    # nothing, "Save anyway" saves it.
    routing.check()
    expect(note).to_contain_text("Saving asks first")
    presets.get_by_label("Preset name").fill("With routing")
    presets.get_by_role("button", name="Save preset").click()
    confirm = page.locator("#confirm-dialog")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("You may not route")
    expect(confirm).to_contain_text(f"20: {remote} (MV 2 window 4)")
    expect(confirm).to_contain_text("applying this preset's routing would be refused for you")
    shot(page, "presets-save-warning")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    assert not Preset.objects.filter(name="With routing").exists()
    presets.get_by_role("button", name="Save preset").click()
    confirm.get_by_role("button", name="Save anyway").click()
    expect(presets.locator("#preset-status")).to_contain_text("Saved preset “With routing”")
    assert "sources" in groups_of("With routing")
    # The operator's own choice stays when the multiviewers change.
    choose_only(presets, 1)
    choose_only(presets, 2)
    expect(routing).to_be_checked()
    assert page.console_errors == []


def test_applying_a_preset_previews_the_changes_and_writes_only_when_confirmed(
        devices, open_page, web_server):
    from devices.models import Multiviewer, Source

    refresh()
    operator = operator_of(0, 1)
    mv2 = Multiviewer.objects.get(nexx_index=1)
    client = client_of(operator)
    saved = client.post("/api/presets", {"name": "Evening", "multiviewers": [mv2.pk],
                                         "groups": ["font", "pcm", "umd", "sources"]},
                        format="json")
    assert saved.status_code == 201, saved.content
    # Since then MV 2's font and window 3's PCM bars changed.
    font_saved = nexx_value(devices, "font", 1)
    other_font = next(c["value"] for c in choices("font", "multiviewer")
                      if str(c["device_value"]) != font_saved)
    bars_saved = nexx_value(devices, "pcm_bars", 1, 2)
    other_bars = 16 if bars_saved != "6" else 2
    for response in (
            client.patch(f"/api/multiviewers/{mv2.pk}", {"font": other_font}, format="json"),
            client.post(f"/api/multiviewers/{mv2.pk}/windows/3", {"pcm_bars": other_bars},
                        format="json")):
        assert response.status_code == 200, response.content
    font_now = nexx_value(devices, "font", 1)
    bars_now = nexx_value(devices, "pcm_bars", 1, 2)

    page = open_as(open_page, web_server, operator)
    presets = open_presets(page)
    choose_only(presets, 2)
    row = presets.locator("#preset-rows tr", has_text="Evening")
    preview = presets.locator("#preset-preview")
    apply_button = preview.locator("#preset-preview-apply")

    # With routing ticked, the preview says what the operator may not apply; nothing to press.
    presets.get_by_label("Sources (routing)").check()
    row.get_by_role("button", name="Apply preset Evening").click()
    expect(preview).to_be_visible()
    expect(preview.locator("#preset-preview-refused")).to_contain_text(
        Source.objects.get(quartz_input=20).label)
    expect(apply_button).to_be_disabled()
    # Without it: counts per multiviewer and group, and nothing written before Apply.
    presets.get_by_label("Sources (routing)").uncheck()
    expect(preview).to_be_hidden()
    writes = len(page.writes)
    row.get_by_role("button", name="Apply preset Evening").click()
    expect(preview).to_be_visible()
    mv_row = preview.locator(f'tr[data-multiviewer="{mv2.pk}"]')
    expect(mv_row.locator('td[data-group="font"]')).to_have_text("1")
    expect(mv_row.locator('td[data-group="pcm"]')).to_have_text("1")
    expect(mv_row.locator('td[data-group="umd"]')).to_have_text("0")
    expect(preview.locator("#preset-preview-summary")).to_contain_text("sends 2 values")
    expect(apply_button).to_have_text("Apply to MV 2")
    expect(apply_button).to_be_focused()
    shot(page, "presets-preview")
    assert [w for w in page.writes[writes:] if not w.endswith("/preview")] == []
    assert (nexx_value(devices, "font", 1), nexx_value(devices, "pcm_bars", 1, 2)) == (
        font_now, bars_now)

    # Cancel: still nothing written.
    preview.get_by_role("button", name="Cancel").click()
    expect(preview).to_be_hidden()
    expect(presets.locator("#preset-status")).to_have_text("Nothing was applied.")
    assert nexx_value(devices, "font", 1) == font_now

    # Apply after the preview: written, and the result shown as before.
    row.get_by_role("button", name="Apply preset Evening").click()
    apply_button.click()
    expect(presets.locator("#preset-status")).to_contain_text("Preset “Evening” applied")
    expect(presets.locator("#preset-result")).to_contain_text("MV 2: done")
    expect(preview).to_be_hidden()
    assert nexx_value(devices, "font", 1) == font_saved
    assert nexx_value(devices, "pcm_bars", 1, 2) == bars_saved
    assert page.console_errors == []


def test_a_large_apply_is_previewed_as_a_background_job(devices, open_page, web_server):
    from devices.models import Multiviewer

    web_server.env["MAX_PARAMS_PER_REQUEST"] = "2"  # so that 3 values make a background job
    refresh()
    operator = operator_of(0)
    mv = Multiviewer.objects.get(nexx_index=0)
    client = client_of(operator)
    saved = client.post("/api/presets", {"name": "Bars", "multiviewers": [mv.pk],
                                         "groups": ["pcm"]}, format="json")
    assert saved.status_code == 201, saved.content
    for number in (1, 2, 3):
        bars = nexx_value(devices, "pcm_bars", 0, number - 1)
        response = client.post(f"/api/multiviewers/{mv.pk}/windows/{number}",
                               {"pcm_bars": 16 if bars != "6" else 2}, format="json")
        assert response.status_code == 200, response.content
    now = [nexx_value(devices, "pcm_bars", 0, w) for w in (0, 1, 2)]

    page = open_as(open_page, web_server, operator)
    presets = open_presets(page)
    expect(presets.locator("#presets-groups")).to_have_attribute("aria-busy", "false")
    presets.locator("#preset-rows tr", has_text="Bars").get_by_role(
        "button", name="Apply preset Bars").click()
    preview = presets.locator("#preset-preview")
    expect(preview.locator("#preset-preview-summary")).to_contain_text(
        "sends 3 values to 1 multiviewer")
    expect(preview.locator("#preset-preview-summary")).to_contain_text(
        "runs in the background")
    expect(preview.locator('td[data-group="pcm"]')).to_have_text("3")
    expect(preview.locator("#preset-preview-apply")).to_have_text("Apply to MV 1")
    preview.get_by_role("button", name="Cancel").click()
    expect(preview).to_be_hidden()
    assert [nexx_value(devices, "pcm_bars", 0, w) for w in (0, 1, 2)] == now
    assert page.console_errors == []
