// Every app: its release, instances, leader and use. One row per app, linking to its page.

import {getJSON} from './api.js';
import {appRow, leadersOf} from './apps_table.js';
import {h, fill, table, section} from './dom.js';
import {bytes, millis} from './format.js';

export function mount(root, ctx) {
  const box = h('div');
  fill(root, section('Apps', box));
  ctx.every('apps', 2000, async signal => {
    const [apps, usage, nodes] = await Promise.all([
      getJSON('/v1/apps', signal), getJSON('/v1/metrics/apps', signal), getJSON('/v1/nodes', signal)]);
    const list = apps.apps || [];
    if (!list.length) {
      fill(box, h('p', {class: 'empty'}, 'No apps yet. Deploy one from any node: shoal deploy DIR --app NAME'));
      return;
    }
    const totals = new Map((usage.apps || []).map(a => [a.app, a]));
    const leaders = leadersOf(nodes.nodes);
    const where = new Map();
    for (const i of usage.instances || []) {
      if (!where.has(i.app)) where.set(i.app, new Set());
      where.get(i.app).add(i.node);
    }
    fill(box, table(['app', 'release', 'instances', 'runs on', 'leader', 'replicas', 'restarts', 'CPU', 'memory'],
      list.map(a => {
        const t = totals.get(a.name) || {};
        return appRow(a,
          h('td', null, [...(where.get(a.name) || [])].sort().join(', ') || '–'),
          h('td', null, leaders.get(a.name) || '–'),
          h('td', null, (a.replicas || []).join(', ')),
          h('td', {class: 'num'}, String(t.restarts ?? 0)),
          h('td', {class: 'num'}, millis(t.cpu_millis)),
          h('td', {class: 'num'}, bytes(t.memory_bytes)));
      })));
  });
}

