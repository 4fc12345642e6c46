// One edit-then-Apply field: its control, a "changed" marker while the value differs from what
// the device has, a button that puts the device's value back, a counter for length-limited text,
// and the sentence of a refusal directly under it. Invalid looks invalid: red wins over the
// amber of "changed".
import { h } from "./util.js";

export class EditField {
  /**
   * `control`: an <input> or <select> with an id. Options: label (the operator's name of the
   * field), wide, hint (a line under it), maxLength (a live "n/max" counter; the text is not
   * cut), check(value) → a sentence when the value cannot be sent, describe(value) → the value
   * in words (for the revert button), onChange() after a revert.
   */
  constructor(control, { label, wide = false, hint = null, maxLength = null, check = null,
    describe = null, onChange = null } = {}) {
    this.control = control;
    this.label = label;
    this.maxLength = maxLength;
    this.check = check;
    this.describe = describe || ((value) => value);
    this.onChange = onChange;
    this.serverError = null;
    const id = control.id;
    this.mark = h("span", { class: "pending-mark", id: `${id}-pending` }, "changed");
    this.revertButton = h("button", { type: "button", class: "revert", hidden: true });
    this.revertButton.append(h("span", { class: "revert-icon", "aria-hidden": "true" }));
    this.revertButton.addEventListener("click", () => {
      this.revert();
      this.control.focus();
    });
    this.error = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
    this.root = h("div", { class: "field" + (wide ? " wide" : "") },
      h("div", { class: "field-head" }, h("label", { for: id }, label), this.mark,
        this.revertButton),
      control);
    const described = [`${id}-pending`];
    if (hint || maxLength) {
      const foot = h("div", { class: "field-foot" });
      if (hint) {
        foot.append(h("span", { class: "hint", id: `${id}-hint` }, hint));
        described.push(`${id}-hint`);
      }
      if (maxLength) {
        this.counter = h("span", { class: "counter", id: `${id}-counter` });
        foot.append(this.counter);
        described.push(`${id}-counter`);
      }
      this.root.append(foot);
    }
    this.root.append(this.error);
    described.push(`${id}-error`);
    control.setAttribute("aria-describedby", described.join(" "));
    control.dataset.original = control.dataset.original ?? "";
    // Editing a refused value takes its refusal away: the next Apply says anew.
    control.addEventListener("input", () => {
      this.serverError = null;
      this.sync();
    });
    control.addEventListener("change", () => this.sync());
  }

  get original() {
    return this.control.dataset.original ?? "";
  }

  get value() {
    return this.control.value;
  }

  get pending() {
    return this.control.value !== this.original;
  }

  /** The device's value (after a read, a write's answer or an event); the control shows it
   * unless `keepEdit` and the operator changed it. */
  setOriginal(value, { keepEdit = false } = {}) {
    const text = value === null || value === undefined ? "" : String(value);
    const edited = keepEdit && this.pending;
    if (this.control.tagName === "SELECT") {
      const placeholder = [...this.control.options].find((o) => o.value === "");
      if (text === "" && !placeholder) this.control.prepend(new Option("—", ""));
      // The "—" of an unknown value goes once a value is known (unless the operator chose it).
      if (text !== "" && placeholder && !(edited && this.control.value === "")) {
        placeholder.remove();
      }
    }
    if (!edited) this.control.value = text;
    this.control.dataset.original = text;
    if (!edited) this.serverError = null;
    this.sync();
  }

  /** Put the device's value back; no request is made. */
  revert() {
    this.control.value = this.original;
    this.serverError = null;
    this.sync();
    if (this.onChange) this.onChange(this);
  }

  /** The server refused this field: its sentence under it (null: clear). */
  setError(message) {
    this.serverError = message || null;
    this.sync();
  }

  /** A sentence when the value cannot be sent as it is (checked before Apply). */
  localProblem() {
    if (!this.pending || this.control.disabled) return null;
    if (this.control.validity && this.control.validity.badInput) return "Enter a whole number.";
    return this.check ? this.check(this.control.value) : null;
  }

  get invalid() {
    return Boolean(this.serverError || this.localProblem() || this.overLength);
  }

  get overLength() {
    return Boolean(this.maxLength) && [...this.control.value].length > this.maxLength;
  }

  sync() {
    const pending = this.pending;
    this.root.classList.toggle("pending", pending);
    this.control.classList.toggle("changed", pending);
    const original = this.original === "" ? "not known" : this.describe(this.original);
    this.revertButton.setAttribute("aria-label", `Revert ${this.label} to ${original}`);
    this.revertButton.title = `Revert to ${original} (what the device has)`;
    this.revertButton.hidden = !pending;
    if (this.counter) {
      const length = [...this.control.value].length;
      this.counter.textContent = `${length}/${this.maxLength}`;
      this.counter.classList.toggle("over", this.overLength);
    }
    const message = this.serverError || this.localProblem();
    this.error.textContent = message || "";
    this.error.hidden = !message;
    const invalid = Boolean(message) || this.overLength;
    this.root.classList.toggle("invalid", invalid);
    if (invalid) this.control.setAttribute("aria-invalid", "true");
    else this.control.removeAttribute("aria-invalid");
  }
}

/** "3 changes pending" / "1 change pending" / "". */
export function pendingText(count) {
  if (!count) return "";
  return `${count} change${count === 1 ? "" : "s"} pending`;
}
