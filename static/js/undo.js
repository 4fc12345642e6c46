// Undo: the last change made to the multiviewer shown (a take, a UMD or PCM edit, a layout, a
// preset), taken back in one step. The server keeps the step (the multiviewer document's
// `undo`) and undoes through the same command flow as any write: grants, lease, rate, device.
import { api, busy } from "./api.js";
import { Toasts, failureNote } from "./toast.js";
import { timeText } from "./util.js";

const $ = (id) => document.getElementById(id);

export class UndoButton {
  constructor(page) {
    this.page = page;
    this.button = $("undo-btn");
    this.text = $("undo-text");
    // What the undo did, next to the button; a refusal stays until the next outcome.
    this.toasts = new Toasts($("undo-status"));
    this.shownFor = null; // the multiviewer the notes are about
    this.step = "null"; // the step shown, to drop an "Undone" once a newer change replaced it
    this.button.addEventListener("click", () => this.undo());
  }

  /** Show the undo step of `mv` (a multiviewer document), or hide the button when none. */
  update(mv) {
    if (!mv || mv.id !== this.shownFor) {
      this.toasts.clear();
      this.shownFor = mv ? mv.id : null;
    }
    const step = (mv && mv.undo) || null;
    if (JSON.stringify(step) !== this.step) {
      this.step = JSON.stringify(step);
      this.toasts.clear("ok", "info");
    }
    const hadFocus = document.activeElement === this.button;
    this.button.hidden = !step;
    if (!step) {
      // The step was used or replaced while the button had focus: keep the keyboard near.
      if (hadFocus) $("drawing").focus();
      return;
    }
    this.text.textContent = `Undo: ${step.description}`;
    const when = step.at ? ` at ${timeText(step.at)}` : "";
    const who = step.login ? ` by ${step.login}` : "";
    this.button.title = `Take back the last change to MV ${mv.number} (made${who}${when}): `
      + `${step.description}.`;
  }

  async undo() {
    const page = this.page;
    const mv = page.mv;
    if (!mv || !mv.undo || mv.id !== this.shownFor) {
      this.update(mv); // the multiviewer shown changed (or failed to load) since
      return;
    }
    const description = mv.undo.description;
    this.toasts.clear();
    await busy(this.button, async () => {
      try {
        const answer = await page.track(() => api.post(`/api/multiviewers/${mv.id}/undo`));
        if (page.mv && page.mv.id === mv.id) page.render(answer);
        this.toasts.show({ tone: "ok", title: `Undone: ${description}.` });
      } catch (error) {
        this.toasts.show(failureNote(error, { what: "Undo" }));
        page.handleWriteError(error);
        // Someone else's change replaced the step, or it was used: show what is there now.
        if (error && error.code === "nothing_to_undo") page.reloadInBackground();
      }
    });
  }
}
