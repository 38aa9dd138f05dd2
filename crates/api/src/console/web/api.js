// The console's one way to the daemon: the public /v1 JSON API and its SSE event streams.
// Every write carries X-Ferry-Client (not a simple request) and, when signed in, the
// session's CSRF token (X-Ferry-Csrf) the page was served with. DOM is built with el(),
// which only ever sets text (never HTML), so nothing the API returns is run as markup.

const csrf = document.querySelector('meta[name="ferry-csrf"]')?.content ?? '';

/** A problem+json answer as an Error: status, code, detail. */
export class ApiError extends Error {
  constructor(status, code, detail) {
    super(`${detail} (${code}, HTTP ${status})`);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

function headers(extra = {}) {
  const h = { 'X-Ferry-Client': 'console', ...extra };
  if (csrf) h['X-Ferry-Csrf'] = csrf;
  return h;
}

async function answer(resp) {
  if (resp.status === 401) {
    const next = location.pathname + location.search;
    location.assign(`/ui/sign-in?next=${encodeURIComponent(next)}`);
    throw new ApiError(401, 'unauthorized', 'sign in again');
  }
  if (resp.status === 204) return null;
  const type = resp.headers.get('content-type') ?? '';
  const body = type.includes('json') ? await resp.json() : await resp.text();
  if (!resp.ok) {
    const p = typeof body === 'object' && body ? body : {};
    throw new ApiError(resp.status, p.code ?? 'http_error', p.detail ?? String(body).slice(0, 300));
  }
  return body;
}

/** Calls the API: api('GET', '/v1/status'), api('POST', '/v1/keys', {name}). */
export async function api(method, path, body) {
  const init = { method, headers: headers(), credentials: 'same-origin' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  return answer(await fetch(path, init));
}

/** Uploads a File as an asset (raw body with its type); resolves to the asset view. */
export async function upload(file) {
  const q = new URLSearchParams({ file_name: file.name });
  const init = {
    method: 'POST',
    headers: headers({ 'Content-Type': file.type || 'application/octet-stream' }),
    credentials: 'same-origin',
    body: file,
  };
  return answer(await fetch(`/v1/assets?${q}`, init));
}

const TERMINAL = ['run.completed', 'run.failed', 'run.cancelled'];
const KINDS = ['run.started', 'output.delta', 'reasoning.delta', 'tool.started', 'tool.progress',
  'tool.completed', 'asset.created', 'attempt.failed', 'fallback', ...TERMINAL];

/**
 * Follows a run's events (replay, then live) with EventSource; calls on(kind, data, seq)
 * for each and done() once when the run has ended. Returns a function that stops.
 */
export function follow(runId, on, done = () => {}) {
  const source = new EventSource(`/v1/runs/${encodeURIComponent(runId)}/events`);
  let ended = false;
  const end = () => {
    if (!ended) { ended = true; source.close(); done(); }
  };
  const handle = (ev) => {
    let data = {};
    try { data = JSON.parse(ev.data); } catch { data = { raw: ev.data }; }
    on(ev.type, data, Number(ev.lastEventId));
    if (TERMINAL.includes(ev.type)) end();
  };
  for (const kind of KINDS) source.addEventListener(kind, handle);
  source.onmessage = handle;
  // The stream also ends for runs that ended without a terminal event (interrupted):
  // look at the run instead of letting EventSource reconnect forever.
  source.onerror = async () => {
    if (ended) return;
    try {
      const run = await api('GET', `/v1/runs/${encodeURIComponent(runId)}`);
      if (!['queued', 'running'].includes(run.status)) end();
    } catch { end(); }
  };
  return end;
}

/** Builds an element: el('a', {href, class: 'x'}, 'text', child). Text only, never HTML. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** Replaces an element's children. */
export function fill(node, ...children) {
  node.replaceChildren();
  for (const c of children.flat()) if (c) node.append(c instanceof Node ? c : String(c));
}

/** Shows an error in the page's alert area (or hides it with null). */
export function problem(err) {
  const box = document.getElementById('problem');
  if (!box) return;
  box.hidden = !err;
  box.textContent = err ? (err.message ?? String(err)) : '';
}

/** Runs an async action, showing its failure; returns its result or undefined. */
export async function attempt(fn) {
  try {
    problem(null);
    return await fn();
  } catch (err) {
    problem(err);
    return undefined;
  }
}

export function usd(n) {
  if (n === null || n === undefined) return '—';
  const v = Number(n);
  return v !== 0 && Math.abs(v) < 0.01 ? `$${v.toFixed(6)}` : `$${v.toFixed(2)}`;
}

export function when(t) {
  if (!t) return '—';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toLocaleString();
}

export function badge(status) {
  return el('span', { class: `badge status-${status}` }, status);
}

/**
 * A paged list (`next_cursor` pagination): load(true) starts over, the "Load more" button
 * appends the next page. `params()` gives the query, `items(page)` the page's rows,
 * `render(row)` one element; `empty` is shown when nothing matched.
 */
export function pager({ list, more, path, params, items, render, empty }) {
  let cursor = null;
  async function load(reset) {
    if (reset) { cursor = null; list.replaceChildren(); }
    const q = params();
    if (cursor) q.set('cursor', cursor);
    const page = await api('GET', `${path}?${q}`);
    for (const row of items(page)) list.append(render(row));
    if (!list.children.length) list.append(el('li', { class: 'muted' }, empty));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  }
  more.addEventListener('click', () => attempt(() => load(false)));
  return load;
}

/**
 * Makes a list's links (`a[data-KEY]`) open in place with open(value) instead of loading
 * a page; returns mark(value), which flags the current link (`aria-current`).
 */
export function picker(list, key, open) {
  list.addEventListener('click', (ev) => {
    const a = ev.target.closest(`a[data-${key}]`);
    if (!a) return;
    ev.preventDefault();
    attempt(() => open(a.dataset[key]));
  });
  return (value) => {
    for (const a of list.querySelectorAll(`a[data-${key}]`)) a.setAttribute('aria-current', a.dataset[key] === value ? 'true' : 'false');
  };
}

/** Reads and writes the page's query string (history.replaceState, no reload). */
export function query() {
  return new URLSearchParams(location.search);
}
export function setQuery(params) {
  const q = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') q.delete(k); else q.set(k, v);
  }
  const s = q.toString();
  history.replaceState(null, '', s ? `?${s}` : location.pathname);
}

// Sign out, on every page that shows the button.
document.getElementById('sign-out')?.addEventListener('click', async () => {
  await attempt(() => api('POST', '/ui/sign-out'));
  location.assign('/ui/sign-in');
});
