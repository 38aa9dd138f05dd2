// Keys: create (the secret is shown once, then only kept in this page's memory until
// dismissed), the list with budgets as usage bars, and revoke.
import { api, attempt, el, fill, usd, when } from './api.js';

const form = document.getElementById('create');
const secretBox = document.getElementById('secret');
const secretValue = document.getElementById('secret-value');

function usageBar(k) {
  if (k.budget_usd === null || k.budget_usd === undefined) return el('span', { class: 'muted' }, `no budget · ${usd(k.spent_usd)} spent`);
  const used = k.spent_usd + k.reserved_usd;
  const pct = k.budget_usd > 0 ? Math.min(100, (used / k.budget_usd) * 100) : 100;
  const bar = el('span', { class: `bar${pct >= 100 ? ' over' : ''}`, role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': k.budget_usd,
    'aria-valuenow': used, 'aria-label': `${k.name} budget used` }, el('span', {}));
  // Width without inline style (CSP style-src 'self'): set through the CSSOM.
  bar.firstChild.style.width = `${pct}%`;
  return el('div', {}, bar, el('div', { class: 'muted' },
    `${usd(k.spent_usd)} of ${usd(k.budget_usd)} per ${k.period}`, k.resets_at ? ` · resets ${when(k.resets_at)}` : ''));
}

function row(k) {
  const limits = [k.rpm ? `${k.rpm} rpm` : '', k.tpm ? `${k.tpm} tpm` : '', k.routes.length ? `routes ${k.routes.join(', ')}` : '',
    k.models.length ? `models ${k.models.join(', ')}` : ''].filter(Boolean).join(' · ') || '—';
  const state = k.revoked ? el('span', { class: 'bad' }, 'revoked') : k.expires_at ? `expires ${when(k.expires_at)}` : el('span', { class: 'ok' }, 'active');
  return el('tr', { dataset: { key: k.id } },
    el('td', {}, k.name),
    el('td', {}, el('code', {}, k.id), el('div', { class: 'muted' }, el('code', {}, k.hint))),
    el('td', {}, k.scopes.join(', ')),
    el('td', {}, usageBar(k)),
    el('td', {}, limits),
    el('td', { class: 'key-state' }, state),
    el('td', {}, k.revoked ? '' : el('button', { type: 'button', class: 'danger revoke', 'aria-label': `Revoke ${k.name}`, onclick: () => attempt(async () => {
      if (!confirm(`Revoke ${k.name} (${k.id})? It stops working at once.`)) return;
      await api('DELETE', `/v1/keys/${encodeURIComponent(k.id)}`);
      await load();
    }) }, 'Revoke')));
}

async function load() {
  const { keys } = await api('GET', '/v1/keys');
  fill(document.querySelector('#keys tbody'), keys.length ? keys.map(row) : el('tr', {}, el('td', { colspan: 7, class: 'muted' }, 'No keys yet.')));
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  attempt(async () => {
    const num = (id) => { const v = document.getElementById(id).value; return v === '' ? undefined : Number(v); };
    const body = {
      name: document.getElementById('name').value.trim(),
      scopes: [...form.querySelectorAll('input[name="scope"]:checked')].map((c) => c.value),
      period: document.getElementById('period').value,
      budget_usd: num('budget'),
      rpm: num('rpm'),
    };
    const expires = document.getElementById('expires').value.trim();
    if (expires) body.expires_in = expires;
    const created = await api('POST', '/v1/keys', body);
    secretValue.textContent = created.secret;
    secretBox.hidden = false;
    document.getElementById('copy-secret').focus();
    form.reset();
    await load();
  });
});
document.getElementById('copy-secret').addEventListener('click', () => attempt(() => navigator.clipboard.writeText(secretValue.textContent)));
document.getElementById('dismiss-secret').addEventListener('click', () => {
  secretValue.textContent = '';
  secretBox.hidden = true;
});

attempt(load);
