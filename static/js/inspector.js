// The window inspector: what the selected window shows on air, and its PCM bars and 3 UMD layers
// as edit-then-Apply fields. Takes (the source) are not edited here: a take is one router switch
// and happens at once from the source panel (sources.js); these edits wait for Apply.
import { api, busy, fieldEntries, showError } from "./api.js";
import { fillSelect } from "./catalog.js";
import { EditField, pendingText } from "./pending.js";
import { Toasts, failureNote } from "./toast.js";
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
const SCROLL_GAP = 12; // px between a revealed field and the sticky Apply bar

export class Inspector {
  constructor(page) {
    this.page = page;
    this.catalog = page.catalog;
    this.win = null;
    this.locked = false;
    this.form = $("inspector-form");
    this.toasts = new Toasts($("inspector-status"));
    this.fields = []; // every EditField, PCM bars first
    this.umd = new Map(); // "layer:key" → EditField
    this.build();
  }

  build() {
    const pcm = $("pcm-bars");
    fillSelect(pcm, this.catalog.choices("window", "pcm_bars"));
    this.pcm = this.field(pcm, { label: "PCM bars", scope: "window", key: "pcm_bars" });
    $("pcm-field").replaceChildren(this.pcm.root);
    const tabs = $("umd-tabs");
    const panels = $("umd-panels");
    for (const layer of LAYERS) {
      const tab = h("button", {
        type: "button", role: "tab", class: "tab", id: `umd-tab-${layer}`,
        "aria-controls": `umd-panel-${layer}`, "aria-selected": layer === 1 ? "true" : "false",
        tabindex: layer === 1 ? "0" : "-1",
      }, h("span", { class: "dot", "aria-hidden": "true" }), `Layer ${layer}`,
      h("span", { class: "tab-mark", id: `umd-tab-${layer}-mark` }));
      tab.addEventListener("click", () => this.showLayer(layer));
      tabs.append(tab);
      const panel = h("div", {
        role: "tabpanel", class: "umd-panel", id: `umd-panel-${layer}`,
        "aria-labelledby": `umd-tab-${layer}`, hidden: layer !== 1,
      });
      for (const spec of UMD_FIELDS) panel.append(this.umdField(layer, spec).root);
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

    this.form.addEventListener("input", () => this.changed());
    this.form.addEventListener("change", () => this.changed());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.apply();
    });
    $("inspector-reset").addEventListener("click", () => {
      for (const field of this.fields) field.revert();
      this.changed();
    });
  }

  /** An EditField for a catalog parameter: its choices or range, a sentence when out of it. */
  field(control, { label, scope, key, wide = false, hint = null }) {
    const param = this.catalog.param(scope, key);
    const options = { label, wide, hint, onChange: () => this.changed() };
    if (control.tagName === "SELECT") {
      options.describe = (value) => this.catalog.label(scope, key, Number(value));
    } else if (key === "text") {
      options.maxLength = (param && param.max_length) || 64;
      options.describe = (value) => (value === "" ? "no text" : `“${value}”`);
    } else if (param && param.type === "int") {
      const low = param.min;
      const high = param.max;
      options.check = (value) => {
        const number = Number(value);
        return value === "" || !Number.isInteger(number) || number < low || number > high
          ? `A whole number from ${low} to ${high}.` : null;
      };
    }
    const field = new EditField(control, options);
    this.fields.push(field);
    return field;
  }

  umdField(layer, spec) {
    const id = `umd-${layer}-${spec.key}`;
    const param = this.catalog.param("layer", spec.key);
    let control;
    if (spec.key === "text") {
      // No maxlength: a longer text is shown as too long and refused, never cut silently.
      control = h("input", { id, name: id, type: "text", autocomplete: "off",
        spellcheck: "false" });
    } else if (param && param.type === "int") {
      control = h("input", { id, name: id, type: "number", step: "1", inputmode: "numeric",
        min: param.min, max: param.max });
    } else {
      control = h("select", { id, name: id });
      fillSelect(control, this.catalog.choices("layer", spec.key));
    }
    control.dataset.layer = String(layer);
    control.dataset.key = spec.key;
    if (spec.key === "type") control.addEventListener("change", () => this.syncTextState(layer));
    const field = this.field(control, {
      label: spec.label, scope: "layer", key: spec.key, wide: spec.wide,
      hint: spec.key === "text" ? "Editable when the type is Static." : null,
    });
    field.layer = layer;
    field.key = spec.key;
    this.umd.set(`${layer}:${spec.key}`, field);
    return field;
  }

  showLayer(layer) {
    for (const other of LAYERS) {
      const on = other === layer;
      $(`umd-tab-${other}`).setAttribute("aria-selected", String(on));
      $(`umd-tab-${other}`).tabIndex = on ? 0 : -1;
      $(`umd-panel-${other}`).hidden = !on;
    }
  }

  open(win) {
    if (!win) return;
    $("inspector-empty").hidden = true;
    this.form.hidden = false;
    this.toasts.clear();
    showError($("inspector-error"), null);
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
    // What the operator changed and has not applied stays; what they did not touch follows the
    // new state (a colleague's change, a take on the router).
    this.header();
    this.pcm.setOriginal(win.pcm_bars, { keepEdit: true });
    this.eachLayerValue(win, (field, value) => field.setOriginal(value, { keepEdit: true }));
    this.changed({ edited: false });
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

  eachLayerValue(win, apply) {
    for (const layer of LAYERS) {
      const values = (win.umd || []).find((l) => l.layer === layer) || {};
      for (const spec of UMD_FIELDS) apply(this.umd.get(`${layer}:${spec.key}`), values[spec.key]);
    }
  }

  fill(win) {
    this.win = win;
    this.header();
    this.pcm.setOriginal(win.pcm_bars);
    this.eachLayerValue(win, (field, value) => field.setOriginal(value));
    this.changed({ edited: false });
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
    for (const node of this.form.querySelectorAll(
      "input, select, button[type=submit], #inspector-reset, button.revert")) {
      node.disabled = locked;
    }
    for (const layer of LAYERS) this.syncTextState(layer);
    for (const field of this.fields) field.sync();
  }

  /**
   * After any edit, revert, read or answer: the markers, the layer tabs and the Apply bar say
   * what is pending. `edited`: the operator changed something, so an earlier "applied" note
   * no longer describes what the fields show.
   */
  changed({ edited = true } = {}) {
    for (const layer of LAYERS) this.syncTextState(layer);
    const count = this.fields.filter((f) => f.pending).length;
    for (const layer of LAYERS) {
      const fields = UMD_FIELDS.map((s) => this.umd.get(`${layer}:${s.key}`));
      const pending = fields.some((f) => f.pending);
      const invalid = fields.some((f) => f.invalid);
      const tab = $(`umd-tab-${layer}`);
      tab.classList.toggle("pending", pending);
      tab.classList.toggle("invalid", invalid);
      $(`umd-tab-${layer}-mark`).textContent = invalid ? " (refused or invalid)"
        : pending ? " (changed)" : "";
    }
    const bar = $("inspector-actions");
    bar.classList.toggle("pending", count > 0);
    $("inspector-pending").textContent = pendingText(count) || "No changes pending";
    $("inspector-reset").hidden = count === 0;
    if (edited && count) this.toasts.clear("ok", "info");
  }

  dirty() {
    return this.fields.some((f) => f.pending);
  }

  get pendingCount() {
    return this.fields.filter((f) => f.pending).length;
  }

  /** What differs from the window as last read: the body of POST .../windows/{n}. */
  changes() {
    const body = {};
    const items = [];
    if (this.pcm.pending && this.pcm.value !== "") {
      body.pcm_bars = Number(this.pcm.value);
      items.push("PCM bars");
    }
    const umd = [];
    for (const layer of LAYERS) {
      const values = {};
      for (const spec of UMD_FIELDS) {
        const field = this.umd.get(`${layer}:${spec.key}`);
        if (!field.pending) continue;
        if (spec.key === "text") values.text = field.value; // "" clears the text
        else if (field.value !== "") values[spec.key] = Number(field.value);
      }
      if (Object.keys(values).length) {
        umd.push({ layer, ...values });
        items.push(`UMD layer ${layer}`);
      }
    }
    if (umd.length) body.umd = umd;
    return { body, items, count: this.pendingCount };
  }

  async apply() {
    if (!this.win || this.locked) return;
    const number = this.win.window;
    const what = `Window ${number}`;
    for (const field of this.fields) field.setError(null);
    showError($("inspector-error"), null);
    const problems = this.fields.filter((f) => f.localProblem());
    if (problems.length) {
      this.changed({ edited: false });
      this.toasts.show({ tone: "error", title: `${what}: not sent: correct the field`
        + `${problems.length === 1 ? "" : "s"} marked in red.` });
      this.reveal(problems[0]);
      return;
    }
    const { body, items, count } = this.changes();
    if (!count) {
      this.toasts.show({ tone: "info", title: "Nothing to apply: no field was changed." });
      return;
    }
    const mvId = this.page.mv.id;
    try {
      await busy($("inspector-apply"), async () => {
        try {
          const mv = await this.page.track(
            () => api.post(`/api/multiviewers/${mvId}/windows/${number}`, body));
          if (this.page.mv && this.page.mv.id === mvId) {
            this.page.render(mv);
            const fresh = this.page.window(number);
            if (fresh && this.win && this.win.window === number) this.fill(fresh);
          }
          this.toasts.show({ tone: "ok",
            title: `Applied to window ${number} on the NEXX frame: ${items.join(", ")}.` });
        } catch (error) {
          const shown = this.markFields(error, number, body);
          this.changed({ edited: false });
          this.toasts.show(failureNote(error, { what, fieldsShown: shown.length > 0 }));
          if (shown.length) this.reveal(shown[0]);
          this.page.handleWriteError(error);
        }
      });
    } finally {
      this.setLocked(this.page.locked);
    }
  }

  /**
   * Put each refused field's sentence under its control (windows.{n}.umd.{layer}.{key},
   * windows.{n}.pcm_bars, or a nested serializer key umd.{index}.{key}); what names no control
   * here is listed above the Apply bar. Returns the fields marked, in the form's order.
   */
  markFields(error, number, body) {
    const marked = new Set();
    const elsewhere = {};
    for (const { key, message } of fieldEntries(error.fields)) {
      const field = this.fieldFor(key, number, body);
      if (field) {
        field.setError(field.serverError ? `${field.serverError} ${message}` : message);
        marked.add(field);
      } else if (error.status === 400 || error.status === 403) {
        elsewhere[key] = [message];
      }
    }
    // A refusal without fields (a device, the lease, the rate) is the toast's alone.
    if (marked.size && Object.keys(elsewhere).length) {
      showError($("inspector-error"), { detail: "Also refused:", fields: elsewhere });
    }
    return this.fields.filter((f) => marked.has(f));
  }

  fieldFor(key, number, body) {
    const parts = key.split(".");
    let rest = parts;
    if (parts[0] === "windows") {
      if (Number(parts[1]) !== number) return null;
      rest = parts.slice(2);
    }
    if (rest[0] === "pcm_bars") return this.pcm;
    if (rest[0] === "umd" && rest.length >= 3) {
      // The service names the layer; the serializer names the item of the list sent.
      const layer = parts[0] === "windows" ? Number(rest[1])
        : (body.umd && body.umd[Number(rest[1])] || {}).layer;
      return this.umd.get(`${layer}:${rest[2]}`) || null;
    }
    return null;
  }

  /** Show a field: its layer's tab, scrolled into view above the sticky Apply bar, focused. */
  reveal(field) {
    if (field.layer) this.showLayer(field.layer);
    const scroller = $("inspector");
    const bar = $("inspector-actions");
    if (getComputedStyle(bar).position === "sticky") {
      scroller.style.scrollPaddingBottom = `${bar.offsetHeight + SCROLL_GAP}px`;
    }
    field.root.scrollIntoView({ block: "nearest" });
    if (!field.control.disabled) field.control.focus({ preventScroll: true });
  }

  /** For the confirmation when another window is selected with edits pending. */
  pendingSummary() {
    return this.fields.filter((f) => f.pending).map((f) => (f.layer
      ? `layer ${f.layer} ${f.label.toLowerCase()}` : f.label)).join(", ");
  }
}

/** What the inspector shows of a window (not when it was read). */
function windowKey(win) {
  return JSON.stringify([win.window, win.output, win.input ?? null,
    win.source ? [win.source.id, win.source.label] : null, win.pcm_bars ?? null, win.umd || null]);
}
