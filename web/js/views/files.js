// files.js -- the file manager: library roots ("drives"), then folders with
// breadcrumbs and image counts, over the original service's /api/drives and
// /api/folder. Routes: #/files (the roots) and #/files/<encoded path>.
// Names are built from paths: the API's names carry the original service's
// emoji prefixes, which are for its own UI.
import { api } from '../api.js';
import { addStrings, t } from '../i18n.js';

addStrings({
  ru: {
    files_title: 'Библиотеки',
    files_empty: 'Папка пуста',
    files_images: '{n} фото',
    files_folder_images: 'Фотографий в этой папке: {n}',
    files_root: 'Корни библиотеки',
  },
  en: {
    files_title: 'Libraries',
    files_empty: 'This folder is empty',
    files_images: '{n} photos',
    files_folder_images: 'Photos in this folder: {n}',
    files_root: 'Library roots',
  },
});

const base = (p) => p.replace(/\/+$/, '').split('/').pop() || p;
const link = (path) => `#/files/${encodeURIComponent(path)}`;

function el(tag, props = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

function showError(main, err, retry) {
  main.replaceChildren(
    el('p', { className: 'error', role: 'alert' }, `${t('error_prefix')}: ${err.message}`),
    el('button', { type: 'button', onclick: retry }, t('retry')),
  );
}

function drivesList(drives) {
  return el('ul', { className: 'list', ariaLabel: t('files_root') },
    ...drives.map((d) => el('li', {}, el('a', { href: link(d.path) }, d.path))));
}

// Breadcrumbs from the drive that holds path down to path itself.
function crumbs(drives, path) {
  const drive = drives.map((d) => d.path).filter((p) => path === p || path.startsWith(p.replace(/\/$/, '') + '/'))
    .sort((a, b) => b.length - a.length)[0] || path;
  const nav = el('nav', { className: 'crumbs', ariaLabel: 'breadcrumbs' }, el('a', { href: '#/files' }, t('files_title')));
  let at = drive;
  nav.append(' / ', el('a', { href: link(drive) }, drive));
  for (const part of path.slice(drive.length).split('/').filter(Boolean)) {
    at = `${at.replace(/\/$/, '')}/${part}`;
    nav.append(' / ', el('a', { href: link(at) }, part));
  }
  nav.lastElementChild.setAttribute('aria-current', 'page');
  return nav;
}

function folderView(folder) {
  const entries = folder.contents.filter((c) => !(c.is_directory && folder.path.startsWith(c.path) && c.path !== folder.path));
  if (!entries.length) return el('p', { className: 'muted' }, t('files_empty'));
  return el('ul', { className: 'list' }, ...entries.map((c) => {
    if (c.is_directory) {
      return el('li', { className: 'folder' }, el('a', { href: link(c.path) }, base(c.path)),
        el('span', { className: 'muted' }, ` — ${t('files_images', { n: c.image_count ?? 0 })}`));
    }
    return el('li', { className: 'photo' }, base(c.path));
  }));
}

export async function render(main, params) {
  const path = params[0] || null;
  main.replaceChildren(el('p', { className: 'muted' }, t('loading')));
  const retry = () => render(main, params);
  try {
    const drives = await api.get('/api/drives');
    if (!path) {
      main.replaceChildren(el('h1', {}, t('files_title')), drivesList(drives));
      return;
    }
    const folder = await api.get(`/api/folder?path=${encodeURIComponent(path)}`);
    main.replaceChildren(crumbs(drives, folder.path), el('h1', {}, base(folder.path)),
      el('p', { className: 'muted' }, t('files_folder_images', { n: folder.image_count })), folderView(folder));
  } catch (e) {
    showError(main, e, retry);
  }
}
