// Strict JSON types on every route. The cases are generated from the daemon's own route schemas
// (its /v1/openapi.json, which is made from them): for every body field, at every depth, a value of
// each JSON type the schema does not allow, and for every query parameter the text forms that are
// not its type (a repeated parameter is an array). Each must get a 400 naming that field, and
// nothing may have been created by any of them.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { helloKernel, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { createReadStream } from 'node:fs';

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: Schema | boolean;
  items?: Schema;
  anyOf?: Schema[];
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  minItems?: number;
}
interface Parameter {
  in: 'query' | 'path';
  name: string;
  required?: boolean;
  schema: Schema;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
}

let d: TestDaemon;

function send(method: string, path: string, body?: string): Promise<{ status: number; json: { code?: string; message?: string; field?: string } }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: d.socket, method, path, headers: body === undefined ? {} : { 'content-type': 'application/json' }, timeout: 5000 }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        let json = {};
        try {
          json = JSON.parse(text) as object;
        } catch {
          // not JSON: the assertions below say so
        }
        resolve({ status: res.statusCode ?? 0, json });
      });
    });
    // A request that got past validation may start a stream (events, logs): that is a failure too.
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 5 s (validation let it through)`)));
    req.on('error', reject);
    req.end(body);
  });
}

const types = (s: Schema): string[] => (s.anyOf ? s.anyOf.flatMap(types) : s.type ? [s.type] : []);

/** Values a valid request would use, so only the field under test is wrong. */
const knownGood: Record<string, unknown> = { image: 'hello', family: 'generic', target: 'hello:copy' };

function valid(s: Schema, key?: string): unknown {
  if (key !== undefined && key in knownGood) return knownGood[key];
  if (s.anyOf) return valid(s.anyOf[0]!);
  if (s.enum) return s.enum[0];
  switch (s.type) {
    case 'string':
      return ['ab', 'A=1', 'all', '1'].find((c) => !s.pattern || new RegExp(s.pattern).test(c)) ?? 'ab';
    case 'integer':
    case 'number':
      return Math.max(s.minimum ?? 1, 1);
    case 'boolean':
      return false;
    case 'array':
      return s.minItems ? [valid(s.items!)] : [];
    case 'object':
      return Object.fromEntries((s.required ?? []).map((k) => [k, valid(s.properties![k]!, k)]));
    default:
      throw new Error(`no valid value for ${JSON.stringify(s)}`);
  }
}

const JSON_SAMPLES: [string, unknown][] = [
  ['string', 'x'],
  ['integer', 7],
  ['number', 1.5],
  ['boolean', true],
  ['null', null],
  ['array', ['x']],
  ['object', {}],
];

/** Each JSON value whose type the schema refuses (an integer is a number, so 7 fits "number"). */
function wrongValues(s: Schema): unknown[] {
  const allowed = types(s);
  return JSON_SAMPLES.filter(([t]) => !allowed.includes(t) && !(t === 'integer' && allowed.includes('number'))).map(([, v]) => v);
}

interface BodyCase {
  field: string;
  body: unknown;
}

/** For every field under `s` (nested objects, array items, map values): `base` with that field wrong. */
function bodyCases(s: Schema, base: unknown, path: string, set: (v: unknown) => unknown): BodyCase[] {
  const cases: BodyCase[] = wrongValues(s).map((v) => ({ field: path || 'body', body: set(v) }));
  if (s.type === 'object' && s.properties) {
    const obj = base as Record<string, unknown>;
    for (const [k, sub] of Object.entries(s.properties)) {
      const subBase = obj[k] ?? valid(sub, k);
      cases.push(...bodyCases(sub, subBase, path ? `${path}.${k}` : k, (v) => set({ ...obj, [k]: v })));
    }
  }
  if (s.type === 'object' && typeof s.additionalProperties === 'object') {
    const obj = base as Record<string, unknown>;
    const sub = s.additionalProperties;
    cases.push(...bodyCases(sub, valid(sub), `${path}.k`, (v) => set({ ...obj, k: v })));
  }
  if (s.type === 'array' && s.items) {
    const item = valid(s.items);
    cases.push(...bodyCases(s.items, item, `${path}[0]`, (v) => set([v])));
  }
  return cases;
}

/** Query values (text on the wire) that are not of the parameter's type; an array is a repeated parameter. */
function wrongQueryValues(s: Schema): (string | string[])[] {
  const allowed = types(s);
  const out: (string | string[])[] = [];
  if (!allowed.includes('array')) out.push(['1', '1']);
  if (allowed.includes('boolean')) out.push('yes', '2', '', 'TRUE');
  if (allowed.includes('integer')) out.push('abc', '1.5', '1e3', '', 'true', '0x10');
  if (allowed.length === 1 && allowed[0] === 'string' && s.anyOf) out.push('nosuch'); // a union of literals
  return out;
}

function queryString(q: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) for (const x of Array.isArray(v) ? v : [v]) params.append(k, String(x));
  const s = params.toString();
  return s ? `?${s}` : '';
}

/** Everything stored that a request could have created. */
async function state(): Promise<string> {
  const [instances, images, volumes] = await Promise.all([
    d.client.listInstances(true),
    d.client.listImages(),
    d.client.listVolumes(),
  ]);
  return JSON.stringify({ instances, images: images.map((i) => [i.id, i.repoTags]), volumes });
}

before(async () => {
  d = await startDaemon();
  await d.client.importImage(createReadStream(helloKernel), { ref: 'hello', family: 'generic' });
});
after(async () => d.stop());

test('every field of every route refuses every wrong JSON type with a 400 naming it, and creates nothing', async () => {
  const doc = await d.client.http.json<{ paths: Record<string, Record<string, Operation>> }>('GET', '/v1/openapi.json');
  const before = await state();
  let checked = 0;
  const failures: string[] = [];
  const expect400 = async (label: string, method: string, path: string, field: string, body?: string): Promise<void> => {
    checked++;
    const r = await send(method, path, body).catch((err: Error) => ({ status: 0, json: { message: err.message } as { message?: string; field?: string } }));
    if (r.status !== 400 || r.json.field !== field || !r.json.message?.includes(field)) {
      failures.push(`${label}: ${r.status} ${JSON.stringify(r.json)} (wanted 400 naming ${field})`);
    }
  };
  const routes = Object.entries(doc.paths).flatMap(([p, ops]) => Object.entries(ops).map(([m, op]) => ({ method: m.toUpperCase(), template: p, op })));
  assert.ok(routes.length >= 30, `only ${routes.length} routes in the OpenAPI document`);
  for (const { method, template, op } of routes) {
    // Path parameters are text by nature; an instance or image that does not exist is a 404.
    const path = template.replace(/\{[^}]+\}/g, 'hello');
    const query = (op.parameters ?? []).filter((p) => p.in === 'query');
    const baseQuery = Object.fromEntries(query.filter((p) => p.required).map((p) => [p.name, valid(p.schema, p.name)]));
    for (const p of query) {
      for (const wrong of wrongQueryValues(p.schema)) {
        const q = queryString({ ...baseQuery, [p.name]: wrong });
        await expect400(`${method} ${template}${q}`, method, `${path}${q}`, p.name);
      }
    }
    const body = op.requestBody?.content['application/json']?.schema;
    if (!body) continue;
    const q = queryString(baseQuery);
    const base = valid(body);
    for (const c of bodyCases(body, base, '', (v) => v)) {
      const text = JSON.stringify(c.body);
      await expect400(`${method} ${template} ${text}`, method, `${path}${q}`, c.field, text);
    }
  }
  assert.deepEqual(failures, [], `${failures.length} of ${checked} requests were not refused as they should be`);
  assert.ok(checked > 150, `only ${checked} cases generated`);
  assert.equal(await state(), before, 'a refused request created something');
});

test('the messages are sentences a user understands', async () => {
  const cases: [string, string, unknown, RegExp][] = [
    ['POST', '/v1/instances', { image: ['hello'] }, /^invalid request: image must be a string \(got an array\)$/],
    ['POST', '/v1/instances', { image: 'hello', args: 'exit=3' }, /^invalid request: args must be an array \(got a string\)$/],
    ['POST', '/v1/instances', { image: 'hello', cpus: [2] }, /^invalid request: cpus must be an integer \(got an array\)$/],
    ['POST', '/v1/instances', { image: 'hello', memoryMiB: '64' }, /^invalid request: memoryMiB must be an integer \(got a string\)$/],
    ['POST', '/v1/instances', { image: 'hello', name: 123 }, /^invalid request: name must be a string \(got an integer\)$/],
    ['POST', '/v1/instances', { image: 'hello', autoRemove: 0 }, /^invalid request: autoRemove must be a boolean \(got an integer\)$/],
    ['POST', '/v1/instances', { image: 'hello', name: 'a b' }, /^invalid name "a b": a name may contain only letters, digits, '_', '.' and '-', starting with a letter or digit/],
    ['POST', '/v1/instances', { image: 'hello', restartPolicy: { name: 'sometimes' } }, /^invalid request: restartPolicy\.name must be one of "no", "on-failure", "always" or "unless-stopped" \(got "sometimes"\)$/],
    ['POST', '/v1/instances', { image: 'hello', ports: [{ guestPort: 0 }] }, /^invalid request: ports\[0\]\.guestPort must be at least 1, not 0$/],
    ['POST', '/v1/instances', { image: 'hello', colour: 'red' }, /^invalid request: colour is not a known field$/],
    ['POST', '/v1/instances', {}, /^invalid request: image is required$/],
    ['POST', '/v1/instances', [], /^invalid request: the body must be an object \(got an array\)$/],
    ['GET', '/v1/instances?all=yes', undefined, /^invalid request: query parameter all must be true or false \(or 1 or 0\)$/],
    ['POST', '/v1/instances/hello/stop?t=soon', undefined, /^invalid request: query parameter t must be a whole number$/],
    ['GET', '/v1/instances/hello/logs?tail=abc', undefined, /^invalid tail "abc": the number of lines to show is a whole number or "all"$/],
  ];
  for (const [method, path, body, message] of cases) {
    const r = await send(method, path, body === undefined ? undefined : JSON.stringify(body));
    assert.equal(r.status, 400, `${method} ${path} ${JSON.stringify(body)}`);
    assert.match(r.json.message ?? '', message);
  }
});

test('query booleans and integers are parsed in their declared forms', async () => {
  for (const q of ['all=1', 'all=true', 'all=0', 'all=false']) assert.equal((await send('GET', `/v1/instances?${q}`)).status, 200, q);
  const { id } = await d.client.createInstance({ image: 'hello' });
  assert.equal((await send('DELETE', `/v1/instances/${id}?force=1&volumes=true`)).status, 204);
});
