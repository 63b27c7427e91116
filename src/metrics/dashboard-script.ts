/*
 * The dashboard's script, inlined into the page by `dashboard-page.ts`: it follows `events` (Server-Sent Events) and
 * polls `health`, and writes every value with textContent and setAttribute only, never as markup.
 *
 * It avoids backticks, template substitutions and backslashes, which this file's own template literal would
 * interpret.
 */

/** The browser script of the live dashboard (plain ES5, no modules, no external resources). */
export const DASHBOARD_SCRIPT = `
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
