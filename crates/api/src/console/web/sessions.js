// Sessions: the list, a session's transcript (its runs: input and answer, media inline),
// and the composer: files are uploaded as assets, the input is submitted as a detached run
// and its answer streams into one bubble in place (text appended, tool activity listed,
// media added as assets are created), so nothing above it moves.
import { api, attempt, badge, el, follow, pager, picker, query, setQuery, upload } from './api.js';
import { preview } from './media.js';

const list = document.getElementById('session-list');
const more = document.getElementById('more-sessions');
const title = document.getElementById('h-session');
const transcript = document.getElementById('transcript');
const form = document.getElementById('send');
const content = document.getElementById('content');
const files = document.getElementById('files');
const sendButton = document.getElementById('send-button');
const sendStatus = document.getElementById('send-status');
let current = query().get('id') ?? '';

function link(id) {
  return el('a', { href: `?id=${encodeURIComponent(id)}`, 'aria-current': id === current ? 'true' : false, dataset: { session: id } }, id);
}

const mark = picker(list, 'session', loadSession);
const loadList = pager({
  list,
  more,
  path: '/v1/sessions',
  params: () => new URLSearchParams({ limit: '50' }),
  items: (page) => page.sessions,
  render: (s) => el('li', {}, link(s.id)),
  empty: 'No sessions yet: type an id above to start one.',
});

/**
 * Appends to the transcript (a fixed-height scroll box, so nothing outside it moves) and
 * keeps it scrolled to the end unless the reader has scrolled up.
 */
function append(...items) {
  stickToEnd(() => transcript.append(...items));
}

/** Runs a change to the transcript, then scrolls to its end if the reader was there. */
function stickToEnd(change) {
  const atEnd = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
  change();
  if (atEnd) transcript.scrollTop = transcript.scrollHeight;
}

/** A media strip for asset parts (`{asset_id, media_type}`). */
function mediaStrip(parts) {
  const strip = el('div', { class: 'media' });
  for (const p of parts) strip.append(preview(p.asset_id, p.media_type));
  return strip;
}

/** The user's side of a run: its text and attachments (types looked up per asset). */
function userBubble(input) {
  const strip = el('div', { class: 'media' });
  for (const a of input?.attachments ?? []) {
    if (!a.asset_id) continue;
    api('GET', `/v1/assets/${encodeURIComponent(a.asset_id)}`)
      .then((v) => strip.append(preview(v.id, v.media_type, v.file_name ?? v.id)))
      .catch(() => strip.append(el('span', { class: 'muted' }, `${a.asset_id} (deleted)`)));
  }
  return el('li', { class: 'msg msg-user' }, el('div', { class: 'role' }, 'you'),
    el('div', { class: 'text' }, input?.content ?? ''), strip);
}

/** The answer's parts: text parts and assets, or the plain text. */
function answerBody(output) {
  const parts = output?.parts ?? [];
  const hasText = parts.some((p) => p.type === 'text');
  const text = hasText ? parts.filter((p) => p.type === 'text').map((p) => p.text).join('\n') : (output?.text ?? '');
  return [el('div', { class: 'text' }, text), mediaStrip(parts.filter((p) => p.type === 'asset'))];
}

function failure(error) {
  return el('p', { class: 'error run-error' }, el('code', {}, error.code), `: ${error.message}`);
}

function pastAnswer(run) {
  const li = el('li', { class: 'msg msg-assistant', dataset: { run: run.id } },
    el('div', { class: 'role' }, 'ferry · ', el('a', { href: `/ui/runs?id=${encodeURIComponent(run.id)}` }, run.id), ' ', badge(run.status)));
  if (run.output) li.append(...answerBody(run.output));
  if (run.error) li.append(failure(run.error));
  return li;
}

async function loadSession(id) {
  current = id;
  setQuery({ id });
  mark(id);
  title.textContent = `Session ${id}`;
  // The form shows once the transcript is in place: an input sent earlier would land above
  // the history that is still loading.
  form.hidden = true;
  transcript.replaceChildren();
  let runs = [];
  try {
    ({ runs } = await api('GET', `/v1/sessions/${encodeURIComponent(id)}/runs?limit=100`));
  } catch (err) {
    if (err.status !== 404) throw err;
  }
  // Another session was opened while this one loaded: its transcript wins.
  if (current !== id) return;
  for (const run of runs) {
    append(userBubble(run.input));
    append(run.status === 'queued' || run.status === 'running' ? liveAnswer(run.id) : pastAnswer(run));
  }
  if (!runs.length) append(el('li', { class: 'muted', id: 'empty' }, 'No messages yet.'));
  transcript.scrollTop = transcript.scrollHeight;
  form.hidden = false;
}

/** A bubble that follows a run live: text appended in place, tool activity, media. */
function liveAnswer(runId) {
  const text = document.createTextNode('');
  const activity = el('ul', { class: 'activity', 'aria-label': 'tool activity' });
  const media = el('div', { class: 'media' });
  const state = badge('running');
  const li = el('li', { class: 'msg msg-assistant live', dataset: { run: runId }, 'aria-busy': 'true' },
    el('div', { class: 'role' }, 'ferry · ', el('a', { href: `/ui/runs?id=${encodeURIComponent(runId)}` }, runId), ' ', state),
    el('div', { class: 'text answer' }, text), activity, media);
  const shown = new Set();
  const tools = new Map();
  const show = (id, type) => {
    if (shown.has(id)) return;
    shown.add(id);
    media.append(preview(id, type));
  };
  const tool = (callId) => {
    if (!tools.has(callId)) { const item = el('li', {}); tools.set(callId, item); activity.append(item); }
    return tools.get(callId);
  };
  follow(runId, (kind, data) => stickToEnd(() => {
    if (kind === 'output.delta') text.appendData(data.text ?? '');
    else if (kind === 'tool.started') tool(data.call_id).textContent = `▶ ${data.name} running…`;
    else if (kind === 'tool.progress') tool(data.call_id).textContent = `▶ ${data.name}: ${data.status ?? ''} (${Math.round((data.elapsed_ms ?? 0) / 1000)} s)`;
    else if (kind === 'tool.completed') tool(data.call_id).textContent = data.ok === false ? `✗ ${data.name}: ${data.error?.message ?? 'failed'}` : `✓ ${data.name}`;
    else if (kind === 'asset.created') show(data.asset_id, data.media_type);
    else if (kind === 'run.completed') {
      const out = data.output ?? {};
      const parts = out.parts ?? [];
      const partText = parts.filter((p) => p.type === 'text').map((p) => p.text).join('\n');
      if (!text.data) text.appendData(partText || out.text || '');
      for (const p of parts.filter((x) => x.type === 'asset')) show(p.asset_id, p.media_type);
      state.replaceWith(badge('completed'));
    } else if (kind === 'run.failed') {
      li.append(failure(data));
      state.replaceWith(badge('failed'));
    } else if (kind === 'run.cancelled') state.replaceWith(badge('cancelled'));
  }), () => {
    li.setAttribute('aria-busy', 'false');
    li.classList.add('done');
  });
  return li;
}

async function send() {
  const text = content.value.trim();
  const picked = [...files.files];
  if (!text && !picked.length) { sendStatus.textContent = 'Type a message or attach a file.'; return; }
  sendButton.disabled = true;
  try {
    const attachments = [];
    for (const f of picked) {
      sendStatus.textContent = `Uploading ${f.name}…`;
      const asset = await upload(f);
      attachments.push({ asset_id: asset.id });
    }
    sendStatus.textContent = 'Sending…';
    const body = { content: text };
    if (attachments.length) body.attachments = attachments;
    const run = await api('POST', `/v1/sessions/${encodeURIComponent(current)}/runs`, body);
    document.getElementById('empty')?.remove();
    append(userBubble(run.input ?? body), liveAnswer(run.id));
    content.value = '';
    files.value = '';
    sendStatus.textContent = '';
    if (!list.querySelector(`[data-session="${CSS.escape(current)}"]`)) await loadList(true);
  } finally {
    sendButton.disabled = false;
  }
}

form.addEventListener('submit', (ev) => { ev.preventDefault(); attempt(send); });
content.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); attempt(send); }
});
document.getElementById('new-session').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const id = document.getElementById('new-id').value.trim();
  if (id) attempt(() => loadSession(id)).then(() => content.focus());
});

attempt(async () => {
  await loadList(true);
  if (current) await loadSession(current);
});
