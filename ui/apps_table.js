// What the cluster page and the apps page both show of an app: its row's first cells
// (name, release, instances running/total), and which node leads each app's group.

import {h, pill} from './dom.js';

// app name -> the node whose Raft group leader schedules it, from GET /v1/nodes.
export function leadersOf(nodes) {
  const leaders = new Map();
  for (const n of nodes || []) for (const a of (n.roles?.app_leader || [])) leaders.set(a, n.name);
  return leaders;
}

export function appRow(a, ...more) {
  const inst = a.instances || {};
  return h('tr', {dataset: {app: a.name}},
    h('td', null, h('a', {href: '#/apps/' + encodeURIComponent(a.name)}, a.name)),
    h('td', null, a.release ? 'v' + a.release : '–'),
    h('td', null, pill(inst.running === inst.total && inst.total ? 'running' : 'pending',
                       `${inst.running ?? 0}/${inst.total ?? 0}`)),
    ...more);
}
