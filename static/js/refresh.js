// Refresh button, live progress while a refresh run works, last refresh status and date.
// The status is read once at start (and after a reconnection); `refresh` events bring the rest.
import { api, busy, showError } from "./api.js";
import { timeText } from "./util.js";

const $ = (id) => document.getElementById(id);
const STATUS_WORDS = { success: ["ok", "ok"], partial: ["partial", "partial"],
  failed: ["failed", "bad"] };

export class RefreshPanel {
  constructor(page) {
    this.page = page;
    this.button = $("refresh-btn");
    this.events = 0; // `refresh` events received
    this.running = false;
    this.errorTimer = null;
    this.button.addEventListener("click", () => this.startRefresh());
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.error(null);
    });
  }

  start() {
    this.read();
  }

  /** One read of GET /api/refresh/status: at start, after starting a run, after a resync. */
  async read() {
    const events = this.events;
    try {
      const status = await api.get("/api/refresh/status");
      // A `refresh` event that came meanwhile wins: the answer may be older than it, and
      // whatever changed after the event comes as an event too.
      if (this.events === events) this.render(status);
    } catch (error) {
      if (error.status !== 401) this.error(error);
    }
  }

  /** A `refresh` event: exactly what GET /api/refresh/status answers. */
  update(status) {
    this.events += 1;
    this.render(status);
  }

  async startRefresh() {
    this.error(null);
    await busy(this.button, async () => {
      try {
        const started = await api.post("/api/refresh");
        this.running = true;
        this.showProgress({ phase: started.status === "running" ? "queued" : started.status },
          started.joined ? "Joined the refresh already running…" : "Refresh queued…");
        await this.read();
      } catch (error) {
        this.error(error);
      }
    });
    this.button.disabled = this.running;
  }

  render(status) {
    const last = status.last_finished;
    const line = $("refresh-last");
    line.replaceChildren();
    if (last) {
      const [word, cls] = STATUS_WORDS[last.status] || [last.status, ""];
      const strong = document.createElement("span");
      strong.className = cls;
      strong.textContent = word;
      line.append("Last refresh: ", strong, `, ${timeText(last.finished_at || last.started_at)}`);
      const errors = (last.errors || []).join("\n");
      line.title = errors ? `Errors:\n${errors}` : `${last.trigger} refresh`
        + (last.user ? ` by ${last.user}` : "");
    } else {
      line.textContent = "Last refresh: never";
      line.title = "";
    }
    const wasRunning = this.running;
    this.running = Boolean(status.running);
    this.button.disabled = this.running || this.button.getAttribute("aria-busy") === "true";
    if (this.running && status.last) {
      this.showProgress(status.last.progress || {}, null);
    } else {
      $("refresh-progress").hidden = true;
      const detail = $("refresh-detail");
      if (wasRunning && last) {
        detail.textContent = last.status === "success" ? "Refresh done."
          : `Refresh ${last.status}: ${(last.errors || [])[0] || "see the Admin pages"}`;
        this.page.afterRefresh();
      } else if (!wasRunning) {
        detail.textContent = "";
      }
    }
  }

  showProgress(progress, text) {
    const bar = $("refresh-progress");
    bar.hidden = false;
    const read = progress.parameters_read;
    const planned = progress.parameters_planned;
    let percent = null;
    if (planned && read !== undefined && read !== null) {
      percent = Math.max(2, Math.min(100, Math.round((100 * read) / planned)));
    } else if (progress.parts_planned && progress.parts_done !== undefined) {
      percent = Math.round((100 * progress.parts_done) / progress.parts_planned);
    }
    bar.classList.toggle("indeterminate", percent === null);
    bar.querySelector(".progress-bar").style.width = percent === null ? "" : `${percent}%`;
    if (percent === null) bar.removeAttribute("aria-valuenow");
    else bar.setAttribute("aria-valuenow", String(percent));
    let detail = text;
    if (!detail) {
      if (progress.phase === "queued") detail = "Waiting for a background worker…";
      else if (progress.phase === "starting") detail = "Starting…";
      else if (percent !== null) {
        detail = `Reading ${read} of ${planned} values (${percent}%)`;
        if (progress.eta_seconds) detail += ` · ~${Math.ceil(progress.eta_seconds)} s left`;
      } else detail = "Reading the devices…";
    }
    $("refresh-detail").textContent = detail;
    this.button.disabled = true;
  }

  error(error) {
    clearTimeout(this.errorTimer);
    showError($("refresh-error"), error);
    if (error) this.errorTimer = setTimeout(() => showError($("refresh-error"), null), 12000);
  }
}
