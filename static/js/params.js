// The multiviewer's settings (font, outer and inner border, output format): edited, then sent
// with "Apply settings", like the window's PCM bars and UMD layers — and apart from takes.
import { api, busy, fieldEntries } from "./api.js";
import { fillSelect } from "./catalog.js";
import { EditField, pendingText } from "./pending.js";
import { Toasts, failureNote } from "./toast.js";

const $ = (id) => document.getElementById(id);

export class ParamsBar {
  constructor(page) {
    this.page = page;
    this.catalog = page.catalog;
    this.fields = new Map(); // key → EditField
    this.mvId = null; // the multiviewer whose values the fields hold
    this.disabled = true; // no multiviewer yet, or another user's lease
    this.toasts = new Toasts($("params-toasts"));
    for (const select of [...document.querySelectorAll("#param-fields select[data-param]")]) {
      const key = select.dataset.param;
      fillSelect(select, this.catalog.choices("multiviewer", key));
      const parent = select.parentNode;
      const next = select.nextSibling;
      const field = new EditField(select, {
        label: select.dataset.label,
        describe: (value) => this.catalog.label("multiviewer", key, Number(value)),
        onChange: () => this.changed(),
      });
      field.root.classList.add("param");
      parent.insertBefore(field.root, next);
      select.addEventListener("change", () => this.changed());
      this.fields.set(key, field);
    }
    $("params-apply").addEventListener("click", () => this.apply());
    $("params-revert").addEventListener("click", () => {
      for (const field of this.fields.values()) field.revert();
      this.changed();
    });
  }

  get keys() {
    return [...this.fields.keys()];
  }

  /** The multiviewer as read: untouched fields follow it; edits of the same one stay. */
  render(mv) {
    const same = this.mvId === mv.id;
    if (!same) this.toasts.clear();
    this.mvId = mv.id;
    for (const [key, field] of this.fields) field.setOriginal(mv[key], { keepEdit: same });
    this.changed({ edited: false });
  }

  setDisabled(disabled, mv) {
    for (const [key, field] of this.fields) {
      field.control.disabled = disabled || !mv || mv[key] === null || mv[key] === undefined;
      field.revertButton.disabled = disabled;
    }
    this.disabled = disabled;
    $("params-revert").disabled = disabled;
    this.changed({ edited: false });
  }

  changed({ edited = true } = {}) {
    const pending = [...this.fields.values()].filter((f) => f.pending);
    $("params-pending").textContent = pendingText(pending.length);
    // The bar keeps its size: Apply waits (disabled) rather than appearing.
    $("params-apply").disabled = !pending.length || this.disabled;
    $("params-revert").hidden = !pending.length;
    $("params").classList.toggle("pending", pending.length > 0);
    if (edited && pending.length) {
      // An earlier outcome ("Font applied", "Layout 36 applied") no longer describes the bar.
      this.toasts.clear("ok", "info");
      $("params-status").textContent = "";
    }
  }

  async apply() {
    const mv = this.page.mv;
    if (!mv || this.page.locked) return;
    const body = {};
    const names = [];
    for (const [key, field] of this.fields) {
      field.setError(null);
      if (field.pending && field.value !== "") {
        body[key] = Number(field.value);
        names.push(field.label);
      }
    }
    if (!names.length) return;
    $("params-status").textContent = "";
    await busy($("params-apply"), async () => {
      try {
        const answer = await this.page.track(() => api.patch(`/api/multiviewers/${mv.id}`, body));
        if (this.page.mv && this.page.mv.id === mv.id) this.page.render(answer);
        this.toasts.show({ tone: "ok", title: `${names.join(", ")} applied on the NEXX frame.` });
      } catch (error) {
        let shown = 0;
        for (const { key, message } of fieldEntries(error.fields)) {
          const field = this.fields.get(key);
          if (field) {
            field.setError(message);
            shown += 1;
          }
        }
        this.changed({ edited: false });
        this.toasts.show(failureNote(error, { what: `MV ${mv.number} settings`,
          fieldsShown: shown > 0 }));
        this.page.handleWriteError(error);
      }
    });
  }
}
