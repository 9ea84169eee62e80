// Builds elements from data without ever parsing it as HTML: app names, tags and log
// lines come from users and apps, so text goes in as text nodes only.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    // Through the CSSOM: the page's policy refuses style attributes (no inline style).
    else if (k === 'style') Object.assign(el.style, v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// Replaces the children of `el`.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// A coloured word for a state: running, failed, alive, leader...
export function pill(state, text) {
  return h('span', {class: 'pill s-' + String(state).replace(/[^a-z_-]/gi, '')}, text ?? state);
}

// A horizontal gauge: fraction 0..1, with a label.
export function gauge(fraction, label, title) {
  const f = Math.max(0, Math.min(1, fraction || 0));
  const level = f > 0.9 ? 'hot' : f > 0.7 ? 'warm' : 'ok';
  return h('div', {class: 'gauge', title},
    h('div', {class: 'gauge-bar ' + level, style: {width: (f * 100).toFixed(1) + '%'}}),
    h('span', {class: 'gauge-label'}, label));
}

export function table(headers, rows, attrs) {
  return h('table', attrs,
    h('thead', null, h('tr', null, headers.map(x => h('th', null, x)))),
    h('tbody', null, rows));
}

export function section(title, ...body) {
  return h('section', {class: 'panel'}, h('h2', null, title), ...body);
}
