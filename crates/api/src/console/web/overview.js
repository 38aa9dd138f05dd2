// Overview: daemon state, routes with readiness and fix, runs in flight, spend today and
// this month, and recent failures with their codes.
import { api, attempt, badge, el, fill, usd, when } from './api.js';

function fact(dl, term, value) {
  dl.append(el('dt', {}, term), el('dd', {}, value));
}

function today() {
  return new Date().toISOString().slice(0, 10);
}

async function status() {
  const s = await api('GET', '/v1/status');
  const dl = document.getElementById('state');
  dl.replaceChildren();
  fact(dl, 'State', el('span', { class: s.state === 'ready' ? 'ok' : 'bad' }, s.state));
  if (s.degraded) fact(dl, 'Degraded', s.degraded);
  fact(dl, 'Version', s.version);
  fact(dl, 'Active model', `${s.active.route} · ${s.active.model}`);
  fact(dl, 'Runs in flight', String(s.active_runs));
  dl.removeAttribute('aria-busy');
  const rows = s.routes.map((r) => el('tr', {},
    el('td', {}, el('code', {}, r.id), r.is_default ? ' (default)' : ''),
    el('td', {}, el('code', {}, r.default_model)),
    el('td', {}, el('span', { class: r.ready ? 'ok' : 'bad' }, r.ready ? 'ready' : 'not ready')),
    el('td', {}, r.reason ?? '', r.fix ? el('div', { class: 'muted' }, `Fix: ${r.fix}`) : '')));
  fill(document.querySelector('#routes tbody'), rows);
}

async function inFlight() {
  const lists = await Promise.all(['running', 'queued'].map((st) => api('GET', `/v1/runs?status=${st}&limit=20`)));
  const runs = lists.flatMap((l) => l.runs);
  fill(document.getElementById('in-flight'), runs.length
    ? runs.map((r) => el('li', {}, el('a', { href: `/ui/runs?id=${encodeURIComponent(r.id)}` },
      badge(r.status), ' ', el('code', {}, r.id), ` · ${r.session_id}`)))
    : el('li', { class: 'muted' }, 'Nothing running.'));
}

async function spend() {
  const dl = document.getElementById('spend');
  try {
    const month = `${today().slice(0, 7)}-01`;
    const [day, period] = await Promise.all([
      api('GET', `/v1/spend?by=route&since=${today()}`),
      api('GET', `/v1/spend?by=route&since=${month}`),
    ]);
    dl.replaceChildren();
    fact(dl, 'Today (UTC)', usd(day.total_usd));
    fact(dl, 'This month', usd(period.total_usd));
    fact(dl, 'Calls this month', String(period.groups.reduce((n, g) => n + g.calls, 0)));
  } catch (err) {
    fill(dl, el('dd', { class: 'muted' }, err.status === 403 ? 'Spend needs the admin scope.' : err.message));
  }
}

async function failures() {
  const { runs } = await api('GET', '/v1/runs?status=failed&limit=10');
  const rows = runs.map((r) => el('tr', {},
    el('td', {}, el('a', { href: `/ui/runs?id=${encodeURIComponent(r.id)}` }, el('code', {}, r.id))),
    el('td', {}, r.session_id),
    el('td', {}, el('code', { class: 'bad' }, r.error?.code ?? '—')),
    el('td', {}, r.error?.message ?? ''),
    el('td', {}, when(r.finished_at ?? r.created_at))));
  fill(document.querySelector('#failures tbody'), rows.length ? rows : el('tr', {}, el('td', { colspan: 5, class: 'muted' }, 'No failed runs.')));
}

attempt(() => Promise.all([status(), inFlight(), spend(), failures()]));
