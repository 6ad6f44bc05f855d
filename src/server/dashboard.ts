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
:root { --bg: #f6f7f9; --card: #fff; --ink: #1d2330; --mute: #667085; --line: #e3e6eb; --accent: #2f6fec; --ok: #1f9d55; --warn: #c98a00; --bad: #d92d20; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--ink); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 12px 20px; padding: 14px 24px; background: var(--card); border-bottom: 1px solid var(--line); }
header h1 { margin: 0; font-size: 18px; }
.ends { flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; color: var(--mute); font-family: ui-monospace, Menlo, monospace; font-size: 12px; }
.controls { display: inline-flex; gap: 8px; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 999px; font-weight: 600; font-size: 13px; background: var(--line); }
.phase-copy { background: #dbe7ff; color: #1846a3; }
.phase-stream { background: #d6f5e3; color: #136c3a; }
.phase-failed { background: #fde2e0; color: #a4190f; }
.phase-stopping, .phase-stopped, .phase-starting { background: #eceef2; color: #4a5263; }
.paused { background: #fff1cc; color: #7a5200; }
.running { background: #d6f5e3; color: #136c3a; }
.notready { background: #fde2e0; color: #a4190f; }
button { font: inherit; padding: 6px 16px; border-radius: 6px; border: 1px solid var(--line); background: var(--card); cursor: pointer; }
button:hover:not(:disabled) { border-color: var(--accent); color: var(--accent); }
button:disabled { opacity: .45; cursor: default; }
main { padding: 18px 24px; display: grid; gap: 16px; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 18px; min-width: 0; }
section h2 { margin: 0 0 10px; font-size: 13px; text-transform: uppercase; letter-spacing: .06em; color: var(--mute); }
.wide { grid-column: 1 / -1; }
#error { margin: 16px 24px 0; padding: 12px 16px; border-radius: 10px; background: #fde2e0; border: 1px solid #f5b5ae; color: #7a140b; }
#error strong { display: block; font-size: 15px; }
#error code { font-size: 12px; }
#notice { margin: 16px 24px 0; padding: 10px 16px; border-radius: 10px; background: #fff1cc; border: 1px solid #f0d58a; }
#summary { padding: 8px 24px 0; color: var(--mute); font-family: ui-monospace, Menlo, monospace; font-size: 12px; overflow-wrap: anywhere; }
.row { display: grid; grid-template-columns: minmax(90px, 180px) 1fr minmax(150px, auto); gap: 10px; align-items: center; padding: 5px 0; }
.row .name { font-family: ui-monospace, Menlo, monospace; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.row .count { text-align: right; color: var(--mute); font-variant-numeric: tabular-nums; white-space: nowrap; }
.bar { height: 12px; border-radius: 6px; background: var(--line); overflow: hidden; }
.fill { height: 100%; width: 0; background: var(--accent); transition: width .4s; }
.done .fill { background: var(--ok); }
.pending .fill { background: #b8c0cc; }
.total { margin-bottom: 8px; font-weight: 600; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dt { color: var(--mute); }
dd { margin: 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
dd.mono { font-family: ui-monospace, Menlo, monospace; font-size: 12px; }
.good { color: var(--ok); font-weight: 600; }
.warnv { color: var(--bad); font-weight: 600; }
canvas { display: block; width: 100%; height: 170px; }
.legend { display: flex; gap: 14px; font-size: 12px; color: var(--mute); margin-bottom: 4px; }
.sw { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
.sw-lag { background: #d92d20; } .sw-cps { background: #2f6fec; } .sw-rps { background: #1f9d55; }
.empty { color: var(--mute); }
footer { padding: 0 24px 18px; color: var(--mute); font-size: 12px; }
</style>
</head>
<body>
<header>
  <h1>tributary</h1>
  <span class="ends" id="ends"></span>
  <span>phase <span class="badge" id="phase">…</span></span>
  <span class="badge" id="paused">…</span>
  <span class="badge" id="ready">…</span>
  <span>uptime <strong id="uptime">…</strong></span>
  <span class="controls"><button id="pause" type="button" disabled>Pause</button><button id="resume" type="button" disabled>Resume</button></span>
</header>
<div id="notice" hidden></div>
<div id="error" hidden><strong id="error-title"></strong><span id="error-message"></span></div>
<div id="summary"></div>
<main>
  <section id="copy">
    <h2>Copy</h2>
    <div class="total" id="copy-total"></div>
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
  <section id="lag-section">
    <h2>Lag</h2>
    <div class="legend"><span><span class="sw sw-lag"></span>lag, seconds (up to the last 5 minutes)</span></div>
    <canvas id="lag-chart" data-points="0"></canvas>
  </section>
  <section id="rate-section">
    <h2>Throughput</h2>
    <div class="legend"><span><span class="sw sw-cps"></span>changes/s applied</span><span><span class="sw sw-rps"></span>rows/s copied</span></div>
    <canvas id="rate-chart" data-points="0"></canvas>
  </section>
  <section id="checksum" class="wide">
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

  function renderTables(copy) {
    var box = $('tables');
    var total = copy.rowsTotal ? Math.min(100, 100 * copy.rowsCopied / copy.rowsTotal) : 0;
    set('copy-total', num(copy.rowsCopied) + ' / ' + num(copy.rowsTotal) + ' rows (' + total.toFixed(1) + '%)' +
      (copy.rowsPerSecond > 0 ? ', ' + rate(copy.rowsPerSecond) + ' rows/s' : '') +
      (copy.etaSeconds !== null ? ', ETA ' + dur(copy.etaSeconds) : ''));
    if (!copy.tables.length) return;
    if (box.querySelector('.empty')) box.textContent = '';
    var rows = box.children;
    for (var i = 0; i < copy.tables.length; i++) {
      var t = copy.tables[i];
      var row = rows[i];
      if (!row) {
        row = document.createElement('div');
        row.innerHTML = '<span class="name"></span><div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100"><div class="fill"></div></div><span class="count"></span>';
        box.appendChild(row);
      }
      var pct = t.state === 'done' ? 100 : t.rowsTotal ? Math.min(99.9, 100 * t.rowsCopied / t.rowsTotal) : 0;
      row.className = 'row table ' + t.state;
      row.dataset.table = t.table;
      row.dataset.state = t.state;
      row.querySelector('.name').textContent = t.table;
      row.querySelector('.name').title = t.table;
      var bar = row.querySelector('.bar');
      bar.setAttribute('aria-valuenow', pct.toFixed(1));
      bar.setAttribute('aria-label', t.table);
      // CSSOM, not a style attribute: the CSP allows only the nonced stylesheet.
      row.querySelector('.fill').style.width = pct.toFixed(1) + '%';
      row.querySelector('.count').textContent = num(t.rowsCopied) + ' / ' + num(t.rowsTotal) + '  ' + t.state;
    }
    while (rows.length > copy.tables.length) box.removeChild(box.lastChild);
  }

  function render(s) {
    last = s;
    var ph = $('phase');
    set('phase', s.phase);
    ph.className = 'badge phase-' + s.phase;
    set('paused', s.paused ? 'paused' : 'running');
    $('paused').className = 'badge ' + (s.paused ? 'paused' : 'running');
    set('ready', s.readiness.ready ? 'ready' : 'not ready');
    $('ready').className = 'badge ' + (s.readiness.ready ? 'running' : 'notready');
    $('ready').title = s.readiness.reason || '';
    set('uptime', dur(s.uptimeSeconds));
    set('ends', s.source + '  →  ' + s.target);
    $('ends').title = s.source + ' → ' + s.target;
    set('summary', s.summary);
    document.title = 'tributary · ' + s.phase + (s.paused ? ' (paused)' : '');
    var live = s.phase !== 'stopping' && s.phase !== 'stopped' && s.phase !== 'failed';
    $('pause').disabled = !live || s.paused;
    $('resume').disabled = !live || !s.paused;

    var err = s.lastError;
    $('error').hidden = !err;
    if (err) {
      set('error-title', (err.fatal ? 'Failed: ' : 'Last error (retried): ') + err.code + (err.at ? ' at ' + when(err.at) : ''));
      set('error-message', err.message);
    }

    renderTables(s.copy);

    var st = s.stream;
    set('source-position', st.sourcePosition || '–');
    set('applied-position', st.appliedPosition || '–');
    set('lag', st.lagSeconds.toFixed(1) + ' s');
    set('changes', num(st.changesApplied) + ' (' + rate(st.changesPerSecond) + '/s)');
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

  function drawChart(canvas, series, unit) {
    var dpr = window.devicePixelRatio || 1;
    var w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    var ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    var left = 46, right = 8, top = 8, bottom = 20;
    // The window grows with the data, from one minute to five, so a young run is not a sliver.
    var now = Date.now();
    var span = Math.min(WINDOW_MS, Math.max(60000, samples.length ? now - samples[0].t : 0));
    var t0 = now - span;
    var max = 0;
    for (var i = 0; i < samples.length; i++) for (var k = 0; k < series.length; k++) max = Math.max(max, samples[i][series[k].key] || 0);
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
    var tick = span <= 60000 ? 10000 : span <= 150000 ? 30000 : 60000;
    for (var ago = 0; ago <= span + 1; ago += tick) {
      var x = left + (w - left - right) * (1 - ago / span);
      ctx.textAlign = ago === 0 ? 'right' : ago + tick > span + 1 ? 'left' : 'center';
      ctx.fillText(ago === 0 ? 'now' : '-' + (ago % 60000 ? ago / 1000 + 's' : ago / 60000 + 'm'), x, h - bottom + 5);
    }
    var points = 0;
    for (var sI = 0; sI < series.length; sI++) {
      var s = series[sI];
      ctx.strokeStyle = s.color; ctx.lineWidth = 2; ctx.lineJoin = 'round';
      ctx.beginPath();
      var started = false;
      for (var j = 0; j < samples.length; j++) {
        var p = samples[j];
        var v = p[s.key];
        if (v === null || v === undefined) continue;
        if (p.t < t0) continue;
        var px = left + (w - left - right) * (p.t - t0) / span;
        var py = top + (h - top - bottom) * (1 - v / max);
        if (started) ctx.lineTo(px, py); else { ctx.moveTo(px, py); started = true; }
        points++;
      }
      ctx.stroke();
    }
    canvas.dataset.points = String(points);
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
    drawChart($('lag-chart'), [{ key: 'lag', color: '#d92d20' }], ' s');
    drawChart($('rate-chart'), [{ key: 'cps', color: '#2f6fec' }, { key: 'rps', color: '#1f9d55' }], '');
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
      notice(e && e.message && /token/.test(e.message) ? e.message : 'cannot reach the sync: ' + (e && e.message ? e.message : e) + ' (it may have stopped)');
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
