// A stacked bar chart as inline SVG: one bar per day, one colour per series (model, key,
// route or kind), each segment titled with its value, and a legend. Drawn once per query.
import { el, usd } from './api.js';

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * rows: [{group: day, split: series, cost_usd}]; returns a <div> with the SVG and legend.
 */
export function stackedBars(rows, label) {
  const days = [...new Set(rows.map((r) => r.group))].sort();
  const totals = new Map();
  for (const r of rows) totals.set(r.split ?? '—', (totals.get(r.split ?? '—') ?? 0) + r.cost_usd);
  const series = [...totals.keys()].sort((a, b) => totals.get(b) - totals.get(a));
  const colour = (s) => `c${series.indexOf(s) % 8}`;
  const perDay = new Map(days.map((d) => [d, rows.filter((r) => r.group === d)]));
  const max = Math.max(1e-9, ...days.map((d) => perDay.get(d).reduce((n, r) => n + r.cost_usd, 0)));
  const W = 720; const H = 260; const left = 64; const bottom = 40; const top = 10;
  const plotW = W - left - 10; const plotH = H - bottom - top;
  const step = plotW / Math.max(days.length, 1);
  const barW = Math.max(4, Math.min(48, step * 0.7));
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label });
  root.append(svg('title', {}, label));
  for (const f of [0, 0.5, 1]) {
    const y = top + plotH - f * plotH;
    root.append(svg('line', { x1: left, x2: W - 10, y1: y, y2: y, class: 'axis' }));
    root.append(svg('text', { x: left - 6, y: y + 4, 'text-anchor': 'end', class: 'tick' }, usd(max * f)));
  }
  days.forEach((day, i) => {
    const x = left + i * step + (step - barW) / 2;
    let y = top + plotH;
    const bar = svg('g', { class: 'day', 'data-day': day });
    for (const r of perDay.get(day).sort((a, b) => series.indexOf(a.split ?? '—') - series.indexOf(b.split ?? '—'))) {
      const h = Math.max(1, (r.cost_usd / max) * plotH);
      y -= h;
      const rect = svg('rect', { x, y, width: barW, height: h, class: `seg ${colour(r.split ?? '—')}`, 'data-series': r.split ?? '—', 'data-cost': r.cost_usd });
      rect.append(svg('title', {}, `${day} · ${r.split ?? '—'}: ${usd(r.cost_usd)} (${r.calls} calls)`));
      bar.append(rect);
    }
    root.append(bar);
    if (days.length <= 16 || i % Math.ceil(days.length / 16) === 0) {
      root.append(svg('text', { x: x + barW / 2, y: H - bottom + 16, 'text-anchor': 'middle', class: 'tick' }, day.slice(5)));
    }
  });
  const legend = el('ul', { class: 'legend' }, series.map((s) => el('li', {},
    el('span', { class: `swatch ${colour(s)}`, 'aria-hidden': 'true' }), `${s}: ${usd(totals.get(s))}`)));
  const box = el('div', {});
  box.append(root, legend);
  return box;
}
