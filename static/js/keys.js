// The keyboard take and the page's shortcuts. A take line, as on a router panel's display:
//
//   Window [3] ← Source [12 · CAM 12]
//
// While the focus is not in a text field, digits type into it: the window number, Enter (that
// window is selected), the source number (router input), Enter (taken at once). Right after a
// window is selected — by its number or in the drawing — digits go straight to the source.
// After each keyboard take the line starts over at the window, and Enter alone keeps the same
// window: every keyboard take is typed the same way, and a number meant for a window can never
// take a source into the wrong one.
import { openDialog, setupDialog } from "./dialogs.js";
import { sourceName } from "./sources.js";
import { h } from "./util.js";

const $ = (id) => document.getElementById(id);
const WINDOW_DIGITS = 2; // windows 1..16
const SOURCE_DIGITS = 4; // router inputs

/** Every shortcut of the page: the overlay (?) and docs/control-page.md list these. */
export const SHORTCUTS = [
  { keys: ["0", "…", "9"], what: "Type the window number, then the source number (router input)." },
  { keys: ["Enter"], what: "After a window number: select that window. After a source number: "
    + "take it into the window, at once." },
  { keys: ["Enter"], what: "With no window number typed: keep the selected window and type the "
    + "source." },
  { keys: ["Backspace"], what: "Delete the last digit (from an empty source: back to the "
    + "window)." },
  { keys: ["Esc"], what: "Clear the take line; again: back to the window number." },
  { keys: ["/"], what: "Filter the sources by name or number. Enter takes the only match; "
    + "↓ goes to the buttons; Esc clears, then leaves the filter." },
  { keys: ["←", "→", "↑", "↓"], what: "Move between the source buttons, or between the windows "
    + "of the drawing." },
  { keys: ["Enter"], what: "On a source button: take it into the selected window. On a window of "
    + "the drawing: select it.", alt: ["Space"] },
  { keys: ["*"], what: "On a source button: add it to your favourites, or remove it." },
  { keys: ["Enter"], what: "In a field of the window inspector: Apply the pending changes." },
  { keys: ["?"], what: "Show this list." },
];

/** Typing into this element: digits and Enter are its own. */
function typingIn(element) {
  if (!element || !element.tagName) return false;
  if (element.isContentEditable) return true;
  if (element.tagName === "TEXTAREA" || element.tagName === "SELECT") return true;
  if (element.tagName !== "INPUT") return false;
  return !["button", "checkbox", "radio", "range", "submit", "reset", "file", "color", "image"]
    .includes(element.type);
}

/** No control has the focus: keys are the page's. */
function nothingFocused() {
  const active = document.activeElement;
  return !active || active === document.body || active === document.documentElement
    || active.id === "drawing";
}

export class KeyboardTakes {
  /** `page`: the control page (selected window, shown multiviewer); `panel`: the SourcePanel
   * that makes the take. */
  constructor(page, panel) {
    this.page = page;
    this.panel = panel;
    this.field = "window"; // where digits go
    this.windowText = "";
    this.sourceText = "";
    this.note = null; // a sentence for the last key (an unknown window or source), until the next
    this.dialog = $("shortcuts-dialog");
    setupDialog(this.dialog);
    document.addEventListener("keydown", (event) => this.keydown(event), true);
    $("shortcuts-btn").addEventListener("click", () => this.openShortcuts());
    $("take-window-field").addEventListener("click", () => this.goTo("window"));
    $("take-source-field").addEventListener("click", () => {
      if (this.page.selected) this.goTo("source");
    });
    this.render();
  }

  /** Captured before the focused element sees the key: a digit typed while a button has the
   * focus goes to the take line, and the Enter that ends the number is not that button's. */
  keydown(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (document.querySelector("dialog[open]")) return; // a dialog's keys are its own
    if (typingIn(event.target)) return;
    const key = event.key;
    const typed = Boolean(this.windowText || this.sourceText);
    const idle = nothingFocused();
    let handled = true;
    if (key === "?") this.openShortcuts();
    else if (key === "/") {
      this.panel.filter.focus();
      this.panel.filter.select();
    } else if (/^[0-9]$/.test(key)) this.digit(key);
    else if (key === "Enter" && (typed || idle)) this.enter();
    else if (key === "Backspace" && (typed || (idle && this.field === "source"))) this.backspace();
    else if (key === "Escape" && (typed || (idle && this.field === "source"))) this.escape();
    else handled = false;
    if (handled) {
      event.preventDefault();
      event.stopPropagation();
    }
  }

  digit(digit) {
    this.note = null;
    if (this.field === "source" && this.page.selected) {
      this.sourceText = (this.sourceText + digit).slice(-SOURCE_DIGITS);
    } else {
      this.field = "window";
      this.windowText = (this.windowText + digit).slice(-WINDOW_DIGITS);
    }
    this.render();
  }

  async enter() {
    this.note = null;
    const page = this.page;
    if (this.field === "window") {
      if (!this.windowText) {
        if (page.selected) this.field = "source";
        else this.note = "Type a window number first.";
        this.render();
        return;
      }
      const number = Number(this.windowText);
      this.windowText = "";
      if (!page.mv || !page.mv.layout) {
        this.note = "No multiviewer layout is shown.";
      } else if (!page.window(number)) {
        this.note = `MV ${page.mv.number} has no window ${number}: layout ${page.mv.layout} has `
          + `windows 1 to ${page.mv.windows.length}.`;
      } else {
        this.render();
        await page.selectWindow(number); // sends the line on to the source (onSelect)
        return;
      }
      this.render();
      return;
    }
    if (!this.sourceText) {
      this.note = "Type the source number, then Enter.";
      this.render();
      return;
    }
    const number = Number(this.sourceText);
    const source = this.panel.byInput(number);
    this.sourceText = "";
    if (!source) {
      this.note = `Source ${number} is not one of your sources.`;
      this.render();
      return;
    }
    const into = page.selected;
    // The line starts over at the window; Enter alone keeps this one.
    this.field = "window";
    this.render();
    if (into) await this.panel.take(into, source);
  }

  backspace() {
    this.note = null;
    if (this.field === "source") {
      if (this.sourceText) this.sourceText = this.sourceText.slice(0, -1);
      else this.field = "window";
    } else {
      this.windowText = this.windowText.slice(0, -1);
    }
    this.render();
  }

  escape() {
    this.note = null;
    if (this.windowText || this.sourceText) {
      this.windowText = "";
      this.sourceText = "";
    } else {
      this.field = "window";
    }
    this.render();
  }

  goTo(field) {
    this.note = null;
    this.field = field;
    this.windowText = "";
    this.sourceText = "";
    this.render();
  }

  /** A window was selected (here, in the drawing, by a drop): digits now go to the source. */
  onSelect() {
    this.goTo("source");
  }

  /** No window is selected any more (another multiviewer, a layout without it). */
  onDeselect() {
    this.goTo("window");
  }

  render() {
    const page = this.page;
    const selected = page.selected;
    const field = this.field === "source" && selected ? "source" : "window";
    const windowValue = $("take-window");
    windowValue.textContent = this.windowText || (selected ? String(selected) : "");
    windowValue.classList.toggle("kept", !this.windowText && Boolean(selected)
      && field === "window");
    $("take-source").textContent = this.sourceText;
    const typedSource = this.sourceText ? this.panel.byInput(Number(this.sourceText)) : null;
    const preview = $("take-source-name");
    preview.textContent = !this.sourceText ? ""
      : typedSource ? sourceName(typedSource) : "not one of yours";
    preview.classList.toggle("unknown", Boolean(this.sourceText) && !typedSource);
    $("take-window-field").classList.toggle("active", field === "window");
    $("take-source-field").classList.toggle("active", field === "source");
    let hint;
    if (this.note) hint = this.note;
    else if (page.locked) hint = "Takes are blocked while another user edits this multiviewer.";
    else if (field === "source") {
      hint = `Type the source number, then Enter to take it into window ${selected}.`;
    } else if (this.windowText) hint = "Enter selects this window.";
    else if (selected) hint = `Enter keeps window ${selected}; or type another window number.`;
    else hint = "Type a window number, then Enter. ? lists the keys.";
    const hintNode = $("take-hint");
    if (hintNode.textContent !== hint) hintNode.textContent = hint;
    hintNode.classList.toggle("warn", Boolean(this.note));
  }

  openShortcuts() {
    const table = $("shortcuts-table");
    if (!table.childElementCount) {
      const body = h("tbody", {}, SHORTCUTS.map((s) => h("tr", {},
        h("th", { scope: "row" }, keysCell(s.keys, s.alt)), h("td", {}, s.what))));
      table.append(h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Keys"),
        h("th", { scope: "col" }, "What they do"))), body);
    }
    openDialog(this.dialog, { focus: this.dialog.querySelector("[data-close]") });
  }
}

function keysCell(keys, alt) {
  const parts = [];
  keys.forEach((key, index) => {
    if (index) parts.push(" ");
    parts.push(key === "…" ? "…" : h("kbd", {}, key));
  });
  for (const other of alt || []) parts.push(" or ", h("kbd", {}, other));
  return parts;
}
