// The cluster at a glance: every node with its health, use, roles and the instances it
// runs; CPU and memory over the last minutes; the apps; the newest events.

import {getJSON} from './api.js';
import {appRow, leadersOf} from './apps_table.js';
import {lineChart} from './chart.js';
import {h, fill, pill, gauge, table, section} from './dom.js';
import {eventItem, fromApps, fromCatalog, mergeEvents} from './events.js';
import {bytes, millis, percent} from './format.js';

const SPAN_MS = 5 * 60 * 1000;
// Per node: [ms, cpu %, memory used], the last 5 minutes; seeded from the nodes' own
// history when the page opens.
const history = new Map();

function record(nodes) {
  const cutoff = Date.now() - SPAN_MS;
  for (const n of nodes) {
    const list = history.get(n.name) || [];
    // The node's own history (asked for on the first poll), then its newest sample.
    const points = (n.history || []).map(p => [p.ms, p.cpu_percent, p.memory_bytes]);
    if (n.usage?.sampled_ms) {
      points.push([n.usage.sampled_ms, n.usage.cpu_percent, n.usage.memory_used_bytes]);
    }
    for (const p of points) {
      if (!list.length || p[0] > list[list.length - 1][0]) list.push(p);
    }
    while (list.length && list[0][0] < cutoff) list.shift();
    history.set(n.name, list);
  }
}

function roleBadges(n) {
  const r = n.roles || {};
  return [
    r.catalog ? pill(r.catalog === 'leader' ? 'leader' : 'info', 'catalog ' + r.catalog) : null,
    ...(r.app_leader || []).map(a => pill('leader', 'leads ' + a)),
  ];
}

export function instanceChip(i) {
  return h('a', {class: 'chip s-' + i.state, href: '#/apps/' + encodeURIComponent(i.app),
                 title: `${i.app} ${i.id}: ${i.state}${i.restarts ? `, ${i.restarts} restarts` : ''}`,
                 dataset: {instance: `${i.app}/${i.id}`, state: i.state, node: i.node,
                           restarts: String(i.restarts ?? 0), pid: String(i.pid ?? '')}},
           `${i.app}/${i.id}`);
}

function nodeCard(n, instances) {
  const u = n.usage || {};
  const cap = n.capacity || {};
  const mine = instances.filter(i => i.node === n.name);
  return h('article', {class: 'node', dataset: {node: n.name, status: n.status}},
    h('header', null, h('strong', null, n.name), pill(n.status), ...roleBadges(n)),
    h('div', {class: 'muted'}, n.addr,
      cap.cores ? ` · ${cap.cores} cores · ${bytes(cap.memory_bytes)}` : '',
      n.shoal === false ? ' · not a Shoal node (gossip only)' : ''),
    n.error ? h('div', {class: 'warn'}, 'no answer: ' + n.error) : null,
    u.sampled_ms ? [
      gauge((u.cpu_percent || 0) / 100, `CPU ${percent(u.cpu_percent)}`, `${millis(u.cpu_millis)} of ${u.cores} cores`),
      gauge(u.memory_total_bytes ? u.memory_used_bytes / u.memory_total_bytes : 0,
            `memory ${bytes(u.memory_used_bytes)} / ${bytes(u.memory_total_bytes)}`),
      h('div', {class: 'muted small'}, `agent ${bytes(u.agent_rss_bytes)} RSS · ${millis(u.agent_cpu_millis)} CPU`),
    ] : null,
    h('div', {class: 'chips'}, mine.length ? mine.map(instanceChip) : h('span', {class: 'muted small'}, 'no instances')));
}

function appsTable(apps, totals, leaders) {
  if (!apps.length) return h('p', {class: 'empty'}, 'No apps yet: shoal deploy DIR --app NAME');
  return table(['app', 'release', 'instances', 'leader', 'CPU', 'memory'], apps.map(a => {
    const t = totals.get(a.name) || {};
    return appRow(a,
      h('td', null, leaders.get(a.name) || '–'),
      h('td', {class: 'num'}, millis(t.cpu_millis)),
      h('td', {class: 'num'}, bytes(t.memory_bytes)));
  }));
}

export function mount(root, ctx) {
  const summary = h('div', {class: 'summary'});
  const nodesBox = h('div', {class: 'nodes'});
  const cpuBox = h('div'), memBox = h('div'), appsBox = h('div'), eventsBox = h('ol', {class: 'events'});
  fill(root, summary, section('Nodes', nodesBox),
    h('div', {class: 'row'}, section('CPU by node', cpuBox), section('Memory by node', memBox)),
    h('div', {class: 'row'}, section('Apps', appsBox), section('Recent events', eventsBox)));

  let first = true;
  ctx.every('cluster', 2000, async signal => {
    const [nodes, usage, apps] = await Promise.all([
      getJSON(first ? '/v1/nodes?window=5m' : '/v1/nodes', signal), getJSON('/v1/metrics/apps', signal), getJSON('/v1/apps', signal)]);
    const list = nodes.nodes || [];
    const instances = usage.instances || [];
    record(list);
    first = false;
    const alive = list.filter(n => n.status === 'alive').length;
    const running = instances.filter(i => i.state === 'running').length;
    const leaders = leadersOf(list);
    const catalogLeader = list.find(n => n.roles?.catalog === 'leader');
    fill(summary,
      h('div', null, h('b', null, `${alive}/${list.length}`), ' nodes alive'),
      h('div', null, h('b', null, String((apps.apps || []).length)), ' apps'),
      h('div', null, h('b', null, `${running}/${instances.length}`), ' instances running'),
      h('div', null, 'catalog leader ', h('b', null, catalogLeader ? catalogLeader.name : 'none')));
    fill(nodesBox, list.map(n => nodeCard(n, instances)));
    const names = [...history.keys()].sort();
    fill(cpuBox, lineChart(names.map(name => ({name, points: history.get(name).map(([t, c]) => [t, c])})),
                           {format: percent, spanMs: SPAN_MS, title: 'CPU % of each node'}));
    fill(memBox, lineChart(names.map(name => ({name, points: history.get(name).map(([t, , m]) => [t, m])})),
                           {format: bytes, spanMs: SPAN_MS, title: 'memory in use on each node'}));
    const totals = new Map((usage.apps || []).map(a => [a.app, a]));
    fill(appsBox, appsTable(apps.apps || [], totals, leaders));
  });

  ctx.every('recent-events', 3000, async signal => {
    const [cat, apps] = await Promise.all([
      getJSON('/v1/catalog/events?limit=12', signal), getJSON('/v1/apps/*/events?limit=12', signal)]);
    const merged = mergeEvents([fromCatalog(cat.events || []), fromApps(apps.events || [])], 12);
    fill(eventsBox, merged.length ? merged.map(eventItem) : h('li', {class: 'empty'}, 'No events yet'));
  });
}
