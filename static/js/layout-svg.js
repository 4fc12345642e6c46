// SVG drawings of layouts: the large interactive one and the picker's thumbnails.
// Geometry is normalised (0..1); drawings use the 1920×1080 raster of the multiviewer output.

const NS = "http://www.w3.org/2000/svg";
export const W = 1920;
export const H = 1080;

function el(name, attrs = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Rectangles in pixels from catalog geometry ({id|window, x, y, w, h}). */
export function pixelRects(geometry) {
  return geometry.map((g) => ({
    window: g.window ?? g.id,
    x: g.x * W, y: g.y * H, w: g.w * W, h: g.h * H,
  }));
}

function fit(text, widthPx, fontPx) {
  const max = Math.max(3, Math.floor(widthPx / (fontPx * 0.58)));
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

/** A small preview for the layout picker and the layout button. */
export function layoutThumb(geometry, { title } = {}) {
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "thumb", role: "img",
    "aria-hidden": title ? null : "true" });
  if (title) svg.append(el("title", {}, title));
  svg.append(el("rect", { class: "bg", x: 0, y: 0, width: W, height: H }));
  for (const r of pixelRects(geometry)) {
    svg.append(el("rect", { x: r.x, y: r.y, width: r.w, height: r.h }));
    if (r.w >= 300 && r.h >= 200) {
      const size = Math.min(r.w, r.h) * 0.28;
      svg.append(el("text", {
        x: r.x + r.w / 2, y: r.y + r.h / 2 + size * 0.35, "text-anchor": "middle",
        fill: "#9aa1a9", style: `font: 600 ${size}px sans-serif`,
      }, String(r.window)));
    }
  }
  return svg;
}

/**
 * What feeds a window, in words: the source's name, the router input when it is no known
 * source, or null when the route is unknown (input null: the router has not said, e.g. one
 * that answers neither .L nor .I; or no route read yet). Never blank, never a guess.
 */
export function routedText(win) {
  if (win.source) return win.source.label || `Input ${win.source.quartz_input}`;
  if (win.input !== null && win.input !== undefined) return `Input ${win.input}`;
  return null;
}

export const ROUTE_UNKNOWN = "Route unknown";

function umdSummary(win, staticType, typeLabels) {
  for (const layer of win.umd || []) {
    if (layer.type === undefined || layer.type === null || layer.type === 0) continue;
    if (layer.type === staticType) {
      if (layer.text) return layer.text;
      continue;
    }
    return typeLabels[layer.type] || "UMD";
  }
  return "";
}

/**
 * The large drawing. `windows` are the multiviewer JSON's windows; `options`:
 * selected (window number), interactive (bool), staticType, typeLabels, onSelect(window).
 */
export function layoutDrawing(geometry, windows, options = {}) {
  const byNumber = new Map((windows || []).map((w) => [w.window, w]));
  const svg = el("svg", {
    viewBox: `0 0 ${W} ${H}`, class: "layout", role: "group",
    "aria-label": options.label || "Layout drawing",
  });
  svg.append(el("rect", { x: 0, y: 0, width: W, height: H, fill: "#0d0e10" }));
  const gap = 6;
  for (const r of pixelRects(geometry)) {
    const win = byNumber.get(r.window) || { window: r.window };
    const source = routedText(win);
    const output = win.output ?? "—";
    const g = el("g", {
      class: "win" + (options.interactive ? " interactive" : "")
        + (options.selected === r.window ? " selected" : ""),
      "data-window": r.window,
    });
    if (options.interactive) {
      g.setAttribute("tabindex", "0");
      g.setAttribute("role", "button");
      g.setAttribute("aria-pressed", options.selected === r.window ? "true" : "false");
    }
    g.setAttribute("aria-label",
      `Window ${r.window}, router output ${output}, source ${source || "route unknown"}`);
    const x = r.x + gap / 2;
    const y = r.y + gap / 2;
    const w = r.w - gap;
    const h = r.h - gap;
    g.append(el("rect", { class: "frame", x, y, width: w, height: h, rx: 6 }));
    const base = Math.min(w, h * 1.6);
    const numSize = Math.max(22, Math.min(96, base * 0.13));
    const outSize = Math.max(16, Math.min(44, base * 0.065));
    const srcSize = Math.max(18, Math.min(84, base * 0.1));
    const pad = Math.max(10, numSize * 0.35);
    g.append(el("text", { class: "num", x: x + pad, y: y + pad + numSize * 0.8,
      style: `font-size:${numSize}px` }, String(r.window)));
    g.append(el("text", { class: "out", x: x + w - pad, y: y + pad + outSize * 0.9,
      "text-anchor": "end", style: `font-size:${outSize}px` }, `OUT ${output}`));
    const label = source ? fit(source, w - 2 * pad, srcSize) : ROUTE_UNKNOWN;
    g.append(el("text", { class: "src" + (source ? "" : " none unknown"), x: x + w / 2,
      y: y + h / 2 + srcSize * 0.35, "text-anchor": "middle",
      style: `font-size:${srcSize}px` }, label));
    // PCM bars along the left edge: how many the window shows.
    const bars = Number(win.pcm_bars) || 0;
    if (bars > 0 && h > 120) {
      const pcm = el("g", { class: "pcm" });
      const barW = Math.max(3, Math.min(8, w * 0.006));
      const barH = h * 0.42;
      for (let i = 0; i < bars; i += 1) {
        const level = 0.45 + 0.5 * Math.abs(Math.sin((i + 1) * 1.7 + r.window));
        pcm.append(el("rect", { x: x + pad + i * (barW + 2), y: y + h * 0.86 - barH * level,
          width: barW, height: barH * level }));
      }
      g.append(pcm);
    }
    const umd = umdSummary(win, options.staticType, options.typeLabels || {});
    if (umd && h > 100) {
      const umdSize = Math.max(14, Math.min(40, base * 0.055));
      const barH = umdSize * 1.6;
      g.append(el("rect", { class: "umd-bar", x: x + w * 0.2, y: y + h - barH - 6,
        width: w * 0.6, height: barH, rx: 3 }));
      g.append(el("text", { class: "umd-text", x: x + w / 2, y: y + h - 6 - barH * 0.3,
        "text-anchor": "middle", style: `font-size:${umdSize}px` },
      fit(umd, w * 0.58, umdSize)));
    }
    g.append(el("title", {}, `Window ${r.window} · output ${output} · `
      + (source || "route unknown: the router has not said what feeds this output")));
    svg.append(g);
  }
  if (options.interactive && options.onSelect) {
    svg.addEventListener("click", (event) => {
      const g = event.target.closest("g.win");
      if (g) options.onSelect(Number(g.dataset.window));
    });
    svg.addEventListener("keydown", (event) => {
      const g = event.target.closest("g.win");
      if (!g) return;
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        options.onSelect(Number(g.dataset.window));
      } else if (["ArrowRight", "ArrowDown", "ArrowLeft", "ArrowUp"].includes(event.key)) {
        event.preventDefault();
        const all = [...svg.querySelectorAll("g.win")];
        const step = event.key === "ArrowRight" || event.key === "ArrowDown" ? 1 : -1;
        const next = all[(all.indexOf(g) + step + all.length) % all.length];
        next.focus();
      }
    });
  }
  return svg;
}
