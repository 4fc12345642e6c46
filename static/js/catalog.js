// Reading the NEXX parameter catalog (GET /api/catalog): choices, ranges and labels.

export class Catalog {
  constructor(document) {
    this.doc = document;
    this.byKey = new Map();
    for (const p of document.parameters || []) {
      // Keys repeat across scopes only in theory; the first one of a scope wins.
      if (!this.byKey.has(`${p.scope}:${p.key}`)) this.byKey.set(`${p.scope}:${p.key}`, p);
    }
  }

  param(scope, key) {
    return this.byKey.get(`${scope}:${key}`) || null;
  }

  /** [{value, label}] of an enum, or of a small int range (borders 0..4). */
  choices(scope, key) {
    const p = this.param(scope, key);
    if (!p) return [];
    if (p.choices) return p.choices.map((c) => ({ value: c.value, label: c.label }));
    if (p.min !== undefined && p.max !== undefined && p.max - p.min <= 64) {
      const out = [];
      for (let v = p.min; v <= p.max; v += 1) out.push({ value: v, label: String(v) });
      return out;
    }
    return [];
  }

  label(scope, key, value) {
    const found = this.choices(scope, key).find((c) => c.value === value);
    return found ? found.label : String(value);
  }

  /** The UMD layer type whose text the operator types (the catalog's "Static" choice). */
  get staticType() {
    const type = this.param("layer", "type");
    const found = type && (type.choices || []).find((c) => /^static$/i.test(c.label.trim()));
    return found ? found.value : null;
  }

  get offType() {
    const type = this.param("layer", "type");
    const found = type && (type.choices || []).find((c) => /^off$/i.test(c.label.trim()));
    return found ? found.value : 0;
  }

  typeLabels() {
    return Object.fromEntries(this.choices("layer", "type").map((c) => [c.value, c.label]));
  }
}

export function fillSelect(select, choices, { format } = {}) {
  select.replaceChildren(...choices.map((c) => {
    const option = document.createElement("option");
    option.value = String(c.value);
    option.textContent = format ? format(c) : c.label;
    return option;
  }));
}
