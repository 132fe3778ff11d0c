// The file manager: the library roots, then folders with breadcrumbs and
// image counts, in Russian and English, on a real library.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { VIEWPORTS, launch, newPage, screenshot, startServer } from './harness.mjs';

let server, chrome;
const photo = path.join(process.env.KADR_SHARED || '../shared', 'data/faces/bbt-groups/bbt1.jpg');

before(async () => {
  server = await startServer();
  chrome = await launch();
  const trip = path.join(server.library, 'Отпуск');
  fs.mkdirSync(path.join(trip, '2024'), { recursive: true });
  fs.copyFileSync(photo, path.join(trip, 'море.jpg'));
  fs.copyFileSync(photo, path.join(trip, '2024', 'a.jpg'));
  fs.copyFileSync(photo, path.join(trip, '2024', 'b.jpg'));
  fs.writeFileSync(path.join(trip, 'notes.txt'), 'not a photo');
});
after(async () => {
  await chrome?.close();
  await server?.stop();
});

test('roots, folders, counts and breadcrumbs', async () => {
  const page = await newPage(chrome.browser, { locale: 'ru-RU' });
  await page.goto(server.url + '/#/files');
  await page.waitForSelector('main h1');
  assert.equal(await page.textContent('main h1'), 'Библиотеки');
  await page.click(`main a:text("${server.library}")`);
  await page.waitForSelector('main li.folder');
  assert.match(await page.textContent('main li.folder'), /Отпуск — 1 фото/);
  await page.click('main li.folder a');
  await page.waitForFunction(() => document.querySelector('main h1')?.textContent === 'Отпуск');
  assert.equal(await page.textContent('main p.muted'), 'Фотографий в этой папке: 1');
  assert.match(await page.textContent('main li.folder'), /2024 — 2 фото/);
  assert.deepEqual(await page.$$eval('main li.photo', (l) => l.map((e) => e.textContent)), ['море.jpg']);
  await page.click('main li.folder a');
  await page.waitForFunction(() => document.querySelector('main h1')?.textContent === '2024');
  assert.match(await page.textContent('nav.crumbs'), /Библиотеки \/ .* \/ Отпуск \/ 2024/);
  await page.click('nav.crumbs a:text("Отпуск")');
  await page.waitForFunction(() => document.querySelector('main h1')?.textContent === 'Отпуск');
  assert.deepEqual(page.problems, []);
});

test('English labels, and a folder outside the library is an error shown to the user', async () => {
  const page = await newPage(chrome.browser, { locale: 'en-US' });
  await page.goto(server.url + '/#/files');
  await page.waitForSelector('main h1');
  assert.equal(await page.textContent('main h1'), 'Libraries');
  await page.goto(server.url + '/#/files/' + encodeURIComponent('/etc'));
  await page.waitForSelector('main [role="alert"]');
  assert.match(await page.textContent('main [role="alert"]'), /^Error: /);
});

test('file manager screenshots at desktop and phone sizes', async () => {
  for (const [name, viewport] of Object.entries(VIEWPORTS)) {
    const page = await newPage(chrome.browser, { viewport });
    await page.goto(server.url + '/#/files/' + encodeURIComponent(path.join(server.library, 'Отпуск')));
    await page.waitForSelector('main li.folder');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    assert.equal(overflow, false, `${name}: the page scrolls sideways`);
    await screenshot(page, `files-${name}`);
  }
});
