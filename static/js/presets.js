// Presets dialog: choose multiviewers and groups, save, apply (confirming when several
// multiviewers), export (download) and import (upload).
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

export class Presets {
  constructor(page) {
    this.page = page;
    this.dialog = $("presets-dialog");
    this.presets = [];
    this.buildGroups();
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
    $("presets-groups").replaceChildren(...GROUPS.map(([value, label]) => h("label", {},
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
    openDialog(this.dialog, { focus: $("preset-name") });
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
    if (targets.length > 1) {
      const ok = await confirmAction({
        title: `Apply “${preset.name}” to ${targets.length} multiviewers?`,
        text: `It writes ${groups.map((g) => (GROUP_NAMES[g] || g).toLowerCase()).join(", ")} `
          + `to ${targets.map((m) => `MV ${m.number}`).join(", ")}. `
          + "What those multiviewers show changes at once.",
        ok: `Apply to ${targets.length} multiviewers`,
      });
      if (!ok) return;
    }
    try {
      await busy(button, async () => {
        try {
          const body = { multiviewers: targets.map((m) => m.id), groups };
          const answer = await api.post(`/api/presets/${preset.id}/apply`, body);
          if (answer && answer.job !== undefined && !answer.multiviewers) {
            this.status(`Applying in the background: ${answer.parameters} values…`);
            const result = await this.followJob(answer.job);
            this.showResult(result);
          } else {
            this.showResult(answer);
          }
        } catch (error) {
          showError(errorBox, error);
          if (error.body && error.body.result) this.showResult(error.body.result);
        }
      });
    } finally {
      this.page.reload().catch(() => {});
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
