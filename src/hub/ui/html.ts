// HTML for CunikHub's web UI: a tagged template that escapes every value it is given, so image
// contents (labels, annotations, tags: all untrusted, pushed by anyone with push scope) can never
// become markup. Only fragments made by `html` itself (or `trusted` for the UI's own constants)
// pass through unescaped. Pure.

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for element content and double- or single-quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESC[c]!);
}

/** Markup that is already safe. Made only by `html` and `trusted`. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type Value = Html | string | number | boolean | undefined | null | readonly Value[];

function render(v: Value): string {
  if (v === undefined || v === null || v === false) return '';
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) {
    let out = '';
    for (const x of v as readonly Value[]) out += render(x);
    return out;
  }
  return escapeHtml(String(v));
}

/** html`<p>${value}</p>`: values escaped, nested html`` fragments and arrays of them kept. */
export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new Html(out);
}

/** The UI's own constant markup (never anything from a request or an image). */
export const trusted = (s: string): Html => new Html(s);

/** A path segment of a UI URL: repository names and tags are already URL-safe; encoded anyway. */
export const seg = (s: string): string => s.split('/').map(encodeURIComponent).join('/');

/** "/?a=1&b=2" from pairs, skipping empty values. */
export function withQuery(path: string, params: [string, string | undefined][]): string {
  const q = new URLSearchParams();
  for (const [k, v] of params) if (v !== undefined && v !== '') q.append(k, v);
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
