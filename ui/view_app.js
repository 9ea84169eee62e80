// One app: its formation and releases, every instance with where it runs and what it uses,
// CPU and memory per instance over the last minutes, its events as they happen, and a
// tail of its logs merged from every node that runs it.

import {getJSON, sleep, streamNDJSON} from './api.js';
import {lineChart} from './chart.js';
import {h, fill, pill, table, section} from './dom.js';
import {eventItem, fromApps} from './events.js';
import {bytes, clock, dateTime, millis, span} from './format.js';

const WINDOW = '5m';
const SPAN_MS = 5 * 60 * 1000;
const MAX_SERIES = 10;  // beyond that a chart is a blur: the heaviest instances are drawn
const MAX_LOG_LINES = 500;
const MAX_EVENTS = 200;

function instanceRow(i, now) {
  const u = i.usage || {};
  return h('tr', {dataset: {instance: `${i.app || ''}/${i.id}`, state: i.state, node: i.node,
                            restarts: String(i.restarts ?? 0), pid: String(i.pid ?? '')}},
    h('td', null, h('b', null, i.id)),
    h('td', null, i.node || '–'),
    h('td', null, pill(i.state), i.message ? h('div', {class: 'muted small'}, i.message) : null),
    h('td', null, i.health && i.health !== 'none' ? pill(i.health === 'passing' ? 'running' : 'failed', i.health) : '–'),
    h('td', {class: 'num'}, i.release ? 'v' + i.release : '–'),
    h('td', {class: 'num'}, i.port ? String(i.port) : '–'),
    h('td', {class: 'num'}, i.pid ? String(i.pid) : '–'),
    h('td', {class: 'num'}, String(i.restarts ?? 0)),
    h('td', {class: 'num'}, millis(u.cpu_millis)),
    h('td', {class: 'num'}, bytes(u.memory_bytes)),
    h('td', {class: 'num'}, i.since_ms ? span(now - i.since_ms) : '–'));
}

function describe(app) {
  const parts = [];
  for (const [type, f] of Object.entries(app.formation || {})) {
    const limits = [f.cpu_millis ? `${f.cpu_millis}m CPU` : null, f.memory_mb ? `${f.memory_mb} MB` : null]
      .filter(Boolean).join(', ');
    parts.push(`${type}=${f.count}${limits ? ` (${limits})` : ''}`);
  }
  return parts.join(' · ');
}

export function mount(root, ctx, name) {
  const head = h('div', {class: 'summary'});
  const instBox = h('div'), cpuBox = h('div'), memBox = h('div'), relBox = h('div');
  const eventsBox = h('ol', {class: 'events'});
  const logBox = h('pre', {class: 'logs', 'aria-live': 'off'});
  fill(root,
    h('h1', null, h('a', {href: '#/apps'}, 'Apps'), ' / ', h('span', {dataset: {appTitle: name}}, name)),
    head, section('Instances', instBox),
    h('div', {class: 'row'}, section('CPU by instance', cpuBox), section('Memory by instance', memBox)),
    h('div', {class: 'row'}, section('Events', eventsBox), section('Releases', relBox)),
    section('Logs (all nodes, following)', logBox));

  // Per instance ("web.1@n0"): [ms, cpu millis, memory], seeded once from the nodes'
  // history over the window, then fed by the ps polls, so the steady cost is one small
  // answer every 2 s whatever the window.
  const history = new Map();
  const add = (key, ms, cpu, mem) => {
    const list = history.get(key) || [];
    if (!list.length || ms > list[list.length - 1][0]) {
      list.push([ms, cpu, mem]);
    } else if (!list.some(p => p[0] === ms)) {
      // The seed can land after the first polls: older points go in their place.
      list.push([ms, cpu, mem]);
      list.sort((a, b) => a[0] - b[0]);
    }
    while (list.length && list[0][0] < Date.now() - SPAN_MS) list.shift();
    history.set(key, list);
  };
  const draw = live => {
    for (const [k, list] of history) {  // an instance gone for the whole span
      if (!live.has(k) && (list.at(-1)?.[0] ?? 0) < Date.now() - SPAN_MS) history.delete(k);
    }
    const keys = [...history.keys()].filter(k => live.has(k));
    const last = k => history.get(k).at(-1) || [];
    keys.sort((a, b) => (last(b)[2] ?? 0) - (last(a)[2] ?? 0) || a.localeCompare(b));
    const shown = keys.slice(0, MAX_SERIES).sort();
    const series = i => shown.map(k => ({name: k, points: history.get(k).map(p => [p[0], p[i]])}));
    const note = keys.length > shown.length
      ? h('div', {class: 'muted small'}, `the ${shown.length} largest of ${keys.length} instances`) : null;
    fill(cpuBox, lineChart(series(1), {format: millis, spanMs: SPAN_MS, title: 'CPU millicores'}), note);
    fill(memBox, lineChart(series(2), {format: bytes, spanMs: SPAN_MS, title: 'memory'}), note && note.cloneNode(true));
  };
  let live = null;  // the instances of the newest ps answer, by "id@node"
  ctx.every('app', 2000, async signal => {
    const [app, ps] = await Promise.all([
      getJSON(`/v1/apps/${encodeURIComponent(name)}`, signal),
      getJSON(`/v1/apps/${encodeURIComponent(name)}/ps`, signal)]);
    fill(head,
      h('div', null, 'release ', h('b', null, app.release ? 'v' + app.release : 'none'),
        app.released_ms ? ` · ${dateTime(app.released_ms)}` : ''),
      h('div', null, 'leader ', h('b', null, app.leader || 'none')),
      h('div', null, h('b', null, `${app.instances?.running ?? 0}/${app.instances?.total ?? 0}`), ' running'),
      h('div', null, describe(app) || 'no formation'),
      app.stopped ? pill('failed', 'stopped') : null);
    const now = Date.now();
    const list = (ps.instances || []).map(i => ({...i, app: name}));
    live = new Set();
    for (const i of list) {
      const key = `${i.id}@${i.node}`;
      live.add(key);
      if (i.usage?.sampled_ms) add(key, i.usage.sampled_ms, i.usage.cpu_millis, i.usage.memory_bytes);
    }
    draw(live);
    fill(instBox, list.length
      ? table(['instance', 'node', 'state', 'health', 'release', 'port', 'pid', 'restarts', 'CPU', 'memory', 'for'],
              list.map(i => instanceRow(i, now)))
      : h('p', {class: 'empty'}, app.stopped ? 'Stopped: no instances.' : 'No instances placed yet.'));
  });

  ctx.task('app-usage', async signal => {
    const usage = await ctx.attempt('app-usage',
      () => getJSON(`/v1/metrics/apps/${encodeURIComponent(name)}?window=${WINDOW}`, signal));
    for (const i of usage?.instances || []) {
      for (const p of i.history || []) add(`${i.id}@${i.node}`, p.ms, p.cpu_millis, p.memory_bytes);
    }
    if (live) draw(live);
  });

  ctx.every('releases', 10000, async signal => {
    const r = await getJSON(`/v1/apps/${encodeURIComponent(name)}/releases`, signal);
    const list = (r.releases || []).slice().reverse();
    fill(relBox, list.length
      ? table(['version', 'created', 'what', ''], list.slice(0, 10).map(rel =>
          h('tr', {dataset: {release: String(rel.version)}},
            h('td', null, 'v' + rel.version), h('td', null, dateTime(rel.created_ms)),
            h('td', null, rel.description || ''), h('td', null, rel.current ? pill('running', 'current') : ''))))
      : h('p', {class: 'empty'}, 'No releases yet.'));
  });

  // The app's events as they happen: the newest, then a long poll for what follows.
  ctx.task('app-events', async signal => {
    let since = null;
    const shown = [];
    while (!signal.aborted) {
      const q = since === null ? 'limit=50' : `since=${since}&wait=25&limit=200`;
      const r = await ctx.attempt('app-events',
        () => getJSON(`/v1/apps/${encodeURIComponent(name)}/events?${q}`, signal));
      if (!r) { await sleep(3000, signal); continue; }
      for (const e of fromApps(r.events || [])) shown.unshift(e);
      shown.splice(MAX_EVENTS);
      since = r.last_seq ?? since ?? 0;
      fill(eventsBox, shown.length ? shown.map(eventItem) : h('li', {class: 'empty'}, 'No events yet'));
    }
  });

  // A log tail that follows the app wherever its instances move (the API re-resolves the
  // nodes); reconnects after the stream ends.
  ctx.task('logs', async signal => {
    let lines = 0;
    let last = 0;
    while (!signal.aborted) {
      const q = last ? `since=${last + 1}&follow=1` : 'lines=200&follow=1';
      try {
        await streamNDJSON(`/v1/apps/${encodeURIComponent(name)}/logs?${q}`, item => {
          ctx.ok('logs');
          last = Math.max(last, item.ts_ms || 0);
          const stuck = logBox.scrollTop + logBox.clientHeight >= logBox.scrollHeight - 4;
          logBox.append(h('div', {class: item.stream === 'err' ? 'err' : null},
            h('span', {class: 'muted'}, `${clock(item.ts_ms)} ${item.instance || ''} `), item.line));
          if (++lines > MAX_LOG_LINES) { logBox.firstChild.remove(); lines--; }
          if (stuck) logBox.scrollTop = logBox.scrollHeight;
        }, signal);
      } catch (err) {
        if (err.name === 'AbortError') return;
        ctx.fail('logs', err);
      }
      await sleep(2000, signal);
    }
  });
}
