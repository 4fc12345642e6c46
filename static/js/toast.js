// Toasts: a short note next to where the operator acted (the take line, the Apply bar, the
// parameters bar), saying what happened to the devices: applied, partly applied, or refused and
// whether anything was sent. One note per outcome, said once: the sentence under a refused
// field is not repeated here, the lease banner's sentence neither.
import { errorTitle, fieldEntries } from "./api.js";
import { h } from "./util.js";

// A success note goes by itself after this long (it only confirms what the drawing shows); a
// refusal stays until closed, replaced by the next outcome, or the operator edits again.
const OK_MS = 6000;
const KEEP = 3; // notes kept in one region; older ones leave first

export class Toasts {
  /** `region`: the element the notes appear in (a polite live region). */
  constructor(region) {
    this.region = region;
    this.region.classList.add("toasts");
    this.region.setAttribute("aria-live", "polite");
  }

  /**
   * Show a note: {tone: "ok" | "partial" | "error" | "info", title, lines?: [text]}.
   * `replace`: the region's earlier notes leave (an outcome of the same action replaces the
   * last one). Returns the note's element.
   */
  show({ tone = "info", title, lines = [] }, { replace = true } = {}) {
    if (replace) this.clear();
    // The region is a polite live region: the note is read once, in its words.
    const note = h("div", { class: `toast ${tone}`, "data-tone": tone },
      h("p", { class: "toast-title" }, title));
    if (lines.length) note.append(h("ul", {}, lines.map((line) => h("li", {}, line))));
    const close = h("button", { type: "button", class: "toast-close",
      "aria-label": "Dismiss this note" });
    close.addEventListener("click", () => note.remove());
    note.append(close);
    this.region.prepend(note);
    while (this.region.childElementCount > KEEP) this.region.lastElementChild.remove();
    if (tone === "ok" || tone === "info") setTimeout(() => note.remove(), OK_MS);
    return note;
  }

  /** Remove the notes of `tones` (every note when none given). */
  clear(...tones) {
    for (const note of [...this.region.children]) {
      if (!tones.length || tones.includes(note.dataset.tone)) note.remove();
    }
  }
}

/** Router and frame items of an apply result in words ("window 3 pcm_bars" → "window 3 PCM
 * bars"). */
export function itemText(item) {
  return String(item).replaceAll("pcm_bars", "PCM bars").replace(/\bumd\b/g, "UMD")
    .replaceAll("_", " ");
}

/**
 * What a failed write did to the devices, as a note: {tone, title, lines}. `what` names the
 * action ("Window 3", "Take into window 3"); `fieldsShown`: the refused fields are shown under
 * their controls, so the note only points at them.
 */
export function failureNote(error, { what = "", fieldsShown = false } = {}) {
  const prefix = what ? `${what}: ` : "";
  const result = error && error.body && error.body.result;
  if (result && (result.applied || []).length) {
    // Partly applied: the devices took some items before one failed.
    const failed = (result.failed || []).filter((f) => f.error !== "not_attempted");
    const notSent = (result.failed || []).filter((f) => f.error === "not_attempted");
    const cause = failed.length && failed[0].detail ? failed[0].detail
      : error.detail.split(". The change was partly applied")[0];
    const lines = [`Applied: ${result.applied.map(itemText).join(", ")}.`];
    if (failed.length) lines.push(`Failed: ${failed.map((f) => itemText(f.item)).join(", ")}.`);
    if (notSent.length) {
      lines.push(`Not sent: ${notSent.map((f) => itemText(f.item)).join(", ")}.`);
    }
    return { tone: "partial", title: `${prefix}partly applied. ${sentence(cause)}`, lines };
  }
  if (!error || typeof error.detail !== "string") {
    return { tone: "error", title: `${prefix}the page failed: ${error && error.message}` };
  }
  if (error.status === 0) {
    return { tone: "error", title: `${prefix}no answer from the server; whether the change `
      + "reached the devices is not known until the page reads them again." };
  }
  if (error.code === "edit_lease_held") {
    // The banner above the page says who holds the lease and until when.
    const holder = error.body.lease ? error.body.lease.login : "another user";
    return { tone: "error", title: `${prefix}not sent: ${holder} is editing this multiviewer.` };
  }
  if (error.status === 400 && fieldsShown) {
    return { tone: "error", title: `${prefix}refused, nothing was sent: correct the field `
      + "marked in red." };
  }
  const entries = fieldEntries(error.fields);
  if (entries.length) {
    // The fields carry the operator's sentences; the detail only lists their keys.
    return { tone: "error", title: `${prefix}refused, nothing was sent.`,
      lines: entries.map(({ message }) => message) };
  }
  if (error.body && error.body.device) {
    // A device answered with an error, or not at all, before anything was applied.
    return { tone: "error", title: `${prefix}not applied. ${sentence(errorTitle(error))}` };
  }
  return { tone: "error",
    title: `${prefix}refused, nothing was sent. ${sentence(errorTitle(error))}` };
}

function sentence(text) {
  const trimmed = String(text || "").trim();
  if (!trimmed) return "";
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}
