// A subset of Go's text/template, as `docker ... --format` takes it: {{.Field.Sub}}, pipelines
// ({{.X | printf "%s"}}), {{if}}/{{else if}}/{{else}}/{{end}}, {{range}} (with $i, $v :=),
// {{with}}, variables ($, $x := ...), (sub pipelines), {{- trim -}}, {{/* comments */}}, and
// the functions Docker's CLI adds (json, join, split, upper, lower, title, pad, truncate,
// println) besides Go's (len, index, slice, print, printf, eq, ne, lt, le, gt, ge, and, or, not).
// Pure: parse once, execute on plain data. Errors are Go's words, one line: "template: :1: ...".
//
// Data: a JS object is a Go struct (a missing field is an error, "can't evaluate field X"),
// unless it was marked with asMap() or comes from JSON (mapsFromJson): then a missing key is
// "<no value>", as Go's maps. A function-valued field is a method: {{.Label "k"}} calls it.

export class TemplateError extends Error {}

type Node =
  | { t: 'text'; text: string }
  | { t: 'action'; pipe: Pipe }
  | { t: 'if' | 'with'; pipe: Pipe; then: Node[]; else: Node[] }
  | { t: 'range'; pipe: Pipe; body: Node[]; else: Node[] };
interface Pipe { decl: string[]; cmds: Arg[][]; assign?: boolean }
type Arg =
  | { t: 'field'; base: 'dot' | string; path: string[] }
  | { t: 'lit'; v: unknown }
  | { t: 'fn'; name: string }
  | { t: 'sub'; pipe: Pipe; path: string[] };

const MAPS = new WeakSet<object>();
/** Mark an object as a Go map (missing keys are "<no value>", not an error). */
export function asMap<T extends object>(o: T): T {
  MAPS.add(o);
  return o;
}
/** Every object in a JSON-decoded value is a map (as docker inspect's raw-JSON templates). */
export function mapsFromJson<T>(v: T): T {
  if (v !== null && typeof v === 'object') {
    if (!Array.isArray(v)) MAPS.add(v as object);
    for (const x of Object.values(v as object)) mapsFromJson(x);
  }
  return v;
}

// ---- lexing and parsing ----

const fail = (line: number, msg: string): never => {
  throw new TemplateError(`template: :${line}: ${msg}`);
};

/** Parse a template (Docker's `\t`/`\n` escapes are the caller's: see unescapeFormat). */
export function parse(src: string): Node[] {
  const nodes: Node[] = [];
  const stack: { node: Node & { t: 'if' | 'with' | 'range' }; inElse: boolean; elseIf: number }[] = [];
  const out = (): Node[] => {
    const top = stack[stack.length - 1];
    if (!top) return nodes;
    if (top.inElse) return top.node.else;
    return top.node.t === 'range' ? top.node.body : top.node.then;
  };
  let i = 0;
  let trimNext = false;
  const lineAt = (pos: number): number => src.slice(0, pos).split('\n').length;
  while (i <= src.length) {
    const open = src.indexOf('{{', i);
    let text = src.slice(i, open < 0 ? src.length : open);
    if (trimNext) text = text.replace(/^\s+/, '');
    trimNext = false;
    if (open < 0) {
      if (text) out().push({ t: 'text', text });
      break;
    }
    let start = open + 2;
    if (src.startsWith('- ', start) || (src[start] === '-' && /\s/.test(src[start + 1] ?? ''))) {
      text = text.replace(/\s+$/, '');
      start += 1;
    }
    if (text) out().push({ t: 'text', text });
    const line = lineAt(open);
    let close: number;
    if (/^\s*\/\*/.test(src.slice(start))) {
      const end = src.indexOf('*/', start);
      if (end < 0) fail(line, 'unclosed comment');
      close = src.indexOf('}}', end);
      if (close < 0) fail(line, 'unclosed action');
    } else close = findClose(src, start, line);
    let body = src.slice(start, close);
    if (/\s-$/.test(body)) {
      body = body.slice(0, -1);
      trimNext = true;
    }
    i = close + 2;
    if (/^\s*\/\*/.test(body)) continue;
    const toks = lex(body, line);
    const kw = toks[0]?.k === 'id' ? toks[0].v : '';
    if (kw === 'if' || kw === 'with' || kw === 'range') {
      const pipe = parsePipe(toks.slice(1), line, kw === 'range');
      const node: Node & { t: 'if' | 'with' | 'range' } = kw === 'range' ? { t: 'range', pipe, body: [], else: [] } : { t: kw, pipe, then: [], else: [] };
      out().push(node);
      stack.push({ node, inElse: false, elseIf: 0 });
    } else if (kw === 'else') {
      const top = stack[stack.length - 1];
      if (!top || top.inElse) fail(line, 'unexpected {{else}}');
      top!.inElse = true;
      if (toks[1]?.k === 'id' && (toks[1].v === 'if' || toks[1].v === 'with')) {
        // {{else if x}} is {{else}}{{if x}} whose {{end}} is shared.
        const node: Node & { t: 'if' | 'with' } = { t: toks[1].v as 'if' | 'with', pipe: parsePipe(toks.slice(2), line, false), then: [], else: [] };
        out().push(node);
        stack.push({ node, inElse: false, elseIf: top!.elseIf + 1 });
      } else if (toks.length > 1) fail(line, 'unexpected tokens after else');
    } else if (kw === 'end') {
      if (!stack.length) fail(line, 'unexpected {{end}}');
      let top = stack.pop()!;
      while (top.elseIf > 0) top = stack.pop()!;
    } else if (kw === 'define' || kw === 'template' || kw === 'block' || kw === 'break' || kw === 'continue') {
      fail(line, `{{${kw}}} is not supported`);
    } else {
      if (!toks.length) fail(line, 'missing value for command');
      out().push({ t: 'action', pipe: parsePipe(toks, line, false) });
    }
  }
  if (stack.length) fail(lineAt(src.length), `unexpected EOF (an {{${stack[stack.length - 1]!.node.t}}} without {{end}})`);
  return nodes;
}

function findClose(src: string, from: number, line: number): number {
  let q: string | undefined;
  for (let j = from; j < src.length; j++) {
    const c = src[j]!;
    if (q) {
      if (c === '\\' && q === '"') j++;
      else if (c === q) q = undefined;
    } else if (c === '"' || c === '`' || c === "'") q = c;
    else if (c === '}' && src[j + 1] === '}') return j;
  }
  return fail(line, q ? 'unterminated quoted string' : 'unclosed action');
}

type Tok = { k: 'id' | 'field' | 'var' | 'str' | 'num' | 'op'; v: string };

function lex(body: string, line: number): Tok[] {
  const toks: Tok[] = [];
  const re = /\s*(?:("(?:[^"\\]|\\.)*")|(`[^`]*`)|('(?:[^'\\]|\\.)')|(\$[\w]*(?:\.[\w]+)*)|((?:\.[\w]+)+|\.)|(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?|0x[0-9a-f]+)|([A-Za-z_]\w*)|(:=|=|\||,|\(|\)))/iy;
  let m: RegExpExecArray | null;
  let pos = 0;
  while (pos < body.length) {
    if (/^\s*$/.test(body.slice(pos))) break;
    re.lastIndex = pos;
    m = re.exec(body);
    if (!m) fail(line, `unexpected "${body.slice(pos).trim()[0]}" in command`);
    pos = re.lastIndex;
    if (m![1]) toks.push({ k: 'str', v: JSON.parse(m![1]) as string });
    else if (m![2]) toks.push({ k: 'str', v: m![2].slice(1, -1) });
    else if (m![3]) toks.push({ k: 'num', v: String((JSON.parse(`"${m![3].slice(1, -1)}"`) as string).codePointAt(0)) });
    else if (m![4]) toks.push({ k: 'var', v: m![4] });
    else if (m![5]) toks.push({ k: 'field', v: m![5] });
    else if (m![6]) toks.push({ k: 'num', v: m![6] });
    else if (m![7]) toks.push({ k: 'id', v: m![7] });
    else toks.push({ k: 'op', v: m![8]! });
    // A field chained on a sub pipeline: (index .X 0).Name
    if (m![8] === ')' && body[pos] === '.') {
      const f = /(?:\.[\w]+)+/y;
      f.lastIndex = pos;
      const fm = f.exec(body);
      if (fm) {
        toks.push({ k: 'op', v: 'chain' }, { k: 'field', v: fm[0] });
        pos = f.lastIndex;
      }
    }
  }
  return toks;
}

function parsePipe(toks: Tok[], line: number, isRange: boolean): Pipe {
  const decl: string[] = [];
  let assign = false;
  const declEnd = toks.findIndex((t) => t.k === 'op' && (t.v === ':=' || t.v === '='));
  if (declEnd > 0 && toks.slice(0, declEnd).every((t, n) => (n % 2 === 0 ? t.k === 'var' && !t.v.includes('.') : t.k === 'op' && t.v === ','))) {
    for (let n = 0; n < declEnd; n += 2) decl.push(toks[n]!.v);
    if (decl.length > (isRange ? 2 : 1)) fail(line, 'too many declarations');
    assign = toks[declEnd]!.v === '=';
    toks = toks.slice(declEnd + 1);
  }
  const cmds: Arg[][] = [[]];
  let k = 0;
  const operand = (): Arg => {
    const t = toks[k++]!;
    if (t.k === 'str') return { t: 'lit', v: t.v };
    if (t.k === 'num') return { t: 'lit', v: Number(t.v) };
    if (t.k === 'field') return { t: 'field', base: 'dot', path: t.v === '.' ? [] : t.v.slice(1).split('.') };
    if (t.k === 'var') {
      const [name, ...path] = t.v.split('.');
      return { t: 'field', base: name!, path };
    }
    if (t.k === 'id') {
      if (t.v === 'true' || t.v === 'false') return { t: 'lit', v: t.v === 'true' };
      if (t.v === 'nil') return { t: 'lit', v: null };
      if (!(t.v in FUNCS)) fail(line, `function "${t.v}" not defined`);
      return { t: 'fn', name: t.v };
    }
    if (t.v === '(') {
      let depth = 1;
      const startK = k;
      while (k < toks.length && depth > 0) {
        if (toks[k]!.v === '(' && toks[k]!.k === 'op') depth++;
        else if (toks[k]!.v === ')' && toks[k]!.k === 'op') depth--;
        k++;
      }
      if (depth > 0) fail(line, 'unclosed left paren');
      const inner = parsePipe(toks.slice(startK, k - 1), line, false);
      let path: string[] = [];
      if (toks[k]?.v === 'chain') {
        path = toks[k + 1]!.v.slice(1).split('.');
        k += 2;
      }
      return { t: 'sub', pipe: inner, path };
    }
    return fail(line, `unexpected "${t.v}" in command`);
  };
  while (k < toks.length) {
    if (toks[k]!.k === 'op' && toks[k]!.v === '|') {
      if (!cmds[cmds.length - 1]!.length) fail(line, 'missing command before |');
      cmds.push([]);
      k++;
      continue;
    }
    cmds[cmds.length - 1]!.push(operand());
  }
  if (!cmds[cmds.length - 1]!.length) fail(line, cmds.length > 1 ? 'missing command after |' : 'missing value for command');
  for (const cmd of cmds.slice(1)) if (cmd[0]!.t === 'lit') fail(line, 'non executable command in pipeline stage');
  return { decl, cmds, ...(assign && { assign }) };
}

// ---- execution ----

type Scope = Map<string, unknown>[];

const typeName = (v: unknown): string =>
  v === null || v === undefined ? 'nil' : Array.isArray(v) ? 'slice' : typeof v === 'object' ? (MAPS.has(v) ? 'map' : 'struct') : typeof v === 'number' ? (Number.isInteger(v) ? 'int' : 'float64') : typeof v === 'boolean' ? 'bool' : typeof v;

function field(v: unknown, name: string, args: unknown[], where: string): unknown {
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new TemplateError(`template: :1: executing "" at <${where}>: can't evaluate field ${name} in type ${typeName(v)}`);
  const has = Object.prototype.hasOwnProperty.call(v, name);
  if (!has && !MAPS.has(v)) throw new TemplateError(`template: :1: executing "" at <${where}>: can't evaluate field ${name} in type ${typeName(v)}`);
  const got = (v as Record<string, unknown>)[name];
  if (typeof got === 'function') return (got as (...a: unknown[]) => unknown)(...args);
  if (args.length) throw new TemplateError(`template: :1: executing "" at <${where}>: ${name} has arguments but is not a method`);
  return got;
}

function walk(v: unknown, path: string[], where: string, args: unknown[] = []): unknown {
  for (let n = 0; n < path.length; n++) v = field(v, path[n]!, n === path.length - 1 ? args : [], where);
  return v;
}

function lookupVar(scope: Scope, name: string): unknown {
  for (let n = scope.length - 1; n >= 0; n--) if (scope[n]!.has(name)) return scope[n]!.get(name);
  throw new TemplateError(`template: :1: undefined variable "${name}"`);
}

function evalArg(a: Arg, dot: unknown, scope: Scope, args: unknown[], final: unknown[]): unknown {
  if (a.t === 'lit') return a.v;
  if (a.t === 'fn') return callFn(a.name, [...args, ...final]);
  const where = a.t === 'field' ? (a.base === 'dot' ? '' : a.base) + (a.path.length ? '.' + a.path.join('.') : a.base === 'dot' ? '.' : '') : `(...)`;
  if (a.t === 'sub') return walk(evalPipe(a.pipe, dot, scope), a.path, where, [...args, ...final]);
  const base = a.base === 'dot' ? dot : lookupVar(scope, a.base);
  return walk(base, a.path, where, [...args, ...final]);
}

function evalPipe(p: Pipe, dot: unknown, scope: Scope): unknown {
  let value: unknown;
  p.cmds.forEach((cmd, n) => {
    const [head, ...rest] = cmd;
    const args = rest.map((a) => evalArg(a, dot, scope, [], []));
    const final = n > 0 ? [value] : [];
    if (head!.t === 'lit' || (head!.t === 'field' && !head!.path.length) || (head!.t === 'sub' && !head!.path.length)) {
      if (args.length || final.length) throw new TemplateError(`template: :1: can't give argument to non-function`);
      value = evalArg(head!, dot, scope, [], []);
    } else value = evalArg(head!, dot, scope, args, final);
  });
  if (p.decl.length === 1) {
    const name = p.decl[0]!;
    if (p.assign) {
      const s = [...scope].reverse().find((m) => m.has(name));
      if (!s) throw new TemplateError(`template: :1: undefined variable "${name}"`);
      s.set(name, value);
    } else scope[scope.length - 1]!.set(name, value);
  }
  return value;
}

export function truth(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return MAPS.has(v) ? Object.keys(v).length > 0 : true;
  return true;
}

/** Go's %v. */
export function show(v: unknown): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isInteger(v) || !Number.isFinite(v) ? String(v) : String(v).replace(/e\+?/, 'e+');
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(show).join(' ')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => typeof o[k] !== 'function');
    if (MAPS.has(v)) return `map[${keys.sort().map((k) => `${k}:${show(o[k])}`).join(' ')}]`;
    return `{${keys.map((k) => show(o[k])).join(' ')}}`;
  }
  return String(v);
}

function exec(nodes: Node[], dot: unknown, scope: Scope, out: string[]): void {
  for (const n of nodes) {
    if (n.t === 'text') out.push(n.text);
    else if (n.t === 'action') {
      const v = evalPipe(n.pipe, dot, scope);
      if (!n.pipe.decl.length) out.push(show(v));
    } else if (n.t === 'if' || n.t === 'with') {
      scope.push(new Map());
      const v = evalPipe(n.pipe, dot, scope);
      if (truth(v)) exec(n.then, n.t === 'with' ? v : dot, scope, out);
      else exec(n.else, dot, scope, out);
      scope.pop();
    } else if (n.t === 'range') {
      const inner = new Map<string, unknown>();
      scope.push(inner);
      const v = evalPipe({ ...n.pipe, decl: [] }, dot, scope);
      const entries: [unknown, unknown][] =
        v === null || v === undefined ? [] : Array.isArray(v) ? v.map((x, k) => [k, x]) : typeof v === 'object' ? Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]) : typeof v === 'number' && Number.isInteger(v) ? Array.from({ length: Math.max(0, v) }, (_, k) => [k, k]) : fail(1, `range can't iterate over ${show(v)}`);
      if (!entries.length) exec(n.else, dot, scope, out);
      for (const [k, x] of entries) {
        if (n.pipe.decl.length === 1) inner.set(n.pipe.decl[0]!, x);
        if (n.pipe.decl.length === 2) inner.set(n.pipe.decl[0]!, k).set(n.pipe.decl[1]!, x);
        exec(n.body, x, scope, out);
      }
      scope.pop();
    }
  }
}

export interface Template {
  execute(data: unknown): string;
}

/** Parse once, execute per object (a list's rows). */
export function compile(src: string): Template {
  const nodes = parse(src);
  return {
    execute(data: unknown): string {
      const out: string[] = [];
      exec(nodes, data, [new Map([['$', data]])], out);
      return out.join('');
    },
  };
}

/** Docker's format escapes: a typed `\t` or `\n` is a tab or a newline. */
export const unescapeFormat = (format: string): string => format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');

// ---- functions ----

/** Go's encoding/json without HTML escaping, as Docker's `json` function (no trailing newline). */
export function goJson(v: unknown): string {
  return JSON.stringify(v === undefined ? null : v, (_k, x: unknown) => (typeof x === 'function' ? undefined : x)) ?? 'null';
}

function printf(format: unknown, ...args: unknown[]): string {
  let n = 0;
  return String(format).replace(/%([-+ 0#]*)(\d+)?(?:\.(\d+))?([svdqxXftT%])/g, (_m, flags: string, width: string | undefined, prec: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    if (n >= args.length) return `%!${verb}(MISSING)`;
    const a = args[n++];
    let s: string;
    if (verb === 'd') s = typeof a === 'number' ? String(Math.trunc(a)) : `%!d(${typeName(a)}=${show(a)})`;
    else if (verb === 'q') s = JSON.stringify(typeof a === 'string' ? a : show(a));
    else if (verb === 'x' || verb === 'X') {
      s = typeof a === 'number' ? Math.trunc(a).toString(16) : Buffer.from(show(a)).toString('hex');
      if (verb === 'X') s = s.toUpperCase();
    } else if (verb === 'f') s = typeof a === 'number' ? a.toFixed(prec !== undefined ? Number(prec) : 6) : `%!f(${typeName(a)}=${show(a)})`;
    else if (verb === 't') s = typeof a === 'boolean' ? String(a) : `%!t(${typeName(a)}=${show(a)})`;
    else if (verb === 'T') s = typeName(a);
    else {
      s = show(a);
      if (prec !== undefined && verb === 's') s = [...s].slice(0, Number(prec)).join('');
    }
    const w = Number(width ?? 0);
    if (s.length < w) s = flags.includes('-') ? s.padEnd(w) : s.padStart(w, flags.includes('0') && verb !== 's' ? '0' : ' ');
    return s;
  });
}

const cmp = (op: string) => (a: unknown, b: unknown): boolean => {
  if (typeof a !== typeof b || (typeof a !== 'number' && typeof a !== 'string')) throw new TemplateError(`template: :1: error calling ${op}: incompatible types for comparison`);
  const x = a as number | string;
  const y = b as number | string;
  return op === 'lt' ? x < y : op === 'le' ? x <= y : op === 'gt' ? x > y : x >= y;
};

const lenOf = (v: unknown): number => {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (v !== null && typeof v === 'object') return Object.keys(v).length;
  throw new TemplateError(`template: :1: error calling len: len of type ${typeName(v)}`);
};

const sprint = (args: unknown[]): string => args.map((a, n) => (n > 0 && typeof a !== 'string' && typeof args[n - 1] !== 'string' ? ' ' : '') + show(a)).join('');

const FUNCS: Record<string, (...a: unknown[]) => unknown> = {
  json: (v) => goJson(v),
  join: (list, sep) => (Array.isArray(list) ? list.map(show).join(String(sep ?? '')) : show(list)),
  split: (s, sep) => String(s).split(String(sep)),
  upper: (s) => show(s).toUpperCase(),
  lower: (s) => show(s).toLowerCase(),
  title: (s) => show(s).replace(/(^|[^\p{L}\p{N}'])(\p{L})/gu, (_m, a: string, b: string) => a + b.toUpperCase()),
  pad: (s, l, r) => ' '.repeat(Number(l)) + show(s) + ' '.repeat(Number(r)),
  truncate: (s, n) => [...show(s)].slice(0, Number(n)).join(''),
  print: (...a) => sprint(a),
  println: (...a) => a.map(show).join(' ') + '\n',
  printf: (f, ...a) => printf(f, ...a),
  len: lenOf,
  index: (v, ...keys) => {
    for (const k of keys) {
      if (v === null || v === undefined) throw new TemplateError(`template: :1: error calling index: index of untyped nil`);
      if (Array.isArray(v)) {
        if (typeof k !== 'number' || k < 0 || k >= v.length) throw new TemplateError(`template: :1: error calling index: index out of range: ${show(k)}`);
        v = v[k];
      } else if (typeof v === 'object') v = Object.prototype.hasOwnProperty.call(v, String(k)) ? (v as Record<string, unknown>)[String(k)] : undefined;
      else throw new TemplateError(`template: :1: error calling index: can't index item of type ${typeName(v)}`);
    }
    return v;
  },
  slice: (v, from, to) => {
    if (typeof v !== 'string' && !Array.isArray(v)) throw new TemplateError(`template: :1: error calling slice: can't slice item of type ${typeName(v)}`);
    return v.slice(Number(from ?? 0), to === undefined ? undefined : Number(to));
  },
  eq: (a, ...bs) => bs.some((b) => a === b),
  ne: (a, b) => a !== b,
  lt: cmp('lt'),
  le: cmp('le'),
  gt: cmp('gt'),
  ge: cmp('ge'),
  and: (...a) => a.find((x) => !truth(x)) ?? a[a.length - 1],
  or: (...a) => a.find((x) => truth(x)) ?? a[a.length - 1],
  not: (a) => !truth(a),
};

function callFn(name: string, args: unknown[]): unknown {
  const f = FUNCS[name]!;
  return f(...args);
}
