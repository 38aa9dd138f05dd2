// Asset previews: images shown, audio and video playable, everything else a download link,
// all through the asset content endpoint (/v1/assets/{id}/raw).
import { el } from './api.js';

export function rawUrl(id) {
  return `/v1/assets/${encodeURIComponent(id)}/raw`;
}

/** An inline preview of an asset given its id and media type. */
export function preview(id, mediaType, label) {
  const src = rawUrl(id);
  const type = mediaType ?? '';
  const name = label ?? id;
  if (type.startsWith('image/')) {
    return el('img', { src, alt: `image ${name}`, loading: 'lazy', width: 320, height: 240, dataset: { asset: id } });
  }
  if (type.startsWith('audio/')) {
    return el('audio', { src, controls: true, preload: 'metadata', 'aria-label': `audio ${name}`, dataset: { asset: id } });
  }
  if (type.startsWith('video/')) {
    return el('video', { src, controls: true, preload: 'metadata', 'aria-label': `video ${name}`, dataset: { asset: id } });
  }
  return el('a', { href: src, download: name, dataset: { asset: id } }, `${name} (${type || 'file'})`);
}
