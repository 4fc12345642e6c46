// The operator control page: multiviewer selector, global parameters, layout drawing,
// inspector, presets and refresh. Everything goes through the JSON API.
import { api, busy, setUnauthenticatedHandler, showError } from "./api.js";
import { Catalog } from "./catalog.js";
import { confirmAction, setupDialog } from "./dialogs.js";
import { Inspector } from "./inspector.js";
import { KeyboardTakes } from "./keys.js";
import { LayoutPicker } from "./layout-picker.js";
import { layoutDrawing, layoutThumb } from "./layout-svg.js";
import { LiveIndicator, LiveStream } from "./live.js";
import { ParamsBar } from "./params.js";
import { Presets } from "./presets.js";
import { RefreshPanel } from "./refresh.js";
import { SourcePanel } from "./sources.js";
import { UndoButton } from "./undo.js";
import { timeText } from "./util.js";

// How long the first reads wait for the event stream to open, so that no change falls between
// a read and the stream (a server without live updates costs this much once, at load).
const OPEN_WAIT_MS = 2000;
const FLASH_MS = 1200; // as the .flash animation in app.css
const REMEMBERED = "mvcontrol.multiviewerNumber"; // the last multiviewer shown, by its number
const $ = (id) => document.getElementById(id);


class ControlPage {
  constructor() {
    const root = $("app-root");
    this.isAdmin = root.dataset.admin === "true";
    this.login = root.dataset.login;
    this.catalog = null;
    this.layouts = new Map();
    this.multiviewers = [];
    this.sources = [];
    this.mv = null;
    this.mvJson = "";
    this.selected = null;
    this.wanted = null; // the multiviewer asked for (shown once its read answers)
    this.offNote = null; // the address asked for one that is off on the frame
    this.drawn = ""; // what the drawing shows, to redraw only when that changes
    this.flashes = new Map(); // window number -> when it started flashing (ms)
    this.leaseTimer = null;
    this.flashTimer = null;
    // Events about multiviewers received while a read or write of one is on its way: replayed
    // on its answer, which may be older than they are (see track()).
    this.eventCount = 0;
    this.inFlight = 0;
    this.recent = [];
    this.live = null;
    this.readBeforeOpen = false;
  }

  async start() {
    setUnauthenticatedHandler(() => {
      location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
    });
    this.bindTopBar();
    setupDialog($("layout-dialog"));
    this.startLive();
    const opened = this.live.opened(OPEN_WAIT_MS);
    try {
      const [catalog, layouts, multiviewers, sources] = await Promise.all([
        api.get("/api/catalog"), api.get("/api/layouts"), api.get("/api/multiviewers"),
        api.get("/api/sources"),
      ]);
      this.catalog = new Catalog(catalog);
      for (const layout of layouts.layouts || []) this.layouts.set(layout.layout, layout);
      this.multiviewers = multiviewers;
      this.sources = sources;
    } catch (error) {
      this.pageError(error);
      $("workspace").setAttribute("aria-busy", "false");
      $("drawing").replaceChildren(message("The control page could not load its data."));
      this.refresh = new RefreshPanel(this);
      this.readBeforeOpen = !(await opened);
      this.refresh.start();
      return;
    }
    this.params = new ParamsBar(this);
    this.inspector = new Inspector(this);
    this.sourcePanel = new SourcePanel(this);
    this.sourcePanel.bindDrop($("drawing"));
    this.keys = new KeyboardTakes(this, this.sourcePanel);
    this.presets = new Presets(this);
    this.refresh = new RefreshPanel(this);
    this.fillMultiviewerSelect();
    this.readBeforeOpen = !(await opened);
    this.refresh.start();
    const chosen = this.initialMultiviewer();
    if (chosen) {
      await this.loadMultiviewer(chosen);
      // Asked for by the address, but off on the frame: said once the page shows another.
      if (this.offNote) this.pageError({ detail: this.offNote, fields: {} });
    } else {
      $("workspace").setAttribute("aria-busy", "false");
      $("stage-title").textContent = "No multiviewer";
      $("stage-hint").hidden = true;
      $("drawing").replaceChildren(message(this.isAdmin
        ? "No multiviewer is known yet: run a refresh to read them from the NEXX frame."
        : this.multiviewers.length
          ? "Every multiviewer granted to you is off on the frame: it can be shown once it is "
            + "switched on there and the state is refreshed."
          : "No multiviewer is granted to you yet; ask an admin to grant you one."));
    }
  }

  // --- live updates ---------------------------------------------------------------------

  /** Follow GET /api/events: every change anyone makes reaches the page as it happens. */
  startLive() {
    this.live = new LiveStream({
      indicator: new LiveIndicator($("live")),
      // The server refused the stream: a signed-out operator goes to the login page (the
      // 401 handler); any other answer is left to the next attempt.
      onRefused: () => api.get("/api/auth/me").catch(() => {}),
    });
    for (const kind of ["multiviewer", "routing", "lease"]) {
      this.live.on(kind, (data) => this.applyEvent(kind, data));
    }
    this.live.on("refresh", (status) => this.refresh && this.refresh.update(status));
    // What was missed cannot be told: read what is shown once again.
    this.live.on("resync", () => this.resync());
    this.live.on("reconnect", () => this.resync());
    // Opened only after the first reads (a slow server): they may have missed a change.
    this.live.on("open", ({ again }) => {
      if (!again && this.readBeforeOpen) this.resync();
    });
    this.live.start();
  }

  /** A `multiviewer`, `routing` or `lease` event: applied to the multiviewer shown. */
  applyEvent(kind, data) {
    this.eventCount += 1;
    if (this.inFlight) {
      this.recent.push({ number: this.eventCount, kind, data });
      if (this.recent.length > 2000) this.recent.splice(0, 1000);
    }
    if (kind === "multiviewer") this.noteListed(data.document);
    if (!this.mv) return;
    const next = withEvent(this.mv, kind, data, this.login);
    if (next !== this.mv) this.render(next, { fromEvent: true });
  }

  /**
   * `request()`'s answer (a multiviewer document, from a read or a write) with the events that
   * arrived while it was on its way applied on top: the answer may be older than they are, and
   * nothing would correct it later. (An event older than the answer only repeats what the
   * answer says, or is followed by the event of what changed since.)
   */
  async track(request) {
    const since = this.eventCount;
    this.inFlight += 1;
    try {
      let mv = await request();
      if (mv && Array.isArray(mv.windows)) {
        for (const event of this.recent) {
          if (event.number > since) mv = withEvent(mv, event.kind, event.data, this.login);
        }
      }
      return mv;
    } finally {
      this.inFlight -= 1;
      if (!this.inFlight) this.recent = [];
    }
  }

  /** After a `resync` event or a reconnection: read the shown state once. */
  resync() {
    if (this.mv) {
      this.reload()
        .then(() => showError($("page-error"), null))
        .catch((error) => this.pageError(error));
    } else if (this.wanted && this.inspector) {
      this.loadMultiviewer(this.wanted); // its first read failed: once more
    }
    if (this.refresh) this.refresh.read();
  }

  /** The selector shows each multiviewer's label, whether its layout was read and whether it
   * is off on the frame. */
  noteListed(document) {
    const listed = document && this.multiviewers.find((m) => m.id === document.id);
    if (!listed || (listed.layout === document.layout && listed.label === document.label
        && (document.enabled === undefined || listed.enabled === document.enabled))) {
      return;
    }
    listed.layout = document.layout;
    listed.label = document.label;
    if (document.enabled !== undefined) listed.enabled = document.enabled;
    this.fillMultiviewerSelect();
  }

  // --- top bar --------------------------------------------------------------------------

  bindTopBar() {
    $("mv-select").addEventListener("change", (event) => {
      const mv = this.byNumber(Number(event.target.value));
      if (mv) this.loadMultiviewer(mv.id);
    });
    // An address edited by hand (#mv=4) opens that multiviewer.
    window.addEventListener("hashchange", () => {
      const mv = this.byNumber(hashNumber());
      if (mv && this.canOpen(mv) && (!this.mv || this.mv.id !== mv.id)) {
        this.loadMultiviewer(mv.id);
      }
    });
    const userButton = $("user-btn");
    const menu = $("user-menu");
    const closeMenu = (focusButton) => {
      menu.hidden = true;
      userButton.setAttribute("aria-expanded", "false");
      if (focusButton) userButton.focus();
    };
    userButton.addEventListener("click", () => {
      const open = menu.hidden;
      menu.hidden = !open;
      userButton.setAttribute("aria-expanded", String(open));
      if (open) menu.querySelector("[role=menuitem]").focus();
    });
    menu.addEventListener("keydown", (event) => {
      const items = [...menu.querySelectorAll("[role=menuitem]")];
      const index = items.indexOf(document.activeElement);
      if (event.key === "Escape") {
        event.preventDefault();
        closeMenu(true);
      } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        items[(index + step + items.length) % items.length].focus();
      } else if (event.key === "Tab") {
        closeMenu(false);
      }
    });
    document.addEventListener("click", (event) => {
      if (!menu.hidden && !event.target.closest(".user-menu")) closeMenu(false);
    });
    $("logout-btn").addEventListener("click", async () => {
      try {
        await api.post("/api/auth/logout");
      } finally {
        location.assign("/login");
      }
    });
    $("presets-btn").addEventListener("click", () => this.presets && this.presets.open());
    $("layout-btn").addEventListener("click", () => this.openLayoutPicker());
    const breakButton = $("lease-break");
    if (breakButton) {
      breakButton.addEventListener("click", () => busy(breakButton, async () => {
        try {
          await api.del(`/api/multiviewers/${this.mv.id}/lease`);
          await this.reload();
        } catch (error) {
          this.pageError(error);
        }
      }));
    }
  }

  fillMultiviewerSelect() {
    const select = $("mv-select");
    if (!this.multiviewers.length) {
      select.replaceChildren(new Option("No multiviewer", ""));
      select.disabled = true;
      return;
    }
    // By the operator's number; one that is off on the frame is listed, greyed and marked, and
    // only an admin may open it.
    select.replaceChildren(...this.multiviewers.map((mv) => {
      const off = mv.enabled === false;
      const option = new Option(mvTitle(mv) + (off ? " · off on the frame"
        : mv.layout ? "" : " (not read yet)"), String(mv.number));
      option.disabled = !this.canOpen(mv);
      option.classList.toggle("off", off);
      return option;
    }));
    select.disabled = false;
    if (this.mv) select.value = String(this.mv.number);
  }

  byNumber(number) {
    return this.multiviewers.find((mv) => mv.number === number) || null;
  }

  /** Operators cannot open a multiviewer that is off on the frame; admins can. */
  canOpen(mv) {
    return mv.enabled !== false || this.isAdmin;
  }

  /** The multiviewer to show first (its id): the address's #mv=<number>, the last one shown,
   * the first one that can be opened. */
  initialMultiviewer() {
    const asked = hashNumber();
    const fromHash = this.byNumber(asked);
    if (fromHash && this.canOpen(fromHash)) return fromHash.id;
    if (fromHash) this.offNote = `MV ${fromHash.number} is off on the frame: it cannot be shown `
      + "until it is switched on there and the state is refreshed.";
    const remembered = this.byNumber(Number(localStorage.getItem(REMEMBERED)));
    if (remembered && this.canOpen(remembered)) return remembered.id;
    const first = this.multiviewers.find((mv) => this.canOpen(mv));
    return first ? first.id : null;
  }

  pageError(error) {
    showError($("page-error"), error);
  }

  // --- the multiviewer ------------------------------------------------------------------

  async loadMultiviewer(id) {
    this.wanted = id;
    $("workspace").setAttribute("aria-busy", "true");
    const listed = this.multiviewers.find((mv) => mv.id === id);
    if (listed) $("mv-select").value = String(listed.number);
    if (!this.mv || this.mv.id !== id) {
      this.selected = null;
      this.inspector && this.inspector.close();
      if (this.keys) this.keys.onDeselect();
      $("drawing").replaceChildren(loadingBlock("Loading the multiviewer…"));
    }
    try {
      const mv = await this.track(() => api.get(`/api/multiviewers/${id}`));
      if (this.wanted !== id) return; // another one was chosen meanwhile
      showError($("page-error"), null);
      localStorage.setItem(REMEMBERED, String(mv.number));
      history.replaceState(null, "", `#mv=${mv.number}`);
      this.render(mv);
    } catch (error) {
      if (this.wanted !== id) return;
      this.pageError(error);
      this.mv = null;
      this.drawn = "";
      $("drawing").replaceChildren(message("This multiviewer could not be loaded."));
      this.renderLease();
    } finally {
      if (this.wanted === id) $("workspace").setAttribute("aria-busy", "false");
    }
  }

  /** Read the shown multiviewer again (a changed lease, a resync, a refresh run's end). */
  /** reload() without waiting for it (after a write was refused, say): a failure to read
   * shows in the page's banner. */
  reloadInBackground() {
    this.reload().catch((error) => this.pageError(error));
  }

  async reload() {
    if (!this.mv) return;
    const id = this.mv.id;
    const mv = await this.track(() => api.get(`/api/multiviewers/${id}`));
    if (this.mv && this.mv.id === id && this.wanted === id) this.render(mv, { fromEvent: true });
  }

  /** Show a multiviewer JSON (from a read, a write's answer or an event). `fromEvent`: only
   * when it differs from what is shown. */
  render(mv, { fromEvent = false } = {}) {
    const json = JSON.stringify(mv);
    if (fromEvent && json === this.mvJson) {
      this.renderLease();
      return;
    }
    const previous = this.mv && this.mv.id === mv.id ? this.mv : null;
    this.mv = mv;
    this.mvJson = json;
    const listed = this.multiviewers.find((m) => m.id === mv.id);
    if (listed && (listed.layout !== mv.layout
        || (mv.enabled !== undefined && listed.enabled !== mv.enabled))) {
      listed.layout = mv.layout;
      if (mv.enabled !== undefined) listed.enabled = mv.enabled;
      this.fillMultiviewerSelect();
    }
    $("stage-title").textContent = mvTitle(mv)
      + (mv.enabled === false ? " · off on the frame" : "");
    $("stage-updated").textContent = mv.updated_at ? `State read ${timeText(mv.updated_at)}` : "";
    this.renderParams();
    this.renderLease();
    if (this.selected && !mv.windows.some((w) => w.window === this.selected)) {
      this.selected = null;
      this.inspector.close();
      this.keys.onDeselect();
    }
    this.renderDrawing(previous);
    this.renderUndo(mv);
    if (this.selected) this.inspector.update(this.window(this.selected));
    this.sourcePanel.updateOnAir();
    this.keys.render();
  }

  window(number) {
    return this.mv ? this.mv.windows.find((w) => w.window === number) || null : null;
  }

  geometry() {
    if (!this.mv) return [];
    if (this.mv.geometry && this.mv.geometry.length) return this.mv.geometry;
    const layout = this.layouts.get(this.mv.layout);
    return layout ? layout.windows : [];
  }

  renderDrawing(previous) {
    const drawing = $("drawing");
    if (!this.mv.layout) {
      this.drawn = "";
      drawing.replaceChildren(message(
        "The layout of this multiviewer is not known yet: run a refresh to read it."));
      return;
    }
    // Windows whose content changed since the last view flash (a take, a colleague's edit).
    const now = Date.now();
    if (previous && previous.layout === this.mv.layout) {
      for (const win of this.mv.windows) {
        const before = previous.windows.find((w) => w.window === win.window);
        if (before && shownKey(before) !== shownKey(win)) this.flashes.set(win.window, now);
      }
    } else {
      this.flashes.clear();
    }
    const drawn = JSON.stringify([this.mv.id, this.mv.layout, this.geometry(),
      this.mv.windows.map(shownKey), $("stage-title").textContent]);
    if (drawn === this.drawn) {
      this.markFlashes(drawing.querySelector("svg"), now);
      return;
    }
    this.drawn = drawn;
    const focused = document.activeElement && document.activeElement.closest
      && document.activeElement.closest("g.win");
    const focusedWindow = focused && drawing.contains(focused) ? Number(focused.dataset.window)
      : null;
    const svg = layoutDrawing(this.geometry(), this.mv.windows, {
      interactive: true,
      selected: this.selected,
      staticType: this.catalog.staticType,
      typeLabels: this.catalog.typeLabels(),
      catalog: this.catalog, // how UMD layers look: colours, alphas, sizes, paddings
      label: `Layout ${this.mv.layout} of ${$("stage-title").textContent}`,
      onSelect: (n) => this.selectWindow(n),
    });
    drawing.replaceChildren(svg);
    if (focusedWindow) {
      const again = svg.querySelector(`g.win[data-window="${focusedWindow}"]`);
      if (again) again.focus();
    }
    this.markFlashes(svg, now);
  }

  /** Flashing windows keep flashing through a redraw: the animation goes on where it was. */
  markFlashes(svg, now) {
    clearTimeout(this.flashTimer);
    if (!svg) return;
    let soonest = null;
    for (const g of svg.querySelectorAll("g.win.flash")) {
      if (!this.flashes.has(Number(g.dataset.window))) g.classList.remove("flash");
    }
    for (const [number, started] of [...this.flashes]) {
      const g = svg.querySelector(`g.win[data-window="${number}"]`);
      const left = FLASH_MS - (now - started);
      if (!g || left <= 0) {
        this.flashes.delete(number);
        if (g) g.classList.remove("flash");
        continue;
      }
      if (!g.classList.contains("flash")) {
        g.style.setProperty("--flash-delay", `${left - FLASH_MS}ms`);
        g.classList.add("flash");
      }
      soonest = soonest === null ? left : Math.min(soonest, left);
    }
    if (soonest !== null) {
      this.flashTimer = setTimeout(
        () => this.markFlashes($("drawing").querySelector("svg"), Date.now()), soonest + 20);
    }
  }

  /**
   * Select window `number` (a click or Enter in the drawing, or its number typed). Edits of
   * another window not applied yet are not dropped silently: the operator is asked first.
   * Resolves false when they kept editing.
   */
  async selectWindow(number) {
    if (this.selected === number && this.inspector.win) {
      // Already selected: its edits stay; the take line goes on to the source.
      this.keys.onSelect(number);
      return true;
    }
    if (this.selected && this.selected !== number && this.inspector.dirty()) {
      const count = this.inspector.pendingCount;
      const discard = await confirmAction({
        title: `Window ${this.selected} has ${count} change${count === 1 ? "" : "s"} not applied`,
        text: `${this.inspector.pendingSummary()}. Apply or revert them first, or discard `
          + `them to select window ${number}.`,
        ok: `Discard and select window ${number}`,
        danger: true,
      });
      if (!discard || !this.window(number)) return false;
    }
    this.selected = number;
    for (const g of $("drawing").querySelectorAll("g.win")) {
      const on = Number(g.dataset.window) === number;
      g.classList.toggle("selected", on);
      g.setAttribute("aria-pressed", String(on));
    }
    this.inspector.open(this.window(number));
    this.sourcePanel.updateOnAir();
    this.keys.onSelect(number);
    return true;
  }

  // --- lease ----------------------------------------------------------------------------

  get locked() {
    return Boolean(this.mv && this.mv.lease && !this.mv.lease.mine
      && new Date(this.mv.lease.expires_at) > new Date());
  }

  renderLease() {
    const banner = $("lease-banner");
    const locked = this.locked;
    banner.hidden = !locked;
    clearTimeout(this.leaseTimer);
    if (locked) {
      const lease = this.mv.lease;
      $("lease-text").textContent = `${lease.login} is editing this multiviewer until `
        + `${timeText(lease.expires_at)}: your changes are blocked until then.`;
      // A lease runs out without an event: the controls come back when it does.
      const left = new Date(lease.expires_at).getTime() - Date.now();
      this.leaseTimer = setTimeout(() => this.renderLease(), Math.min(left + 250, 2 ** 31 - 1));
    }
    document.body.classList.toggle("locked", locked);
    this.updateControls();
  }

  updateControls() {
    const disabled = !this.mv || this.locked;
    $("layout-btn").disabled = !this.mv || this.locked;
    if (this.params) this.params.setDisabled(disabled, this.mv);
    if (this.inspector) this.inspector.setLocked(this.locked);
    if (this.sourcePanel) this.sourcePanel.setLocked(this.locked);
    if (this.keys) this.keys.render();
  }

  // --- global parameters (params.js) -----------------------------------------------------

  renderParams() {
    const mv = this.mv;
    const layout = this.layouts.get(mv.layout);
    const thumb = $("layout-thumb");
    thumb.replaceChildren(...(mv.layout ? [layoutThumb(this.geometry())] : []));
    $("layout-name").textContent = mv.layout
      ? `${mv.layout} · ${layout ? layout.name : "layout"}` : "Not read yet";
    $("layout-btn").setAttribute("aria-label", mv.layout
      ? `Layout ${mv.layout}, ${layout ? layout.name : ""}: choose another`
      : "Layout not read yet: choose one");
    this.params.render(mv);
  }

  /** Errors from a write: a partial result's summary is appended to the detail. */
  explain(error, what) {
    if (error && error.body && error.body.result && error.body.result.applied) {
      const applied = error.body.result.applied;
      if (applied.length) {
        error.fields = { ...error.fields, applied: [applied.join(", ")] };
      }
    }
    if (what && error && error.detail && !error.detail.startsWith(what)) {
      error.detail = `${what}: ${error.detail}`;
    }
    return error;
  }

  /** After a failed write: the lease or the state may have changed; re-read. */
  handleWriteError(error) {
    if (error && (error.code === "edit_lease_held" || (error.body && error.body.result))) {
      this.reloadInBackground();
    }
  }

  // --- layout picker and undo (layout-picker.js, undo.js) -----------------------------------

  openLayoutPicker() {
    if (!this.layoutPicker) this.layoutPicker = new LayoutPicker(this);
    this.layoutPicker.open();
  }

  renderUndo(mv) {
    if (!this.undo) this.undo = new UndoButton(this);
    this.undo.update(mv);
  }

  /** A refresh run finished: the lists and the multiviewer may all have changed. */
  async afterRefresh() {
    try {
      const [multiviewers, sources] = await Promise.all([
        api.get("/api/multiviewers"), api.get("/api/sources")]);
      this.multiviewers = multiviewers;
      this.sources = sources;
      this.sourcePanel.setSources(sources);
      this.fillMultiviewerSelect();
      if (this.mv) {
        await this.reload();
      } else {
        const first = multiviewers.find((mv) => this.canOpen(mv));
        if (first) await this.loadMultiviewer(first.id);
      }
    } catch (error) {
      this.pageError(error);
    }
  }
}

/** `mv` (a multiviewer document) with an event applied: a new object when it changed it. */
function withEvent(mv, kind, data, login) {
  if (kind === "multiviewer") {
    return data.multiviewer === mv.id && data.document ? data.document : mv;
  }
  if (kind === "lease") {
    if (data.multiviewer !== mv.id) return mv;
    const lease = data.lease ? { ...data.lease, mine: data.lease.login === login } : null;
    return { ...mv, lease };
  }
  if (kind === "routing") {
    // Router outputs: a window shows the output windows[i].output.
    const routes = new Map((data.routes || []).map((r) => [r.output, r]));
    let changed = false;
    const windows = mv.windows.map((win) => {
      const route = routes.get(win.output);
      if (!route) return win;
      const source = route.source || null;
      if (route.input === win.input && (source && source.id) === (win.source && win.source.id)
          && (source && source.label) === (win.source && win.source.label)) {
        return win;
      }
      changed = true;
      return { ...win, input: route.input, source };
    });
    return changed ? { ...mv, windows } : mv;
  }
  return mv;
}

/** What a window shows: its source (or input, or "route unknown"), PCM bars and UMD layers. */
function shownKey(win) {
  return JSON.stringify([win.output, win.input ?? null,
    win.source ? [win.source.id, win.source.label] : null, win.pcm_bars ?? null,
    win.umd || null]);
}

/** The multiviewer's operator number asked for by the address (#mv=<number>), or NaN. */
function hashNumber() {
  return Number(new URLSearchParams(location.hash.slice(1)).get("mv") || NaN);
}

/** "MV 10", or "MV 10 · Studio A" when it has a name of its own. */
function mvTitle(mv) {
  return mv.label && mv.label !== `MV ${mv.number}` ? `MV ${mv.number} · ${mv.label}`
    : `MV ${mv.number}`;
}

function message(text) {
  const p = document.createElement("div");
  p.className = "loading-block";
  p.textContent = text;
  return p;
}

function loadingBlock(text) {
  const block = message(text);
  block.setAttribute("role", "status");
  return block;
}

const page = new ControlPage();
// Tests (and curious operators) wait for this: every control is wired and the first data shown.
page.start().finally(() => { document.body.dataset.ready = "true"; });
