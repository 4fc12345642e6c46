// The layout picker: every layout drawn small; a click applies one to the multiviewer shown.
// A layout with fewer windows than the one on air drops windows from the output, so that one
// asks first and names the windows that would leave, with what they show; any other applies
// at once. The last change can be taken back with the Undo button above the drawing.
import { api, busy, showError } from "./api.js";
import { confirmAction, openDialog, setupDialog } from "./dialogs.js";
import { layoutThumb, routedText } from "./layout-svg.js";

const $ = (id) => document.getElementById(id);

/** How many windows a layout of GET /api/layouts has. */
export function windowCount(layout) {
  return layout.window_count ?? layout.windows.length;
}

/**
 * The windows of `mv` (a multiviewer document) that `layout` has no room for, in window order:
 * [{window, shows}], `shows` being what feeds it in words ("CAM 3", "Input 42", "route
 * unknown"). Empty when the layout keeps every window, or the current layout is not known.
 */
export function droppedWindows(mv, layout) {
  if (!mv || !mv.layout || !layout) return [];
  const count = windowCount(layout);
  return (mv.windows || [])
    .filter((win) => win.window > count)
    .sort((a, b) => a.window - b.window)
    .map((win) => ({ window: win.window, shows: routedText(win) || "route unknown" }));
}

/** "Window 10 (CAM 3)", "Windows 10 (CAM 3), 11 (Input 42) and 12 (route unknown)". */
export function droppedText(dropped) {
  const parts = dropped.map((d) => `${d.window} (${d.shows})`);
  const list = parts.length > 1
    ? `${parts.slice(0, -1).join(", ")} and ${parts[parts.length - 1]}` : parts[0];
  return `${parts.length > 1 ? "Windows" : "Window"} ${list}`;
}

function mvName(mv) {
  return mv.label && mv.label !== `MV ${mv.number}` ? `MV ${mv.number} · ${mv.label}`
    : `MV ${mv.number}`;
}

export class LayoutPicker {
  constructor(page) {
    this.page = page;
    this.dialog = $("layout-dialog");
    this.grid = $("layout-grid");
    setupDialog(this.dialog);
  }

  open() {
    const page = this.page;
    if (!page.mv) return;
    showError(this.dialog.querySelector("[data-error]"), null);
    if (!this.grid.childElementCount) this.build();
    let current = null;
    for (const button of this.grid.children) {
      const on = Number(button.dataset.layout) === page.mv.layout;
      button.setAttribute("aria-current", on ? "true" : "false");
      button.disabled = page.locked;
      if (on) current = button;
    }
    openDialog(this.dialog, { focus: current || this.grid.firstElementChild });
    if (current) current.scrollIntoView({ block: "nearest" });
  }

  build() {
    const layouts = [...this.page.layouts.values()].sort((a, b) => a.layout - b.layout);
    for (const layout of layouts) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "layout-option";
      button.dataset.layout = String(layout.layout);
      const count = windowCount(layout);
      button.setAttribute("aria-label",
        `Layout ${layout.layout}: ${layout.name}, ${count} windows`);
      const name = document.createElement("span");
      name.className = "lo-name";
      const strong = document.createElement("strong");
      strong.textContent = `${layout.layout} · ${layout.name}`;
      const windows = document.createElement("span");
      windows.textContent = `${count} window${count === 1 ? "" : "s"}`;
      name.append(strong, windows);
      button.append(layoutThumb(layout.windows), name);
      button.addEventListener("click", () => this.choose(layout.layout, button));
      this.grid.append(button);
    }
  }

  /** A layout was clicked: asked first when it drops windows, then applied. */
  async choose(number, button) {
    const page = this.page;
    const mv = page.mv;
    if (!mv) return;
    const layout = page.layouts.get(number);
    const dropped = droppedWindows(mv, layout);
    if (dropped.length) {
      const count = windowCount(layout);
      const ok = await confirmAction({
        title: `Layout ${number} drops ${dropped.length} window${dropped.length === 1 ? "" : "s"}`,
        text: `${mvName(mv)} shows ${mv.windows.length} windows now; layout ${number} `
          + `(${layout.name}) has ${count}. ${droppedText(dropped)} will leave the output. `
          + "Their router outputs keep their sources; Undo brings the layout back.",
        ok: `Apply layout ${number}`,
        danger: true,
      });
      // Another change may have come meanwhile (a colleague, a refresh): apply only to the
      // multiviewer the question was about.
      if (!ok || !page.mv || page.mv.id !== mv.id) return;
    }
    await this.apply(number, button, mv.id);
  }

  async apply(number, button, mvId) {
    const page = this.page;
    await busy(button, async () => {
      try {
        const mv = await page.track(() => api.post(`/api/multiviewers/${mvId}/layout`,
          { layout: number }));
        if (page.mv && page.mv.id === mvId) page.render(mv);
        this.dialog.close("done");
        const status = $("params-status");
        status.className = "param-status ok";
        status.textContent = `Layout ${number} applied`;
        showError($("params-error"), null);
      } catch (error) {
        showError(this.dialog.querySelector("[data-error]"), page.explain(error));
        page.handleWriteError(error);
      }
    });
  }
}
