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

// --- UMD layers as the frame draws them --------------------------------------------------
//
// Where: a layer's x/y (varids 2712/2713) are the top left corner of its box in the pixels of
// the multiviewer's OUTPUT, not of its window: the catalog bounds them to 0..1919 × 0..1079,
// the whole 1920×1080 raster whatever the window's size, and a window's boxes sit inside its
// rectangle only because they were placed there. So they are drawn at x/y in the drawing's
// 1920×1080 viewBox as they are, and clipped to their window.
// How: the catalog (GET /api/catalog) describes colours, alphas, text sizes and paddings as enums
// whose labels say what they are ("Yellow", "50%", "Medium", "Small"). The labels decide, not the
// device values: box and text colours list the same names in different orders, and an admin
// corrects the labels when a firmware changes them (devices.models.NexxEnumLabel).

// The frame's eight UMD colours: the full-intensity primaries of a tally palette.
const UMD_COLOURS = {
  black: "#000000", blue: "#0000ff", green: "#00ff00", cyan: "#00ffff", red: "#ff0000",
  magenta: "#ff00ff", yellow: "#ffff00", white: "#ffffff",
};
// Text heights and paddings in output pixels. The catalog names them only; these estimates make
// a Medium text with Small padding 36 px tall, the pitch at which the frame stacks its default
// layers (devices/nexx/emulator.py _umd_position). A label the tables do not know (renamed by an
// admin) is read by its position in the catalog's list, smallest first.
const TEXT_SIZES = { small: 20, medium: 28, large: 36, "x-large": 48, "extra large": 48 };
const TEXT_SIZE_ORDER = [20, 28, 36, 48];
const PADDINGS = { none: 0, small: 4, medium: 8, large: 12 };
const PADDING_ORDER = [0, 4, 8, 12];
// What a layer looks like while a value is unknown (not read yet): the frame's usual look,
// white text on a half-transparent black box.
const UMD_DEFAULTS = { text: "#ffffff", textAlpha: 1, box: "#000000", boxAlpha: 0.5,
  size: 28, padding: 4 };
// Average advance of a character in ems: a box's width where text cannot be measured.
const CHAR_EM = 0.62;
const UMD_WEIGHT = 600; // as .umd-label in drawing.css

let measureContext;

/**
 * The width of `text` at `size` px in the page's font, as the drawing will set it: a box fits its
 * text as the frame sizes it. Measured on a canvas, since the drawing is built before it is in
 * the page.
 */
function textWidth(text, size) {
  if (measureContext === undefined) {
    measureContext = globalThis.document ? document.createElement("canvas").getContext("2d")
      : null;
  }
  if (!measureContext) return text.length * size * CHAR_EM;
  const family = getComputedStyle(document.documentElement).getPropertyValue("--font").trim()
    || "sans-serif";
  measureContext.font = `${UMD_WEIGHT} ${size}px ${family}`;
  return measureContext.measureText(text).width;
}

function choicesOf(catalog, key) {
  if (!catalog || typeof catalog.choices !== "function") return [];
  return catalog.choices("layer", key) || [];
}

function choiceOf(catalog, key, value) {
  if (value === null || value === undefined) return null;
  const choices = choicesOf(catalog, key);
  const index = choices.findIndex((c) => c.value === value);
  return index < 0 ? null : { ...choices[index], index };
}

function labelKey(label) {
  return String(label || "").trim().toLowerCase().replace(/\s+/g, " ");
}

function colourOf(catalog, key, value, fallback) {
  const choice = choiceOf(catalog, key, value);
  if (!choice) return fallback;
  const name = labelKey(choice.label);
  if (UMD_COLOURS[name]) return UMD_COLOURS[name];
  // A colour the table does not know, named by an admin the way CSS names it ("Orange").
  const css = name.replace(/ /g, "");
  if (globalThis.CSS && CSS.supports && CSS.supports("color", css)) return css;
  return fallback;
}

function alphaOf(catalog, key, value, fallback) {
  const choice = choiceOf(catalog, key, value);
  const match = choice && /(\d+(?:\.\d+)?)\s*%/.exec(choice.label);
  return match ? Math.min(1, Math.max(0, Number(match[1]) / 100)) : fallback;
}

function sizeOf(catalog, key, value, named, order, fallback) {
  const choice = choiceOf(catalog, key, value);
  if (!choice) return fallback;
  const size = named[labelKey(choice.label)];
  if (size !== undefined) return size;
  return order[Math.min(choice.index, order.length - 1)];
}

/** The catalog's type labels and the Static type, from options (a Catalog, or the parts). */
function typeInfo(options) {
  const catalog = options.catalog;
  const labels = options.typeLabels
    || (catalog && typeof catalog.typeLabels === "function" ? catalog.typeLabels() : {});
  let staticType = options.staticType;
  if (staticType === undefined && catalog) staticType = catalog.staticType;
  let offType = options.offType;
  if (offType === undefined) offType = catalog ? catalog.offType : 0;
  return { labels, staticType: staticType ?? null, offType };
}

/**
 * The UMD layers a window shows, as the frame draws them: [{layer, type, text, dynamic, x, y,
 * width, height, padding, size, textColour, textAlpha, boxColour, boxAlpha, placed}] in output
 * pixels, in layer order (a later layer over an earlier one). Layers that are off, and Static
 * layers without text, draw nothing. Dynamic types (a tally line, the time) show their type's
 * label, standing for what the frame fills in. `rect` is the window's rectangle in pixels: a
 * layer whose position was not read yet is put where the frame puts its layers by default,
 * stacked up from the window's bottom left by layer number (placed: false).
 * `options`: catalog (a Catalog), or staticType/typeLabels/offType.
 */
export function umdLayers(win, rect, options = {}) {
  const { labels, staticType, offType } = typeInfo(options);
  const catalog = options.catalog;
  const out = [];
  for (const layer of (win && win.umd) || []) {
    const type = layer.type;
    if (type === undefined || type === null || type === offType) continue;
    const dynamic = type !== staticType;
    const text = dynamic ? labels[type] || `UMD type ${type}` : layer.text || "";
    if (!text) continue;
    const size = sizeOf(catalog, "text_size", layer.text_size, TEXT_SIZES, TEXT_SIZE_ORDER,
      UMD_DEFAULTS.size);
    const padding = sizeOf(catalog, "padding", layer.padding, PADDINGS, PADDING_ORDER,
      UMD_DEFAULTS.padding);
    const height = size + 2 * padding;
    const width = Math.ceil(textWidth(text, size)) + 2 * padding;
    const placed = Number.isInteger(layer.x) && Number.isInteger(layer.y);
    out.push({
      layer: layer.layer, type, text, dynamic, size, padding, width, height, placed,
      x: placed ? layer.x : Math.round(rect.x + 8),
      y: placed ? layer.y : Math.round(rect.y + rect.h - height * (layer.layer || 1)),
      textColour: colourOf(catalog, "text_colour", layer.text_colour, UMD_DEFAULTS.text),
      textAlpha: alphaOf(catalog, "text_alpha", layer.text_alpha, UMD_DEFAULTS.textAlpha),
      boxColour: colourOf(catalog, "box_colour", layer.box_colour, UMD_DEFAULTS.box),
      boxAlpha: alphaOf(catalog, "box_alpha", layer.box_alpha, UMD_DEFAULTS.boxAlpha),
    });
  }
  return out;
}

let clipCount = 0;

/** The SVG of a window's UMD layers, clipped to `clip` (the window's drawn rectangle). */
function umdGroup(layers, clip) {
  clipCount += 1;
  const id = `umd-clip-${clipCount}`;
  const group = el("g", { class: "umds", "clip-path": `url(#${id})` });
  const clipPath = el("clipPath", { id });
  clipPath.append(el("rect", { x: clip.x, y: clip.y, width: clip.w, height: clip.h, rx: 6 }));
  group.append(clipPath);
  for (const u of layers) {
    const g = el("g", {
      class: "umd" + (u.dynamic ? " dynamic" : "") + (u.placed ? "" : " unplaced"),
      "data-layer": u.layer, "data-type": u.type,
    });
    g.append(el("rect", { class: "umd-box", x: u.x, y: u.y, width: u.width, height: u.height,
      fill: u.boxColour, "fill-opacity": u.boxAlpha }));
    g.append(el("text", { class: "umd-label", x: u.x + u.padding,
      y: u.y + u.padding + Math.round(u.size * 0.8), fill: u.textColour,
      "fill-opacity": u.textAlpha, "font-size": u.size }, u.text));
    group.append(g);
  }
  return group;
}

/**
 * The large drawing. `windows` are the multiviewer JSON's windows; `options`:
 * selected (window number), interactive (bool), catalog (a Catalog: how UMD layers look; or
 * staticType and typeLabels alone, which draw them in the frame's usual look), label,
 * onSelect(window).
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
    // The frame's own overlays (UMD layers) under the page's labels (window number, output,
    // source): those say which window is which, and stay readable over any box.
    const umds = umdLayers(win, r, options);
    if (umds.length) g.append(umdGroup(umds, { x, y, w, h }));
    const label = source ? fit(source, w - 2 * pad, srcSize) : ROUTE_UNKNOWN;
    g.append(el("text", { class: "src" + (source ? "" : " none unknown"), x: x + w / 2,
      y: y + h / 2 + srcSize * 0.35, "text-anchor": "middle",
      style: `font-size:${srcSize}px` }, label));
    g.append(el("text", { class: "num", x: x + pad, y: y + pad + numSize * 0.8,
      style: `font-size:${numSize}px` }, String(r.window)));
    g.append(el("text", { class: "out", x: x + w - pad, y: y + pad + outSize * 0.9,
      "text-anchor": "end", style: `font-size:${outSize}px` }, `OUT ${output}`));
    g.append(el("title", {}, `Window ${r.window} · output ${output} · `
      + (source || "route unknown: the router has not said what feeds this output")
      + umds.map((u) => ` · UMD ${u.layer}: ${u.text}`).join("")));
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
