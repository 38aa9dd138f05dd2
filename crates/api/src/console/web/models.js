// Models: a route's catalog (GET /v1/models, cached from OpenRouter), filtered by
// modality and search on the server, by price and context length here.
import { api, attempt, el, fill, query, setQuery } from './api.js';

const route = document.getElementById('route');
const modality = document.getElementById('modality');
const search = document.getElementById('search');
const maxPrice = document.getElementById('max-price');
const minContext = document.getElementById('min-context');
const note = document.getElementById('catalog-note');

/** USD per million tokens from OpenRouter's per-token price string. */
function perMillion(p) {
  const v = Number(p);
  return p === undefined || p === null || Number.isNaN(v) ? null : v * 1e6;
}

function price(v) {
  return v === null ? '—' : v === 0 ? 'free' : `$${v.toFixed(v < 1 ? 3 : 2)}`;
}

async function load() {
  const q = new URLSearchParams();
  if (route.value) q.set('route', route.value);
  if (modality.value) q.set('modality', modality.value);
  if (search.value.trim()) q.set('search', search.value.trim());
  setQuery({ route: route.value, modality: modality.value, search: search.value.trim(), max_price: maxPrice.value, min_context: minContext.value });
  const view = await api('GET', `/v1/models?${q}`);
  const cap = maxPrice.value === '' ? Infinity : Number(maxPrice.value);
  const floor = minContext.value === '' ? 0 : Number(minContext.value);
  const models = view.models.filter((m) => {
    const p = perMillion(m.pricing?.prompt);
    return (p === null ? cap === Infinity : p <= cap) && (m.context_length ?? 0) >= floor;
  });
  note.textContent = `${models.length} of ${view.models.length} models on route ${view.route}${view.stale ? ' (catalog is stale)' : ''}${view.refresh_error ? ` · refresh failed: ${view.refresh_error}` : ''}`;
  fill(document.querySelector('#models tbody'), models.map((m) => el('tr', { dataset: { model: m.id } },
    el('td', {}, el('code', {}, m.id), el('div', { class: 'muted' }, m.name ?? '')),
    el('td', { class: 'num' }, m.context_length ? m.context_length.toLocaleString() : '—'),
    el('td', { class: 'num' }, price(perMillion(m.pricing?.prompt))),
    el('td', { class: 'num' }, price(perMillion(m.pricing?.completion))),
    el('td', {}, (m.input_modalities ?? []).join(', ')),
    el('td', {}, (m.output_modalities ?? []).join(', ')))));
}

attempt(async () => {
  const status = await api('GET', '/v1/status');
  fill(route, status.routes.map((r) => el('option', { value: r.id, selected: r.is_default }, r.id)));
  const q = query();
  if (q.get('route')) route.value = q.get('route');
  modality.value = q.get('modality') ?? '';
  search.value = q.get('search') ?? '';
  maxPrice.value = q.get('max_price') ?? '';
  minContext.value = q.get('min_context') ?? '';
  await load();
});
document.getElementById('filter').addEventListener('submit', (ev) => { ev.preventDefault(); attempt(load); });
modality.addEventListener('change', () => attempt(load));
route.addEventListener('change', () => attempt(load));
