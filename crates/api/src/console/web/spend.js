// Spend: a chart over days split by model, key, route or kind (GET /v1/spend?by=day&split=…)
// and the table grouped the same way (GET /v1/spend?by=…).
import { api, attempt, el, fill, query, setQuery, usd } from './api.js';
import { stackedBars } from './chart.js';

const split = document.getElementById('split');
const since = document.getElementById('since');
const until = document.getElementById('until');
const chart = document.getElementById('chart');

function daysAgo(n) {
  return new Date(Date.now() - n * 86400000).toISOString().slice(0, 10);
}

split.value = query().get('by') ?? 'model';
since.value = query().get('since') ?? daysAgo(29);
until.value = query().get('until') ?? '';

async function load() {
  const q = (extra) => new URLSearchParams({ since: since.value, until: until.value, ...extra });
  const [days, table] = await Promise.all([
    api('GET', `/v1/spend?${q({ by: 'day', split: split.value })}`),
    api('GET', `/v1/spend?${q({ by: split.value })}`),
  ]);
  const label = `Spend per day by ${split.value}, ${since.value || 'start'} to ${until.value || 'now'}: ${usd(days.total_usd)}`;
  fill(chart, days.groups.length ? stackedBars(days.groups, label) : el('p', { class: 'muted' }, 'No spend in this range.'));
  document.getElementById('group-head').textContent = split.value[0].toUpperCase() + split.value.slice(1);
  fill(document.querySelector('#spend-table tbody'), table.groups.map((g) => el('tr', {},
    el('td', {}, el('code', {}, g.group)),
    el('td', { class: 'num' }, String(g.calls)),
    el('td', { class: 'num' }, usd(g.cost_usd), g.estimated_calls ? el('span', { class: 'muted', title: `${g.estimated_calls} calls estimated` }, ' *') : ''),
    el('td', { class: 'num' }, usd(g.billed_usd)),
    el('td', { class: 'num' }, String(g.prompt_tokens)),
    el('td', { class: 'num' }, String(g.completion_tokens)))));
  fill(document.querySelector('#spend-table tfoot'), el('tr', {}, el('th', { scope: 'row' }, 'Total'), el('td', {}),
    el('td', { class: 'num' }, usd(table.total_usd)), el('td', {}), el('td', {}), el('td', {})));
}

document.getElementById('filter').addEventListener('submit', (ev) => {
  ev.preventDefault();
  setQuery({ by: split.value, since: since.value, until: until.value });
  attempt(load);
});
split.addEventListener('change', () => { setQuery({ by: split.value }); attempt(load); });

attempt(load);
