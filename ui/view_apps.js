// Every app: its release, instances, leader and use. One row per app, linking to its page.

import {getJSON} from './api.js';
import {h, fill, pill, table, section} from './dom.js';
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
    const leaders = new Map();
    for (const n of nodes.nodes || []) for (const a of (n.roles?.app_leader || [])) leaders.set(a, n.name);
    const where = new Map();
    for (const i of usage.instances || []) {
      if (!where.has(i.app)) where.set(i.app, new Set());
      where.get(i.app).add(i.node);
    }
    fill(box, table(['app', 'release', 'instances', 'runs on', 'leader', 'replicas', 'restarts', 'CPU', 'memory'],
      list.map(a => {
        const t = totals.get(a.name) || {};
        const inst = a.instances || {};
        return h('tr', {dataset: {app: a.name}},
          h('td', null, h('a', {href: '#/apps/' + encodeURIComponent(a.name)}, a.name)),
          h('td', null, a.release ? 'v' + a.release : '–'),
          h('td', null, pill(inst.running === inst.total && inst.total ? 'running' : 'pending',
                             `${inst.running ?? 0}/${inst.total ?? 0}`)),
          h('td', null, [...(where.get(a.name) || [])].sort().join(', ') || '–'),
          h('td', null, leaders.get(a.name) || '–'),
          h('td', null, (a.replicas || []).join(', ')),
          h('td', {class: 'num'}, String(t.restarts ?? 0)),
          h('td', {class: 'num'}, millis(t.cpu_millis)),
          h('td', {class: 'num'}, bytes(t.memory_bytes)));
      })));
  });
}

