// --format with a Go template, as docker's CLI prints lists and inspect results: "table TEMPLATE"
// (a header row from the columns' names, cells aligned on the template's tabs), or TEMPLATE
// (one line per object). Loaded only for such a format (the commands import it lazily).
import { compile, TemplateError, unescapeFormat, type Template } from './template.js';

/** Docker's preFormat: "table " taken off, spaces trimmed, typed \t and \n made tabs and newlines. */
function prepare(format: string): { table: boolean; template: Template } {
  const table = format.startsWith('table');
  const src = unescapeFormat((table ? format.slice('table'.length) : format).replace(/^ +| +$/g, ''));
  try {
    return { table, template: compile(src) };
  } catch (err) {
    throw err instanceof TemplateError ? new Error(`template parsing error: ${err.message}`) : err;
  }
}

/** Go's text/tabwriter as docker's CLI sets it (minwidth 10, padding 3): tab-ended cells aligned. */
export function tabwrite(text: string): string {
  const lines = text.split('\n').map((l) => l.split('\t'));
  const widths: number[] = [];
  for (const cells of lines) {
    for (let i = 0; i < cells.length - 1; i++) widths[i] = Math.max(widths[i] ?? 10, [...cells[i]!].length + 3);
  }
  return lines.map((cells) => cells.map((c, i) => (i < cells.length - 1 ? c + ' '.repeat(widths[i]! - [...c].length) : c)).join('')).join('\n');
}

/**
 * The rows through a --format template. `headers`: every field's column name ("table" formats'
 * first line); a header function stands for a method field (.Label "k" → LABEL).
 */
export function renderList(format: string, rows: object[], headers: Record<string, unknown>): string {
  const { table, template } = prepare(format);
  let out = '';
  const run = (data: unknown): string => {
    try {
      return template.execute(data);
    } catch (err) {
      throw err instanceof TemplateError ? new Error(err.message) : err;
    }
  };
  if (table) out += run(headers) + '\n';
  for (const r of rows) out += run(r) + '\n';
  return table ? tabwrite(out) : out;
}

/** docker inspect -f: the template on each object, one line each. */
export function renderEach(format: string, objects: unknown[]): string {
  return renderList(format.startsWith('table') ? format.slice('table'.length) : format, objects as object[], {});
}

/** Whether a --format template reads this field (docker ps computes sizes only when .Size is used). */
export const usesField = (format: string, field: string): boolean => new RegExp(`\\.${field}\\b`).test(format);
