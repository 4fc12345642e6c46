// Presets dialog: choose multiviewers and groups, save, apply, export (download) and import
// (upload). Saving offers by default only the groups the operator may apply later (the server
// checks: POST /api/presets/check) and warns before saving any other; applying shows what
// would change (POST /api/presets/{id}/preview) and writes only once the operator confirms.
import { api, busy, showError } from "./api.js";
import { confirmAction, openDialog } from "./dialogs.js";
import { h, timeText } from "./util.js";

const $ = (id) => document.getElementById(id);
const GROUPS = [
  ["layout", "Layout"], ["font", "Font"], ["borders", "Borders"],
  ["output_format", "Output format"], ["pcm", "PCM bars"], ["umd", "UMD layers"],
  ["sources", "Sources (routing)"],
];
const GROUP_NAMES = Object.fromEntries(GROUPS);
const JOB_ENDED = (job) => job.result && !["queued", "running"].includes(job.status);
// How many of a group's refused items a sentence names before it says "and N more": the
// warning before saving, and the shorter note under the groups.
const NAMED_ITEMS = 8;
const NOTED_ITEMS = 3;

/** "12: CAM 12 (MV 2 window 3)" for the check's "MV 2 window 3: 12: CAM 12"; else as given. */
export function notApplicableItem(item) {
  const match = /^(MV \d+ window \d+): (.+)$/.exec(item);
  return match ? `${match[2]} (${match[1]})` : item;
}

function someOf(items, limit = NAMED_ITEMS) {
  const named = items.slice(0, limit).map(notApplicableItem).join(", ");
  const more = items.length - limit;
  return more > 0 ? `${named} and ${more} more` : named;
}

/**
 * What the operator could not apply of `groups`, one sentence per group, from the check's
 * `not_applicable` ({group: [items]}).
 */
export function notApplicableText(notApplicable, groups) {
  const lines = [];
  for (const group of groups) {
    const items = notApplicable[group];
    if (!items || !items.length) continue;
    if (group === "sources") {
      lines.push(`You may not route ${someOf(items)}: applying this preset's routing would be `
        + "refused for you.");
    } else {
      const name = GROUP_NAMES[group] || group;
      lines.push(`You may not apply ${name.toLowerCase()} ${someOf(items)}: applying this `
        + `preset's ${name.toLowerCase()} would be refused for you.`);
    }
  }
  return lines.join(" ");
}

export class Presets {
  constructor(page) {
    this.page = page;
    this.dialog = $("presets-dialog");
    this.presets = [];
    // The groups the operator ticked or unticked by hand: the check leaves those alone.
    this.touched = new Set();
    // The last check: what the chosen multiviewers hold that the operator could not apply.
    this.notApplicable = {};
    this.checkedFor = null; // the multiviewers (JSON) that check was for; null: none valid
    this.checkSeq = 0;
    this.checking = null;
    this.previewing = null; // {preset, body, button} while a preview waits for Apply/Cancel
    this.buildGroups();
    $("presets-groups").addEventListener("change", (event) => {
      if (event.target.name !== "group") return;
      this.touched.add(event.target.value);
      this.hidePreview();
      this.markGroups();
    });
    $("presets-mvs").addEventListener("change", () => this.multiviewersChanged());
    $("preset-preview-apply").addEventListener("click", () => this.applyPreviewed());
    $("preset-preview-cancel").addEventListener("click", () => this.cancelPreview());
    this.dialog.addEventListener("close", () => this.hidePreview());
    $("preset-save-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.save(event.submitter);
    });
    $("preset-import-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.importFile(event.submitter);
    });
    $("preset-file").addEventListener("change", () => {
      const file = $("preset-file").files[0];
      $("preset-file-name").textContent = file ? file.name : "No file chosen";
    });
    $("presets-mv-all").addEventListener("click", () => this.checkMultiviewers(() => true));
    $("presets-mv-none").addEventListener("click", () => this.checkMultiviewers(() => false));
    $("presets-mv-current").addEventListener("click", () => this.checkMultiviewers(
      (id) => this.page.mv && id === this.page.mv.id));
  }

  buildGroups() {
    $("presets-groups").replaceChildren(...GROUPS.map(([value, label]) => h("label",
      { "data-group": value },
      h("input", { type: "checkbox", name: "group", value, checked: true }), label)));
  }

  buildMultiviewers() {
    const box = $("presets-mvs");
    const checked = new Set(this.chosenMultiviewers());
    const first = !box.childElementCount;
    box.replaceChildren(...this.page.multiviewers.map((mv) => {
      const on = first ? this.page.mv && mv.id === this.page.mv.id : checked.has(mv.id);
      const text = mv.label && mv.label !== `MV ${mv.number}` ? `MV ${mv.number} · ${mv.label}`
        : `MV ${mv.number}`;
      return h("label", {}, h("input", { type: "checkbox", name: "multiviewer",
        value: String(mv.id), checked: Boolean(on) }), text);
    }));
    if (!this.page.multiviewers.length) {
      box.append(h("p", { class: "muted small", text: "No multiviewer is available to you." }));
    }
  }

  checkMultiviewers(predicate) {
    for (const input of $("presets-mvs").querySelectorAll("input")) {
      input.checked = predicate(Number(input.value));
    }
    this.multiviewersChanged();
  }

  multiviewersChanged() {
    this.hidePreview();
    this.check().catch(() => {}); // check() shows its own failure
  }

  // --- what the operator may apply ---------------------------------------------------------

  /**
   * Ask the server what the chosen multiviewers hold that this operator could not apply later,
   * then tick by default only the rest. Resolves once the answer for the current choice is in
   * (a later choice supersedes an earlier check).
   */
  check() {
    const multiviewers = this.chosenMultiviewers();
    const key = JSON.stringify(multiviewers);
    const seq = ++this.checkSeq;
    const box = $("presets-groups");
    this.checkedFor = null;
    if (!multiviewers.length) {
      this.showCheck({}, key);
      box.setAttribute("aria-busy", "false");
      this.checking = Promise.resolve();
      return this.checking;
    }
    // The default ticks may change with the answer: said while it is on its way.
    box.setAttribute("aria-busy", "true");
    const groups = GROUPS.map(([value]) => value);
    this.checking = api.post("/api/presets/check", { multiviewers, groups }).then((answer) => {
      if (seq !== this.checkSeq) return;
      box.setAttribute("aria-busy", "false");
      this.showCheck((answer && answer.not_applicable) || {}, key);
    }, (error) => {
      if (seq !== this.checkSeq) return;
      box.setAttribute("aria-busy", "false");
      this.notApplicable = {};
      this.markGroups();
      const note = $("presets-check-note");
      note.className = "small preset-check-note failed";
      note.textContent = `What you may apply could not be checked: ${error.detail || error}`;
      note.hidden = false;
      throw error;
    });
    return this.checking;
  }

  showCheck(notApplicable, key) {
    this.notApplicable = notApplicable;
    this.checkedFor = key;
    for (const input of $("presets-groups").querySelectorAll("input")) {
      if (this.touched.has(input.value)) continue;
      input.checked = !(notApplicable[input.value] || []).length;
    }
    this.markGroups();
  }

  /** Mark the groups the operator could not apply, and say why under the groups. */
  markGroups() {
    const note = $("presets-check-note");
    const lines = [];
    for (const label of $("presets-groups").querySelectorAll("label[data-group]")) {
      const group = label.dataset.group;
      const items = this.notApplicable[group] || [];
      // Only where it applies: the marker is part of the checkbox's name.
      const marker = label.querySelector(".group-note");
      if (marker && !items.length) marker.remove();
      if (!marker && items.length) {
        label.append(h("span", { class: "group-note", text: "not yours to apply" }));
      }
      label.classList.toggle("not-applicable", items.length > 0);
      if (!items.length) {
        label.removeAttribute("title");
        continue;
      }
      label.title = `You could not apply: ${someOf(items)}`;
      const ticked = label.querySelector("input").checked;
      const name = GROUP_NAMES[group] || group;
      const held = `${items.length} item${items.length === 1 ? "" : "s"} you may not apply `
        + `(${someOf(items, NOTED_ITEMS)}).`;
      lines.push(ticked ? `${name} is ticked, though it holds ${held} Saving asks first.`
        : `${name} is not ticked: it holds ${held} Tick it to save them anyway.`);
    }
    note.className = "small preset-check-note";
    note.textContent = lines.join(" ");
    note.hidden = !lines.length;
  }

  chosenMultiviewers() {
    return [...$("presets-mvs").querySelectorAll("input:checked")].map((i) => Number(i.value));
  }

  chosenGroups() {
    return [...$("presets-groups").querySelectorAll("input:checked")].map((i) => i.value);
  }

  async open() {
    this.buildMultiviewers();
    for (const id of ["preset-save-error", "preset-list-error"]) showError($(id), null);
    $("preset-status").textContent = "";
    this.hidePreview();
    openDialog(this.dialog, { focus: $("preset-name") });
    this.check().catch(() => {}); // check() shows its own failure
    await this.load();
  }

  async load() {
    const rows = $("preset-rows");
    try {
      this.presets = await api.get("/api/presets");
      this.renderRows();
    } catch (error) {
      rows.replaceChildren(h("tr", {}, h("td", { colspan: "4", class: "muted",
        text: "The presets could not be loaded." })));
      showError($("preset-list-error"), error);
    }
  }

  renderRows() {
    const rows = $("preset-rows");
    if (!this.presets.length) {
      rows.replaceChildren(h("tr", {}, h("td", { colspan: "4", class: "muted",
        text: "No preset yet: choose multiviewers and groups, name it and save." })));
      return;
    }
    rows.replaceChildren(...this.presets.map((preset) => {
      const mvs = preset.multiviewers.map((m) => `MV ${m.number}`).join(", ");
      const groups = preset.groups.map((g) => GROUP_NAMES[g] || g).join(", ");
      const apply = h("button", { type: "button", class: "btn small primary",
        "aria-label": `Apply preset ${preset.name}`, text: "Apply" });
      const exportButton = h("button", { type: "button", class: "btn small",
        "aria-label": `Export preset ${preset.name}`, text: "Export" });
      const remove = h("button", { type: "button", class: "btn small danger",
        "aria-label": `Delete preset ${preset.name}`, text: "Delete" });
      apply.addEventListener("click", () => this.apply(preset, apply));
      exportButton.addEventListener("click", () => this.exportPreset(preset, exportButton));
      remove.addEventListener("click", () => this.remove(preset, remove));
      return h("tr", { "data-preset": String(preset.id) },
        h("td", {}, h("strong", { text: preset.name }), h("br"),
          h("span", { class: "muted small", text: `saved ${timeText(preset.created_at)}` })),
        h("td", { text: mvs }),
        h("td", { class: "small", text: groups }),
        h("td", { class: "actions" }, apply, exportButton, remove));
    }));
  }

  status(text, ok = false) {
    const node = $("preset-status");
    node.className = ok ? "small ok" : "muted small";
    node.textContent = text;
  }

  async save(button) {
    const errorBox = $("preset-save-error");
    const name = $("preset-name").value.trim();
    const multiviewers = this.chosenMultiviewers();
    const groups = this.chosenGroups();
    const missing = [];
    if (!name) missing.push("a name");
    if (!multiviewers.length) missing.push("at least one multiviewer");
    if (!groups.length) missing.push("at least one parameter group");
    if (missing.length) {
      showError(errorBox, { detail: `Choose ${missing.join(", ")}.`, fields: {} });
      return;
    }
    showError(errorBox, null);
    if (!(await this.mayApplyOrConfirm(name, multiviewers, groups, button))) return;
    await busy(button, async () => {
      try {
        const saved = await api.post("/api/presets", { name, multiviewers, groups });
        showError(errorBox, null);
        $("preset-name").value = "";
        this.status(`Saved preset “${saved.name}”.`
          + (saved.warnings && saved.warnings.length ? ` ${saved.warnings.join(" ")}` : ""),
        true);
        await this.load();
      } catch (error) {
        showError(errorBox, error);
      }
    });
  }

  /**
   * True when every chosen group is one the operator may apply, or they confirmed saving it
   * anyway. The check of the current choice is awaited first (it may still be on its way).
   */
  async mayApplyOrConfirm(name, multiviewers, groups, button) {
    if (this.checkedFor !== JSON.stringify(multiviewers)) {
      try {
        await busy(button, () => this.check());
      } catch {
        // The check failed (its note says so); the save itself still checks grants.
        return true;
      }
    }
    const text = notApplicableText(this.notApplicable, groups);
    if (!text) return true;
    return confirmAction({
      title: `Save “${name}” with what you may not apply?`,
      text: `${text} Save it anyway, for someone who may, or untick those groups.`,
      ok: "Save anyway",
    });
  }

  async apply(preset, button) {
    const errorBox = $("preset-list-error");
    showError(errorBox, null);
    $("preset-result").hidden = true;
    const held = preset.multiviewers.filter((m) => m.id !== null);
    const chosen = new Set(this.chosenMultiviewers());
    const targets = held.filter((m) => chosen.has(m.id));
    const groups = this.chosenGroups().filter((g) => preset.groups.includes(g));
    if (!targets.length) {
      showError(errorBox, { detail: `None of the multiviewers chosen above is in preset `
        + `“${preset.name}”; it holds ${preset.multiviewers.map((m) => `MV ${m.number}`)
          .join(", ")}. Tick them above.`, fields: {} });
      return;
    }
    if (!groups.length) {
      showError(errorBox, { detail: `None of the groups ticked is in preset “${preset.name}”; `
        + `it holds ${preset.groups.map((g) => GROUP_NAMES[g] || g).join(", ")}.`, fields: {} });
      return;
    }
    const body = { multiviewers: targets.map((m) => m.id), groups };
    await busy(button, async () => {
      try {
        const preview = await api.post(`/api/presets/${preset.id}/preview`, body);
        this.showPreview(preset, body, preview, button);
      } catch (error) {
        showError(errorBox, error);
      }
    });
  }

  // --- preview, then apply ----------------------------------------------------------------

  /** What applying would change, per multiviewer and group; Apply writes it, Cancel not. */
  showPreview(preset, body, preview, button) {
    this.previewing = { preset, body, button };
    const groups = body.groups;
    const reports = preview.multiviewers || [];
    const refused = preview.refused || {};
    const refusedMvs = refused.multiviewers || [];
    const refusedSources = refused.sources || [];
    const total = preview.parameters ?? 0;
    const changes = reports.reduce((sum, r) => sum + groups.reduce(
      (n, g) => n + ((r.groups || {})[g] || 0), 0), 0);
    $("preset-preview-title").textContent = `Apply “${preset.name}”: what would change`;
    let summary;
    if (!total && !changes) {
      summary = "Nothing would change: the multiviewers already show what the preset holds.";
    } else {
      summary = `Applying sends ${total} value${total === 1 ? "" : "s"} to `
        + `${reports.length} multiviewer${reports.length === 1 ? "" : "s"}; only what differs `
        + "is sent.";
      if (preview.background) {
        summary += " It runs in the background (more than one request's worth): this page "
          + "follows its progress.";
      }
    }
    $("preset-preview-summary").textContent = summary;
    $("preset-preview-head").replaceChildren(h("tr", {},
      h("th", { scope: "col", text: "Multiviewer" }),
      ...groups.map((g) => h("th", { scope: "col", class: "num", text: GROUP_NAMES[g] || g })),
      h("th", { scope: "col", class: "num", text: "Values" })));
    $("preset-preview-rows").replaceChildren(...reports.map((report) => {
      const mv = report.multiviewer || {};
      return h("tr", { "data-multiviewer": mv.id ?? "" },
        h("th", { scope: "row", text: mv.number !== undefined ? `MV ${mv.number}` : mv.label }),
        ...groups.map((g) => {
          const count = (report.groups || {})[g] || 0;
          return h("td", { class: "num" + (count ? "" : " unchanged"), "data-group": g,
            text: String(count) });
        }),
        h("td", { class: "num", text: String(report.parameters ?? 0) }));
    }));
    const refusedBox = $("preset-preview-refused");
    const lines = [];
    if (refusedMvs.length) lines.push(`multiviewers ${refusedMvs.join(", ")}`);
    if (refusedSources.length) lines.push(`${refusedSources.join(", ")}`);
    if (lines.length) {
      const fix = refusedSources.length ? "Untick Sources (routing) above"
        : "Untick those multiviewers above";
      showError(refusedBox, { detail: `You may not apply this as chosen: it needs `
        + `${lines.join("; ")}, which you have no access to. ${fix}, or ask an admin for the `
        + "grants.", fields: {} });
    } else {
      showError(refusedBox, null);
    }
    const apply = $("preset-preview-apply");
    const targets = preset.multiviewers.filter((m) => body.multiviewers.includes(m.id));
    apply.textContent = targets.length === 1 ? `Apply to MV ${targets[0].number}`
      : `Apply to ${targets.length} multiviewers`;
    // A refused apply would write nothing: the button waits for another choice.
    apply.disabled = lines.length > 0 || (!total && !changes);
    $("preset-preview").hidden = false;
    (apply.disabled ? $("preset-preview-cancel") : apply).focus();
    $("preset-preview").scrollIntoView({ block: "nearest" });
  }

  hidePreview() {
    this.previewing = null;
    $("preset-preview").hidden = true;
  }

  cancelPreview() {
    const previewing = this.previewing;
    this.hidePreview();
    this.status("Nothing was applied.");
    if (previewing && document.contains(previewing.button)) previewing.button.focus();
  }

  async applyPreviewed() {
    const previewing = this.previewing;
    if (!previewing) return;
    const { preset, body } = previewing;
    const errorBox = $("preset-list-error");
    const button = $("preset-preview-apply");
    try {
      await busy(button, async () => {
        try {
          const answer = await api.post(`/api/presets/${preset.id}/apply`, body);
          this.hidePreview();
          if (answer && answer.job !== undefined && !answer.multiviewers) {
            this.status(`Applying in the background: ${answer.parameters} values…`);
            const result = await this.followJob(answer.job);
            this.showResult(result);
          } else {
            this.showResult(answer);
          }
        } catch (error) {
          this.hidePreview();
          showError(errorBox, error);
          if (error.body && error.body.result) this.showResult(error.body.result);
        }
      });
    } finally {
      this.page.reloadInBackground();
    }
  }

  /**
   * A background apply until it ends: its result. The job is read once now (and again after a
   * reconnection or a resync); `preset_job` events bring its progress and its end.
   */
  followJob(jobId) {
    const live = this.page.live;
    return new Promise((resolve, reject) => {
      let events = 0;
      const stops = [];
      const end = (outcome) => {
        for (const stop of stops.splice(0)) stop();
        outcome();
      };
      const show = (job) => {
        if (JOB_ENDED(job)) {
          end(() => resolve(job.result));
          return;
        }
        const p = job.progress || {};
        this.status(`Applying in the background: ${p.multiviewers_done ?? 0} of `
          + `${p.multiviewers_total ?? "?"} multiviewers done…`);
      };
      const read = async () => {
        const before = events;
        try {
          const job = await api.get(`/api/presets/jobs/${jobId}`);
          // An event that came meanwhile is as new (what changed after it is an event too).
          if (events === before && stops.length) show(job);
        } catch (error) {
          if (stops.length) end(() => reject(error));
        }
      };
      stops.push(live.on("preset_job", (job) => {
        if (job.job !== jobId) return;
        events += 1;
        show(job);
      }));
      stops.push(live.on("resync", read), live.on("reconnect", read));
      read();
    });
  }

  showResult(result) {
    const box = $("preset-result");
    if (!result || !result.multiviewers) {
      box.hidden = true;
      return;
    }
    const word = { done: "applied", partial: "applied in part", failed: "failed" };
    this.status(`Preset “${result.preset ? result.preset.name : ""}” `
      + `${word[result.status] || result.status} (${result.requests} device `
      + `request${result.requests === 1 ? "" : "s"}).`,
    result.status === "done");
    box.replaceChildren(...result.multiviewers.map((report) => {
      const list = h("ul");
      for (const group of report.groups || []) {
        const name = GROUP_NAMES[group.group] || group.group;
        const parts = [];
        if (group.applied.length) parts.push(`${group.applied.length} applied`);
        if (group.skipped.length) parts.push(`${group.skipped.length} already equal`);
        const item = h("li", { class: group.failed.length ? "failed" : "" },
          `${name}: ${parts.join(", ") || group.status}`);
        for (const failure of group.failed) {
          item.append(h("div", { class: "failed", text: `${failure.item}: ${failure.detail}` }));
        }
        list.append(item);
      }
      return h("div", {},
        h("h4", { class: report.status === "done" ? "ok" : "failed",
          text: `MV ${report.multiviewer.number}: ${report.status}` }), list);
    }));
    box.hidden = false;
  }

  async exportPreset(preset, button) {
    const errorBox = $("preset-list-error");
    await busy(button, async () => {
      try {
        const response = await api.get(`/api/presets/${preset.id}/export`, { raw: true });
        const blob = await response.blob();
        const disposition = response.headers.get("Content-Disposition") || "";
        const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
        const filename = match ? decodeURIComponent(match[1])
          : `${preset.name.replace(/[^\w.-]+/g, "_")}.json`;
        const url = URL.createObjectURL(blob);
        const link = h("a", { href: url, download: filename });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
        showError(errorBox, null);
        this.status(`Exported “${preset.name}” as ${filename}.`, true);
      } catch (error) {
        showError(errorBox, error);
      }
    });
  }

  async importFile(button) {
    const errorBox = $("preset-list-error");
    const file = $("preset-file").files[0];
    if (!file) {
      showError(errorBox, { detail: "Choose a preset file (.json) to import first.",
        fields: {} });
      return;
    }
    const form = new FormData();
    form.append("file", file);
    const name = $("preset-import-name").value.trim();
    const url = "/api/presets/import" + (name ? `?name=${encodeURIComponent(name)}` : "");
    await busy(button, async () => {
      try {
        const preset = await api.post(url, form);
        showError(errorBox, null);
        $("preset-file").value = "";
        $("preset-import-name").value = "";
        $("preset-file-name").textContent = "No file chosen";
        this.status(`Imported preset “${preset.name}”.`, true);
        await this.load();
      } catch (error) {
        showError(errorBox, error);
      }
    });
  }

  async remove(preset, button) {
    const ok = await confirmAction({ title: `Delete preset “${preset.name}”?`,
      text: "The preset is removed for good; the multiviewers are not changed.",
      ok: "Delete", danger: true });
    if (!ok) return;
    await busy(button, async () => {
      try {
        await api.del(`/api/presets/${preset.id}`);
        this.status(`Deleted preset “${preset.name}”.`, true);
        await this.load();
      } catch (error) {
        showError($("preset-list-error"), error);
      }
    });
  }
}
