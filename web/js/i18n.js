// i18n.js -- Russian and English strings, and the language choice.
//
// Russian is the default when the browser prefers it (or prefers nothing we
// speak); the choice is remembered in localStorage. Elements carry
// data-i18n="key" (text) or data-i18n-attr="attr:key,..." and are updated
// by apply(); views call t() when they render.

const strings = {
  ru: {
    skip_to_content: 'Перейти к содержимому',
    nav_label: 'Разделы',
    nav_files: 'Файлы',
    nav_queue: 'Очередь',
    nav_people: 'Люди',
    nav_jobs: 'Задачи',
    language: 'Язык',
    status_ok: 'Сервер работает',
    status_degraded: 'Сервер работает с ошибками',
    status_down: 'Нет связи с сервером',
    not_found_title: 'Страница не найдена',
    not_found_text: 'Такого раздела нет.',
    loading: 'Загрузка…',
    error_prefix: 'Ошибка',
    retry: 'Повторить',
  },
  en: {
    skip_to_content: 'Skip to content',
    nav_label: 'Sections',
    nav_files: 'Files',
    nav_queue: 'Queue',
    nav_people: 'People',
    nav_jobs: 'Jobs',
    language: 'Language',
    status_ok: 'Server is up',
    status_degraded: 'Server is up with problems',
    status_down: 'Cannot reach the server',
    not_found_title: 'Page not found',
    not_found_text: 'There is no such section.',
    loading: 'Loading…',
    error_prefix: 'Error',
    retry: 'Retry',
  },
};

export const languages = Object.keys(strings);

function preferred() {
  const saved = localStorage.getItem('kadr.lang');
  if (saved && strings[saved]) return saved;
  for (const l of navigator.languages || [navigator.language || '']) {
    const code = l.slice(0, 2).toLowerCase();
    if (strings[code]) return code;
  }
  return 'ru';
}

let current = preferred();

export function lang() {
  return current;
}

export function setLang(code) {
  if (!strings[code]) return;
  current = code;
  localStorage.setItem('kadr.lang', code);
  apply(document);
}

// t('key', {n: 3}) -> string with {n} replaced; unknown keys show as the key
// so a missing translation is visible rather than blank.
export function t(key, vars = {}) {
  const s = strings[current][key] ?? strings.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

export function addStrings(extra) {
  for (const l of languages) Object.assign(strings[l], extra[l] || {});
}

export function apply(root) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(',')) {
      const [attr, key] = pair.split(':');
      el.setAttribute(attr, t(key));
    }
  }
}
