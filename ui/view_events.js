// Everything that happened, newest first: the cluster's events (nodes joining, failing,
// leaving; apps created) followed with a long poll, and every app's events.

import {getJSON, sleep} from './api.js';
import {h, fill, section} from './dom.js';
import {eventItem, fromApps, fromCatalog, mergeEvents} from './events.js';

const MAX = 300;

export function mount(root, ctx) {
  const filter = h('input', {type: 'search', placeholder: 'filter: kind, app, node, text', class: 'filter'});
  const list = h('ol', {class: 'events'});
  fill(root, section('Events', filter, list));
  let catalog = [], apps = [];
  const render = () => {
    const want = filter.value.trim().toLowerCase();
    const merged = mergeEvents([catalog, apps], MAX).filter(e => !want ||
      [e.kind, e.app, e.node, e.instance, e.message].some(f => f && String(f).toLowerCase().includes(want)));
    fill(list, merged.length ? merged.map(eventItem) : h('li', {class: 'empty'}, 'No events'));
  };
  filter.addEventListener('input', render);

  ctx.task('catalog-events', async signal => {
    let since = null;
    while (!signal.aborted) {
      const q = since === null ? `limit=${MAX}` : `since=${since}&wait=25&limit=${MAX}`;
      const r = await ctx.attempt('catalog-events', () => getJSON(`/v1/catalog/events?${q}`, signal));
      if (!r) { await sleep(3000, signal); continue; }
      catalog = mergeEvents([catalog, fromCatalog(r.events || [])], MAX);
      since = r.last_seq ?? since ?? 0;
      render();
    }
  });
  ctx.every('app-events', 3000, async signal => {
    const r = await getJSON(`/v1/apps/*/events?limit=${MAX}`, signal);
    apps = fromApps(r.events || []);
    render();
  });
}
