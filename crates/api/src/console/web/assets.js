// Assets: a gallery with thumbnails and players (served by /v1/assets/{id}/raw), filter
// by kind, upload, download and delete.
import { api, attempt, el, pager, upload, when } from './api.js';
import { preview, rawUrl } from './media.js';

const gallery = document.getElementById('gallery');
const more = document.getElementById('more-assets');
const kind = document.getElementById('kind');

function size(n) {
  return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`;
}

function card(a) {
  const name = a.file_name ?? a.id;
  const li = el('li', { dataset: { asset: a.id, type: a.media_type } },
    el('div', { class: 'thumb' }, preview(a.id, a.media_type, name)),
    el('div', {}, el('code', {}, a.id)),
    el('div', { class: 'meta' }, `${a.media_type} · ${size(a.size)} · ${a.source} · ${when(a.created_at)}`),
    el('div', { class: 'row' },
      el('a', { href: rawUrl(a.id), download: name, class: 'download' }, 'Download'),
      el('button', { type: 'button', class: 'secondary delete', 'aria-label': `Delete ${name}`, onclick: () => attempt(async () => {
        if (!confirm(`Delete ${name}? Runs that used it will show a note instead.`)) return;
        await api('DELETE', `/v1/assets/${encodeURIComponent(a.id)}`);
        li.remove();
      }) }, 'Delete')));
  return li;
}

const load = pager({
  list: gallery,
  more,
  path: '/v1/assets',
  params: () => {
    const q = new URLSearchParams({ limit: '60' });
    if (kind.value) q.set('kind', kind.value);
    return q;
  },
  items: (page) => page.assets,
  render: card,
  empty: 'No assets.',
});

kind.addEventListener('change', () => attempt(() => load(true)));
document.getElementById('upload').addEventListener('change', (ev) => attempt(async () => {
  for (const f of ev.target.files) await upload(f);
  ev.target.value = '';
  await load(true);
}));

attempt(() => load(true));
