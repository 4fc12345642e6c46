// Live updates: GET /api/events (server-sent events) and the top bar's indicator that tells the
// operator whether what the page shows is current.
//
//   const live = new LiveStream({ indicator: new LiveIndicator(element) });
//   const off = live.on("multiviewer", (data) => …);
//   live.on("open", ({ again }) => …);   // each (re)connection; "reconnect": again only
//   live.start();
//   await live.opened(2000);   // the stream is open (or the wait is over)
//
// The browser reconnects by itself after a dropped connection (the server asks for 3 s) and
// sends the id of the last event it saw. An HTTP error (signed out, the server starting or
// stopping) makes it give up: then this module starts a new stream itself, a little later each
// time. After every reconnection the page reads what it shows once again ("reconnect"), as it
// does on a `resync` event: what happened meanwhile may not all come as events.
//
// The server's heartbeat is a comment line, which EventSource does not show to the page; a
// `heartbeat` event, should the server send one, counts as "heard" and arms a watchdog that
// reopens a stream gone silent (a connection dropped without the browser noticing).
import { timeText } from "./util.js";

export const EVENT_KINDS = ["multiviewer", "routing", "lease", "refresh", "preset_job",
  "resync", "heartbeat"];
const OFFLINE_AFTER_MS = 10000; // reconnecting for longer than this: "offline"
const SILENT_MS = 40000; // with heartbeat events (every 15 s): this long without one is a stall
// Delays before opening a new stream after the server refused one (the browser does not retry
// that by itself): a reconnection, not a read of any state.
const RESTART_MS = [3000, 3000, 3000, 5000, 10000, 15000];

export class LiveStream {
  constructor({ url = "/api/events", indicator = null, onRefused = null } = {}) {
    this.url = url;
    this.indicator = indicator;
    // Called when the server refused the stream (an HTTP error): e.g. a read that sends a
    // signed-out operator to the login page.
    this.onRefused = onRefused;
    this.source = null;
    this.handlers = new Map();
    this.state = "connecting";
    this.everOpened = false;
    this.lastHeard = null; // Date of the last event, or of the last (re)connection
    this.lastEvent = null;
    this.troubleSince = null; // since when the stream has not been open
    this.offlineTimer = null;
    this.restartTimer = null;
    this.restarts = 0;
    this.heartbeats = false; // the server sends `heartbeat` events
    this.watchdog = null;
    this.waiters = [];
  }

  /** Call `handler(data)` for each event of `kind`; returns a function that stops it. */
  on(kind, handler) {
    if (!this.handlers.has(kind)) this.handlers.set(kind, new Set());
    this.handlers.get(kind).add(handler);
    return () => this.handlers.get(kind).delete(handler);
  }

  start() {
    this.troubleSince = new Date();
    window.addEventListener("offline", () => this.trouble());
    window.addEventListener("online", () => {
      // Back on the network: try at once rather than at the next scheduled attempt.
      if (this.state !== "connected") this.restart(0);
    });
    if (!("EventSource" in window)) {
      this.setState("offline");
      return;
    }
    this.connect();
    this.trouble();
  }

  /** Resolves once the stream is open, or after `ms` milliseconds, whichever comes first. */
  opened(ms) {
    if (this.state === "connected") return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  get connected() {
    return this.state === "connected";
  }

  connect() {
    clearTimeout(this.restartTimer);
    const source = new EventSource(this.url); // same origin: the session cookie goes along
    this.source = source;
    source.addEventListener("open", () => {
      if (source === this.source) this.handleOpen();
    });
    source.addEventListener("error", () => {
      if (source === this.source) this.handleError();
    });
    for (const kind of EVENT_KINDS) {
      source.addEventListener(kind, (message) => {
        if (source === this.source) this.dispatch(kind, message.data);
      });
    }
  }

  restart(delay) {
    if (this.source) this.source.close();
    this.source = null;
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => this.connect(), delay);
  }

  handleOpen() {
    const again = this.everOpened;
    this.everOpened = true;
    this.restarts = 0;
    this.troubleSince = null;
    clearTimeout(this.offlineTimer);
    this.lastHeard = new Date();
    this.setState("connected");
    this.watch();
    for (const wake of this.waiters.splice(0)) wake();
    this.emit("open", { again });
    if (again) this.emit("reconnect", {});
  }

  handleError() {
    if (this.source.readyState === EventSource.CLOSED) {
      // The server answered with an error (not an event stream): the browser does not retry
      // such an answer by itself.
      const delay = RESTART_MS[Math.min(this.restarts, RESTART_MS.length - 1)];
      this.restarts += 1;
      this.restart(delay);
      if (this.onRefused) this.onRefused();
    }
    // Otherwise (CONNECTING) the browser reconnects by itself.
    this.trouble();
  }

  /** The stream is not open: "reconnecting", then "offline" after OFFLINE_AFTER_MS (at once
   * when the browser knows it is offline). */
  trouble() {
    if (this.state === "connected" && this.source
        && this.source.readyState === EventSource.OPEN && navigator.onLine !== false) {
      return;
    }
    if (!this.troubleSince) this.troubleSince = new Date();
    const waited = Date.now() - this.troubleSince.getTime();
    const offline = navigator.onLine === false || waited >= OFFLINE_AFTER_MS;
    if (offline) {
      this.setState("offline");
    } else {
      this.setState(this.everOpened ? "reconnecting" : "connecting");
      clearTimeout(this.offlineTimer);
      this.offlineTimer = setTimeout(() => this.trouble(), OFFLINE_AFTER_MS - waited + 50);
    }
  }

  dispatch(kind, text) {
    this.lastHeard = new Date();
    if (kind === "heartbeat") this.heartbeats = true;
    else this.lastEvent = this.lastHeard;
    this.watch();
    if (this.indicator) this.indicator.show(this);
    let data;
    try {
      data = JSON.parse(text || "{}");
    } catch {
      return; // not ours to show; the next event or read brings the state
    }
    this.emit(kind, data);
  }

  /** Once the server is known to send heartbeat events: reopen a stream silent for too long. */
  watch() {
    clearTimeout(this.watchdog);
    if (!this.heartbeats) return;
    this.watchdog = setTimeout(() => {
      if (this.state !== "connected") return;
      this.restart(0);
      this.trouble();
    }, SILENT_MS);
  }

  emit(kind, data) {
    for (const handler of [...(this.handlers.get(kind) || [])]) {
      try {
        handler(data);
      } catch (error) {
        // One handler's failure must not keep the others from the event; still reported.
        setTimeout(() => { throw error; });
      }
    }
  }

  setState(state) {
    this.state = state;
    if (this.indicator) this.indicator.show(this);
  }
}

const WORDS = {
  connecting: ["Connecting…", "Opening the live connection to the server."],
  connected: ["Connected", "Live: changes by anyone appear here as they happen."],
  reconnecting: ["Reconnecting…", "The live connection dropped; reconnecting. Changes made "
    + "meanwhile are read again once it is back."],
  offline: ["Offline", "No live connection to the server: what this page shows may be out of "
    + "date. It reconnects by itself."],
};

/** The top bar's indicator: a word for the state (announced politely), the time last heard. */
export class LiveIndicator {
  constructor(root) {
    this.root = root;
    this.stateText = root.querySelector("[data-live-state]");
    this.timeText = root.querySelector("[data-live-time]");
    this.shown = null;
  }

  show(stream) {
    const [word, title] = WORDS[stream.state];
    if (this.shown !== stream.state) {
      // Only the word is in the live region: screen readers hear a change of state, not
      // every event's time.
      this.shown = stream.state;
      this.root.dataset.state = stream.state;
      this.stateText.textContent = word;
      this.root.title = title;
    }
    const heard = stream.lastHeard ? timeText(stream.lastHeard.toISOString()) : "";
    let time = "";
    if (stream.state === "connected") {
      if (stream.lastEvent && stream.lastEvent >= stream.lastHeard) time = `last event ${heard}`;
      else time = stream.heartbeats ? `last heard ${heard}` : `since ${heard}`;
    } else if (stream.state === "reconnecting") {
      time = heard ? `last heard ${heard}` : "";
    } else if (stream.state === "offline") {
      time = heard ? `not updated since ${heard}` : "not connected";
    }
    this.timeText.textContent = time;
  }
}
