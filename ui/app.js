// The dashboard's shell: a hash router over five views, a banner for what the agent could
// not answer, and the line naming the node that serves the page. Each view gets a
// ViewContext whose polls, long polls and streams all stop when the view is left.

import {getJSON, sleep, token, setToken, onUnauthorized} from './api.js';
import {h} from './dom.js';
import * as clusterView from './view_cluster.js';
import * as appsView from './view_apps.js';
import * as appView from './view_app.js';
import * as membersView from './view_members.js';
import * as eventsView from './view_events.js';

const routes = [
  [/^#?\/?$/, 'cluster', clusterView.mount],
  [/^#\/apps\/?$/, 'apps', appsView.mount],
  [/^#\/apps\/([^/]+)$/, 'apps', appView.mount],
  [/^#\/members\/?$/, 'members', membersView.mount],
  [/^#\/events\/?$/, 'events', eventsView.mount],
];

// What failed, by source; the banner shows them until each one answers again.
const problems = new Map();
function showProblems() {
  const banner = document.getElementById('banner');
  banner.hidden = problems.size === 0;
  banner.textContent = [...problems.values()].join(' · ');
}
export function report(key, err) {
  problems.set(key, err.message || String(err));
  showProblems();
}
export function clear(key) {
  if (problems.delete(key)) showProblems();
}

class ViewContext {
  constructor() {
    this.controller = new AbortController();
    this.signal = this.controller.signal;
    this.keys = new Set();
  }

  // Runs fn now, then `ms` after each run ends, until the view is left. A failed run shows
  // in the banner (under `key`) and the loop goes on.
  every(key, ms, fn) {
    this.task(key, async signal => {
      while (!signal.aborted) {
        await this.attempt(key, () => fn(signal));
        await sleep(ms, signal);
      }
    });
  }

  // A long-lived loop of its own (a long poll, a stream): it handles its own retries.
  task(key, fn) {
    this.keys.add(key);
    fn(this.signal).catch(err => {
      if (err.name !== 'AbortError') report(key, err);
    });
  }

  async attempt(key, fn) {
    this.keys.add(key);
    try {
      const r = await fn();
      clear(key);
      return r;
    } catch (err) {
      if (err.name !== 'AbortError') report(key, err);
      return undefined;
    }
  }

  fail(key, err) {
    this.keys.add(key);
    report(key, err);
  }

  ok(key) {
    clear(key);
  }

  close() {
    this.controller.abort();
    for (const k of this.keys) clear(k);
  }
}

let current = null;
function route() {
  current?.close();
  current = new ViewContext();
  const hash = location.hash || '#/';
  const root = document.getElementById('view');
  root.replaceChildren();
  for (const [re, nav, mount] of routes) {
    const m = hash.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll('[data-nav]')) {
      a.classList.toggle('active', a.dataset.nav === nav);
    }
    document.body.dataset.view = nav;
    let args;
    try {
      args = m.slice(1).map(decodeURIComponent);
    } catch {
      break;  // a malformed %-escape names no page
    }
    mount(root, current, ...args);
    return;
  }
  root.textContent = 'No such page: ' + hash;
}

// Which node serves the page, and how many members it sees alive.
async function watchSelf() {
  const served = document.getElementById('served');
  for (;;) {
    try {
      const [self, health] = await Promise.all([getJSON('/v1/agent/self'), getJSON('/v1/health')]);
      served.textContent = `served by ${self.name} · ${self.addr} · ${health.members_alive} alive · v${self.version}`;
      clear('self');
    } catch (err) {
      report('self', err);
    }
    await sleep(5000);
  }
}

// Sign in: the API answered 401, so ask for a token (docs/security.md; `shoal token create
// --scope read` makes one for watching), check it, keep it, and show the page again.
let signingIn = false;
function signIn(why) {
  if (signingIn) return;
  signingIn = true;
  current?.close();
  const input = h('input', {type: 'password', id: 'token', autocomplete: 'off', size: 70,
                            placeholder: 'shoal_…'});
  const error = h('p', {class: 'error', id: 'signin-error'}, token() ? why : '');
  const form = h('form', {class: 'signin', id: 'signin', onsubmit: async e => {
    e.preventDefault();
    setToken(input.value.trim());
    try {
      await getJSON('/v1/token');
      signingIn = false;
      showSignOut();
      route();
    } catch (err) {
      setToken('');
      error.textContent = err.message;
    }
  }},
    h('h2', {}, 'Sign in'),
    h('p', {}, 'This node needs an API token. Any scope works for watching; ',
      h('code', {}, 'shoal token create --scope read'), ' makes one.'),
    input, ' ', h('button', {type: 'submit'}, 'Sign in'), error);
  document.getElementById('view').replaceChildren(form);
  input.focus();
}

function showSignOut() {
  const out = document.getElementById('signout');
  out.hidden = !token();
}

document.getElementById('signout').addEventListener('click', () => {
  setToken('');
  showSignOut();
  signIn('');
});
onUnauthorized(signIn);
window.addEventListener('hashchange', () => { if (!signingIn) route(); });
showSignOut();
route();
watchSelf();
