// Runs: filter by status (failed included) and session, a run's facts and error, its
// event timeline (replayed, then live over SSE), and cancel for runs still in flight.
import { api, attempt, badge, el, fill, follow, pager, picker, query, setQuery, usd, when } from './api.js';

const statusSel = document.getElementById('status');
const sessionIn = document.getElementById('session');
const list = document.getElementById('run-list');
const more = document.getElementById('more-runs');
const heading = document.getElementById('h-run');
const detail = document.getElementById('run-detail');
const timeline = document.getElementById('timeline');
let stop = () => {};

statusSel.value = query().get('status') ?? '';
sessionIn.value = query().get('session') ?? '';

const mark = picker(list, 'run', loadRun);
const loadList = pager({
  list,
  more,
  path: '/v1/runs',
  params: () => {
    const q = new URLSearchParams({ limit: '50' });
    if (statusSel.value) q.set('status', statusSel.value);
    if (sessionIn.value.trim()) q.set('session', sessionIn.value.trim());
    return q;
  },
  items: (page) => page.runs,
  render: (r) => el('li', {}, el('a', { href: `?id=${encodeURIComponent(r.id)}`, dataset: { run: r.id } },
    badge(r.status), ' ', el('code', {}, r.id), el('div', { class: 'muted' }, `${r.session_id} · ${when(r.created_at)}`))),
  empty: 'No runs match.',
});

function facts(run) {
  const dl = el('dl', { class: 'facts' });
  const add = (k, v) => { if (v !== undefined && v !== null && v !== '') dl.append(el('dt', {}, k), el('dd', {}, v)); };
  add('Status', badge(run.status));
  add('Session', el('a', { href: `/ui/sessions?id=${encodeURIComponent(run.session_id)}` }, run.session_id));
  add('Route', run.route);
  add('Model', run.model_served ?? run.model_requested);
  add('Created', when(run.created_at));
  add('Finished', run.finished_at ? when(run.finished_at) : '');
  add('Cost', run.cost === null || run.cost === undefined ? '' : usd(run.cost));
  if (run.usage) add('Tokens', `${run.usage.prompt_tokens ?? 0} in · ${run.usage.completion_tokens ?? 0} out`);
  add('Input', run.input?.content ?? '');
  return dl;
}

function renderRun(run) {
  heading.textContent = `Run ${run.id}`;
  const parts = [facts(run)];
  if (run.error) {
    parts.push(el('div', { class: 'error run-error', role: 'alert' },
      el('strong', {}, 'Failed: '), el('code', { class: 'error-code' }, run.error.code), ' ',
      el('span', { class: 'error-message' }, run.error.message)));
  }
  if (run.output?.text) parts.push(el('h3', {}, 'Output'), el('p', { class: 'text' }, run.output.text));
  if (run.status === 'queued' || run.status === 'running') {
    parts.push(el('button', { type: 'button', class: 'danger', id: 'cancel', onclick: () => attempt(async () => {
      renderRun(await api('POST', `/v1/runs/${encodeURIComponent(run.id)}/cancel`));
    }) }, 'Cancel run'));
  }
  fill(detail, parts);
}

async function loadRun(id) {
  setQuery({ id });
  mark(id);
  stop();
  timeline.replaceChildren();
  renderRun(await api('GET', `/v1/runs/${encodeURIComponent(id)}`));
  stop = follow(id, (kind, data, seq) => {
    const body = JSON.stringify(data);
    timeline.append(el('li', { dataset: { kind } }, el('span', { class: 'kind' }, kind), ` #${seq}`,
      body && body !== '{}' ? el('pre', {}, body.length > 600 ? `${body.slice(0, 600)}…` : body) : ''));
  }, () => attempt(async () => renderRun(await api('GET', `/v1/runs/${encodeURIComponent(id)}`))));
}

document.getElementById('filter').addEventListener('submit', (ev) => {
  ev.preventDefault();
  setQuery({ status: statusSel.value, session: sessionIn.value.trim() });
  attempt(() => loadList(true));
});
statusSel.addEventListener('change', () => {
  setQuery({ status: statusSel.value });
  attempt(() => loadList(true));
});

attempt(async () => {
  await loadList(true);
  const id = query().get('id');
  if (id) await loadRun(id);
});
