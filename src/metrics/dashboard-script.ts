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
  // Colour alone does not tell two series apart when their lines coincide (or for a colour-blind reader): each
  // series also has its own dash pattern and marker shape, taken in step with its colour.
  var DASHES = ['none', '8 4', '2 3', '10 3 2 3', '4 4', '1 4', '12 4 4 4', '6 2 1 2'];
  var SHAPES = ['circle', 'square', 'triangle', 'diamond', 'cross', 'circle', 'square', 'triangle'];
  var MARK_EVERY_MS = 10000;
  var X_TICKS_S = [60, 45, 30, 15, 0];
  var BREAKER = { closed: ['breaker closed', 'ok'], open: ['breaker open', 'bad'], halfOpen: ['breaker half-open', 'warn'] };

  var samples = [];
  var cards = new Map();
  var series = new Map();
  var names = [];
  var template = document.getElementById('node-card-template');
  var charts = {
    rate: { svg: el('chart-rate'), yAxis: el('chart-rate-y-axis'), xAxis: el('chart-rate-x-axis'), unit: '/s',
      lines: new Map(), grid: null, ticks: '' },
    latency: { svg: el('chart-latency'), yAxis: el('chart-latency-y-axis'), xAxis: el('chart-latency-x-axis'), unit: 'ms',
      lines: new Map(), grid: null, ticks: '' }
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
  function fmtTick(v, unit) {
    var text = v >= 1000 ? Math.round(v).toLocaleString('en-US') : String(Number(v.toPrecision(3)));
    return unit === '/s' ? text + '/s' : text + ' ' + unit;
  }
  function fmtPct(v) { return v === null ? '–' : (v * 100).toFixed(1) + ' %'; }
  function styleFor(name) {
    if (!series.has(name)) {
      var i = series.size;
      series.set(name, { colour: PALETTE[i % PALETTE.length], dash: DASHES[i % DASHES.length], shape: SHAPES[i % SHAPES.length] });
    }
    return series.get(name);
  }
  function colourFor(name) { return styleFor(name).colour; }
  function svg(tag, attrs) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs).forEach(function (key) { node.setAttribute(key, String(attrs[key])); });
    return node;
  }
  // A hollow marker of the series' shape, centred on (x, y), r units across each way.
  function marker(shape, x, y, r, colour) {
    var attrs = { fill: 'none', stroke: colour, 'stroke-width': 1.5, 'vector-effect': 'non-scaling-stroke' };
    if (shape === 'circle') { attrs.cx = x; attrs.cy = y; attrs.r = r; return svg('circle', attrs); }
    var d;
    if (shape === 'square') d = [[x - r, y - r], [x + r, y - r], [x + r, y + r], [x - r, y + r]];
    else if (shape === 'triangle') d = [[x, y - r - 1], [x + r + 1, y + r], [x - r - 1, y + r]];
    else if (shape === 'diamond') d = [[x, y - r - 1], [x + r + 1, y], [x, y + r + 1], [x - r - 1, y]];
    else d = [[x - r, y - r], [x + r, y + r], [x, y], [x + r, y - r], [x - r, y + r], [x, y]];
    attrs.d = 'M' + d.map(function (p) { return p[0].toFixed(1) + ' ' + p[1].toFixed(1); }).join(' L') + (shape === 'cross' ? '' : ' Z');
    return svg('path', attrs);
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
      // The chart shows latency now: the last minute's p99 (0 there means no statement ended, so no point),
      // else, from a router that does not measure it, the since-start p99 or the weighted mean.
      var recent = num(n.recentLatencyP99Ms);
      sample.latency[n.name] = recent !== null ? (recent > 0 ? recent : null)
        : num(n.latencyP99Ms) !== null ? n.latencyP99Ms : num(n.latencyMs);
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
      'node-latency-recent', 'node-latency-recent-label', 'node-inflight', 'node-waiting', 'node-errors', 'node-lag', 'node-lag-label', 'node-pool', 'node-pool-bar',
      'node-health-error', 'node-refusals', 'node-refusals-label', 'node-budget', 'node-budget-label'].forEach(function (id) { card[id] = part(root, id); });
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
    var r50 = num(node.recentLatencyP50Ms);
    var r99 = num(node.recentLatencyP99Ms);
    var hasRecent = r50 !== null || r99 !== null;
    card['node-latency-recent'].hidden = !hasRecent;
    card['node-latency-recent-label'].hidden = !hasRecent;
    if (hasRecent) {
      setText(card['node-latency-recent'], !r50 && !r99 ? 'no statements' : 'p50 ' + fmtMs(r50) + ' · p99 ' + fmtMs(r99));
    }
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
    // Connection attempts the node refused for lack of room: callers waited instead (back-pressure, not a failure).
    var refusals = num(node.connectionRefusals) || 0;
    card['node-refusals'].hidden = refusals === 0;
    card['node-refusals-label'].hidden = refusals === 0;
    setText(card['node-refusals'], fmtInt(refusals) + ' (callers waited)');
    setTone(card['node-refusals'], refusals ? 'warn' : null);
    var budget = node.budget;
    var hasBudget = !!budget && budget.budget !== null && budget.budget !== undefined;
    card['node-budget'].hidden = !hasBudget;
    card['node-budget-label'].hidden = !hasBudget;
    if (hasBudget) {
      var parts = Object.keys(budget.byInstance || {}).sort().map(function (name) {
        return name + ' ' + fmtInt(num(budget.byInstance[name]));
      });
      setText(card['node-budget'], String(budget.group) + ': ' + fmtInt(num(budget.total)) + ' / ' + fmtInt(num(budget.budget))
        + ' in use · this instance (' + String(budget.instance) + ') ceiling ' + (budget.ceiling === null ? '–' : fmtInt(num(budget.ceiling)))
        + (parts.length ? ' · by instance: ' + parts.join(', ') : ''));
      setTone(card['node-budget'], num(budget.total) > num(budget.budget) ? 'bad' : null);
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
        var style = styleFor(name);
        var item = document.createElement('span');
        item.setAttribute('data-testid', 'legend-item');
        item.setAttribute('data-node', name);
        // The legend draws each series as the charts do: colour, dash pattern and marker.
        var sampleLine = svg('svg', { viewBox: '0 0 34 10', 'aria-hidden': 'true' });
        sampleLine.appendChild(svg('line', { x1: 0, y1: 5, x2: 34, y2: 5, stroke: style.colour, 'stroke-width': 2,
          'stroke-dasharray': style.dash }));
        sampleLine.appendChild(marker(style.shape, 17, 5, 3, style.colour));
        item.appendChild(sampleLine);
        item.appendChild(document.createTextNode(name));
        legend.appendChild(item);
      });
    }
  }

  // Round tick values from 0 to at least peak: a step of 1, 2, 2.5 or 5 times a power of ten, chosen so there
  // are 2 to 4 steps (3 to 5 labelled ticks).
  function niceTicks(peak) {
    var target = peak > 0 ? peak / 4 : 0.25;
    var p = Math.pow(10, Math.floor(Math.log10(target)));
    var m = target / p;
    var step = (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * p;
    var steps = Math.max(2, Math.ceil(peak / step - 1e-9));
    var ticks = [];
    for (var i = 0; i <= steps; i++) ticks.push(Number((i * step).toPrecision(6)));
    return ticks;
  }

  function drawAxes(chart, ticks) {
    var key = ticks.join('|');
    if (chart.ticks === key) return;
    chart.ticks = key;
    var top = ticks[ticks.length - 1];
    if (chart.grid) chart.grid.remove();
    chart.grid = svg('g', { 'class': 'grid-lines' });
    chart.yAxis.replaceChildren();
    ticks.forEach(function (v) {
      var y = CHART_H - v / top * CHART_H;
      if (v > 0) chart.grid.appendChild(svg('line', { 'class': 'grid', x1: 0, x2: CHART_W, y1: y, y2: y, 'vector-effect': 'non-scaling-stroke' }));
      var label = document.createElement('span');
      label.setAttribute('data-testid', 'y-tick');
      label.style.top = (y / CHART_H * 100) + '%';
      label.textContent = fmtTick(v, chart.unit);
      chart.yAxis.appendChild(label);
    });
    X_TICKS_S.forEach(function (s) {
      var x = (WINDOW_MS - s * 1000) / WINDOW_MS * CHART_W;
      if (s > 0 && s < WINDOW_MS / 1000) {
        chart.grid.appendChild(svg('line', { 'class': 'grid', x1: x, x2: x, y1: 0, y2: CHART_H, 'vector-effect': 'non-scaling-stroke' }));
      }
    });
    chart.svg.insertBefore(chart.grid, chart.svg.firstChild);
  }

  // The time axis is relative to the newest snapshot, which is where the lines end.
  function drawTimeAxis(chart) {
    if (chart.xAxis.childElementCount) return;
    X_TICKS_S.forEach(function (s) {
      var label = document.createElement('span');
      label.setAttribute('data-testid', 'x-tick');
      label.style.left = ((WINDOW_MS - s * 1000) / WINDOW_MS * 100) + '%';
      label.textContent = s === 0 ? 'now' : '−' + s + ' s';
      chart.xAxis.appendChild(label);
    });
  }

  function drawChart(chart, field) {
    var now = samples.length ? samples[samples.length - 1].t : 0;
    var from = now - WINDOW_MS;
    var peak = 0;
    samples.forEach(function (s) {
      names.forEach(function (name) { var v = s[field][name]; if (v !== null && v !== undefined && v > peak) peak = v; });
    });
    var ticks = niceTicks(peak);
    var top = ticks[ticks.length - 1];
    drawAxes(chart, ticks);
    drawTimeAxis(chart);
    names.forEach(function (name) {
      var style = styleFor(name);
      var entry = chart.lines.get(name);
      if (!entry) {
        entry = {
          line: svg('polyline', { fill: 'none', stroke: style.colour, 'stroke-width': 2, 'stroke-linejoin': 'round',
            'stroke-dasharray': style.dash, 'vector-effect': 'non-scaling-stroke', 'data-node': name }),
          marks: svg('g', { 'data-node': name, 'class': 'markers' })
        };
        chart.svg.appendChild(entry.line);
        chart.svg.appendChild(entry.marks);
        chart.lines.set(name, entry);
      }
      var points = [];
      var marks = [];
      var lastMark = null;
      samples.forEach(function (s, i) {
        var v = s[field][name];
        if (s.t < from || v === null || v === undefined) return;
        var x = (s.t - from) / WINDOW_MS * CHART_W;
        var y = CHART_H - v / top * CHART_H;
        points.push(x.toFixed(1) + ',' + y.toFixed(1));
        // A marker every MARK_EVERY_MS of server time and on the newest point: few enough not to clutter.
        var slot = Math.floor(s.t / MARK_EVERY_MS);
        if (slot !== lastMark || i === samples.length - 1) { marks.push([x, y]); lastMark = slot; }
      });
      entry.line.setAttribute('points', points.join(' '));
      entry.marks.replaceChildren();
      marks.forEach(function (m) { entry.marks.appendChild(marker(style.shape, m[0], m[1], 3, style.colour)); });
    });
    chart.lines.forEach(function (entry, name) {
      if (names.indexOf(name) < 0) { entry.line.remove(); entry.marks.remove(); chart.lines.delete(name); }
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
    var hasRecent = stats.nodes.some(function (n) { return num(n.recentLatencyP99Ms) !== null; });
    var hasP99 = stats.nodes.some(function (n) { return num(n.latencyP99Ms) !== null; });
    setText(el('chart-latency-title'), hasRecent ? 'Recent p99 latency per node (statements of the last minute), last 60 s'
      : (hasP99 ? 'p99 latency per node since start' : 'Mean latency per node') + ', last 60 s');
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

  drawChart(charts.rate, 'rate');
  drawChart(charts.latency, 'latency');
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
