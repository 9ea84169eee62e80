// Lifecycle events (the catalog's and the apps'), as one list: the same records
// `shoal events` prints.

import {h, pill} from './dom.js';
import {clock} from './format.js';

// Marks where each event comes from: sequence numbers count per log.
export const fromCatalog = list => list.map(e => ({...e, log: 'catalog'}));
export const fromApps = list => list.map(e => ({...e, log: 'app:' + e.app}));

// Newest first, each event once.
export function mergeEvents(lists, limit) {
  const seen = new Map();
  for (const e of lists.flat()) seen.set(`${e.log}:${e.seq}`, e);
  return [...seen.values()].sort((a, b) => b.time_ms - a.time_ms || b.seq - a.seq).slice(0, limit);
}

export function eventItem(e) {
  const bad = /fail|crash|lost|rolled_back|oom|unhealthy|killed/.test(e.kind);
  return h('li', {class: 'event', dataset: {kind: e.kind, app: e.app || '', instance: e.instance || ''}},
    h('time', {datetime: new Date(e.time_ms).toISOString()}, clock(e.time_ms)),
    pill(bad ? 'failed' : 'info', e.kind),
    e.app ? h('a', {href: '#/apps/' + encodeURIComponent(e.app), class: 'muted'}, e.app) : null,
    h('span', {class: 'msg'}, e.message));
}
