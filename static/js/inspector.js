// The window inspector: source (searchable, granted sources only), PCM bars, 3 UMD layers.
import { api, busy, showError } from "./api.js";
import { fillSelect } from "./catalog.js";
import { h } from "./util.js";

const $ = (id) => document.getElementById(id);
const LAYERS = [1, 2, 3];
// The 10 UMD layer parameters, in the order an operator reads them.
const UMD_FIELDS = [
  { key: "type", label: "Type" },
  { key: "text_size", label: "Text size" },
  { key: "text", label: "Text", wide: true },
  { key: "x", label: "X position (px)" },
  { key: "y", label: "Y position (px)" },
  { key: "text_colour", label: "Text colour" },
  { key: "text_alpha", label: "Text opacity" },
  { key: "box_colour", label: "Box colour" },
  { key: "box_alpha", label: "Box opacity" },
  { key: "padding", label: "Padding" },
];

export class Inspector {
  constructor(page) {
    this.page = page;
    this.catalog = page.catalog;
    this.sources = page.sources;
    this.win = null;
    this.locked = false;
    this.form = $("inspector-form");
    this.search = $("source-search");
    this.list = $("source-list");
    this.pcm = $("pcm-bars");
    this.build();
  }

  build() {
    fillSelect(this.pcm, this.catalog.choices("window", "pcm_bars"));
    const tabs = $("umd-tabs");
    const panels = $("umd-panels");
    for (const layer of LAYERS) {
      const tab = h("button", {
        type: "button", role: "tab", class: "tab", id: `umd-tab-${layer}`,
        "aria-controls": `umd-panel-${layer}`, "aria-selected": layer === 1 ? "true" : "false",
        tabindex: layer === 1 ? "0" : "-1",
      }, h("span", { class: "dot", "aria-hidden": "true" }), `Layer ${layer}`);
      tab.addEventListener("click", () => this.showLayer(layer));
      tabs.append(tab);
      const panel = h("div", {
        role: "tabpanel", class: "umd-panel", id: `umd-panel-${layer}`,
        "aria-labelledby": `umd-tab-${layer}`, hidden: layer !== 1,
      });
      for (const field of UMD_FIELDS) panel.append(this.umdField(layer, field));
      panels.append(panel);
    }
    tabs.addEventListener("keydown", (event) => {
      if (!["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
      event.preventDefault();
      const current = Number(document.activeElement.id.split("-").pop()) || 1;
      let next = current + (event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0);
      if (event.key === "Home") next = 1;
      if (event.key === "End") next = LAYERS.length;
      next = ((next - 1 + LAYERS.length) % LAYERS.length) + 1;
      this.showLayer(next);
      $(`umd-tab-${next}`).focus();
    });

    this.search.addEventListener("input", () => this.filterSources());
    this.search.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown") {
        event.preventDefault();
        this.list.focus();
        if (this.list.selectedIndex < 0 && this.list.options.length) this.list.selectedIndex = 0;
        this.markChanged();
      } else if (event.key === "Enter") {
        // Enter picks the first match instead of submitting the form.
        event.preventDefault();
        if (this.list.options.length) {
          this.list.selectedIndex = 0;
          this.markChanged();
          this.list.focus();
        }
      }
    });
    this.list.addEventListener("change", () => this.markChanged());
    this.form.addEventListener("input", () => this.markChanged());
    this.form.addEventListener("change", () => this.markChanged());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.apply();
    });
    $("inspector-reset").addEventListener("click", () => {
      this.fill(this.win);
      showError($("inspector-error"), null);
      $("inspector-status").textContent = "";
    });
  }

  umdField(layer, field) {
    const id = `umd-${layer}-${field.key}`;
    const param = this.catalog.param("layer", field.key);
    let control;
    if (field.key === "text") {
      control = h("input", { id, name: id, type: "text", autocomplete: "off",
        maxlength: (param && param.max_length) || 64, spellcheck: "false" });
    } else if (param && param.type === "int") {
      control = h("input", { id, name: id, type: "number", step: "1", inputmode: "numeric",
        min: param.min, max: param.max });
    } else {
      control = h("select", { id, name: id });
      fillSelect(control, this.catalog.choices("layer", field.key));
    }
    control.dataset.layer = String(layer);
    control.dataset.key = field.key;
    if (field.key === "type") control.addEventListener("change", () => this.syncTextState(layer));
    const wrapper = h("label", { class: field.wide ? "wide" : "", for: id },
      h("span", {}, field.label), control);
    if (field.key === "text") {
      wrapper.append(h("span", { class: "hint", id: `${id}-hint` },
        "Editable when the type is Static."));
      control.setAttribute("aria-describedby", `${id}-hint`);
    }
    return wrapper;
  }

  showLayer(layer) {
    for (const other of LAYERS) {
      const on = other === layer;
      $(`umd-tab-${other}`).setAttribute("aria-selected", String(on));
      $(`umd-tab-${other}`).tabIndex = on ? 0 : -1;
      $(`umd-panel-${other}`).hidden = !on;
    }
  }

  setSources(sources) {
    this.sources = sources;
    if (this.win) this.filterSources();
  }

  filterSources() {
    const query = this.search.value.trim().toLowerCase();
    const keep = this.list.value;
    const current = this.win && this.win.source ? this.win.source.id : null;
    const matches = this.sources.filter((s) => !query
      || (s.label || "").toLowerCase().includes(query) || String(s.quartz_input) === query
      || `in ${s.quartz_input}`.includes(query));
    this.list.replaceChildren(...matches.map((s) => {
      const option = new Option(`${s.label || "Input " + s.quartz_input}  ·  IN ${s.quartz_input}`
        + (s.id === current ? "  (on air)" : ""), String(s.id));
      return option;
    }));
    if (keep && matches.some((s) => String(s.id) === keep)) this.list.value = keep;
    else this.list.selectedIndex = -1;
    $("source-count").textContent = query
      ? `${matches.length} of ${this.sources.length} sources match`
      : `${this.sources.length} sources you may route`;
  }

  open(win) {
    if (!win) return;
    $("inspector-empty").hidden = true;
    this.form.hidden = false;
    showError($("inspector-error"), null);
    $("inspector-status").textContent = "";
    this.fill(win);
    this.setLocked(this.locked);
    if (matchMedia("(max-width: 900px)").matches) {
      $("inspector").scrollIntoView({ behavior: "smooth", block: "start" });
    }
  }

  close() {
    this.win = null;
    this.form.hidden = true;
    $("inspector-empty").hidden = false;
    $("inspector-title").textContent = "Window";
    $("inspector-sub").textContent = "";
  }

  /** An event, a read or a write brought a newer state of the open window. */
  update(win) {
    if (!win || !this.win || win.window !== this.win.window) return;
    const before = this.win;
    this.win = win;
    if (windowKey(before) === windowKey(win)) return;
    if (!this.dirty()) {
      this.fill(win, { keepSearch: true });
      return;
    }
    // Keep what the operator changed and has not applied yet; what they did not touch follows
    // the new state (a colleague's change, a take on the router).
    this.header();
    const source = win.source ? String(win.source.id) : "";
    const pickedSource = this.list.value !== "" && this.list.value !== this.list.dataset.original;
    this.filterSources();
    if (!pickedSource) this.list.value = source;
    if (!pickedSource && !win.source) this.list.selectedIndex = -1;
    this.list.dataset.original = source;
    follow(this.pcm, win.pcm_bars);
    for (const layer of LAYERS) {
      const values = (win.umd || []).find((l) => l.layer === layer) || {};
      for (const field of UMD_FIELDS) follow($(`umd-${layer}-${field.key}`), values[field.key]);
      this.syncTextState(layer);
    }
    this.markChanged();
  }

  header() {
    const win = this.win;
    $("inspector-title").textContent = `Window ${win.window}`;
    $("inspector-sub").textContent = `router output ${win.output ?? "—"}`;
    // input null: the router has not said what feeds this output (not "nothing routed").
    $("insp-current").textContent = win.source
      ? `${win.source.label} (IN ${win.source.quartz_input})`
      : win.input !== null && win.input !== undefined
        ? `input ${win.input} (not a known source)`
        : "route unknown (the router has not said what feeds this output)";
  }

  fill(win, { keepSearch = false } = {}) {
    this.win = win;
    this.header();
    if (!keepSearch) this.search.value = "";
    this.filterSources();
    this.list.value = win.source ? String(win.source.id) : "";
    if (!win.source) this.list.selectedIndex = -1;
    this.list.dataset.original = this.list.value;
    setValue(this.pcm, win.pcm_bars);
    for (const layer of LAYERS) {
      const values = (win.umd || []).find((l) => l.layer === layer) || {};
      for (const field of UMD_FIELDS) {
        setValue($(`umd-${layer}-${field.key}`), values[field.key]);
      }
      this.syncTextState(layer);
    }
    for (const node of this.form.querySelectorAll("[aria-invalid]")) {
      node.removeAttribute("aria-invalid");
    }
    this.markChanged();
  }

  syncTextState(layer) {
    const type = $(`umd-${layer}-type`);
    const text = $(`umd-${layer}-text`);
    const isStatic = type.value !== "" && Number(type.value) === this.catalog.staticType;
    text.disabled = this.locked || !isStatic;
    const dot = $(`umd-tab-${layer}`).querySelector(".dot");
    dot.classList.toggle("on", type.value !== "" && Number(type.value) !== this.catalog.offType);
  }

  setLocked(locked) {
    this.locked = locked;
    for (const node of this.form.querySelectorAll("input, select, button[type=submit]")) {
      node.disabled = locked;
    }
    $("inspector-reset").disabled = locked;
    if (!locked) for (const layer of LAYERS) this.syncTextState(layer);
  }

  controls() {
    return [this.pcm, ...this.form.querySelectorAll("[data-layer]")];
  }

  markChanged() {
    for (const node of this.controls()) {
      node.classList.toggle("changed", node.value !== (node.dataset.original ?? ""));
    }
    this.list.classList.toggle("changed",
      this.list.value !== "" && this.list.value !== this.list.dataset.original);
  }

  dirty() {
    return Boolean(this.changes().count);
  }

  /** What differs from the window as last read: the body of POST .../windows/{n}. */
  changes() {
    const body = {};
    let count = 0;
    const problems = {};
    if (this.list.value && this.list.value !== this.list.dataset.original) {
      body.source = Number(this.list.value);
      count += 1;
    }
    if (this.pcm.value !== (this.pcm.dataset.original ?? "") && this.pcm.value !== "") {
      body.pcm_bars = Number(this.pcm.value);
      count += 1;
    }
    const umd = [];
    for (const layer of LAYERS) {
      const values = {};
      for (const field of UMD_FIELDS) {
        const node = $(`umd-${layer}-${field.key}`);
        if (node.value === (node.dataset.original ?? "") || node.value === "") continue;
        if (field.key === "text") {
          values.text = node.value;
        } else if (node.type === "number") {
          const number = Number(node.value);
          const low = Number(node.min);
          const high = Number(node.max);
          if (!Number.isInteger(number) || number < low || number > high) {
            problems[node.id] = `Layer ${layer} ${field.label.toLowerCase()}: a whole number `
              + `from ${low} to ${high}.`;
            continue;
          }
          values[field.key] = number;
        } else {
          values[field.key] = Number(node.value);
        }
      }
      if (Object.keys(values).length) {
        umd.push({ layer, ...values });
        count += Object.keys(values).length;
      }
    }
    if (umd.length) body.umd = umd;
    return { body, count, problems };
  }

  async apply() {
    if (!this.win || this.locked) return;
    const status = $("inspector-status");
    const errorBox = $("inspector-error");
    const { body, count, problems } = this.changes();
    for (const node of this.form.querySelectorAll("[aria-invalid]")) {
      node.removeAttribute("aria-invalid");
    }
    if (Object.keys(problems).length) {
      for (const id of Object.keys(problems)) $(id).setAttribute("aria-invalid", "true");
      showError(errorBox, { detail: "Some values are out of range.",
        fields: { non_field_errors: Object.values(problems) } });
      return;
    }
    if (!count) {
      showError(errorBox, null);
      status.className = "muted small";
      status.textContent = "Nothing changed.";
      return;
    }
    const mvId = this.page.mv.id;
    const number = this.win.window;
    status.className = "muted small";
    status.textContent = `Applying ${count} change${count === 1 ? "" : "s"}…`;
    try {
      await busy($("inspector-apply"), async () => {
        try {
          const mv = await this.page.track(
            () => api.post(`/api/multiviewers/${mvId}/windows/${number}`, body));
          showError(errorBox, null);
          this.win = null;
          if (this.page.mv && this.page.mv.id === mvId) {
            this.page.render(mv);
            const fresh = this.page.window(number);
            if (fresh) this.fill(fresh);
          }
          status.className = "small ok";
          status.textContent = `Applied to window ${number}.`;
        } catch (error) {
          status.textContent = "";
          this.markFields(error, number);
          showError(errorBox, this.page.explain(error));
          this.page.handleWriteError(error);
        }
      });
    } finally {
      this.setLocked(this.page.locked);
    }
  }

  /** Point at the inputs the API's "fields" name (windows.{n}.umd.{layer}.{key}, …). */
  markFields(error, number) {
    for (const name of Object.keys(error.fields || {})) {
      const parts = name.split(".");
      const rest = parts[0] === "windows" ? parts.slice(2) : parts;
      let node = null;
      if (rest[0] === "source") node = this.list;
      else if (rest[0] === "pcm_bars") node = this.pcm;
      else if (rest[0] === "umd" && rest.length >= 3) node = $(`umd-${rest[1]}-${rest[2]}`);
      if (node && (parts[0] !== "windows" || Number(parts[1]) === number || parts.length < 3)) {
        node.setAttribute("aria-invalid", "true");
        if (rest[0] === "umd") this.showLayer(Number(rest[1]));
      }
    }
  }
}

/** What the inspector shows of a window (not when it was read). */
function windowKey(win) {
  return JSON.stringify([win.window, win.output, win.input ?? null,
    win.source ? [win.source.id, win.source.label] : null, win.pcm_bars ?? null, win.umd || null]);
}

/** A control the operator did not change takes the new value; a changed one keeps theirs,
 * measured against the new value from now on. */
function follow(node, value) {
  const text = value === null || value === undefined ? "" : String(value);
  if (node.value === (node.dataset.original ?? "")) setValue(node, text);
  else node.dataset.original = text;
}

function setValue(node, value) {
  const text = value === null || value === undefined ? "" : String(value);
  if (node.tagName === "SELECT") {
    const placeholder = [...node.options].find((o) => o.value === "");
    if (text === "" && !placeholder) node.prepend(new Option("—", ""));
    if (text !== "" && placeholder) placeholder.remove();
  }
  node.value = text;
  node.dataset.original = text;
}
