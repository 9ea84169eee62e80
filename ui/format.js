// Numbers for people: bytes, CPU, durations and times, as the CLI prints them.

export function bytes(n) {
  if (n === undefined || n === null || Number.isNaN(n) || n < 0) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(Math.round(n)) : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
}

export function millis(n) {
  if (n === undefined || n === null || n < 0) return '–';
  return (n >= 100 ? Math.round(n) : n.toFixed(1)) + 'm';
}

export function percent(n) {
  if (n === undefined || n === null || n < 0) return '–';
  return (n >= 10 ? Math.round(n) : n.toFixed(1)) + '%';
}

// "3s", "5m", "2h", "4d": how long ago, or how long for.
export function span(ms) {
  if (ms === undefined || ms === null || ms < 0) return '–';
  const s = Math.floor(ms / 1000);
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm';
  if (s < 86400) return Math.floor(s / 3600) + 'h';
  return Math.floor(s / 86400) + 'd';
}

export function clock(ms) {
  const d = new Date(ms);
  return d.toLocaleTimeString([], {hour12: false});
}

export function dateTime(ms) {
  const d = new Date(ms);
  return d.toLocaleDateString([], {month: 'short', day: 'numeric'}) + ' ' + clock(ms);
}
