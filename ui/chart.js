// A small SVG line chart for time series: CPU and memory over the last minutes. No
// library: a few paths, a grid and a legend are all the dashboard needs.

const NS = 'http://www.w3.org/2000/svg';
const W = 640, H = 170, LEFT = 58, RIGHT = 8, TOP = 10, BOTTOM = 22;
export const PALETTE = ['#0b7fa6', '#d9822b', '#3a9b5b', '#b8486b', '#7159c1', '#8a8a2e',
                        '#2e8a8a', '#c4473a', '#5a6b7b', '#a0522d'];

function svg(tag, attrs) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

// 0, 1, 2, 5 × 10^k above `v`, so grid lines fall on round numbers.
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const MIN_SPAN_MS = 60 * 1000;

function spanLabel(ms) {
  const s = Math.round(ms / 1000);
  return s < 120 ? `−${s}s` : `−${Math.round(s / 60)}m`;
}

// series: [{name, points: [[ms, value], ...]}], oldest first. opts.format turns a value
// into a label; opts.spanMs is the most time shown, ending now (less while the samples
// cover less, down to a minute); opts.max fixes the top.
export function lineChart(series, opts) {
  const {format = String, max, title} = opts || {};
  const now = Date.now();
  let oldest = now;
  for (const s of series) if (s.points.length) oldest = Math.min(oldest, s.points[0][0]);
  const spanMs = Math.max(MIN_SPAN_MS, Math.min(opts?.spanMs ?? 5 * 60 * 1000, now - oldest));
  const t0 = now - spanMs;
  let top = max ?? 0;
  if (max === undefined) {
    for (const s of series) for (const [t, v] of s.points) if (t >= t0 && v > top) top = v;
    top = niceMax(top);
  }
  const x = t => LEFT + (W - LEFT - RIGHT) * (t - t0) / spanMs;
  const y = v => TOP + (H - TOP - BOTTOM) * (1 - Math.min(v, top) / top);

  const root = svg('svg', {viewBox: `0 0 ${W} ${H}`, class: 'chart-svg', role: 'img'});
  if (title) root.append(Object.assign(svg('title', {}), {textContent: title}));
  for (const f of [0, 0.5, 1]) {
    const yy = y(top * f);
    root.append(svg('line', {x1: LEFT, x2: W - RIGHT, y1: yy, y2: yy, class: 'grid'}));
    const label = svg('text', {x: LEFT - 6, y: yy + 4, class: 'axis', 'text-anchor': 'end'});
    label.textContent = format(top * f);
    root.append(label);
  }
  for (const [t, text] of [[t0, spanLabel(spanMs)], [now, 'now']]) {
    const label = svg('text', {x: x(t), y: H - 6, class: 'axis',
                               'text-anchor': t === now ? 'end' : 'start'});
    label.textContent = text;
    root.append(label);
  }
  series.forEach((s, i) => {
    // A gap in the samples longer than a few periods breaks the line instead of bridging it.
    let d = '', last = null;
    for (const [t, v] of s.points) {
      if (t < t0 || v === undefined || v === null) { last = null; continue; }
      d += `${last === null || t - last > 15000 ? 'M' : 'L'}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
      last = t;
    }
    if (d) {
      root.append(svg('path', {d, class: 'line', stroke: PALETTE[i % PALETTE.length]}));
    }
  });

  const legend = document.createElement('div');
  legend.className = 'legend';
  series.forEach((s, i) => {
    const item = document.createElement('span');
    const swatch = document.createElement('i');
    swatch.style.background = PALETTE[i % PALETTE.length];
    const latest = s.points.length ? s.points[s.points.length - 1][1] : undefined;
    item.append(swatch, `${s.name} ${latest === undefined || latest === null ? '' : format(latest)}`);
    legend.append(item);
  });
  const box = document.createElement('div');
  box.className = 'chart';
  box.dataset.series = String(series.length);
  box.append(root, legend);
  return box;
}
