/*
 * The dashboard is one static string: no build step, no external resources (the monitor's CSP allows none), so
 * it works offline, behind a proxy and from a packaged `dist/`. It reads `events` (Server-Sent Events, one stats
 * snapshot a tick, the server's clock in the event id) and `health`, by relative URL so a path prefix works.
 *
 * Everything from the server is data: it is written with textContent and setAttribute only, never parsed as
 * markup (node URLs and SQL fingerprints come from the database side).
 *
 * The embedded script avoids backticks, template substitutions and backslashes, which this file's own template
 * literal would interpret.
 */

const STYLE = `
:root {
  --bg: #f5f6f8; --panel: #fff; --text: #1d2330; --muted: #6b7280; --line: #e3e6eb;
  --ok: #15803d; --ok-bg: #dcfce7; --warn: #b45309; --warn-bg: #fef3c7; --bad: #b91c1c; --bad-bg: #fee2e2;
  --active: #2563eb; --idle: #93c5fd;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #111418; --panel: #1a1f26; --text: #e5e7eb; --muted: #9ca3af; --line: #2b323c;
    --ok: #4ade80; --ok-bg: #14321f; --warn: #fbbf24; --warn-bg: #3a2c0b; --bad: #f87171; --bad-bg: #3b1414;
    --active: #60a5fa; --idle: #1e3a5f;
  }
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--text); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 12px; padding: 12px 20px; background: var(--panel); border-bottom: 1px solid var(--line); }
header h1 { font-size: 18px; margin: 0 8px 0 0; }
header .spacer { flex: 1; }
main { padding: 16px 20px; display: grid; gap: 16px; }
.muted { color: var(--muted); }
.num { font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 2px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; background: var(--line); color: var(--muted); white-space: nowrap; }
.badge.ok { background: var(--ok-bg); color: var(--ok); }
.badge.warn { background: var(--warn-bg); color: var(--warn); }
.badge.bad { background: var(--bad-bg); color: var(--bad); }
.health { font-size: 14px; padding: 4px 12px; }
dd.warn, span.warn { color: var(--warn); font-weight: 600; }
dd.bad, span.bad { color: var(--bad); font-weight: 600; }
.alerts ul { margin: 0; padding: 8px 12px 8px 28px; border-radius: 8px; }
.alerts ul + ul { margin-top: 8px; }
.alerts [data-testid="health-reasons"] { background: var(--bad-bg); color: var(--bad); }
.alerts [data-testid="health-warnings"] { background: var(--warn-bg); color: var(--warn); }
.banner { padding: 8px 12px; border-radius: 8px; background: var(--bad-bg); color: var(--bad); font-weight: 600; }
.nodes { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 16px; }
.card, .panel, .chart { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; margin: 0; }
.card.down { border-color: var(--bad); box-shadow: 0 0 0 1px var(--bad) inset; }
.card-head { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
.card-head h2 { font-size: 16px; margin: 0; }
.swatch { width: 10px; height: 10px; border-radius: 3px; display: inline-block; flex: none; }
.url { color: var(--muted); font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; margin: 4px 0 8px; overflow-wrap: anywhere; }
.big { font-size: 28px; font-weight: 650; font-variant-numeric: tabular-nums; }
.big small { font-size: 13px; font-weight: 400; color: var(--muted); }
dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 12px; margin: 8px 0; }
dt { color: var(--muted); }
dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; }
.pool-bar { position: relative; height: 10px; border-radius: 5px; background: var(--line); overflow: hidden; margin-top: 6px; }
.pool-bar span { position: absolute; top: 0; bottom: 0; }
.pool-bar .active { left: 0; background: var(--active); }
.pool-bar .idle { background: var(--idle); }
.pool-bar .target { width: 2px; background: var(--text); }
.pool-text { font-size: 12px; color: var(--muted); margin-top: 4px; font-variant-numeric: tabular-nums; }
.health-error { margin-top: 6px; font-size: 12px; color: var(--bad); overflow-wrap: anywhere; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 16px; }
.chart figcaption { font-weight: 600; margin-bottom: 6px; }
.plot { position: relative; padding-left: 44px; }
.plot svg { display: block; width: 100%; height: 160px; overflow: visible; border-left: 1px solid var(--line); border-bottom: 1px solid var(--line); }
.plot .grid { stroke: var(--line); stroke-width: 1; }
.axis-top, .axis-zero { position: absolute; left: 0; width: 40px; text-align: right; font-size: 11px; color: var(--muted); font-variant-numeric: tabular-nums; }
.axis-top { top: -6px; } .axis-zero { bottom: -6px; }
.axis-x { display: flex; justify-content: space-between; font-size: 11px; color: var(--muted); padding-left: 44px; margin-top: 2px; }
.legend { display: flex; flex-wrap: wrap; gap: 12px; font-size: 12px; }
.legend span { display: inline-flex; align-items: center; gap: 4px; }
.panels { display: grid; grid-template-columns: repeat(auto-fit, minmax(240px, 1fr)); gap: 16px; }
.panel h3 { margin: 0 0 4px; font-size: 14px; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: 4px 8px; border-bottom: 1px solid var(--line); }
th:first-child, td:first-child { text-align: left; }
td.sql { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; max-width: 0; width: 60%; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
`;

const BODY = `
<header>
  <h1>pg-query-router</h1>
  <span class="badge health" data-testid="health-status">checking</span>
  <span class="muted">total <strong class="num" data-testid="total-rate">–</strong> statements/s</span>
  <span class="spacer"></span>
  <span class="badge" data-testid="connection">connecting</span>
  <span class="muted num" data-testid="updated-at"></span>
</header>
<main>
  <div class="banner" data-testid="closed-banner" hidden>The router is closed.</div>
  <section class="alerts">
    <ul data-testid="health-reasons" hidden></ul>
    <ul data-testid="health-warnings" hidden></ul>
  </section>
  <section class="nodes" data-testid="nodes"><p class="muted" data-testid="nodes-empty">Waiting for the first snapshot…</p></section>
  <section class="charts">
    <figure class="chart">
      <figcaption>Statements/s per node, last 60 s</figcaption>
      <div class="plot"><span class="axis-top" data-testid="chart-rate-max"></span><span class="axis-zero">0</span><svg data-testid="chart-rate" viewBox="0 0 600 160" preserveAspectRatio="none"></svg></div>
      <div class="axis-x"><span>−60 s</span><span>now</span></div>
    </figure>
    <figure class="chart">
      <figcaption data-testid="chart-latency-title">p99 latency per node, ms, last 60 s</figcaption>
      <div class="plot"><span class="axis-top" data-testid="chart-latency-max"></span><span class="axis-zero">0</span><svg data-testid="chart-latency" viewBox="0 0 600 160" preserveAspectRatio="none"></svg></div>
      <div class="axis-x"><span>−60 s</span><span>now</span></div>
    </figure>
  </section>
  <div class="legend" data-testid="chart-legend"></div>
  <section class="panels">
    <div class="panel" data-testid="routing">
      <h3>Routing</h3>
      <dl>
        <dt>to the primary</dt><dd data-testid="routing-primary">–</dd>
        <dt>to replicas</dt><dd data-testid="routing-replica">–</dd>
        <dt>route forced by caller</dt><dd data-testid="routing-forced">–</dd>
        <dt>read fallbacks</dt><dd data-testid="routing-read-fallbacks">–</dd>
        <dt>caller fallbacks</dt><dd data-testid="routing-caller-fallbacks">–</dd>
        <dt>self-healed writes</dt><dd data-testid="routing-self-healed">–</dd>
        <dt>replicas available</dt><dd data-testid="routing-replicas-available">–</dd>
        <dt>reads on the primary</dt><dd data-testid="routing-reads-on-primary">–</dd>
      </dl>
    </div>
    <div class="panel" data-testid="caches">
      <h3>Caches</h3>
      <dl>
        <dt>classifier hit rate</dt><dd data-testid="cache-classifier-hit-rate">–</dd>
        <dt>classifier entries</dt><dd data-testid="cache-classifier-size">–</dd>
        <dt>statement cache hit rate</dt><dd data-testid="cache-statement-hit-rate">–</dd>
        <dt>statement hits / misses</dt><dd data-testid="cache-statement-counts">–</dd>
      </dl>
    </div>
    <div class="panel" data-testid="pipelines">
      <h3>Pipelines</h3>
      <dl>
        <dt>open</dt><dd data-testid="pipelines-open">–</dd>
        <dt>queued / held</dt><dd data-testid="pipelines-queued">–</dd>
        <dt>batches</dt><dd data-testid="pipelines-batches">–</dd>
        <dt>statements</dt><dd data-testid="pipelines-statements">–</dd>
        <dt>coalesced</dt><dd data-testid="pipelines-coalesced">–</dd>
        <dt>failed</dt><dd data-testid="pipelines-failed">–</dd>
      </dl>
    </div>
  </section>
  <section class="panel" data-testid="patterns" hidden>
    <h3>Top statement patterns</h3>
    <table>
      <thead><tr><th>fingerprint</th><th>route</th><th>count</th><th>per s</th><th>mean</th><th>p95</th></tr></thead>
      <tbody data-testid="patterns-body"></tbody>
    </table>
  </section>
</main>
<template id="node-card-template">
  <article class="card" data-testid="node-card">
    <div class="card-head">
      <span class="swatch" data-testid="node-swatch"></span>
      <h2 data-testid="node-name"></h2>
      <span class="badge" data-testid="node-role"></span>
      <span class="badge" data-testid="node-health"></span>
      <span class="badge" data-testid="node-breaker"></span>
    </div>
    <div class="url" data-testid="node-url"></div>
    <div class="big"><span data-testid="node-rate">–</span> <small>statements/s</small></div>
    <dl>
      <dt>statements</dt><dd data-testid="node-queries">–</dd>
      <dt>latency</dt><dd data-testid="node-latency">–</dd>
      <dt>in flight</dt><dd data-testid="node-inflight">–</dd>
      <dt>waiting for a connection</dt><dd data-testid="node-waiting">–</dd>
      <dt>errors</dt><dd data-testid="node-errors">–</dd>
      <dt data-testid="node-lag-label" hidden>replica lag</dt><dd data-testid="node-lag" hidden>–</dd>
    </dl>
    <div class="pool-bar" data-testid="node-pool-bar"><span class="active"></span><span class="idle"></span><span class="target" hidden></span></div>
    <div class="pool-text" data-testid="node-pool"></div>
    <div class="health-error" data-testid="node-health-error" hidden></div>
  </article>
</template>
`;

const SCRIPT = `
(function () {
  'use strict';
  var WINDOW_MS = 60000;
  var RATE_WINDOW_MS = 2000;
  var HEALTH_EVERY_MS = 1000;
  var CHART_W = 600;
  var CHART_H = 160;
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var PALETTE = ['#2563eb', '#16a34a', '#d97706', '#9333ea', '#dc2626', '#0891b2', '#db2777', '#65a30d'];
  var BREAKER = { closed: ['breaker closed', 'ok'], open: ['breaker open', 'bad'], halfOpen: ['breaker half-open', 'warn'] };

  var samples = [];
  var cards = new Map();
  var colours = new Map();
  var names = [];
  var template = document.getElementById('node-card-template');
  var charts = {
    rate: { svg: el('chart-rate'), max: el('chart-rate-max'), lines: new Map() },
    latency: { svg: el('chart-latency'), max: el('chart-latency-max'), lines: new Map() }
  };

  function el(id) { return document.querySelector('[data-testid="' + id + '"]'); }
  function part(root, id) { return root.querySelector('[data-testid="' + id + '"]'); }
  function setText(node, text) { if (node.textContent !== text) node.textContent = text; }
  function setTone(node, tone) {
    node.classList.remove('ok', 'warn', 'bad');
    if (tone) node.classList.add(tone);
  }
  function num(v) { return typeof v === 'number' && isFinite(v) ? v : null; }
  function fmtInt(v) { return v === null ? '–' : Math.round(v).toLocaleString('en-US'); }
  function fmtRate(v) { return v === null ? '–' : v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1); }
  function fmtMs(v) {
    if (v === null) return '–';
    return (v >= 100 ? Math.round(v).toLocaleString('en-US') : v >= 10 ? v.toFixed(1) : v.toFixed(2)) + ' ms';
  }
  function fmtAxis(v) { return v >= 1 ? v.toLocaleString('en-US') : String(Number(v.toPrecision(2))); }
  function fmtPct(v) { return v === null ? '–' : (v * 100).toFixed(1) + ' %'; }
  function colourFor(name) {
    if (!colours.has(name)) colours.set(name, PALETTE[colours.size % PALETTE.length]);
    return colours.get(name);
  }
  function fillList(list, items) {
    var key = items.join('|');
    if (list.getAttribute('data-key') === key) return;
    list.setAttribute('data-key', key);
    list.replaceChildren();
    items.forEach(function (item) {
      var li = document.createElement('li');
      li.textContent = String(item);
      list.appendChild(li);
    });
    list.hidden = items.length === 0;
  }

  // Rates come from counter deltas over about RATE_WINDOW_MS of server time, which smooths ticks that carry
  // few statements and does not depend on when the browser happened to receive an event.
  function baseline(now) {
    for (var i = 0; i < samples.length - 1; i++) if (samples[i].t >= now - RATE_WINDOW_MS) return samples[i];
    return samples.length > 1 ? samples[samples.length - 2] : null;
  }
  function rateBetween(from, to, name) {
    if (!from) return null;
    var a = from.queries[name];
    var b = to.queries[name];
    if (a === undefined || a === null || b === undefined || b === null) return null;
    var seconds = (to.t - from.t) / 1000;
    return seconds > 0 ? Math.max(0, b - a) / seconds : null;
  }
  function record(stats, t) {
    var nodes = stats.nodes;
    var last = samples[samples.length - 1];
    if (last) {
      var reset = t < last.t || nodes.some(function (n) {
        var before = last.queries[n.name];
        return before !== undefined && before !== null && num(n.queries) !== null && n.queries < before;
      });
      // A counter that went down means a new router (or a restarted server): old deltas would be nonsense.
      if (reset) samples = [];
      else if (t === last.t) t = last.t + 1;
    }
    var sample = { t: t, queries: {}, rate: {}, latency: {} };
    nodes.forEach(function (n) {
      sample.queries[n.name] = num(n.queries);
      sample.latency[n.name] = num(n.latencyP99Ms) !== null ? n.latencyP99Ms : num(n.latencyMs);
    });
    samples.push(sample);
    while (samples.length > 1 && samples[0].t < t - WINDOW_MS - RATE_WINDOW_MS) samples.shift();
    var from = baseline(t);
    nodes.forEach(function (n) { sample.rate[n.name] = rateBetween(from, sample, n.name); });
    return sample;
  }

  function cardFor(node) {
    var card = cards.get(node.name);
    if (card) return card;
    var root = template.content.firstElementChild.cloneNode(true);
    root.setAttribute('data-node', node.name);
    part(root, 'node-swatch').style.background = colourFor(node.name);
    card = { root: root };
    ['node-name', 'node-role', 'node-url', 'node-health', 'node-breaker', 'node-rate', 'node-queries', 'node-latency',
      'node-inflight', 'node-waiting', 'node-errors', 'node-lag', 'node-lag-label', 'node-pool', 'node-pool-bar',
      'node-health-error'].forEach(function (id) { card[id] = part(root, id); });
    card.active = root.querySelector('.pool-bar .active');
    card.idle = root.querySelector('.pool-bar .idle');
    card.target = root.querySelector('.pool-bar .target');
    cards.set(node.name, card);
    return card;
  }

  function renderNode(card, node, sample) {
    setText(card['node-name'], String(node.name));
    setText(card['node-role'], String(node.role));
    setText(card['node-url'], String(node.url));
    setText(card['node-health'], node.healthy ? 'healthy' : 'down');
    setTone(card['node-health'], node.healthy ? 'ok' : 'bad');
    var breaker = BREAKER[node.breaker] || [String(node.breaker), 'warn'];
    setText(card['node-breaker'], breaker[0]);
    setTone(card['node-breaker'], breaker[1]);
    card.root.classList.toggle('down', !node.healthy || node.breaker === 'open');
    setText(card['node-rate'], fmtRate(sample.rate[node.name]));
    setText(card['node-queries'], fmtInt(num(node.queries)));
    var p50 = num(node.latencyP50Ms);
    var p99 = num(node.latencyP99Ms);
    setText(card['node-latency'], p50 !== null || p99 !== null
      ? 'p50 ' + fmtMs(p50) + ' · p99 ' + fmtMs(p99)
      : 'mean ' + fmtMs(num(node.latencyMs)));
    setText(card['node-inflight'], fmtInt(num(node.inFlight)));
    var pool = node.pool || {};
    var waiting = num(pool.waiting);
    setText(card['node-waiting'], fmtInt(waiting));
    setTone(card['node-waiting'], waiting ? 'warn' : null);
    var errors = num(node.errors);
    setText(card['node-errors'], fmtInt(errors));
    setTone(card['node-errors'], errors ? 'bad' : null);
    var hasLag = node.role === 'replica' && node.lagMs !== undefined;
    card['node-lag'].hidden = !hasLag;
    card['node-lag-label'].hidden = !hasLag;
    if (hasLag) {
      var lag = node.lagMs === null ? 'unknown' : fmtMs(num(node.lagMs));
      setText(card['node-lag'], node.lagging ? lag + ' · lagging, out of the balancer' : lag);
      setTone(card['node-lag'], node.lagging ? 'warn' : null);
    }
    var max = num(pool.max) || 1;
    var active = num(pool.active) || 0;
    var idle = num(pool.idle) || 0;
    var target = num(pool.target);
    card.active.style.width = Math.min(100, active / max * 100) + '%';
    card.idle.style.left = Math.min(100, active / max * 100) + '%';
    card.idle.style.width = Math.max(0, Math.min(100 - active / max * 100, idle / max * 100)) + '%';
    card.target.hidden = target === null;
    if (target !== null) card.target.style.left = 'calc(' + Math.min(100, target / max * 100) + '% - 1px)';
    setText(card['node-pool'], 'pool: ' + fmtInt(active) + ' active · ' + fmtInt(idle) + ' idle · ' + fmtInt(num(pool.total)) + ' open'
      + (target !== null ? ' · target ' + fmtInt(target) : '') + ' · max ' + fmtInt(num(pool.max)));
    var problem = node.healthy ? '' : String(node.lastHealthError || 'failed its health check');
    card['node-health-error'].hidden = problem === '';
    setText(card['node-health-error'], problem);
  }

  function renderNodes(stats, sample) {
    var container = el('nodes');
    var empty = el('nodes-empty');
    if (empty) empty.remove();
    var seen = new Set();
    stats.nodes.forEach(function (node, index) {
      var card = cardFor(node);
      seen.add(node.name);
      renderNode(card, node, sample);
      if (container.children[index] !== card.root) container.insertBefore(card.root, container.children[index] || null);
    });
    cards.forEach(function (card, name) {
      if (!seen.has(name)) { card.root.remove(); cards.delete(name); }
    });
    var key = stats.nodes.map(function (n) { return n.name; }).join('|');
    if (key !== names.join('|')) {
      names = stats.nodes.map(function (n) { return n.name; });
      var legend = el('chart-legend');
      legend.replaceChildren();
      names.forEach(function (name) {
        var item = document.createElement('span');
        var swatch = document.createElement('span');
        swatch.className = 'swatch';
        swatch.style.background = colourFor(name);
        item.appendChild(swatch);
        item.appendChild(document.createTextNode(name));
        legend.appendChild(item);
      });
    }
  }

  function niceCeil(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }

  function drawChart(chart, field) {
    var now = samples.length ? samples[samples.length - 1].t : 0;
    var from = now - WINDOW_MS;
    var peak = 0;
    samples.forEach(function (s) {
      names.forEach(function (name) { var v = s[field][name]; if (v !== null && v !== undefined && v > peak) peak = v; });
    });
    var top = niceCeil(peak);
    names.forEach(function (name) {
      var line = chart.lines.get(name);
      if (!line) {
        line = document.createElementNS(SVG_NS, 'polyline');
        line.setAttribute('fill', 'none');
        line.setAttribute('stroke', colourFor(name));
        line.setAttribute('stroke-width', '2');
        line.setAttribute('stroke-linejoin', 'round');
        line.setAttribute('vector-effect', 'non-scaling-stroke');
        line.setAttribute('data-node', name);
        chart.svg.appendChild(line);
        chart.lines.set(name, line);
      }
      var points = [];
      samples.forEach(function (s) {
        var v = s[field][name];
        if (s.t < from || v === null || v === undefined) return;
        points.push(((s.t - from) / WINDOW_MS * CHART_W).toFixed(1) + ',' + (CHART_H - v / top * CHART_H).toFixed(1));
      });
      line.setAttribute('points', points.join(' '));
    });
    chart.lines.forEach(function (line, name) {
      if (names.indexOf(name) < 0) { line.remove(); chart.lines.delete(name); }
    });
    setText(chart.max, fmtAxis(top));
  }

  function drawGrid(svg) {
    [0.25, 0.5, 0.75].forEach(function (f) {
      var line = document.createElementNS(SVG_NS, 'line');
      line.setAttribute('class', 'grid');
      line.setAttribute('x1', '0');
      line.setAttribute('x2', String(CHART_W));
      line.setAttribute('y1', String(CHART_H * f));
      line.setAttribute('y2', String(CHART_H * f));
      line.setAttribute('vector-effect', 'non-scaling-stroke');
      svg.appendChild(line);
    });
  }

  function renderPanels(stats) {
    var r = stats.routing || {};
    setText(el('routing-primary'), fmtInt(num(r.primary)));
    setText(el('routing-replica'), fmtInt(num(r.replica)));
    setText(el('routing-forced'), fmtInt(num(r.forced)));
    setText(el('routing-read-fallbacks'), fmtInt(num(r.readFallbacks)));
    setText(el('routing-caller-fallbacks'), fmtInt(num(r.callerFallbacks)));
    setText(el('routing-self-healed'), fmtInt(num(r.selfHealed)));
    setText(el('routing-replicas-available'), fmtInt(num(r.replicasAvailable)));
    setText(el('routing-reads-on-primary'), r.readsOnPrimary ? 'yes' : 'no');
    var hasReplicas = stats.nodes.some(function (n) { return n.role === 'replica'; });
    setTone(el('routing-reads-on-primary'), r.readsOnPrimary && hasReplicas ? 'bad' : null);
    var c = stats.classifierCache || {};
    setText(el('cache-classifier-hit-rate'), fmtPct(num(c.hitRate)));
    setText(el('cache-classifier-size'), fmtInt(num(c.size)) + ' / ' + fmtInt(num(c.max)));
    var s = stats.statementCache || {};
    setText(el('cache-statement-hit-rate'), fmtPct(num(s.hitRate)));
    setText(el('cache-statement-counts'), fmtInt(num(s.hits)) + ' / ' + fmtInt(num(s.misses)));
    var p = stats.pipelines || {};
    setText(el('pipelines-open'), fmtInt(num(p.open)));
    setText(el('pipelines-queued'), fmtInt(num(p.queued)) + ' / ' + fmtInt(num(p.held)));
    setText(el('pipelines-batches'), fmtInt(num(p.batches)));
    setText(el('pipelines-statements'), fmtInt(num(p.statements)));
    setText(el('pipelines-coalesced'), fmtInt(num(p.coalesced)));
    setText(el('pipelines-failed'), fmtInt(num(p.failed)));
    setTone(el('pipelines-failed'), num(p.failed) ? 'bad' : null);
    el('closed-banner').hidden = !stats.closed;
  }

  function renderPatterns(patterns) {
    var section = el('patterns');
    section.hidden = !Array.isArray(patterns);
    if (!Array.isArray(patterns)) return;
    var body = el('patterns-body');
    body.replaceChildren();
    patterns.slice(0, 15).forEach(function (pattern) {
      var row = document.createElement('tr');
      row.setAttribute('data-testid', 'pattern-row');
      var sql = String(pattern.fingerprint);
      [[sql, 'sql'], [String(pattern.route)], [fmtInt(num(pattern.count))], [fmtRate(num(pattern.ratePerSecond))],
        [fmtMs(num(pattern.meanMs))], [fmtMs(num(pattern.p95Ms))]].forEach(function (cell) {
        var td = document.createElement('td');
        td.textContent = cell[0];
        if (cell[1]) { td.className = cell[1]; td.title = sql; }
        row.appendChild(td);
      });
      body.appendChild(row);
    });
  }

  function update(stats, eventId) {
    if (!stats || !Array.isArray(stats.nodes)) return;
    var t = Number(eventId);
    var sample = record(stats, t > 0 ? t : Date.now());
    renderNodes(stats, sample);
    var total = null;
    names.forEach(function (name) { var v = sample.rate[name]; if (v !== null && v !== undefined) total = (total || 0) + v; });
    setText(el('total-rate'), fmtRate(total));
    var hasP99 = stats.nodes.some(function (n) { return num(n.latencyP99Ms) !== null; });
    setText(el('chart-latency-title'), (hasP99 ? 'p99' : 'Mean') + ' latency per node, ms, last 60 s');
    drawChart(charts.rate, 'rate');
    drawChart(charts.latency, 'latency');
    renderPanels(stats);
    renderPatterns(stats.patterns);
    setText(el('updated-at'), 'updated ' + new Date(sample.t).toLocaleTimeString());
  }

  function setConnection(text, tone) {
    setText(el('connection'), text);
    setTone(el('connection'), tone);
  }

  function showHealth(report) {
    var badge = el('health-status');
    if (!report || (report.status !== 'ok' && report.status !== 'unhealthy')) {
      setText(badge, 'unreachable');
      setTone(badge, 'bad');
      document.title = 'unreachable · pg-query-router';
      return;
    }
    var ok = report.status === 'ok';
    setText(badge, ok ? 'ok' : 'unhealthy');
    setTone(badge, ok ? 'ok' : 'bad');
    fillList(el('health-reasons'), Array.isArray(report.reasons) ? report.reasons : []);
    fillList(el('health-warnings'), Array.isArray(report.warnings) ? report.warnings : []);
    document.title = (ok ? 'ok' : 'UNHEALTHY') + ' · pg-query-router';
  }

  var healthBusy = false;
  function pollHealth() {
    if (healthBusy) return;
    healthBusy = true;
    // /health answers 503 with the same JSON when unhealthy, so the body is read whatever the status.
    fetch('health', { cache: 'no-store' })
      .then(function (response) { return response.json(); })
      .then(showHealth, function () { showHealth(null); })
      .then(function () { healthBusy = false; });
  }

  drawGrid(charts.rate.svg);
  drawGrid(charts.latency.svg);
  pollHealth();
  setInterval(pollHealth, HEALTH_EVERY_MS);

  var events = new EventSource('events');
  events.onopen = function () { setConnection('live', 'ok'); };
  events.onerror = function () {
    setConnection(events.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting…', 'bad');
  };
  events.onmessage = function (event) {
    var stats;
    try { stats = JSON.parse(event.data); } catch (error) { return; }
    setConnection('live', 'ok');
    update(stats, event.lastEventId);
  };
  events.addEventListener('failure', function (event) {
    var message = 'stats failed';
    try { message = 'stats failed: ' + JSON.parse(event.data).error; } catch (error) { /* keep the generic text */ }
    setConnection(message, 'bad');
  });
})();
`;

/**
 * The live dashboard served at `/` by the monitor server: one self-contained HTML page (inline CSS and script,
 * no external resources) that follows `/events` and polls `/health`.
 *
 * Every value a test or a scraper may read carries a `data-testid`: `health-status`, `total-rate`, one
 * `node-card` per node (`data-node` = its name) holding `node-rate`, `node-queries`, `node-latency`,
 * `node-pool`, …, the charts `chart-rate` and `chart-latency`, `routing-*`, `cache-*`, `pipelines-*`, and
 * `pattern-row`s under `patterns`.
 */
export const DASHBOARD_HTML: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pg-query-router · monitor</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>${BODY}<script>${SCRIPT}</script>
</body>
</html>
`;
