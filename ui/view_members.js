// The membership as gossip sees it from the node serving the page: every member (Shoal
// and stock Serf agents alike) with its status, address, protocol versions and tags; this
// agent's gossip counters; the member events it saw.

import {getJSON} from './api.js';
import {h, fill, pill, table, section} from './dom.js';
import {clock} from './format.js';

const COUNTERS = ['probes', 'probe_failures', 'suspicions', 'push_pulls', 'packets_sent',
                  'packets_received', 'packets_dropped', 'bytes_sent', 'bytes_received',
                  'health_score', 'member_ltime'];

export function mount(root, ctx) {
  const membersBox = h('div'), statsBox = h('div'), eventsBox = h('ol', {class: 'events'});
  fill(root, section('Members', membersBox),
    h('div', {class: 'row'}, section('This agent\'s gossip', statsBox), section('Member events seen here', eventsBox)));

  ctx.every('members', 2000, async signal => {
    const [m, self] = await Promise.all([getJSON('/v1/members', signal), getJSON('/v1/agent/self', signal)]);
    const list = m.members || [];
    fill(membersBox, table(['name', 'address', 'status', 'protocol', 'tags'], list.map(x =>
      h('tr', {dataset: {member: x.name, status: x.status}},
        h('td', null, h('b', null, x.name), x.name === self.name ? h('span', {class: 'muted'}, ' (this node)') : null),
        h('td', null, x.addr),
        h('td', null, pill(x.status)),
        h('td', {class: 'muted'}, `${x.protocol?.cur ?? '?'} (${x.protocol?.min ?? '?'}–${x.protocol?.max ?? '?'})`),
        h('td', null, Object.entries(x.tags || {}).sort().map(([k, v]) => h('span', {class: 'tag'}, `${k}=${v}`)))))));
    const stats = self.stats || {};
    fill(statsBox, h('dl', {class: 'stats'},
      h('dt', null, 'profile'), h('dd', null, self.profile || '–'),
      COUNTERS.filter(k => k in stats).map(k => [h('dt', null, k.replaceAll('_', ' ')), h('dd', null, String(stats[k]))])));
  });

  ctx.every('member-events', 3000, async signal => {
    const r = await getJSON('/v1/events', signal);
    const list = (r.events || []).slice().reverse().slice(0, 30);
    fill(eventsBox, list.length ? list.map(e => h('li', {class: 'event'},
      h('time', null, clock(Date.parse(e.time))), pill(e.status || 'info', e.type), h('span', {class: 'msg'}, `${e.node} ${e.addr || ''}`)))
      : h('li', {class: 'empty'}, 'No member events yet'));
  });
}
