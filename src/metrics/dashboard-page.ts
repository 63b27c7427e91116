/*
 * The dashboard is one static string: no build step, no external resources (the monitor's CSP allows none), so
 * it works offline, behind a proxy and from a packaged `dist/`. It reads `events` (Server-Sent Events, one stats
 * snapshot a tick, the server's clock in the event id) and `health`, by relative URL so a path prefix works.
 *
 * Everything from the server is data: it is written with textContent and setAttribute only, never parsed as
 * markup (node URLs and SQL fingerprints come from the database side).
 *
 * The page's script lives in `dashboard-script.ts`.
 */
import { DASHBOARD_SCRIPT } from './dashboard-script.js';

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
.plot { position: relative; padding-left: 56px; }
.plot svg { display: block; width: 100%; height: 160px; overflow: visible; border-left: 1px solid var(--line); border-bottom: 1px solid var(--line); }
.plot .grid { stroke: var(--line); stroke-width: 1; }
.axis-y { position: absolute; left: 0; top: 0; bottom: 0; width: 52px; }
.axis-y span { position: absolute; right: 0; transform: translateY(-50%); font-size: 11px; color: var(--muted); font-variant-numeric: tabular-nums; white-space: nowrap; }
.axis-x { position: relative; height: 16px; margin: 2px 0 0 56px; }
.axis-x span { position: absolute; top: 0; transform: translateX(-50%); font-size: 11px; color: var(--muted); white-space: nowrap; }
.axis-x span:first-child { transform: none; }
.axis-x span:last-child { transform: translateX(-100%); }
.legend { display: flex; flex-wrap: wrap; gap: 12px; font-size: 12px; }
.legend span { display: inline-flex; align-items: center; gap: 4px; }
.legend svg { width: 34px; height: 10px; overflow: visible; }
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
      <div class="plot"><div class="axis-y" data-testid="chart-rate-y-axis"></div><svg data-testid="chart-rate" viewBox="0 0 600 160" preserveAspectRatio="none"></svg></div>
      <div class="axis-x" data-testid="chart-rate-x-axis"></div>
    </figure>
    <figure class="chart">
      <figcaption data-testid="chart-latency-title">Recent p99 latency per node (statements of the last minute), last 60 s</figcaption>
      <div class="plot"><div class="axis-y" data-testid="chart-latency-y-axis"></div><svg data-testid="chart-latency" viewBox="0 0 600 160" preserveAspectRatio="none"></svg></div>
      <div class="axis-x" data-testid="chart-latency-x-axis"></div>
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
      <dt data-testid="node-latency-recent-label">latency, last minute</dt><dd data-testid="node-latency-recent">–</dd>
      <dt>latency since start</dt><dd data-testid="node-latency">–</dd>
      <dt>in flight</dt><dd data-testid="node-inflight">–</dd>
      <dt>waiting for a connection</dt><dd data-testid="node-waiting">–</dd>
      <dt>errors</dt><dd data-testid="node-errors">–</dd>
      <dt data-testid="node-lag-label" hidden>replica lag</dt><dd data-testid="node-lag" hidden>–</dd>
      <dt data-testid="node-refusals-label" hidden>refused: too many clients</dt><dd data-testid="node-refusals" hidden>–</dd>
      <dt data-testid="node-budget-label" hidden>connection budget</dt><dd data-testid="node-budget" hidden>–</dd>
    </dl>
    <div class="pool-bar" data-testid="node-pool-bar"><span class="active"></span><span class="idle"></span><span class="target" hidden></span></div>
    <div class="pool-text" data-testid="node-pool"></div>
    <div class="health-error" data-testid="node-health-error" hidden></div>
  </article>
</template>
`;

/**
 * The live dashboard served at `/` by the monitor server: one self-contained HTML page (inline CSS and script,
 * no external resources) that follows `/events` and polls `/health`.
 *
 * Every value a test or a scraper may read carries a `data-testid`: `health-status`, `total-rate`, one
 * `node-card` per node (`data-node` = its name) holding `node-rate`, `node-queries`, `node-latency-recent`
 * (p50 and p99 of the last minute), `node-latency` (since start), `node-pool`, …, the charts `chart-rate` and
 * `chart-latency` (one `polyline` per node, `data-node` = its name) with their `chart-*-y-axis` and
 * `chart-*-x-axis` tick labels, `routing-*`, `cache-*`, `pipelines-*`, and `pattern-row`s under `patterns`.
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
<body>${BODY}<script>${DASHBOARD_SCRIPT}</script>
</body>
</html>
`;
