// The source panel: the operator's own sources as buttons (number and name), as on a router
// panel. Select a window, press a source: the take happens at once — it is one router switch,
// not an edit waiting for Apply. A source dragged onto a window of the drawing does the same.
// Filter by typing; categories (set by an admin) and the operator's favourites (kept on the
// server) as tabs.
import { api, errorTitle } from "./api.js";
import { Toasts, failureNote } from "./toast.js";
import { h } from "./util.js";

const $ = (id) => document.getElementById(id);
// What a dragged source button carries: only this page's drawing accepts it.
export const DRAG_TYPE = "application/x-mvcontrol-source";
const ALL = "all";
const FAVOURITES = "favourites";
const TAB_KEY = "mvcontrol.sourceTab";

/** A source in words: its name, or its router input when it has none. */
export function sourceName(source) {
  return source.label || `Input ${source.quartz_input}`;
}

export class SourcePanel {
  constructor(page) {
    this.page = page;
    this.sources = page.sources || [];
    this.grid = $("source-grid");
    this.filter = $("source-filter");
    this.tabList = $("source-tabs");
    this.toasts = new Toasts($("take-status"));
    this.tab = localStorage.getItem(TAB_KEY) || ALL;
    this.focused = null; // id of the source button that takes Tab (one stop for the panel)
    this.locked = false;
    this.bind();
    this.render();
  }

  bind() {
    this.filter.addEventListener("input", () => this.renderGrid());
    this.filter.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        // One match: take it; several: go to them.
        event.preventDefault();
        const visible = this.visible();
        if (visible.length === 1) this.press(visible[0]);
        else this.focusButton(0);
      } else if (event.key === "ArrowDown") {
        event.preventDefault();
        this.focusButton(0);
      } else if (event.key === "Escape") {
        // First the filter goes, then the focus: digits reach the take line again.
        event.preventDefault();
        event.stopPropagation();
        if (this.filter.value) {
          this.filter.value = "";
          this.renderGrid();
        } else {
          this.filter.blur();
        }
      }
    });
    this.tabList.addEventListener("click", (event) => {
      const tab = event.target.closest("[role=tab]");
      if (tab) this.showTab(tab.dataset.tab);
    });
    this.tabList.addEventListener("keydown", (event) => {
      const tabs = [...this.tabList.querySelectorAll("[role=tab]")];
      const index = tabs.indexOf(document.activeElement);
      if (index < 0) return;
      let next = null;
      if (event.key === "ArrowRight") next = (index + 1) % tabs.length;
      else if (event.key === "ArrowLeft") next = (index - 1 + tabs.length) % tabs.length;
      else if (event.key === "Home") next = 0;
      else if (event.key === "End") next = tabs.length - 1;
      if (next === null) return;
      event.preventDefault();
      this.showTab(tabs[next].dataset.tab);
      this.tabList.querySelector(`[data-tab="${CSS.escape(tabs[next].dataset.tab)}"]`).focus();
    });
    this.grid.addEventListener("click", (event) => {
      const star = event.target.closest("button.star");
      const button = event.target.closest("button.src-btn");
      if (star) this.toggleFavourite(this.byId(Number(star.dataset.source)));
      else if (button) this.press(this.byId(Number(button.dataset.source)), button);
    });
    this.grid.addEventListener("keydown", (event) => this.gridKey(event));
    this.grid.addEventListener("focusin", (event) => {
      const button = event.target.closest("button.src-btn");
      if (button) this.setRoving(button);
    });
    this.grid.addEventListener("dragstart", (event) => {
      const button = event.target.closest("button.src-btn");
      if (!button || this.locked) {
        event.preventDefault();
        return;
      }
      const source = this.byId(Number(button.dataset.source));
      event.dataTransfer.setData(DRAG_TYPE, String(source.id));
      event.dataTransfer.setData("text/plain", `${source.quartz_input} ${sourceName(source)}`);
      event.dataTransfer.effectAllowed = "copy";
      button.classList.add("dragging");
      document.body.classList.add("dragging-source");
    });
    this.grid.addEventListener("dragend", (event) => {
      const button = event.target.closest("button.src-btn");
      if (button) button.classList.remove("dragging");
      document.body.classList.remove("dragging-source");
      this.markDrop(null);
    });
  }

  /** The drawing takes dropped sources: each window (g.win[data-window]) is a drop target. */
  bindDrop(drawing) {
    const windowAt = (event) => (event.target && event.target.closest
      ? event.target.closest("g.win[data-window]") : null);
    const carriesSource = (event) => [...event.dataTransfer.types].includes(DRAG_TYPE);
    drawing.addEventListener("dragover", (event) => {
      if (!carriesSource(event)) return;
      const g = windowAt(event);
      if (!g || this.locked) {
        this.markDrop(null);
        return; // not cancelled: the browser shows "no drop" here
      }
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      this.markDrop(g);
    });
    drawing.addEventListener("dragleave", (event) => {
      if (!event.relatedTarget || !drawing.contains(event.relatedTarget)) this.markDrop(null);
    });
    drawing.addEventListener("drop", (event) => {
      const g = windowAt(event);
      this.markDrop(null);
      if (!g || !carriesSource(event)) return;
      event.preventDefault();
      const source = this.byId(Number(event.dataTransfer.getData(DRAG_TYPE)));
      if (source) this.take(Number(g.dataset.window), source);
    });
  }

  markDrop(g) {
    for (const other of document.querySelectorAll("#drawing g.win.drop-target")) {
      if (other !== g) other.classList.remove("drop-target");
    }
    if (g) g.classList.add("drop-target");
  }

  byId(id) {
    return this.sources.find((s) => s.id === id) || null;
  }

  /** The operator's source at router input `number`, or null. */
  byInput(number) {
    return this.sources.find((s) => s.quartz_input === number) || null;
  }

  setSources(sources) {
    this.sources = sources || [];
    this.render();
  }

  categories() {
    const names = new Set(this.sources.map((s) => (s.category || "").trim()).filter(Boolean));
    return [...names].sort((a, b) => a.localeCompare(b));
  }

  showTab(tab) {
    this.tab = tab;
    localStorage.setItem(TAB_KEY, tab);
    this.render();
  }

  /** The sources of the chosen tab that match the filter, by router input. */
  visible() {
    const query = this.filter.value.trim().toLowerCase();
    return this.sources.filter((s) => {
      if (this.tab === FAVOURITES && !s.favourite) return false;
      if (this.tab !== ALL && this.tab !== FAVOURITES && (s.category || "").trim() !== this.tab) {
        return false;
      }
      if (!query) return true;
      return sourceName(s).toLowerCase().includes(query)
        || String(s.quartz_input).startsWith(query.replace(/^in\s*/, ""))
        || (s.category || "").toLowerCase().includes(query);
    });
  }

  render() {
    const categories = this.categories();
    const tabs = [{ id: ALL, label: "All" }, ...categories.map((c) => ({ id: c, label: c })),
      { id: FAVOURITES, label: "★ Favourites" }];
    if (!tabs.some((t) => t.id === this.tab)) this.tab = ALL;
    this.tabList.replaceChildren(...tabs.map((t) => {
      const on = t.id === this.tab;
      return h("button", { type: "button", role: "tab", class: "tab", "data-tab": t.id,
        "aria-selected": String(on), "aria-controls": "source-grid", tabindex: on ? "0" : "-1" },
      t.label);
    }));
    this.renderGrid();
  }

  renderGrid() {
    const visible = this.visible();
    const hadFocus = this.grid.contains(document.activeElement)
      ? Number(document.activeElement.dataset.source) : null;
    this.grid.replaceChildren(...visible.map((source) => this.cell(source)));
    const empty = $("source-empty");
    const query = this.filter.value.trim();
    const tabName = this.tab === ALL ? "" : this.tab === FAVOURITES ? " among your favourites"
      : ` in ${this.tab}`;
    if (!this.sources.length) {
      empty.textContent = "No source is granted to you yet; ask an admin.";
    } else if (!visible.length && query) {
      empty.textContent = `No source matches “${query}”${tabName}.`;
    } else if (!visible.length && this.tab === FAVOURITES) {
      empty.textContent = "No favourites yet: press the star of a source to add it here.";
    } else {
      empty.textContent = "";
    }
    empty.hidden = !empty.textContent;
    $("sources-count").textContent = visible.length === this.sources.length
      ? `${this.sources.length}` : `${visible.length} of ${this.sources.length}`;
    const keep = visible.some((s) => s.id === this.focused) ? this.focused
      : visible.length ? visible[0].id : null;
    this.focused = keep;
    for (const button of this.grid.querySelectorAll("button.src-btn")) {
      button.tabIndex = Number(button.dataset.source) === keep ? 0 : -1;
    }
    if (hadFocus !== null) {
      const again = this.buttonFor(hadFocus) || this.grid.querySelector("button.src-btn");
      if (again) again.focus();
    }
    this.updateOnAir();
    this.setLocked(this.locked);
  }

  cell(source) {
    const name = sourceName(source);
    const button = h("button", { type: "button", class: "src-btn", draggable: "true",
      "data-source": source.id, "data-input": source.quartz_input, tabindex: "-1",
      "aria-keyshortcuts": "*", title: `${source.quartz_input} · ${name}`
        + (source.category ? ` · ${source.category}` : "") },
    h("span", { class: "src-num" }, String(source.quartz_input)), " ",
    h("span", { class: "src-name" }, name));
    const star = h("button", { type: "button", class: "star", "data-source": source.id,
      tabindex: "-1", "aria-pressed": String(Boolean(source.favourite)),
      "aria-label": `Favourite: ${name}`,
      title: source.favourite ? "Remove from your favourites" : "Add to your favourites" });
    return h("div", { class: "src-cell" + (source.favourite ? " favourite" : "") }, button, star);
  }

  buttonFor(id) {
    return this.grid.querySelector(`button.src-btn[data-source="${id}"]`);
  }

  setRoving(button) {
    this.focused = Number(button.dataset.source);
    for (const other of this.grid.querySelectorAll("button.src-btn")) {
      other.tabIndex = other === button ? 0 : -1;
    }
  }

  focusButton(index) {
    const buttons = [...this.grid.querySelectorAll("button.src-btn")];
    const button = buttons[Math.max(0, Math.min(index, buttons.length - 1))];
    if (button) {
      this.setRoving(button);
      button.focus();
    }
  }

  /** Arrow keys move as the buttons are laid out (rows and columns); `*` stars a source. */
  gridKey(event) {
    const button = event.target.closest("button.src-btn");
    if (!button) return;
    const buttons = [...this.grid.querySelectorAll("button.src-btn")];
    const index = buttons.indexOf(button);
    if (event.key === "*") {
      event.preventDefault();
      this.toggleFavourite(this.byId(Number(button.dataset.source)));
      return;
    }
    let next = null;
    if (event.key === "ArrowRight") next = index + 1;
    else if (event.key === "ArrowLeft") next = index - 1;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = buttons.length - 1;
    else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const columns = buttons.filter((b) => b.offsetTop === buttons[0].offsetTop).length || 1;
      next = index + (event.key === "ArrowDown" ? columns : -columns);
      if (next < 0 && event.key === "ArrowUp") {
        event.preventDefault();
        this.filter.focus();
        return;
      }
    }
    if (next === null) return;
    event.preventDefault();
    this.focusButton(next);
  }

  /** The selected window's source is lit, as on a router panel. */
  updateOnAir() {
    const win = this.page.selected ? this.page.window(this.page.selected) : null;
    const onAir = win && win.source ? win.source.id : null;
    for (const button of this.grid.querySelectorAll("button.src-btn")) {
      const on = Number(button.dataset.source) === onAir;
      button.classList.toggle("on-air", on);
      if (on) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
  }

  setLocked(locked) {
    this.locked = locked;
    for (const button of this.grid.querySelectorAll("button.src-btn")) {
      button.disabled = locked;
      button.draggable = !locked;
    }
  }

  /** A source button pressed (click, Enter, Space): the take into the selected window. */
  press(source, button = null) {
    if (!source) return;
    if (!this.page.selected) {
      this.toasts.show({ tone: "info", title: "Select a window first: click it in the drawing, "
        + "or type its number and Enter. Or drag the source onto a window." });
      return;
    }
    this.take(this.page.selected, source, { button });
  }

  /**
   * Take `source` into window `number` of the shown multiviewer at once: one router switch
   * (POST .../windows/{n} with the source only; the inspector's pending edits stay pending).
   * Resolves true when the router took it.
   */
  async take(number, source, { button = null } = {}) {
    const page = this.page;
    const mv = page.mv;
    if (!mv) return false;
    const name = `${sourceName(source)} (IN ${source.quartz_input})`;
    const what = `Take into window ${number}`;
    const win = page.window(number);
    if (!win) {
      this.toasts.show({ tone: "error", title: `${what}: not sent: MV ${mv.number} has no `
        + `window ${number} in layout ${mv.layout}.` });
      return false;
    }
    if (page.locked) {
      this.toasts.show({ tone: "error", title: `${what}: not sent: ${mv.lease.login} is `
        + "editing this multiviewer." });
      return false;
    }
    if (win.source && win.source.id === source.id) {
      this.toasts.show({ tone: "info", title: `Window ${number} already shows ${name}.` });
      return true;
    }
    const target = button || this.buttonFor(source.id);
    if (target) target.setAttribute("aria-busy", "true");
    try {
      const answer = await page.track(() => api.post(
        `/api/multiviewers/${mv.id}/windows/${number}`, { source: source.id }));
      if (page.mv && page.mv.id === mv.id) page.render(answer);
      this.toasts.show({ tone: "ok", title: `Window ${number} shows ${name}: the router `
        + `switched output ${win.output} to input ${source.quartz_input}.` });
      return true;
    } catch (error) {
      this.toasts.show(failureNote(error, { what }));
      page.handleWriteError(error);
      return false;
    } finally {
      if (target) target.removeAttribute("aria-busy");
    }
  }

  /** Star or unstar a source: kept on the server for this operator; no device is touched. */
  async toggleFavourite(source) {
    if (!source) return;
    const favourite = !source.favourite;
    source.favourite = favourite; // shown at once; put back if the server refuses
    this.render();
    try {
      const path = `/api/sources/${source.id}/favourite`;
      if (favourite) await api.put(path);
      else await api.del(path);
    } catch (error) {
      source.favourite = !favourite;
      this.render();
      this.toasts.show({ tone: "error", title: `${sourceName(source)} could not be `
        + `${favourite ? "added to" : "removed from"} your favourites. ${errorTitle(error)}` });
    }
  }
}
