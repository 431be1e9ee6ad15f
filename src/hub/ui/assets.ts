// The web UI's stylesheet and its one small script (served from /static/, so the
// Content-Security-Policy allows no inline code at all). The script only adds conveniences:
// copy buttons and a confirmation before a delete; every page works without it.

export const STYLE = `
:root { --fg: #1d2430; --muted: #5b6675; --line: #dde3ea; --bg: #f6f8fa; --accent: #0b62c4; --danger: #b42318; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #fff; }
header { display: flex; gap: 1.5rem; align-items: center; padding: .7rem 1.5rem; background: #14213d; color: #fff; flex-wrap: wrap; }
header a { color: #fff; text-decoration: none; }
header .brand { font-weight: 700; font-size: 1.15rem; letter-spacing: .02em; }
header form.search { flex: 1; display: flex; gap: .4rem; min-width: 16rem; }
header input[type=search] { flex: 1; padding: .4rem .6rem; border-radius: 6px; border: 0; font: inherit; }
header .who { display: flex; gap: .6rem; align-items: center; font-size: .9rem; }
main { max-width: 72rem; margin: 0 auto; padding: 1.2rem 1.5rem 3rem; }
h1 { font-size: 1.45rem; margin: .4rem 0 1rem; word-break: break-all; }
h2 { font-size: 1.1rem; margin: 1.6rem 0 .6rem; }
a { color: var(--accent); }
table { border-collapse: collapse; width: 100%; margin: .4rem 0; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); background: var(--bg); }
td.num, th.num { text-align: right; white-space: nowrap; }
code, .mono { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; word-break: break-all; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1.2rem; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.pill { display: inline-block; padding: .05rem .5rem; border-radius: 999px; background: #e8f0fb; color: #0a4a94; font-size: .82rem; margin: 0 .25rem .15rem 0; text-decoration: none; }
.muted { color: var(--muted); }
.pull { display: flex; gap: .5rem; align-items: center; background: var(--bg); border: 1px solid var(--line); border-radius: 8px; padding: .5rem .7rem; margin: .6rem 0 1rem; }
.pull code { flex: 1; user-select: all; }
button, .button { font: inherit; font-size: .88rem; padding: .3rem .75rem; border-radius: 6px; border: 1px solid var(--line); background: #fff; cursor: pointer; color: var(--fg); }
button.danger { color: var(--danger); border-color: #f1c0bb; }
button.danger:hover { background: #fdecea; }
form.inline { display: inline; margin: 0; }
.filters { color: var(--muted); margin: 0 0 .6rem; }
.notice { padding: .6rem .8rem; border-radius: 8px; background: #fff5e6; border: 1px solid #f5d7a6; margin: .8rem 0; }
.error { background: #fdecea; border-color: #f1c0bb; }
.pages { display: flex; gap: 1rem; margin: 1rem 0; }
.login { max-width: 22rem; display: grid; gap: .6rem; }
.login input { padding: .45rem .6rem; font: inherit; border: 1px solid var(--line); border-radius: 6px; }
`;

export const SCRIPT = `
document.querySelectorAll('button[data-copy]').forEach(function (b) {
  b.hidden = false;
  b.addEventListener('click', function () {
    navigator.clipboard.writeText(b.getAttribute('data-copy')).then(function () {
      b.textContent = 'Copied';
      setTimeout(function () { b.textContent = 'Copy'; }, 1500);
    });
  });
});
document.querySelectorAll('form[data-confirm]').forEach(function (f) {
  f.addEventListener('submit', function (e) {
    if (!confirm(f.getAttribute('data-confirm'))) e.preventDefault();
  });
});
`;
