// The Go text/template subset of --format (src/cli/format/template.ts): what Docker's CLI prints
// for the same template and data, and Go's one-line errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asMap, compile, mapsFromJson, TemplateError, unescapeFormat } from '../../src/cli/format/template.js';

const data = {
  ID: 'abc123',
  Names: 'web',
  State: { ExitCode: 3, Status: 'exited', Running: false, Pid: 0 },
  Config: { Env: ['A=1', 'B=2'], Labels: asMap({ tier: 'db', 'com.example.x': 'y' }), Cmd: null },
  Empty: [] as string[],
  Ports: '',
  Count: 2,
  Ratio: 0.5,
  Label: (k: string): string => ({ tier: 'db' })[k] ?? '',
  Lower: 'MiXed',
};

const cases: [string, string][] = [
  ['{{.ID}}', 'abc123'],
  ['id={{.ID}} name={{.Names}}', 'id=abc123 name=web'],
  ['{{.State.ExitCode}}', '3'],
  ['{{.State.Running}}', 'false'],
  ['{{json .State}}', '{"ExitCode":3,"Status":"exited","Running":false,"Pid":0}'],
  ['{{json .Config.Env}}', '["A=1","B=2"]'],
  ['{{json .Config.Cmd}}', 'null'],
  ['{{json "<a&b>"}}', '"<a&b>"'],
  ['{{.Config.Env}}', '[A=1 B=2]'],
  ['{{.Config.Labels}}', 'map[com.example.x:y tier:db]'],
  ['{{.Config.Labels.nope}}', '<no value>'],
  ['{{index .Config.Labels "com.example.x"}}', 'y'],
  ['{{index .Config.Labels "absent"}}', '<no value>'],
  ['{{index .Config.Env 1}}', 'B=2'],
  ['{{.Label "tier"}}', 'db'],
  ['{{.Label "other"}}', ''],
  ['{{.Names | printf "%s!"}}', 'web!'],
  ['{{printf "%-6s|%3d|%q|%v" .Names .Count .ID .State.ExitCode}}', 'web   |  2|"abc123"|3'],
  ['{{printf "%.2f %x %%" .Ratio 255}}', '0.50 ff %'],
  ['{{.Names | upper}} {{lower .Lower}} {{title "hello world"}}', 'WEB mixed Hello World'],
  ['{{join .Config.Env ","}}', 'A=1,B=2'],
  ['{{split "a:b:c" ":"}}', '[a b c]'],
  ['{{len .Config.Env}} {{len .Names}} {{len .Config.Labels}}', '2 3 2'],
  ['{{println .ID}}', 'abc123\n'],
  ['{{print "a" 1 2 "b"}}', 'a1 2b'],
  ['{{truncate .ID 3}}|{{pad .Names 1 2}}|', 'abc| web  |'],
  ['{{if .State.Running}}up{{else}}down({{.State.ExitCode}}){{end}}', 'down(3)'],
  ['{{if eq .State.Status "running"}}R{{else if eq .State.Status "exited"}}E{{else}}?{{end}}', 'E'],
  ['{{if and .Count (not .Ports)}}yes{{end}}', 'yes'],
  ['{{if or .Ports .Empty}}x{{else}}none{{end}}', 'none'],
  ['{{if gt .Count 1}}many{{end}}{{if lt .Count 1}}few{{end}}', 'many'],
  ['{{if ne .Names "db"}}not db{{end}}', 'not db'],
  ['{{eq .Count 1 2 3}}', 'true'],
  ['{{range .Config.Env}}[{{.}}]{{end}}', '[A=1][B=2]'],
  ['{{range $i, $e := .Config.Env}}{{$i}}:{{$e}} {{end}}', '0:A=1 1:B=2 '],
  ['{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}', 'com.example.x=y;tier=db;'],
  ['{{range .Empty}}x{{else}}empty{{end}}', 'empty'],
  ['{{range .Config.Env}}{{$.Names}}{{end}}', 'webweb'],
  ['{{with .State}}{{.Status}}{{end}}', 'exited'],
  ['{{with .Empty}}x{{else}}no{{end}}', 'no'],
  ['{{$n := .Names}}{{$n}}-{{$n | upper}}', 'web-WEB'],
  ['{{(index .Config.Env 0) | lower}}', 'a=1'],
  ['{{slice .ID 1 3}}', 'bc'],
  ['a  {{- .ID -}}  b', 'aabc123b'],
  ['{{/* a comment */}}x', 'x'],
  ['{{"{{"}}literal', '{{literal'],
  ['{{`raw "q"`}}', 'raw "q"'],
  ['{{.Ratio}} {{true}} {{nil}}', '0.5 true <nil>'],
  ['no actions', 'no actions'],
];

test('template: Go text/template output for Docker-style formats', () => {
  for (const [src, want] of cases) assert.equal(compile(src).execute(data), want, src);
});

test('template: a parsed template runs once per row', () => {
  const t = compile('{{.ID}}\t{{.Names}}');
  assert.deepEqual([{ ID: 'a', Names: 'x' }, { ID: 'b', Names: 'y' }].map((r) => t.execute(r)), ['a\tx', 'b\ty']);
});

test('template: JSON-decoded data is maps, so missing keys are <no value>', () => {
  const raw = mapsFromJson(JSON.parse('{"State":{"ExitCode":0},"Config":{"Labels":{}}}'));
  assert.equal(compile('{{.State.ExitCode}} {{.State.Nope}} {{.Nope}}').execute(raw), '0 <no value> <no value>');
  assert.equal(compile('{{.Config.Labels}}').execute(raw), 'map[]');
});

test("template: Docker's \\t and \\n escapes", () => {
  assert.equal(unescapeFormat('{{.ID}}\\t{{.Names}}\\n'), '{{.ID}}\t{{.Names}}\n');
});

const errors: [string, RegExp][] = [
  ['{{.ID', /^template: :1: unclosed action$/],
  ['{{nosuch .ID}}', /^template: :1: function "nosuch" not defined$/],
  ['{{if .ID}}x', /^template: :1: unexpected EOF/],
  ['{{end}}', /^template: :1: unexpected \{\{end\}\}$/],
  ['{{else}}', /^template: :1: unexpected \{\{else\}\}$/],
  ['{{}}', /^template: :1: missing value for command$/],
  ['{{.ID | }}', /^template: :1: missing command after \|$/],
  ['{{"abc}}', /^template: :1: unterminated quoted string$/],
  ['{{(.ID}}', /^template: :1: unclosed left paren$/],
  ['{{define "x"}}{{end}}', /not supported/],
  ['line1\n{{nosuch}}', /^template: :2: function "nosuch" not defined$/],
];

test('template: parse errors are one line in Go words', () => {
  for (const [src, re] of errors) {
    assert.throws(() => compile(src), (e: unknown) => e instanceof TemplateError && re.test(e.message) && !e.message.includes('\n'), src);
  }
});

test('template: execution errors (a missing struct field, a bad call)', () => {
  const bad: [string, RegExp][] = [
    ['{{.Nope}}', /can't evaluate field Nope in type struct/],
    ['{{.State.Nope}}', /at <\.State\.Nope>: can't evaluate field Nope in type struct/],
    ['{{.ID.X}}', /can't evaluate field X in type string/],
    ['{{.ID "arg"}}', /ID has arguments but is not a method/],
    ['{{$nope}}', /undefined variable "\$nope"/],
    ['{{len .State.ExitCode}}', /len of type int/],
    ['{{index .Config.Env 5}}', /index out of range: 5/],
    ['{{lt .ID 1}}', /incompatible types for comparison/],
    ['{{range .Names}}{{end}}', /range can't iterate over web/],
  ];
  for (const [src, re] of bad) assert.throws(() => compile(src).execute(data), (e: unknown) => e instanceof TemplateError && re.test(e.message), src);
});

test('renderList: "table" prints the headers row and aligns on tabs as docker (min width 10, padding 3); plain is one line per row', async () => {
  const { renderList, tabwrite } = await import('../../src/cli/format/output.js');
  const rows = [{ ID: 'abc', Names: 'web', Label: (k: string) => `v-${k}` }, { ID: 'abcdef123456', Names: 'db', Label: () => '' }];
  const headers = { ID: 'INSTANCE ID', Names: 'NAMES', Label: () => 'LABEL' };
  assert.equal(renderList('table {{.ID}}\\t{{.Names}}', rows, headers), 'INSTANCE ID    NAMES\nabc            web\nabcdef123456   db\n');
  assert.equal(renderList('table {{.Names}}\\t{{.Label "k"}}', rows, headers), 'NAMES     LABEL\nweb       v-k\ndb        \n');
  assert.equal(renderList('{{.Names}}:{{.Label "x"}}', rows, headers), 'web:v-x\ndb:\n');
  assert.equal(tabwrite('a\tb\tc\nlonger-than-ten\td\te'), 'a                 b         c\nlonger-than-ten   d         e');
  assert.throws(() => renderList('{{nosuch}}', rows, headers), /^Error: template parsing error: template: :1: function "nosuch" not defined$/);
  // No rows: a template error in execution cannot show, as with docker.
  assert.equal(renderList('{{.Nope}}', [], headers), '');
  assert.throws(() => renderList('{{.Nope}}', rows, headers), /can't evaluate field Nope/);
});
