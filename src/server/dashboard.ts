import { randomBytes } from 'node:crypto';

/**
 * GET /: the web dashboard, one self-contained page (HTML, CSS and script inline; nothing loaded
 * from elsewhere). It polls GET /status every second, fills its history from GET /history once at
 * load, and calls POST /pause and /resume. It holds no data itself, so it is served without a
 * token; when the server has one, the page takes it from the URL fragment (`#token=…`, which
 * browsers never send to the server nor put in a Referer) and sends it as a bearer header.
 *
 * What must hold: every value from the sync is written with textContent (a table name is source
 * data), never as markup; and the Content-Security-Policy allows only the page's own script and
 * style (by a nonce drawn per response) and requests to its own origin.
 */
export interface DashboardPage {
  readonly html: string;
  readonly headers: Readonly<Record<string, string>>;
}

export function renderDashboard(): DashboardPage {
  const nonce = randomBytes(18).toString('base64');
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  const html = PAGE.replaceAll('__NONCE__', nonce);
  return {
    html,
    headers: {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': csp,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'DENY',
      'Content-Length': String(Buffer.byteLength(html)),
    },
  };
}

// The page's script is plain ES2020 for any current browser; it is kept here as text (not
// compiled) so the server ships one file with no build step for the page.
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>tributary</title>
<style nonce="__NONCE__">
:root { --bg: #f4f5f8; --card: #fff; --ink: #1d2330; --mute: #667085; --line: #e3e6eb; --accent: #2f6fec; --ok: #1f9d55; --warn: #c98a00; --bad: #d92d20; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--ink); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 10px 18px; padding: 12px 20px; background: var(--card); border-bottom: 1px solid var(--line); }
header h1 { margin: 0; font-size: 18px; }
.ends { flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; color: var(--mute); font-family: ui-monospace, Menlo, monospace; font-size: 12px; }
.controls { display: inline-flex; gap: 8px; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 999px; font-weight: 600; font-size: 13px; background: var(--line); }
.phase-copy { background: #dbe7ff; color: #1846a3; }
.phase-stream { background: #d6f5e3; color: #136c3a; }
.phase-failed { background: #d92d20; color: #fff; }
.phase-stopping, .phase-stopped, .phase-starting { background: #eceef2; color: #4a5263; }
.paused { background: #fff1cc; color: #7a5200; }
.running { background: #d6f5e3; color: #136c3a; }
.notready { background: #fde2e0; color: #a4190f; }
button { font: inherit; padding: 5px 14px; border-radius: 6px; border: 1px solid var(--line); background: var(--card); cursor: pointer; }
button:hover:not(:disabled) { border-color: var(--accent); color: var(--accent); }
button:disabled { opacity: .45; cursor: default; }
#error { margin: 14px 20px 0; padding: 12px 16px; border-radius: 10px; background: #fff4e0; border: 1px solid #f0d58a; color: #6b4700; }
#error.fatal { padding: 18px 22px; background: #fde2e0; border: 2px solid var(--bad); color: #7a140b; box-shadow: 0 2px 10px rgba(217, 45, 32, .15); }
#error strong { display: block; font-size: 15px; }
#error.fatal strong { font-size: 20px; margin-bottom: 4px; }
#error-message { display: block; overflow-wrap: anywhere; font-family: ui-monospace, Menlo, monospace; font-size: 13px; }
#error-exit { display: block; margin-top: 8px; font-weight: 600; }
#notice { margin: 14px 20px 0; padding: 10px 16px; border-radius: 10px; background: #fff1cc; border: 1px solid #f0d58a; }
#summary { padding: 10px 20px 0; color: var(--mute); font-family: ui-monospace, Menlo, monospace; font-size: 12px; overflow-wrap: anywhere; }
main { padding: 12px 20px 16px; display: grid; gap: 14px; grid-template-columns: repeat(12, minmax(0, 1fr)); }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; min-width: 0; grid-column: span 12; }
section h2 { display: flex; justify-content: space-between; gap: 8px; margin: 0 0 8px; font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: var(--mute); }
section h2 .now { text-transform: none; letter-spacing: 0; font-size: 13px; color: var(--ink); font-weight: 600; font-variant-numeric: tabular-nums; }
/* Wide (1280 px): copy beside stream, the three charts in a row, changes beside the checksum. */
@media (min-width: 1100px) {
  #copy, #bytable { grid-column: span 7; }
  #stream, #checksum { grid-column: span 5; }
  .chart { grid-column: span 4; }
}
/* Medium (800 px): copy across, then pairs, so no column is left empty. */
@media (min-width: 640px) and (max-width: 1099px) {
  #stream, .chart, #bytable, #checksum { grid-column: span 6; }
  #copy { grid-column: span 12; }
}
/* Narrow: the source and target get a line of their own rather than a sliver. */
@media (max-width: 899px) {
  .ends { order: 10; flex-basis: 100%; }
}
/* One grid for every table's row (each row's cells are its items), so the bars line up. */
#tables { display: grid; grid-template-columns: fit-content(220px) minmax(80px, 1fr) max-content max-content; gap: 8px 12px; align-items: center; max-height: 340px; overflow-y: auto; }
#tables .empty { grid-column: 1 / -1; }
.row { display: contents; }
.row .name { font-family: ui-monospace, Menlo, monospace; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.row .pct { text-align: right; font-weight: 600; font-variant-numeric: tabular-nums; }
.row .count { text-align: right; color: var(--mute); font-variant-numeric: tabular-nums; white-space: nowrap; font-size: 13px; }
.bar { height: 12px; border-radius: 6px; background: var(--line); overflow: hidden; }
.fill { height: 100%; width: 0; background: var(--accent); transition: width .4s; }
.done .fill { background: var(--ok); }
.pending .fill { background: #b8c0cc; }
.total { margin-bottom: 6px; font-weight: 600; }
#throttle { margin: 0 0 8px; padding: 6px 10px; border-radius: 6px; background: #eef3ff; color: #1846a3; font-size: 13px; }
#throttle.waiting { background: #fff1cc; color: #7a5200; font-weight: 600; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 3px 14px; margin: 0; }
dt { color: var(--mute); }
dd { margin: 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
dd.mono { font-family: ui-monospace, Menlo, monospace; font-size: 12px; }
.good { color: var(--ok); font-weight: 600; }
.warnv { color: var(--bad); font-weight: 600; }
canvas { display: block; width: 100%; height: 150px; }
table.changes { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
table.changes th, table.changes td { padding: 3px 8px; text-align: right; border-bottom: 1px solid var(--line); white-space: nowrap; }
table.changes th { color: var(--mute); font-weight: 500; font-size: 12px; }
table.changes th:first-child, table.changes td:first-child { text-align: left; font-family: ui-monospace, Menlo, monospace; max-width: 220px; overflow: hidden; text-overflow: ellipsis; }
table.changes td.total { font-weight: 600; }
table.changes td.zero { color: #b8c0cc; }
#bytable .scroll { max-height: 300px; overflow-y: auto; }
.empty { color: var(--mute); }
footer { padding: 0 20px 16px; color: var(--mute); font-size: 12px; }
</style>
</head>
<body>
<header>
  <h1>tributary</h1>
  <span class="ends" id="ends"></span>
  <span>phase <span class="badge" id="phase">…</span></span>
  <span class="badge" id="role" hidden>…</span>
  <span class="badge" id="paused">…</span>
  <span class="badge" id="ready">…</span>
  <span>uptime <strong id="uptime">…</strong></span>
  <span class="controls"><button id="pause" type="button" disabled>Pause</button><button id="resume" type="button" disabled>Resume</button></span>
</header>
<div id="notice" hidden></div>
<div id="error" role="alert" hidden><strong id="error-title"></strong><span id="error-message"></span><span id="error-exit" hidden></span></div>
<div id="summary"></div>
<main>
  <section id="copy">
    <h2>Copy <span class="now" id="copy-now"></span></h2>
    <div class="total" id="copy-total"></div>
    <div id="throttle" hidden></div>
    <div id="tables"><span class="empty">no tables yet</span></div>
  </section>
  <section id="stream">
    <h2>Stream</h2>
    <dl>
      <dt>source position</dt><dd class="mono" id="source-position">–</dd>
      <dt>applied position</dt><dd class="mono" id="applied-position">–</dd>
      <dt>lag</dt><dd id="lag">–</dd>
      <dt>changes applied</dt><dd id="changes">–</dd>
      <dt>buffered</dt><dd id="buffer">–</dd>
      <dt>source retains</dt><dd id="retained">–</dd>
      <dt>reconnects</dt><dd id="reconnects">–</dd>
    </dl>
  </section>
  <section id="instances" hidden>
    <h2>Instances <span class="now" id="instances-now"></span></h2>
    <table class="changes" id="instances-table">
      <thead><tr><th>role</th><th>host</th><th>pid</th><th>http</th><th>epoch</th><th>since</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section id="lag-section" class="chart">
    <h2>Lag, seconds <span class="now" id="lag-now"></span></h2>
    <canvas id="lag-chart" data-points="0" aria-label="lag in seconds over the last minutes"></canvas>
  </section>
  <section id="changes-section" class="chart">
    <h2>Stream: changes/s applied <span class="now" id="cps-now"></span></h2>
    <canvas id="changes-chart" data-points="0" aria-label="changes applied per second over the last minutes"></canvas>
  </section>
  <section id="rows-section" class="chart">
    <h2>Copy: rows/s copied <span class="now" id="rps-now"></span></h2>
    <canvas id="rows-chart" data-points="0" aria-label="rows copied per second over the last minutes"></canvas>
  </section>
  <section id="bytable">
    <h2>Changes applied by table <span class="now" id="bytable-now"></span></h2>
    <div class="scroll">
      <table class="changes" id="changes-table">
        <thead><tr><th>table</th><th data-kind="insert">insert</th><th data-kind="update">update</th><th data-kind="delete">delete</th><th data-kind="upsert">upsert</th><th data-kind="truncate">truncate</th><th>total</th></tr></thead>
        <tbody></tbody>
      </table>
      <div class="empty" id="bytable-empty">no changes applied yet</div>
    </div>
  </section>
  <section id="checksum">
    <h2>Continuous checksum</h2>
    <dl>
      <dt>state</dt><dd id="ck-state">–</dd>
      <dt>pass</dt><dd id="ck-pass">–</dd>
      <dt>chunks checked</dt><dd id="ck-chunks">–</dd>
      <dt>mismatches</dt><dd id="ck-mismatches">–</dd>
      <dt>repairs</dt><dd id="ck-repairs">–</dd>
      <dt>first clean pass</dt><dd id="ck-clean">–</dd>
      <dt>last pass</dt><dd id="ck-last">–</dd>
      <dt>last error</dt><dd id="ck-error">–</dd>
    </dl>
  </section>
</main>
<footer>Refreshes every second from <code>GET /status</code>. <span id="conn"></span></footer>
<script nonce="__NONCE__">
'use strict';
(function () {
  var WINDOW_MS = 5 * 60 * 1000;
  var POLL_MS = 1000;
  var KINDS = ['insert', 'update', 'delete', 'upsert', 'truncate'];
  var samples = [];
  var token = '';
  var last = null;

  // The token comes in the fragment, which the browser never sends; keep it for this tab only and
  // take it out of the address bar so it does not stay on screen.
  var m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (m) {
    try { token = decodeURIComponent(m[1]); } catch (e) { token = m[1]; }
    try { sessionStorage.setItem('tributary-token', token); } catch (e) { /* storage off */ }
    history.replaceState(null, '', location.pathname + location.search);
  } else {
    try { token = sessionStorage.getItem('tributary-token') || ''; } catch (e) { token = ''; }
  }

  function $(id) { return document.getElementById(id); }
  function set(id, text) { var el = $(id); if (el.textContent !== text) el.textContent = text; }
  function headers() { return token ? { Authorization: 'Bearer ' + token } : {}; }
  function num(n) { return n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US'); }
  function rate(n) { return n >= 100 ? Math.round(n).toLocaleString('en-US') : String(Math.round(n * 10) / 10); }
  function pct(p) { return p === 100 ? '100%' : p.toFixed(1) + '%'; }
  function bytes(n) {
    if (n === null || n === undefined) return '–';
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
  }
  function dur(s) {
    if (s === null || s === undefined || !isFinite(s)) return '?';
    s = Math.max(0, Math.round(s));
    var d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, mi = Math.floor(s / 60) % 60, se = s % 60;
    if (d) return d + 'd ' + h + 'h ' + mi + 'm';
    if (h) return h + 'h ' + mi + 'm ' + se + 's';
    if (mi) return mi + 'm ' + se + 's';
    return se + 's';
  }
  function when(iso) { return iso ? new Date(iso).toLocaleString() : '–'; }

  function notice(text) { var el = $('notice'); el.hidden = !text; el.textContent = text || ''; }

  function request(path, method) {
    return fetch(path, { method: method || 'GET', headers: headers(), cache: 'no-store', credentials: 'omit' }).then(function (res) {
      if (res.status === 401) {
        throw new Error(token
          ? 'the token this page has is refused: open it again as /#token=<http-token>'
          : 'this server needs its token: open the page as /#token=<http-token> (the fragment stays in the browser)');
      }
      return res.json().then(function (body) {
        if (!res.ok) throw new Error((body && body.error) || ('HTTP ' + res.status));
        return body;
      });
    });
  }

  function addSample(t, s) {
    samples.push({ t: t, lag: s.lagSeconds, cps: s.changesPerSecond, rps: s.copyRowsPerSecond });
    var cut = Date.now() - WINDOW_MS;
    while (samples.length && samples[0].t < cut) samples.shift();
  }

  function throttleText(t) {
    var parts = [];
    if (t.copyRateLimit > 0) parts.push('rate limit ' + num(t.copyRateLimit) + ' rows/s');
    if (t.replica !== null) parts.push('replica ' + t.replica + ' lag ' + (t.replicaLagSeconds === null ? 'unknown' : t.replicaLagSeconds.toFixed(1) + ' s'));
    if (t.waiting) parts.push('copy waiting: ' + (t.reason || 'replica lag'));
    return parts.length ? 'Throttle: ' + parts.join(' · ') : '';
  }

  function renderTables(copy, throttle) {
    var box = $('tables');
    var copying = copy.tables.some(function (t) { return t.state !== 'done'; });
    // A finished copy shows its final count and 100%, never the estimate it started from.
    set('copy-total', !copy.tables.length ? 'no copy yet' : !copying
      ? num(copy.rowsCopied) + ' rows copied (100%), ' + copy.tables.length + ' table' + (copy.tables.length > 1 ? 's' : '') + ' done'
      : num(copy.rowsCopied) + ' / ≈' + num(copy.rowsTotal) + ' rows (' + pct(copy.percent) + ')' + (copy.etaSeconds !== null ? ', ETA ' + dur(copy.etaSeconds) : ''));
    set('copy-now', copying && copy.rowsPerSecond > 0 ? rate(copy.rowsPerSecond) + ' rows/s' : '');
    var th = throttleText(throttle);
    $('throttle').hidden = !th;
    $('throttle').className = throttle.waiting ? 'waiting' : '';
    set('throttle', th);
    if (!copy.tables.length) return;
    if (box.querySelector('.empty')) box.textContent = '';
    var rows = box.children;
    for (var i = 0; i < copy.tables.length; i++) {
      var t = copy.tables[i];
      var row = rows[i];
      if (!row) {
        row = document.createElement('div');
        row.innerHTML = '<span class="name"></span><div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100"><div class="fill"></div></div><span class="pct"></span><span class="count"></span>';
        box.appendChild(row);
      }
      row.className = 'row table ' + t.state;
      row.dataset.table = t.table;
      row.dataset.state = t.state;
      row.querySelector('.name').textContent = t.table;
      row.querySelector('.name').title = t.table;
      var bar = row.querySelector('.bar');
      bar.setAttribute('aria-valuenow', t.percent.toFixed(1));
      bar.setAttribute('aria-label', t.table);
      // CSSOM, not a style attribute: the CSP allows only the nonced stylesheet.
      row.querySelector('.fill').style.width = t.percent.toFixed(1) + '%';
      row.querySelector('.pct').textContent = pct(t.percent);
      row.querySelector('.count').textContent = t.state === 'done' ? num(t.rowsCopied) + ' rows · done' : num(t.rowsCopied) + ' / ≈' + num(t.rowsTotal) + ' · ' + t.state;
    }
    while (rows.length > copy.tables.length) box.removeChild(box.lastChild);
  }

  function renderByTable(byTable) {
    var list = Object.keys(byTable).map(function (name) {
      var c = byTable[name], total = 0;
      for (var k = 0; k < KINDS.length; k++) total += c[KINDS[k]] || 0;
      return { table: name, c: c, total: total };
    }).sort(function (a, b) { return b.total - a.total || (a.table < b.table ? -1 : 1); });
    var body = $('changes-table').tBodies[0];
    $('bytable-empty').hidden = list.length > 0;
    $('changes-table').hidden = list.length === 0;
    // upsert (a source that does not tell insert from update) and truncate are rare: their
    // columns show only once a table has one, so the table fits a narrow card.
    var used = { insert: true, update: true, 'delete': true, upsert: false, truncate: false };
    for (var u = 0; u < list.length; u++) { used.upsert = used.upsert || list[u].c.upsert > 0; used.truncate = used.truncate || list[u].c.truncate > 0; }
    var ths = $('changes-table').tHead.rows[0].cells;
    for (var h = 1; h <= KINDS.length; h++) ths[h].hidden = !used[KINDS[h - 1]];
    var sum = 0;
    for (var i = 0; i < list.length; i++) {
      var e = list[i];
      sum += e.total;
      var tr = body.rows[i];
      if (!tr) {
        tr = body.insertRow();
        for (var j = 0; j < KINDS.length + 2; j++) tr.insertCell();
        tr.cells[KINDS.length + 1].className = 'total';
      }
      tr.dataset.table = e.table;
      tr.cells[0].textContent = e.table;
      tr.cells[0].title = e.table;
      for (var k = 0; k < KINDS.length; k++) {
        var v = e.c[KINDS[k]] || 0;
        tr.cells[k + 1].textContent = num(v);
        tr.cells[k + 1].className = v ? '' : 'zero';
        tr.cells[k + 1].dataset.kind = KINDS[k];
        tr.cells[k + 1].hidden = !used[KINDS[k]];
      }
      tr.cells[KINDS.length + 1].textContent = num(e.total);
    }
    while (body.rows.length > list.length) body.deleteRow(-1);
    set('bytable-now', list.length ? num(sum) + ' in ' + list.length + ' table' + (list.length > 1 ? 's' : '') : '');
  }

  function renderError(s) {
    var err = s.lastError, exit = s.exit;
    var box = $('error');
    box.hidden = !err && !exit;
    if (box.hidden) return;
    var fatal = !!exit || (err && err.fatal) || s.phase === 'failed';
    box.className = fatal ? 'fatal' : '';
    if (exit) {
      set('error-title', 'The sync failed: ' + exit.code);
      set('error-message', exit.message);
      var left = Math.max(0, (Date.parse(exit.at) - Date.now()) / 1000);
      $('error-exit').hidden = false;
      set('error-exit', 'The process exits in ' + dur(left) + ' (at ' + new Date(exit.at).toLocaleTimeString() + ', --http-linger); this page then stops updating. What this code means and what to do: docs/errors.md.');
    } else {
      set('error-title', (fatal ? 'The sync failed: ' : 'Last error (retried): ') + err.code + (err.at ? ' at ' + when(err.at) : ''));
      set('error-message', err.message);
      $('error-exit').hidden = true;
    }
  }

  // Coordinator mode (docs/standby.md): this instance's role and epoch, and every instance campaigning.
  function renderCoordination(c) {
    $('role').hidden = !c;
    $('instances').hidden = !c;
    if (!c) return;
    set('role', c.role + (c.epoch ? ' · epoch ' + c.epoch : ''));
    $('role').className = 'badge ' + (c.role === 'leader' ? 'running' : 'paused');
    $('role').title = c.coordinator + ', lease ' + c.ttlSeconds + ' s, led ' + c.leaderships + ' time(s)';
    set('instances-now', c.members.length + ' campaigning');
    var body = $('instances-table').tBodies[0];
    while (body.firstChild) body.removeChild(body.firstChild);
    c.members.forEach(function (m) {
      var tr = document.createElement('tr');
      [m.leader ? 'leader' : 'standby', m.host, String(m.pid), m.http || '–', m.epoch, m.since ? when(m.since) : '–'].forEach(function (v) {
        var td = document.createElement('td');
        td.textContent = v;
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  function render(s) {
    last = s;
    var ph = $('phase');
    set('phase', s.phase);
    ph.className = 'badge phase-' + s.phase;
    var live = s.phase !== 'stopping' && s.phase !== 'stopped' && s.phase !== 'failed' && !s.exit;
    set('paused', s.paused ? 'paused' : 'running');
    $('paused').className = 'badge ' + (s.paused ? 'paused' : 'running');
    $('paused').hidden = !live;
    set('ready', s.readiness.ready ? 'ready' : 'not ready');
    $('ready').className = 'badge ' + (s.readiness.ready ? 'running' : 'notready');
    $('ready').title = s.readiness.reason || '';
    set('uptime', dur(s.uptimeSeconds));
    set('ends', s.source + '  →  ' + s.target);
    $('ends').title = s.source + ' → ' + s.target;
    // A failed run's summary is its error, which the banner shows already.
    set('summary', s.exit || s.phase === 'failed' ? '' : s.summary);
    document.title = (s.exit || s.phase === 'failed' ? '✖ ' : '') + 'tributary · ' + s.phase + (s.paused ? ' (paused)' : '');
    $('pause').disabled = !live || s.paused;
    $('resume').disabled = !live || !s.paused;

    renderError(s);
    renderCoordination(s.coordination);
    renderTables(s.copy, s.throttle);
    renderByTable(s.stream.changesByTable);

    var st = s.stream;
    set('source-position', st.sourcePosition || '–');
    set('applied-position', st.appliedPosition || '–');
    set('lag', st.lagSeconds.toFixed(1) + ' s');
    set('lag-now', st.lagSeconds.toFixed(1) + ' s');
    set('changes', num(st.changesApplied) + ' (' + rate(st.changesPerSecond) + '/s)');
    set('cps-now', rate(st.changesPerSecond) + '/s');
    set('rps-now', rate(s.copy.rowsPerSecond) + '/s');
    set('buffer', bytes(st.bufferBytes));
    set('retained', st.retainedBytes === null ? 'not known for this source' : bytes(st.retainedBytes));
    set('reconnects', num(st.reconnects) + (st.retrying ? ' (retrying now)' : ''));

    var c = s.checksum;
    set('ck-state', c ? c.state : (s.phase === 'copy' || s.phase === 'starting' ? 'starts after the copy' : 'off'));
    set('ck-pass', c ? (c.pass + ' (' + c.passesCompleted + ' completed)') : '–');
    set('ck-chunks', c ? num(c.chunksChecked) + ' (' + num(c.rowsChecked) + ' rows)' : '–');
    set('ck-mismatches', c ? num(c.mismatches) : '–');
    $('ck-mismatches').className = c && c.mismatches > 0 ? 'warnv' : '';
    set('ck-repairs', c ? num(c.repairs) : '–');
    set('ck-clean', c && c.firstCleanPassAt ? when(c.firstCleanPassAt) : (c ? 'not yet' : '–'));
    $('ck-clean').className = c && c.firstCleanPassAt ? 'good' : '';
    set('ck-last', c ? when(c.lastPassAt) : '–');
    set('ck-error', c && c.lastError ? c.lastError : '–');
  }

  // One series per chart, each on its own axis: a copy's rows/s would flatten the stream's
  // changes/s to a line at 0 on a shared one.
  function drawChart(canvas, key, color, unit) {
    var dpr = window.devicePixelRatio || 1;
    var w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    var ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    var left = 42, right = 8, top = 8, bottom = 20;
    // The window grows with the data, from one minute to five, so a young run is not a sliver.
    var now = Date.now();
    var span = Math.min(WINDOW_MS, Math.max(60000, samples.length ? now - samples[0].t : 0));
    var t0 = now - span;
    var max = 0;
    for (var i = 0; i < samples.length; i++) if (samples[i].t >= t0) max = Math.max(max, samples[i][key] || 0);
    max = niceMax(max);
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = '#667085';
    ctx.strokeStyle = '#e3e6eb';
    ctx.lineWidth = 1;
    var lead = max / Math.pow(10, Math.floor(Math.log10(max)));
    var div = Math.abs(lead - 2) < 1e-9 ? 4 : 5;
    for (var g = 0; g <= div; g++) {
      var y = top + (h - top - bottom) * (1 - g / div);
      ctx.beginPath(); ctx.moveTo(left, Math.round(y) + 0.5); ctx.lineTo(w - right, Math.round(y) + 0.5); ctx.stroke();
      ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
      ctx.fillText(short(max * g / div) + unit, left - 6, y);
    }
    ctx.textBaseline = 'top';
    var tick = span <= 60000 ? 15000 : span <= 150000 ? 30000 : 60000;
    for (var ago = 0; ago <= span + 1; ago += tick) {
      var x = left + (w - left - right) * (1 - ago / span);
      ctx.textAlign = ago === 0 ? 'right' : ago + tick > span + 1 ? 'left' : 'center';
      ctx.fillText(ago === 0 ? 'now' : '-' + (ago % 60000 ? ago / 1000 + 's' : ago / 60000 + 'm'), x, h - bottom + 5);
    }
    var points = 0, first = null, lastX = 0;
    ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.lineJoin = 'round';
    ctx.beginPath();
    for (var j = 0; j < samples.length; j++) {
      var p = samples[j];
      var v = p[key];
      if (v === null || v === undefined || p.t < t0) continue;
      var px = left + (w - left - right) * (p.t - t0) / span;
      var py = top + (h - top - bottom) * (1 - v / max);
      if (first === null) { ctx.moveTo(px, py); first = px; } else ctx.lineTo(px, py);
      lastX = px;
      points++;
    }
    ctx.stroke();
    // A light fill under the line, so a low series still reads as area, not as the axis.
    if (points > 1) {
      ctx.lineTo(lastX, h - bottom); ctx.lineTo(first, h - bottom); ctx.closePath();
      ctx.globalAlpha = 0.12; ctx.fillStyle = color; ctx.fill(); ctx.globalAlpha = 1;
    }
    canvas.dataset.points = String(points);
    canvas.dataset.max = String(max);
  }
  function niceMax(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (v * 1.05 <= steps[i] * p) return steps[i] * p;
    return 10 * p;
  }
  function short(v) {
    if (v >= 1e6) return (v / 1e6).toFixed(v >= 1e7 ? 0 : 1) + 'M';
    if (v >= 1e3) return (v / 1e3).toFixed(v >= 1e4 ? 0 : 1) + 'k';
    return String(Math.round(v * 100) / 100);
  }
  function drawCharts() {
    drawChart($('lag-chart'), 'lag', '#d92d20', ' s');
    drawChart($('changes-chart'), 'cps', '#2f6fec', '');
    drawChart($('rows-chart'), 'rps', '#1f9d55', '');
  }

  var busy = false;
  function poll() {
    if (busy) return;
    busy = true;
    request('/status').then(function (s) {
      render(s);
      addSample(Date.now(), { lagSeconds: s.stream.lagSeconds, changesPerSecond: s.stream.changesPerSecond, copyRowsPerSecond: s.copy.rowsPerSecond });
      drawCharts();
      notice('');
      set('conn', 'Last update ' + new Date().toLocaleTimeString() + '.');
    }).catch(function (e) {
      var gone = last && last.exit ? 'the sync has exited after its error (above): ' : 'cannot reach the sync: ';
      notice(e && e.message && /token/.test(e.message) ? e.message : gone + (e && e.message ? e.message : e) + (last && last.exit ? '' : ' (it may have stopped)'));
      $('pause').disabled = true; $('resume').disabled = true;
    }).then(function () { busy = false; });
  }

  function control(path) {
    $('pause').disabled = true; $('resume').disabled = true;
    request(path, 'POST').then(function () { busy = false; poll(); }).catch(function (e) { notice(path + ' failed: ' + (e && e.message ? e.message : e)); });
  }
  $('pause').addEventListener('click', function () { control('/pause'); });
  $('resume').addEventListener('click', function () { control('/resume'); });
  window.addEventListener('resize', function () { if (last) drawCharts(); });

  // A page opened late still shows the last minutes: the server keeps a ring of samples.
  request('/history').then(function (h) {
    var skew = Date.now() - h.now;
    for (var i = 0; i < h.samples.length; i++) addSample(h.samples[i].at + skew, h.samples[i]);
  }).catch(function () { /* the charts fill from the polls */ }).then(function () {
    poll();
    setInterval(poll, POLL_MS);
  });
})();
</script>
</body>
</html>
`;
