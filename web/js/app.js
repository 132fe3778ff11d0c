// app.js -- the shell: hash routing, navigation state, server status.
//
// Views are modules registered in `routes`; each exports
// render(main, params) and may return a cleanup function that runs when
// the user leaves the view (to close streams, stop timers).
import { api } from './api.js';
import { apply, lang, setLang, t } from './i18n.js';
import * as files from './views/files.js';

const routes = {};
let cleanup = null;

export function register(name, view) {
  routes[name] = view;
}

function notFound(main) {
  main.innerHTML = '';
  const h = document.createElement('h1');
  h.textContent = t('not_found_title');
  const p = document.createElement('p');
  p.textContent = t('not_found_text');
  main.append(h, p);
}

async function route() {
  const [name, ...rest] = (location.hash.replace(/^#\/?/, '') || 'files').split('/');
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.route === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (cleanup) cleanup();
  cleanup = null;
  const main = document.getElementById('main');
  const view = routes[name];
  if (!view) return notFound(main);
  cleanup = (await view.render(main, rest.map(decodeURIComponent))) || null;
}

async function pollStatus() {
  const el = document.getElementById('status');
  try {
    const h = await api.get('/health');
    el.dataset.state = h.status === 'ok' ? 'ok' : 'degraded';
    el.title = t(h.status === 'ok' ? 'status_ok' : 'status_degraded');
  } catch {
    el.dataset.state = 'down';
    el.title = t('status_down');
  }
  el.setAttribute('aria-label', el.title);
}

register('files', files);

function start() {
  const select = document.getElementById('lang');
  select.value = lang();
  select.addEventListener('change', () => {
    setLang(select.value);
    route();
    pollStatus();
  });
  apply(document);
  window.addEventListener('hashchange', route);
  route();
  pollStatus();
  setInterval(pollStatus, 15000);
}

start();
