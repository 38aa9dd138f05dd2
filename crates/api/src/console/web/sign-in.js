// Sign-in: posts the token or key as JSON to /ui/sign-in; the daemon answers with an
// HttpOnly session cookie, then the console opens the page asked for.
import { ApiError } from './api.js';

const form = document.getElementById('sign-in');
const input = document.getElementById('credential');
const error = document.getElementById('sign-in-error');

/** Only console pages are followed after sign-in (no open redirect). */
function next() {
  const n = new URLSearchParams(location.search).get('next') ?? '';
  return /^\/ui\/[A-Za-z0-9\-/?=&%._]*$/.test(n) && !n.startsWith('//') ? n : '/ui/';
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  error.hidden = true;
  const button = form.querySelector('button');
  button.disabled = true;
  try {
    const resp = await fetch('/ui/sign-in', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Ferry-Client': 'console' },
      credentials: 'same-origin',
      body: JSON.stringify({ credential: input.value }),
    });
    if (!resp.ok) {
      const p = await resp.json().catch(() => ({}));
      throw new ApiError(resp.status, p.code ?? 'http_error', p.detail ?? resp.statusText);
    }
    input.value = '';
    location.assign(next());
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
    input.focus();
  } finally {
    button.disabled = false;
  }
});
