// The one way the pages talk to the server: JSON over fetch, CSRF header, one error type.

/** An API failure in the project's error shape {"error", "detail", "fields"}. */
export class ApiError extends Error {
  constructor(status, body, retryAfter = null) {
    const detail = (body && typeof body.detail === "string" && body.detail)
      || `The server answered ${status || "nothing"}.`;
    super(detail);
    this.status = status;
    this.code = (body && body.error) || "http_" + status;
    this.detail = detail;
    this.fields = (body && typeof body.fields === "object" && body.fields) || {};
    this.body = body || {};
    this.retryAfter = retryAfter;
  }
}

export function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "csrftoken") return decodeURIComponent(rest.join("="));
  }
  return "";
}

let onUnauthenticated = null;
/** Called with the ApiError when a request answers 401 (the session ended). */
export function setUnauthenticatedHandler(handler) { onUnauthenticated = handler; }

/**
 * request("POST", "/api/x", {a: 1}) → parsed JSON (null for 204).
 * Options: {raw: true} returns the Response (downloads); {quiet401: true} skips the handler.
 */
export async function request(method, path, body, options = {}) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin", signal: options.signal };
  if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = csrfToken();
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, {
      error: "network",
      detail: "The server did not answer; check the network connection and try again.",
    });
  }
  if (response.ok && options.raw) return response;
  let data = null;
  const type = response.headers.get("Content-Type") || "";
  if (response.status !== 204 && type.includes("json")) {
    data = await response.json().catch(() => null);
  }
  if (!response.ok) {
    const retry = response.headers.get("Retry-After");
    const error = new ApiError(response.status, data, retry ? Number(retry) : null);
    if (response.status === 401 && onUnauthenticated && !options.quiet401) {
      onUnauthenticated(error);
    }
    throw error;
  }
  return data;
}

export const api = {
  get: (path, options) => request("GET", path, undefined, options),
  post: (path, body, options) => request("POST", path, body, options),
  put: (path, body, options) => request("PUT", path, body, options),
  patch: (path, body, options) => request("PATCH", path, body, options),
  del: (path, options) => request("DELETE", path, undefined, options),
};

const FIELD_NAMES = {
  non_field_errors: "",
  pcm_bars: "PCM bars",
  box_colour: "box colour",
  box_alpha: "box alpha",
  text_colour: "text colour",
  text_alpha: "text alpha",
  text_size: "text size",
  outer_border: "outer border",
  inner_border: "inner border",
  output_format: "output format",
};

/**
 * A field key of the API in words: "windows.5.umd.1.text" → "window 5, UMD layer 1 text",
 * "windows.5.pcm_bars" → "window 5, PCM bars", "outer_border" → "outer border".
 */
export function fieldName(key) {
  const parts = String(key).split(".");
  const words = [];
  for (let i = 0; i < parts.length; i += 1) {
    const part = parts[i];
    const next = parts[i + 1];
    if (part === "windows" && next !== undefined && /^\d+$/.test(next)) {
      words.push(`window ${next}`);
      i += 1;
    } else if (part === "umd" && next !== undefined && /^\d+$/.test(next)) {
      words.push(`UMD layer ${next}`);
      i += 1;
    } else if (/^\d+$/.test(part)) {
      words.push(`item ${Number(part) + 1}`);
    } else {
      const name = FIELD_NAMES[part] ?? part.replaceAll("_", " ");
      if (name) words.push(name);
    }
  }
  // "window 5, UMD layer 1 text": the window apart, the rest read together.
  const [first, ...rest] = words;
  return first && first.startsWith("window ") && rest.length
    ? `${first}, ${rest.join(" ")}` : words.join(" ");
}

/**
 * The API's "fields" as [{key, message}], one per sentence; nested serializer errors become
 * dotted keys ("umd.0.text"), as the service's own keys are ("windows.5.umd.1.text").
 */
export function fieldEntries(fields, prefix = "") {
  const entries = [];
  for (const [key, value] of Object.entries(fields || {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (Array.isArray(value)) {
      value.forEach((item, index) => {
        if (item && typeof item === "object") {
          entries.push(...fieldEntries(item, `${path}.${index}`));
        } else if (item !== undefined && item !== null && item !== "") {
          entries.push({ key: path, message: String(item) });
        }
      });
    } else if (value && typeof value === "object") {
      entries.push(...fieldEntries(value, path));
    } else if (value !== undefined && value !== null && value !== "") {
      entries.push({ key: path, message: String(value) });
    }
  }
  return entries;
}

function fieldLines(fields, title) {
  // A sentence the title already says is not said again.
  return fieldEntries(fields).filter(({ message }) => !title.includes(message))
    .map(({ key, message }) => {
      const name = key === "non_field_errors" ? "" : fieldName(key);
      return name ? `${name[0].toUpperCase()}${name.slice(1)}: ${message}` : message;
    });
}

/** The title of a failure, said once: the server's sentence, with the wait after a 429 only
 * when the sentence does not say it already. */
export function errorTitle(error) {
  let title = error.detail;
  if (error.status === 429 && error.retryAfter && !/try again/i.test(title)) {
    title += ` Try again in ${error.retryAfter} s.`;
  }
  return title;
}

/** A readable message for any failure: the API's sentence, the fields it names, what to do. */
export function describeError(error) {
  if (!error || typeof error.detail !== "string") {
    return { title: "Something went wrong in the page: " + (error && error.message), lines: [] };
  }
  const title = errorTitle(error);
  return { title, lines: fieldLines(error.fields, title).slice(0, 8) };
}

/** Show `error` (or clear, when null) in an element marked data-error / role=alert. */
export function showError(element, error) {
  if (!element) return;
  element.replaceChildren();
  if (!error) {
    element.hidden = true;
    return;
  }
  const { title, lines } = describeError(error);
  const strong = document.createElement("span");
  strong.textContent = title;
  element.append(strong);
  if (lines.length) {
    const list = document.createElement("ul");
    for (const line of lines) {
      const item = document.createElement("li");
      item.textContent = line;
      list.append(item);
    }
    element.append(list);
  }
  element.hidden = false;
}

/** Mark a button busy while `work` runs (disabled, aria-busy, spinner via CSS). */
export async function busy(button, work) {
  const wasDisabled = button ? button.disabled : false;
  if (button) {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
  }
  try {
    return await work();
  } finally {
    if (button) {
      button.removeAttribute("aria-busy");
      button.disabled = wasDisabled;
    }
  }
}
